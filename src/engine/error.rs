//! The engine's one error type: every way a run can be refused or fail to start,
//! typed all the way up. The Python binding converts it in one place
//! (`bindings/errors.rs`); nothing turns it into a plain string on the way.

use crate::diag::{Diagnostic, Diagnostics};
use crate::store::StoreError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    /// The recipe is invalid: every problem, with file, line, column and hint.
    #[error("{}", Diagnostics(.0.clone()))]
    Recipe(Vec<Diagnostic>),
    /// The run's inputs do not fit the recipe's declared inputs.
    #[error("{}", Diagnostics(.0.clone()))]
    Input(Vec<Diagnostic>),
    /// Preflight found needs this machine cannot meet (each with its fix); `--force` runs anyway.
    #[error("{}", Diagnostics(.0.clone()))]
    Resources(Vec<Diagnostic>),
    /// A resume that cannot go ahead (unknown, completed or live run, recipe gone or changed).
    #[error("{0}")]
    Refused(Diagnostic),
    /// The configuration (or a data file it names, like the model profiles) is malformed.
    #[error("{0}")]
    Config(Diagnostic),
    /// The history database cannot be used.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The run could not start (its folder cannot be made) or finish.
    #[error("{0}")]
    Run(RunFailure),
}

/// A run that could not start or finish for a reason other than its recipe.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RunFailure {
    #[error("cannot create run folder `{path}`: {message}")]
    Folder { path: String, message: String },
    /// The engine panicked: a bug, but the caller still gets an answer.
    #[error("the engine stopped without a result (this is a bug)")]
    Panicked,
}

/// `StoreError` for a failed read of the history at `path`.
pub fn store_error(path: &std::path::Path, e: impl std::fmt::Display) -> StoreError {
    StoreError { path: path.display().to_string(), message: e.to_string() }
}

impl EngineError {
    /// The located problems behind this error, where it has any.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            EngineError::Recipe(d) | EngineError::Input(d) | EngineError::Resources(d) => d.clone(),
            EngineError::Refused(d) | EngineError::Config(d) => vec![d.clone()],
            EngineError::Store(_) | EngineError::Run(_) => Vec::new(),
        }
    }
}
