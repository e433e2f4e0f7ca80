//! The `gpt-oss-scenarios` binary: everything lives in the library; this only hands
//! over the process arguments and turns the outcome into an exit code.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(gpt_oss_scenarios::cli::main(std::env::args_os()))
}
