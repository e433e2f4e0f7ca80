//! gpt-oss-scenarios: a declarative scenario and snapshot test runner for gpt-oss.
//!
//! The pipeline, one module per stage: [`load`] -> [`plan`] -> execute -> separate ->
//! normalize -> verdict -> report. See `ARCHITECTURE.md`.

pub(crate) mod batch;
pub mod cli;
pub(crate) mod diagnostic;
pub mod execute;
pub(crate) mod exit;
pub(crate) mod fs;
pub(crate) mod grading;
pub(crate) mod json;
pub mod load;
pub(crate) mod normalize;
pub mod plan;
pub(crate) mod pricing;
pub mod providers;
pub mod recordings;
pub(crate) mod report;
pub mod response;
pub(crate) mod runner;
pub mod scenario;
pub(crate) mod schema;
pub(crate) mod secrets;
pub mod separate;
pub(crate) mod stats;
pub(crate) mod stdio;
pub(crate) mod verdict;
pub mod wire;
