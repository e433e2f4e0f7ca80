//! gpt-oss-scenarios: a declarative scenario and snapshot test runner for gpt-oss.
//!
//! The pipeline, one module per stage: [`load`] -> [`plan`] -> execute -> separate ->
//! normalize -> verdict -> report. See `ARCHITECTURE.md`.

pub mod cli;
pub mod execute;
pub mod exit;
pub mod fs;
pub mod json;
pub mod load;
pub mod normalize;
pub mod plan;
pub mod providers;
pub mod report;
pub mod response;
pub mod runner;
pub mod scenario;
pub mod schema;
pub mod separate;
pub mod verdict;
pub mod wire;
