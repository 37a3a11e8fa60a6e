//! The engine's one error type: every way a run can be refused or fail to start,
//! typed all the way up. The Python binding converts it in one place
//! (`bindings/errors.rs`); nothing turns it into a plain string on the way.

use crate::diag::{Diagnostic, Diagnostics};

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
    Store(String),
    /// The run could not start (its folder cannot be made, ...).
    #[error("{0}")]
    Run(String),
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
