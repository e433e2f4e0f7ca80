//! Service tiers, cost and budgets (issue 27), through the real binary: the tier reaches
//! every API in its own form and the tier served is kept; every report shows what the
//! run cost; `--dry-run` estimates it; `--max-cost` stops starting cases before the
//! budget would be passed; prices and tiers that cannot be are located errors.

use std::sync::{Arc, Mutex};

use gpt_oss_scenarios::wire::server::{RecordedRequest, Reply, Responder};
use gpt_oss_scenarios::wire::{WireCase, WireResponse};
use serde_json::{Value, json};

use crate::support::{CORPUS, binary, repo, run, stderr, stdout, write};

/// A wire-corpus case's response, changed by `edit`.
fn corpus_with(id: &str, edit: impl FnOnce(&mut WireResponse)) -> Reply {
    let text = std::fs::read_to_string(format!("{CORPUS}/{id}.json")).unwrap();
    let mut case: WireCase = serde_json::from_str(&text).unwrap();
    edit(&mut case.response);
    Reply::from_wire(&case.response).unwrap()
}

/// Answers each API on the flex tier, as Bedrock says it, and keeps every request.
struct Flex {
    seen: Mutex<Vec<RecordedRequest>>,
}

impl Responder for Flex {
    fn respond(&self, request: &RecordedRequest) -> Reply {
        self.seen.lock().unwrap().push(request.clone());
        let path = request.path.as_str();
        if path.ends_with("/converse") {
            corpus_with("converse-120b-ok-effort-high", |r| {
                r.json.as_mut().unwrap()["serviceTier"] = json!({"type": "flex"});
            })
        } else if path.ends_with("/invoke") {
            corpus_with("invoke-120b-capital", |r| {
                r.headers.insert("x-amzn-bedrock-service-tier".into(), "flex".into());
            })
        } else if path.ends_with("/responses") {
            corpus_with("responses-20b-capital", |r| {
                r.json.as_mut().unwrap()["service_tier"] = json!("flex");
            })
        } else {
            // Priority asked for, the standard tier served (as when priority capacity
            // is short): the case is billed at what was served.
            let asked: Value = serde_json::from_slice(&request.body).unwrap_or_default();
            let served = if asked["service_tier"] == "priority" { "default" } else { "flex" };
            corpus_with("chat-20b-planet", |r| {
                r.json.as_mut().unwrap()["service_tier"] = json!(served);
            })
        }
    }
}

#[test]
fn a_tier_reaches_every_api_in_its_own_form_and_the_tier_served_is_kept() {
    let flex = Arc::new(Flex { seen: Mutex::default() });
    let (_rt, server) = crate::support::serve(flex.clone());
    let dir = repo();
    write(
        dir.path(),
        "scenarios/defaults.yaml",
        "params: {service_tier: flex}\nsnapshot: {final: ignore, reasoning: ignore, stop_reason: false}\n",
    );
    write(
        dir.path(),
        "scenarios/tiers.yaml",
        "scenarios:
  - {name: c, api: converse, model: openai.gpt-oss-120b-1:0, prompt: hi}
  - {name: i, api: invoke, model: openai.gpt-oss-120b-1:0, prompt: hi}
  - {name: h, api: chat, model: openai.gpt-oss-20b-1:0, prompt: hi}
  - {name: r, api: responses, model: openai.gpt-oss-20b, prompt: hi}
  - {name: p, api: chat, model: openai.gpt-oss-20b-1:0, prompt: hi, params: {service_tier: priority}}
",
    );
    let out = binary(dir.path())
        .args(["run", "--mode", "live", "--report-json", "report.json", "--junit", "junit.xml"])
        .args(["--bedrock-endpoint", &server.url()])
        .args(["--openai-base-url", &format!("{}/openai/v1", server.url())])
        .args(["--responses-base-url", &format!("{}/v1", server.url())])
        .envs([("AWS_BEARER_TOKEN_BEDROCK", "bedrock-test-key"), ("GPT_OSS_SCENARIOS_BEDROCK_KEY_HOSTS", "127.0.0.1")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    let seen = flex.seen.lock().unwrap().clone();
    let body = |suffix: &str| -> Value {
        let r = seen.iter().find(|r| r.path.ends_with(suffix)).unwrap_or_else(|| panic!("no {suffix}"));
        serde_json::from_slice(&r.body).unwrap()
    };
    assert_eq!(body("/converse")["serviceTier"], json!({"type": "flex"}));
    let chats: Vec<Value> = seen
        .iter()
        .filter(|r| r.path.ends_with("/chat/completions"))
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap()["service_tier"].clone())
        .collect();
    assert_eq!(chats.len(), 2);
    assert!(chats.contains(&json!("flex")) && chats.contains(&json!("priority")), "{chats:?}");
    assert_eq!(body("/responses")["service_tier"], "flex");
    let invoke = seen.iter().find(|r| r.path.ends_with("/invoke")).unwrap();
    assert_eq!(invoke.header("x-amzn-bedrock-service-tier"), Some("flex"));
    assert_eq!(body("/invoke").get("service_tier"), None, "InvokeModel's body is the model's own");

    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap()).unwrap();
    let cases = report["cases"].as_array().unwrap();
    let p = cases.iter().find(|c| c["id"] == "p").unwrap();
    assert_eq!(p["service_tier"], "default", "the tier served, not the one asked for");
    let (input, output) = (p["usage"]["input_tokens"].as_f64().unwrap(), p["usage"]["output_tokens"].as_f64().unwrap());
    assert!((p["cost_usd"].as_f64().unwrap() - (input * 0.07 + output * 0.3) / 1e6).abs() < 1e-12, "{p}");
    for case in cases.iter().filter(|c| c["id"] != "p") {
        assert_eq!(case["service_tier"], "flex", "{case}");
        // Billed at flex: half the standard price.
        let usage = &case["usage"];
        let (input, output) = (usage["input_tokens"].as_f64().unwrap(), usage["output_tokens"].as_f64().unwrap());
        let standard = if case["model"].as_str().unwrap().contains("120b") { (0.15, 0.6) } else { (0.07, 0.3) };
        let flex = (input * standard.0 + output * standard.1) / 2.0 / 1e6;
        assert!((case["cost_usd"].as_f64().unwrap() - flex).abs() < 1e-12, "{case}");
    }
    let total: f64 = report["cases"].as_array().unwrap().iter().map(|c| c["cost_usd"].as_f64().unwrap()).sum();
    let cost = &report["summary"]["cost"];
    assert!((cost["usd"].as_f64().unwrap() - total).abs() < 1e-12, "{cost}");
    assert_eq!(cost["usd"], cost["spent_usd"], "all live");
    assert_eq!(cost["models"].as_array().unwrap().len(), 3, "{cost}");
    assert!(stdout(&out).contains(" ms, $0.0000"), "each case's cost on its line: {}", stdout(&out));
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert!(junit.contains(r#"<property name="service_tier" value="flex"/>"#), "{junit}");
    for case in cases {
        let usd = format!(r#"<property name="cost_usd" value="{:.8}"/>"#, case["cost_usd"].as_f64().unwrap());
        assert!(junit.contains(&usd), "{usd}: {junit}");
    }
    let mantle = cost["models"].as_array().unwrap().iter().find(|m| m["model"] == "openai.gpt-oss-20b").unwrap();
    let usd =
        format!(r#"<property name="run.cost_usd.openai.gpt-oss-20b" value="{:.8}"/>"#, mantle["usd"].as_f64().unwrap());
    assert!(junit.contains(&usd), "{usd}: {junit}");
}

/// Chat answers that each cost what `output_tokens` cost, at the 120b's price.
struct Costly;

impl Responder for Costly {
    fn respond(&self, _: &RecordedRequest) -> Reply {
        Reply::json(
            200,
            &json!({"id": "c", "object": "chat.completion", "created": 0, "model": "m",
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}],
                "usage": {"prompt_tokens": 0, "completion_tokens": 50_000, "total_tokens": 50_000}}),
        )
    }
}

#[test]
fn max_cost_starts_no_case_that_could_pass_the_budget() {
    let (_rt, server) = crate::support::serve(Arc::new(Costly));
    let dir = repo();
    // Each case may cost 100,000 output tokens at $0.60 per million: $0.06; each costs $0.03.
    let cases: String =
        (1..=4).map(|i| format!("  - {{name: c{i}, prompt: hi, params: {{max_tokens: 100000}}}}\n")).collect();
    write(
        dir.path(),
        "scenarios/defaults.yaml",
        "api: chat\nmodel: openai.gpt-oss-120b-1:0\nsnapshot: {final: ignore, reasoning: ignore, stop_reason: false}\n",
    );
    write(dir.path(), "scenarios/costly.yaml", &format!("scenarios:\n{cases}"));
    let run = |budget: &str| {
        let out = binary(dir.path())
            .args(["run", "--mode", "live", "--concurrency", "2", "--max-cost", budget, "--report-json", "report.json"])
            .args(["--openai-base-url", &format!("{}/v1", server.url())])
            .output()
            .unwrap();
        let report: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap()).unwrap();
        (out, report)
    };
    // $0.10: one at a time fits (the second waits for the first), spent $0.03 then $0.06;
    // a third would make $0.12 possible with nothing in flight: the run stops there.
    let (out, report) = run("0.10");
    assert_eq!(out.status.code(), Some(0), "skipped is not failed, as with --deadline: {}", stdout(&out));
    let statuses: Vec<&str> =
        report["cases"].as_array().unwrap().iter().map(|c| c["status"].as_str().unwrap()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == "passed").count(), 2, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == "skipped").count(), 2, "{statuses:?}");
    let skipped = report["cases"].as_array().unwrap().iter().find(|c| c["status"] == "skipped").unwrap();
    assert_eq!(skipped["skip_reason"], "not run: it could take the run past --max-cost");
    let spent = report["summary"]["cost"]["spent_usd"].as_f64().unwrap();
    assert!((spent - 0.06).abs() < 1e-9 && spent <= 0.10, "{spent}");
    // A budget below one case's bound starts nothing.
    let (out, report) = run("0.05");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(report["summary"]["skipped"], 4, "{report}");
    for bad in ["-1", "five", "NaN"] {
        let out = binary(dir.path()).args(["run", &format!("--max-cost={bad}")]).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(stderr(&out).contains(&format!("`{bad}` is not an amount of US dollars")), "{}", stderr(&out));
    }
}

#[test]
fn dry_run_estimates_the_bundled_suites_cost_and_the_report_shows_it() {
    let out = run(&["run", "scenarios/", "--dry-run"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(text.contains("# estimate for compare-decimals-chat: "), "{text}");
    assert!(text.contains(" out tokens (max_tokens), at most $0.000"), "{text}");
    assert!(text.contains(" out tokens (as recorded), about $0.0000"), "{text}");
    let total = text.lines().find(|l| l.starts_with("# estimate: 45 cases, ")).unwrap_or_else(|| panic!("{text}"));
    assert!(total.contains(" live (prices of 2026-12-01"), "{total}");
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("summary.md");
    let out = run(&["run", "scenarios/", "--update-snapshots", "no", "--summary-md", md.to_str().unwrap()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let line = text.lines().find(|l| l.trim_start().starts_with("cost ")).unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("$0.00 spent; replayed answers at what they cost when recorded"), "{line}");
    assert!(text.contains("openai.gpt-oss-safeguard-20b"), "per model: {text}");
    let md = std::fs::read_to_string(md).unwrap();
    assert!(md.contains("| tokens in / out | cost |"), "{md}");
    assert!(md.contains("| model | cases | tokens in / out | cost |"), "{md}");
}

#[test]
fn a_negative_price_and_an_unknown_tier_are_located_errors() {
    let dir = repo();
    write(
        dir.path(),
        "scenarios/defaults.yaml",
        "pricing:\n  openai.gpt-oss-120b-1:0:\n    flex: {input: -0.1, output: 0.3}\n",
    );
    write(
        dir.path(),
        "scenarios/s.yaml",
        "name: s\napi: converse\nmodel: openai.gpt-oss-120b-1:0\nprompt: hi\nparams:\n  service_tier: turbo\n",
    );
    let out = binary(dir.path()).arg("validate").output().unwrap();
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("scenarios/defaults.yaml:3:19: /pricing/openai.gpt-oss-120b-1:0/flex/input"), "{text}");
    assert!(text.contains("scenarios/s.yaml:6:17: /params/service_tier"), "{text}");
    assert!(text.contains("`turbo` is not one of: default, flex, priority"), "{text}");
    assert!(text.contains("-0.1 is less than the minimum of 0"), "{text}");
}

#[test]
fn a_flex_case_waits_fifteen_minutes_unless_it_says_otherwise() {
    let dir = repo();
    write(
        dir.path(),
        "scenarios/s.yaml",
        "scenarios:
  - {name: flex, api: chat, model: m, prompt: hi, params: {service_tier: flex}}
  - {name: flex-own, api: chat, model: m, prompt: hi, params: {service_tier: flex}, timeout: 30s}
  - {name: standard, api: chat, model: m, prompt: hi, params: {service_tier: priority}}
",
    );
    let out = binary(dir.path()).args(["list", "--format", "json"]).output().unwrap();
    let listed: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let timeouts: Vec<&str> = listed.as_array().unwrap().iter().map(|c| c["timeout"].as_str().unwrap()).collect();
    assert_eq!(timeouts, ["15m", "30s", "2m"]);
}
