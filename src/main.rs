//! The `gpt-oss-scenarios` binary: everything lives in the library; this only hands
//! over the process arguments and turns the outcome into an exit code.

fn main() -> std::process::ExitCode {
    restore_sigpipe();
    std::process::ExitCode::from(gpt_oss_scenarios::cli::main(std::env::args_os()))
}

/// Rust ignores SIGPIPE, so a write to a closed pipe (`run --dry-run | head`) becomes
/// an error that `println!` turns into a panic. The default action ends the process
/// quietly instead, as it does for every other Unix tool.
#[cfg(unix)]
fn restore_sigpipe() {
    // SAFETY: called first in `main`, before any thread exists; SIG_DFL is a valid
    // disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(not(unix))]
fn restore_sigpipe() {}
