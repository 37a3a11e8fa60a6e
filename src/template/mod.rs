//! Templates: the minijinja environment, the run's scope, rendering and static scans.

mod env;
pub mod refs;
mod render;
pub mod scope;
mod simple;

pub use env::{env, to_value};
pub use refs::{references, Reference};
pub use render::{has_template, render_condition, render_document, render_str, render_text, render_value, single_expression, RenderError};
pub use scope::{ItemScope, RunParts, RunScope, Scope, StepTable};

#[cfg(test)]
mod tests;
