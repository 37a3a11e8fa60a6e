//! Templates: the minijinja environment, the run's scope, rendering and static scans.

mod env;
mod lazy;
pub mod refs;
mod render;
pub mod scope;
mod simple;
mod syntax;

pub use env::{env, to_value};
pub use refs::{references, Reference};
pub use render::{render_condition, render_document, render_map, render_str, render_text, render_value, CONSTANT_WORDS};
pub use scope::{ItemScope, RunParts, RunScope, Scope, StepTable};
pub use syntax::{has_template, single_expression, RenderError};

#[cfg(test)]
mod tests;
