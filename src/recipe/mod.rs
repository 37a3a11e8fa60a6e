//! Recipes: YAML with positions, the model, parsing, inputs and validation.

mod fields;
pub use fields::comma_split;
pub mod inputs;
mod model;
mod parse;
mod step;
mod validate;
pub mod yaml;

pub use model::*;
pub use parse::{load, parse_str};
pub use step::valid_id;
pub use validate::{validate, ToolCatalog};

#[cfg(test)]
mod tests;
