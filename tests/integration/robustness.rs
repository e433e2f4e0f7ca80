//! Bad bytes never panic the loader, and large inputs are refused quickly.

use gpt_oss_scenarios::load::yaml;
use gpt_oss_scenarios::{load, plan};

use crate::support::{repo, run_in, stderr, write};

#[test]
fn a_50_mb_file_gets_a_clear_error() {
    let dir = repo();
    let line = "  - contains: abcdefghijklmnopqrstuvwxyz0123456789\n";
    let mut text = String::from("name: big\napi: chat\nmodel: m\nprompt: hi\nexpect:\n");
    while text.len() < 50 * 1024 * 1024 {
        text.push_str(line);
    }
    write(dir.path(), "big.yaml", &text);
    let out = run_in(dir.path(), &["validate", "big.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).lines().next(),
        Some("big.yaml:1:1: the file is 50.0 MiB; scenario files are limited to 8 MiB")
    );
}

/// A small deterministic generator (xorshift): no extra dependency, same inputs every run.
struct Bytes(u64);

impl Bytes {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn random_bytes_and_mangled_scenarios_never_panic() {
    let seed = std::fs::read("scenarios/matrix/compare-decimals-models.yaml").unwrap();
    let mut rng = Bytes(0x9E37_79B9_7F4A_7C15);
    for round in 0..2_000 {
        let input: Vec<u8> = if round % 2 == 0 {
            (0..(rng.next() % 300)).map(|_| rng.next() as u8).collect()
        } else {
            // Flip, drop and duplicate bytes of a valid scenario: mostly near-valid YAML.
            let mut v = seed.clone();
            for _ in 0..(1 + rng.next() % 8) {
                let i = (rng.next() as usize) % v.len();
                match rng.next() % 3 {
                    0 => v[i] = b"{}[]:-'\"&*!|>#\n\t "[(rng.next() % 17) as usize],
                    1 => {
                        v.remove(i);
                    }
                    _ => v.insert(i, v[i]),
                }
            }
            v
        };
        // Both the parser alone and the whole load + plan pipeline.
        let _ = yaml::parse(&input);
        let dir = repo();
        std::fs::write(dir.path().join("s.yaml"), &input).unwrap();
        let suite = load::load(&[dir.path().join("s.yaml")]);
        let _ = plan::plan(&suite.scenarios);
    }
}

#[test]
fn a_deeply_nested_flow_value_is_an_error() {
    let dir = repo();
    let text = format!(
        "name: deep\napi: chat\nmodel: m\nprompt: hi\nparams:\n  extra:\n    x: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    write(dir.path(), "deep.yaml", &text);
    let out = run_in(dir.path(), &["validate", "deep.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nested too deeply"), "{}", stderr(&out));
}

/// Issue 13: `--deadline 500000000000y` panicked the whole run (exit 101, no reports),
/// and `--retries 4294967295` wrapped around to no retries at all.
#[test]
fn out_of_range_flags_are_usage_errors_not_panics() {
    let dir = repo();
    write(dir.path(), "scenarios/a.yaml", "name: a\napi: chat\nmodel: m\nprompt: hi\n");
    for (flag, value, says) in [
        ("--deadline", "500000000000y", "is not a duration such as 500ms, 90s or 1h30m"),
        ("--deadline", "18446744073709551616s", "is longer than a year"),
        ("--retries", "4294967295", "4294967295 is not in 0..=100"),
        ("--concurrency", "0", "0 is not in 1..=65535"),
    ] {
        let out = run_in(dir.path(), &["run", "scenarios", "--dry-run", flag, value]);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{flag} {value}: {}", stderr(&out));
    }
}
