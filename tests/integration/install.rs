//! Installing a release: the archives `.github/workflows/release.yml` publishes are
//! the ones `cargo binstall` and the workflows' install action look for, and the
//! action's script installs a binary only when its checksum matches.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::{stderr, stdout};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const VERSION: &str = env!("CARGO_PKG_VERSION");

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The targets of the release matrix.
fn release_targets() -> Vec<String> {
    let text = read(".github/workflows/release.yml");
    let targets: Vec<String> =
        text.lines().filter_map(|l| l.trim().strip_prefix("- target: ")).map(str::to_owned).collect();
    assert!(targets.len() >= 5, "{targets:?}");
    targets
}

fn archive_name(target: &str) -> String {
    let ext = if target.contains("windows") { "zip" } else { "tar.gz" };
    format!("gpt-oss-scenarios-{target}.{ext}")
}

#[test]
fn release_builds_linux_macos_and_windows_for_both_architectures() {
    let targets = release_targets();
    for needed in [
        "x86_64-unknown-linux-gnu",
        "aarch64-unknown-linux-gnu",
        "x86_64-apple-darwin",
        "aarch64-apple-darwin",
        "x86_64-pc-windows-msvc",
    ] {
        assert!(targets.iter().any(|t| t == needed), "{needed} missing from {targets:?}");
    }
    let text = read(".github/workflows/release.yml");
    assert!(text.contains("sha256sum -- * > SHA256SUMS"), "the release publishes checksums");
}

#[test]
fn binstall_metadata_names_the_release_archives() {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(ROOT)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let metadata: Value = serde_json::from_slice(&out.stdout).unwrap();
    let package = &metadata["packages"][0];
    let repo = package["repository"].as_str().unwrap();
    let binstall = &package["metadata"]["binstall"];
    for target in release_targets() {
        let pick =
            |key: &str| binstall["overrides"][&target][key].as_str().or(binstall[key].as_str()).unwrap().to_owned();
        let exe = if target.contains("windows") { ".exe" } else { "" };
        let expand = |template: String| {
            template
                .replace("{ repo }", repo)
                .replace("{ version }", VERSION)
                .replace("{ name }", "gpt-oss-scenarios")
                .replace("{ target }", &target)
                .replace("{ bin }", "gpt-oss-scenarios")
                .replace("{ binary-ext }", exe)
        };
        let url = format!("{repo}/releases/download/v{VERSION}/{}", archive_name(&target));
        assert_eq!(expand(pick("pkg-url")), url);
        assert_eq!(expand(pick("bin-dir")), format!("gpt-oss-scenarios-{target}/gpt-oss-scenarios{exe}"));
        let format = if target.contains("windows") { "zip" } else { "tgz" };
        assert_eq!(pick("pkg-fmt"), format, "{target}");
    }
}

#[test]
fn nightly_installs_the_version_in_cargo_toml() {
    let text = read(".github/workflows/nightly.yml");
    assert_eq!(text.matches(&format!("version: {VERSION}\n")).count(), 2, "{text}");
}

/// A release folder as release.yml lays it out, holding this build's binary.
fn fake_release(dir: &Path, target: &str) {
    let release = dir.join(format!("v{VERSION}"));
    let inner = release.join(format!("gpt-oss-scenarios-{target}"));
    std::fs::create_dir_all(&inner).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_gpt-oss-scenarios"), inner.join("gpt-oss-scenarios")).unwrap();
    let archive = archive_name(target);
    let tar = Command::new("tar")
        .args(["-czf", &archive, &format!("gpt-oss-scenarios-{target}")])
        .current_dir(&release)
        .status()
        .unwrap();
    assert!(tar.success());
    let sums = Command::new("sha256sum").arg(&archive).current_dir(&release).output().unwrap();
    std::fs::write(release.join("SHA256SUMS"), &sums.stdout).unwrap();
}

fn install(dir: &Path) -> std::process::Output {
    Command::new("bash")
        .arg(Path::new(ROOT).join(".github/actions/install/install.sh"))
        .env("VERSION", VERSION)
        .env("RELEASES_URL", format!("file://{}", dir.display()))
        .env("INSTALL_DIR", dir.join("bin"))
        .env_remove("GITHUB_PATH")
        .output()
        .unwrap()
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[test]
fn the_install_action_installs_a_release_whose_checksum_matches() {
    let dir = tempfile::tempdir().unwrap();
    fake_release(dir.path(), "x86_64-unknown-linux-gnu");
    let out = install(dir.path());
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let version = Command::new(dir.path().join("bin/gpt-oss-scenarios")).arg("--version").output().unwrap();
    assert_eq!(stdout(&version).trim(), format!("gpt-oss-scenarios {VERSION}"));
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[test]
fn the_install_action_refuses_an_archive_whose_checksum_differs() {
    let dir = tempfile::tempdir().unwrap();
    fake_release(dir.path(), "x86_64-unknown-linux-gnu");
    let sums = dir.path().join(format!("v{VERSION}/SHA256SUMS"));
    let text = std::fs::read_to_string(&sums).unwrap();
    std::fs::write(&sums, format!("{}{}", "0".repeat(64), &text[64..])).unwrap();
    let out = install(dir.path());
    assert_eq!(out.status.code(), Some(1), "{}{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains("does not match its SHA256SUMS entry"), "{}", stderr(&out));
    assert!(!dir.path().join("bin/gpt-oss-scenarios").exists());
}
