//! Process exit codes, in one place (the README's table mirrors this).

/// Everything ran and passed (or, for `validate`, the suite is valid).
pub(crate) const SUCCESS: u8 = 0;
/// At least one case failed or errored.
pub(crate) const FAILURES: u8 = 1;
/// Bad usage or invalid scenario files: nothing was run.
pub(crate) const INVALID: u8 = 2;
/// Interrupted by Ctrl-C.
pub(crate) const INTERRUPTED: u8 = 130;
