//! Every YAML example in the README is a valid scenario (or, when its first line is
//! `# defaults.yaml`, a valid defaults file).

use gpt_oss_scenarios::{load, plan};

use crate::support::{repo, write};

fn yaml_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```yaml") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

#[test]
fn every_readme_example_validates() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let blocks = yaml_blocks(&readme);
    assert!(blocks.len() >= 6, "expected the README's examples, found {}", blocks.len());
    for (i, block) in blocks.iter().enumerate() {
        let dir = repo();
        // Examples may leave model and api to defaults, as a suite would.
        write(dir.path(), "defaults.yaml", "model: openai.gpt-oss-20b-1:0\napi: chat\n");
        if block.starts_with("# defaults.yaml") {
            write(dir.path(), "suite/defaults.yaml", block);
            write(dir.path(), "suite/probe.yaml", "name: probe\nprompt: hi\n");
        } else {
            write(dir.path(), "suite/example.yaml", block);
        }
        let suite = load::load(&[dir.path().join("suite")]);
        let planned = plan::plan(&suite.scenarios);
        let problems: Vec<String> =
            suite.diagnostics.iter().chain(&planned.diagnostics).map(ToString::to_string).collect();
        assert!(problems.is_empty(), "README example {} does not validate:\n{block}\n{problems:#?}", i + 1);
        assert!(!planned.is_empty(), "README example {} has no case", i + 1);
    }
}
