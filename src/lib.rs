//! LocalForge engine: recipes parsed and validated, planned into a DAG, run by a
//! tokio scheduler over native and plugin tools, and recorded in SQLite.
//! Pure Rust; the Python binding lives in `bindings` behind the `python` feature.

pub mod cache;
pub mod config;
pub mod diag;
pub mod digest;
pub mod engine;
pub mod exec;
pub mod key;
pub mod plan;
pub mod recipe;
pub mod schedule;
pub mod schema;
pub mod status;
pub mod store;
pub mod system;
pub mod template;
pub mod terminal;
pub mod tools;
pub mod yaml;

#[cfg(feature = "python")]
mod bindings;
