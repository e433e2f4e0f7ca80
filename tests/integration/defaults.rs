//! `defaults.yaml` lookup and merging, on real folders.

use gpt_oss_scenarios::{load, plan};

use crate::support::{repo, run_in, stderr, stdout, write};

#[test]
fn closest_defaults_win_and_scenario_fields_win_over_all() {
    let dir = repo();
    write(
        dir.path(),
        "suite/defaults.yaml",
        "model: far\nregion: eu-west-1\nparams:\n  temperature: 1.0\n  top_p: 0.5\n",
    );
    write(dir.path(), "suite/ja/defaults.yml", "model: near\nparams:\n  top_p: 0.9\ntags: [ja]\n");
    write(dir.path(), "suite/ja/a.yaml", "name: a\napi: chat\nprompt: hi\nparams:\n  temperature: 0.2\ntags: [x]\n");
    write(dir.path(), "suite/b.yaml", "name: b\napi: converse\nprompt: hi\nmodel: own\n");
    let suite = load::load(&[dir.path().join("suite")]);
    assert!(suite.diagnostics.is_empty(), "{:?}", suite.diagnostics);
    let cases = plan::plan(&suite.scenarios).into_cases();
    let a = cases.iter().find(|c| c.id == "a").unwrap();
    assert_eq!(a.model, "near");
    assert_eq!(a.region, "eu-west-1");
    let params = a.spec.params.as_ref().unwrap();
    assert_eq!((params.temperature, params.top_p), (Some(0.2), Some(0.9)));
    assert_eq!(a.spec.tags, ["ja", "x"]);
    let b = cases.iter().find(|c| c.id == "b").unwrap();
    assert_eq!((b.model.as_str(), b.region.as_str()), ("own", "eu-west-1"));
}

#[test]
fn defaults_above_the_given_folder_apply_up_to_the_repository_root() {
    let dir = repo();
    write(dir.path(), "defaults.yaml", "model: root-model\napi: chat\n");
    write(dir.path(), "suite/deep/a.yaml", "name: a\nprompt: hi\n");
    let out = run_in(dir.path(), &["list", "suite/deep"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("root-model"), "{}", stdout(&out));
}

#[test]
fn an_invalid_defaults_file_is_reported_with_its_position() {
    let dir = repo();
    write(dir.path(), "suite/defaults.yaml", "model: m\nname: not-allowed-here\nparams:\n  temperature: 9\n");
    write(dir.path(), "suite/a.yaml", "name: a\napi: chat\nprompt: hi\n");
    let out = run_in(dir.path(), &["validate", "suite"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("suite/defaults.yaml:2:1: /name: unknown field `name`"), "{err}");
    assert!(err.contains("suite/defaults.yaml:4:16: /params/temperature: 9 is greater than the maximum of 2"), "{err}");
    // Reported once, however many scenarios it applies to.
    assert_eq!(err.matches("/params/temperature").count(), 1, "{err}");
}

#[test]
fn defaults_files_are_not_scenarios() {
    let dir = repo();
    write(dir.path(), "suite/defaults.yaml", "model: m\napi: chat\n");
    write(dir.path(), "suite/a.yaml", "name: a\nprompt: hi\n");
    let out = run_in(dir.path(), &["validate", "suite"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("ok: 1 file, 1 scenario, 1 case"), "{}", stdout(&out));
}

#[test]
fn hidden_snapshot_and_cassette_folders_are_skipped() {
    let dir = repo();
    for skipped in [".hidden/x.yaml", "snapshots/x.yaml", "cassettes/x.yaml"] {
        write(dir.path(), &format!("suite/{skipped}"), "this: is not a scenario\n");
    }
    write(dir.path(), "suite/a.yml", "name: a\napi: chat\nmodel: m\nprompt: hi\n");
    let out = run_in(dir.path(), &["validate", "suite"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn names_must_be_unique_across_files() {
    let dir = repo();
    write(dir.path(), "suite/a.yaml", "name: same\napi: chat\nmodel: m\nprompt: hi\n");
    write(dir.path(), "suite/b.yaml", "name: same\napi: chat\nmodel: m\nprompt: hi\n");
    let out = run_in(dir.path(), &["validate", "suite"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("suite/b.yaml:1:7: /name: the name `same` is already used at suite/a.yaml:1:7"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn only_skips_the_other_scenarios() {
    let dir = repo();
    write(
        dir.path(),
        "s.yaml",
        "scenarios:\n  - {name: a, api: chat, model: m, prompt: hi, only: true}\n  - {name: b, api: chat, model: m, prompt: hi}\n  - {name: c, api: chat, model: m, prompt: hi, skip: true, only: true}\n",
    );
    let suite = load::load(&[dir.path().join("s.yaml")]);
    let cases = plan::plan(&suite.scenarios).into_cases();
    let skipped: Vec<_> = cases.iter().map(|c| (c.id.as_str(), c.skip)).collect();
    assert_eq!(skipped, [("a", None), ("b", Some(plan::SkipReason::NotOnly)), ("c", Some(plan::SkipReason::Skip))]);
}
