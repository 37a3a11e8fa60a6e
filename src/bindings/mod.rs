//! The pyo3 module `localforge._core`: converts values, maps errors to
//! `localforge.errors` classes, releases the GIL around engine work.

mod errors;
mod info;
mod run;

use pyo3::prelude::*;
use std::sync::OnceLock;

/// The one tokio runtime for engine work started from Python.
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("localforge-engine")
            .build()
            .expect("cannot start the tokio runtime")
    })
}

fn cwd() -> std::path::PathBuf {
    std::env::current_dir().unwrap_or_else(|_| ".".into())
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    m.add_function(wrap_pyfunction!(run::run_recipe, m)?)?;
    m.add_function(wrap_pyfunction!(run::plan_recipe, m)?)?;
    m.add_function(wrap_pyfunction!(info::validate, m)?)?;
    m.add_function(wrap_pyfunction!(info::recipe_info, m)?)?;
    m.add_function(wrap_pyfunction!(info::list_tools, m)?)?;
    m.add_function(wrap_pyfunction!(info::history, m)?)?;
    m.add_function(wrap_pyfunction!(info::history_show, m)?)?;
    m.add_function(wrap_pyfunction!(info::config, m)?)?;
    Ok(())
}
