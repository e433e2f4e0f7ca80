//! The integration test binary: the real `gpt-oss-scenarios` binary and the library
//! driven end to end over files on disk.

mod cli;
mod defaults;
mod readme;
mod robustness;
mod run;
mod support;
