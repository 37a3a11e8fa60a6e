//! Engine errors as `localforge.errors` exception classes.

use crate::diag::Diagnostic;
use crate::engine::EngineError;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyDict;

create_exception!(localforge.errors, LocalForgeError, PyException, "Base class of every LocalForge error.");
create_exception!(
    localforge.errors,
    RecipeError,
    LocalForgeError,
    "A recipe is invalid; `.errors` lists each problem with file, line and column."
);
create_exception!(localforge.errors, InputError, RecipeError, "Run inputs do not fit the recipe's declared inputs.");
create_exception!(
    localforge.errors,
    ResourceError,
    RecipeError,
    "Preflight refused the run: `.errors` lists every unmet need (service, model, memory) with its fix."
);
create_exception!(localforge.errors, ConfigError, LocalForgeError, "The configuration file or environment is malformed.");
create_exception!(localforge.errors, StoreError, LocalForgeError, "The history database cannot be used.");
create_exception!(localforge.errors, RunError, LocalForgeError, "A run could not be started.");
create_exception!(localforge.errors, TemplateError, LocalForgeError, "A template could not be rendered (`ctx.resolve`).");
create_exception!(
    localforge.errors,
    ToolError,
    LocalForgeError,
    "A run failed (`check=True`): `.result` is the run's report, `.step` the step that failed, `.errors` its error."
);
create_exception!(localforge.errors, CancelledError, LocalForgeError, "A run was cancelled (`check=True`): `.result` is the run's report.");

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    macro_rules! classes {
        ($($c:ident),*) => { $(m.add(stringify!($c), m.py().get_type::<$c>())?;)* };
    }
    classes!(
        LocalForgeError,
        RecipeError,
        InputError,
        ResourceError,
        ConfigError,
        StoreError,
        RunError,
        TemplateError,
        ToolError,
        CancelledError
    );
    Ok(())
}

pub fn diag_dict<'py>(py: Python<'py>, d: &Diagnostic) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("file", &d.file)?;
    dict.set_item("line", d.line)?;
    dict.set_item("column", d.column)?;
    dict.set_item("message", &d.message)?;
    dict.set_item("hint", &d.hint)?;
    if let Some(p) = &d.pointer {
        dict.set_item("pointer", p.as_ref())?;
    }
    Ok(dict)
}

/// `err` with `.errors`: the diagnostics as dicts.
fn with_errors(py: Python<'_>, err: PyErr, diags: &[Diagnostic]) -> PyErr {
    let list: Vec<_> = diags.iter().filter_map(|d| diag_dict(py, d).ok()).collect();
    let _ = err.value(py).setattr("errors", list);
    err
}

/// The one conversion of an engine error to its `localforge.errors` class.
pub fn engine_error(py: Python<'_>, e: EngineError) -> PyErr {
    let diags = e.diagnostics();
    let text = e.to_string();
    let err = match e {
        EngineError::Recipe(_) | EngineError::Refused(_) => RecipeError::new_err(text),
        EngineError::Input(_) => InputError::new_err(text),
        EngineError::Resources(_) => ResourceError::new_err(text),
        EngineError::Config(_) => ConfigError::new_err(text),
        EngineError::Store(_) => StoreError::new_err(text),
        EngineError::Run(_) => RunError::new_err(text),
    };
    with_errors(py, err, &diags)
}

pub fn config_error(py: Python<'_>, d: &Diagnostic) -> PyErr {
    let err = ConfigError::new_err(d.to_string());
    if let Ok(dict) = diag_dict(py, d) {
        let _ = err.value(py).setattr("errors", vec![dict]);
    }
    err
}
