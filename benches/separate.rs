//! Throughput of the reasoning separator on tag-dense text, fed in chunks the way
//! streams deliver it. Targets (issue 3): >= 1 GB/s on 4 KiB chunks, >= 200 MB/s on
//! 16-byte chunks, release build.
//!
//!   cargo bench --bench separate

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gpt_oss_scenarios::separate::Separator;

/// Bedrock `/openai/v1` streams: every reasoning delta wrapped in its own tag pair,
/// then answer text, with harmony markers and a few plain `<` mixed in. About one
/// marker every 20 bytes.
fn tag_dense_text(size: usize) -> String {
    let words =
        ["The", " user", " asks", " which", " is", " larger:", " 3.11", " or", " 3.9?", " 比較", "します", "。"];
    let mut text = String::with_capacity(size + 256);
    let mut i = 0;
    while text.len() < size {
        let w = words[i % words.len()];
        match i % 16 {
            0..=11 => {
                text.push_str("<reasoning>");
                text.push_str(w);
                text.push_str("</reasoning>");
            }
            12 => text.push_str("<|channel|>analysis<|message|>Check digits.<|end|>"),
            13 => text.push_str("<think>pad 3.9 to 3.90</think>"),
            14 => text.push_str(" 3 < 4 and 3.9 > 3.11 "),
            _ => text.push_str("答えは 3.9 です。"),
        }
        i += 1;
    }
    text
}

fn feed(text: &str, chunk: usize) -> usize {
    let mut s = Separator::new();
    let bytes = text.as_bytes();
    let mut start = 0;
    while start < bytes.len() {
        let mut end = (start + chunk).min(bytes.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        s.push_text(&text[start..end]);
        start = end;
    }
    let r = s.finish(false);
    r.final_text.len() + r.reasoning.len()
}

fn bench(c: &mut Criterion) {
    let text = tag_dense_text(4 * 1024 * 1024);
    let mut group = c.benchmark_group("separate");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.sample_size(20);
    for chunk in [4096, 16] {
        group.bench_function(format!("tag-dense/{chunk}-byte-chunks"), |b| b.iter(|| feed(&text, chunk)));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
