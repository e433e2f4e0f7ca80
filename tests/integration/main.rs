//! The integration test binary: the real `gpt-oss-scenarios` binary and the library
//! driven end to end over files on disk.

mod agents;
mod architecture;
mod baseline;
mod batch;
mod batch_engine;
mod bedrock_paths;
mod bundled;
mod cli;
mod cost;
mod credentials;
mod datasets;
mod defaults;
mod faults;
mod hardening;
mod html;
mod install;
mod judges;
mod leaks;
mod readme;
mod replay;
mod reports;
mod robustness;
mod run;
mod serve;
mod signals;
mod snapshots;
mod support;
mod workflow;
