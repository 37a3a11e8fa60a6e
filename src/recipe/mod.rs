//! Recipes: YAML with positions, the model, parsing, inputs and validation.

pub mod compat;
mod fields;
pub use fields::unknown_keys;
pub mod inputs;
pub mod keys;
mod model;
mod parse;
mod step;
mod validate;

pub use model::*;

/// Bounds on what a recipe may ask for, checked when it is read.
pub mod limits {
    /// Attempts after the first (`retry_count`): a step failing this often will not pass by retrying.
    pub const RETRY_COUNT: u32 = 100;
    /// Seconds between attempts (`retry_delay`, doubled each attempt): an hour.
    pub const RETRY_DELAY_S: f64 = 3600.0;
    /// A step's or the recipe's time limit (`timeout`, `timeout_minutes`): a week, in seconds.
    pub const TIMEOUT_S: f64 = 7.0 * 24.0 * 3600.0;
    /// Refinement rounds (`config.max_iterations`).
    pub const MAX_ITERATIONS: u32 = 1000;
}
pub use parse::{load, parse_str};
pub use step::valid_id;
pub use validate::{validate, ToolCatalog};

#[cfg(test)]
mod tests;
