//! Process exit codes, in one place (the README's table mirrors this).

/// Everything ran and passed (or, for `validate`, the suite is valid).
pub(crate) const SUCCESS: u8 = 0;
/// At least one case failed or errored.
pub(crate) const FAILURES: u8 = 1;
/// Bad usage or invalid scenario files: nothing was run.
pub(crate) const INVALID: u8 = 2;
/// No case was selected (a filter, tag, API or model matched nothing), as nextest's
/// "no tests to run"; `--allow-empty` makes this a success.
pub(crate) const NO_CASES: u8 = 4;
/// Interrupted by Ctrl-C or SIGTERM.
pub(crate) const INTERRUPTED: u8 = 130;
