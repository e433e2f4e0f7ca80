//! The `gpt-oss-scenarios` binary: everything lives in the library; this only hands
//! over the process arguments and turns the outcome into an exit code.
//!
//! SIGPIPE stays ignored, as Rust leaves it: a reader that goes away (`run | head -1`,
//! an agent tool that never reads its input) must not end a run before its reports are
//! written. Output goes through `stdio`, which stops printing to a closed pipe.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(gpt_oss_scenarios::cli::main(std::env::args_os()))
}
