//! The engine's front door: check a recipe, prepare a run, and the run flow
//! every front end shares (`flow`), with one error type (`error`).

pub mod control;
mod error;
pub mod flow;
mod options;
mod preview;
pub mod reads;
pub mod stream;
pub mod task;

pub use error::{store_error, EngineError, RunFailure};
pub use options::Options;

use crate::diag::Diagnostic;
use crate::plan::{self, Plan};
use crate::recipe::{self, Recipe};
use crate::tools::Registry;
use indexmap::IndexMap;
use serde_json::{Map, Value};
use std::path::Path;
use std::sync::Arc;

/// A recipe ready to run: valid, inputs bound, plan made.
pub struct Prepared {
    pub recipe: Arc<Recipe>,
    pub plan: Plan,
    pub inputs: Map<String, Value>,
}

/// Parse and validate a recipe file against the tools; every problem at once.
pub fn check(path: &Path, tools: &Registry) -> Result<Recipe, Vec<Diagnostic>> {
    let (recipe, diags) = recipe::load(path)?;
    validated(recipe, diags, tools)
}

/// Finish checking a parsed recipe (`diags`: what parsing found) against the tools.
pub fn validated(recipe: Recipe, mut diags: Vec<Diagnostic>, tools: &Registry) -> Result<Recipe, Vec<Diagnostic>> {
    diags.extend(recipe::validate(&recipe, tools));
    if let Err(unplannable) = plan::build(&recipe) {
        diags.extend(unplannable);
    }
    if diags.is_empty() {
        Ok(recipe)
    } else {
        crate::diag::in_file_order(&mut diags);
        Err(diags)
    }
}

/// Bind the inputs of a valid recipe and plan the run.
pub fn bind(recipe: Recipe, given: &IndexMap<String, Value>) -> Result<Prepared, Vec<Diagnostic>> {
    let inputs = recipe::inputs::bind(&recipe, given).map_err(|ds| ds.into_iter().map(|d| d.in_file(&recipe.file)).collect::<Vec<_>>())?;
    let plan = plan::build(&recipe)?;
    Ok(Prepared { recipe: Arc::new(recipe), plan, inputs })
}

/// Check the recipe, bind the inputs, and plan the run.
pub fn prepare(path: &Path, given: &IndexMap<String, Value>, tools: &Registry) -> Result<Prepared, Vec<Diagnostic>> {
    bind(check(path, tools)?, given)
}
