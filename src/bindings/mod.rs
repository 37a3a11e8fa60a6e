//! The pyo3 module `localforge._core`: converts values, maps errors to
//! `localforge.errors` classes, releases the GIL around engine work.

mod errors;
mod handle;
mod info;
mod plugin;
mod remote;
mod run;
mod system;

use crate::config::Config;
use crate::tools::plugin::Found;
use crate::tools::workers::Workers;
use crate::tools::Registry;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

/// The threads that call into Python (plugins' `handle`, executors' `submit`): each
/// attaches to the interpreter once, keeps its thread state, and holds the GIL only
/// while it calls.
pub(crate) fn python_workers() -> &'static Workers {
    static WORKERS: OnceLock<Workers> = OnceLock::new();
    WORKERS.get_or_init(|| Workers::new("localforge-python", |body| Python::attach(|py| py.detach(&mut *body))))
}

/// The one tokio runtime for engine work started from Python, made on first use (not
/// at import: a process forked after importing LocalForge gets threads of its own),
/// and the one asyncio futures of runs resolve on.
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    static ASYNCIO: std::sync::Once = std::sync::Once::new();
    let rt = RT.get_or_init(|| {
        RUNTIME_PID.store(std::process::id(), Ordering::SeqCst);
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("localforge-engine")
            .build()
            .expect("cannot start the tokio runtime")
    });
    ASYNCIO.call_once(|| {
        let _ = pyo3_async_runtimes::tokio::init_with_runtime(rt);
    });
    rt
}

/// The process that started the runtime. A child `fork`ed after that has a copy of the
/// runtime but none of its threads (nor the Python worker threads, nor the history's
/// writer): work handed to it would wait forever. The tokio runtime and the asyncio bridge
/// (pyo3-async-runtimes, set once per process) cannot be made again in the child, so
/// such a child is told so instead of hanging.
static RUNTIME_PID: AtomicU32 = AtomicU32::new(0);

/// Refuse engine work in a child forked after the engine started (see `RUNTIME_PID`).
pub(crate) fn not_forked() -> PyResult<()> {
    let parent = RUNTIME_PID.load(Ordering::SeqCst);
    if parent == 0 || parent == std::process::id() {
        return Ok(());
    }
    Err(errors::RunError::new_err(format!(
        "this process is a fork of process {parent}, which had already started LocalForge's engine; \
         a forked child has none of the engine's threads, so it cannot run recipes\n\n\
         hint: start worker processes with `multiprocessing.get_context(\"spawn\")` (or \"forkserver\"), \
         or create the pool before the parent runs anything"
    )))
}

/// The plugins `localforge.plugins.discover` returned: `(plugins, broken)`, each plugin a
/// dict of what it declares with its `module`, which stays Python's to call.
fn found(plugins: &Bound<'_, PyList>, broken: &Bound<'_, PyList>) -> PyResult<Found> {
    let mut found = Found::default();
    for item in plugins {
        let declared = item.cast::<PyDict>()?.copy()?;
        let module = declared.get_item("module")?.ok_or_else(|| pyo3::exceptions::PyValueError::new_err("plugin without module"))?;
        declared.del_item("module")?;
        found.plugins.push((pythonize::depythonize(&declared)?, Arc::new(plugin::PyModuleHandler(Arc::new(module.unbind())))));
    }
    for item in broken {
        found.broken.push(pythonize::depythonize(&item)?);
    }
    Ok(found)
}

/// The configured tools, and the plugins `discover` (`localforge.plugins.for_engine`) finds
/// when `needed` names a tool they lack (`Registry::with_plugins`). `discover` is given the
/// tool names and the configuration's tool folders, so it does not read the configuration again.
pub(crate) fn tools_for<'a>(
    config: &Config,
    needed: Option<impl IntoIterator<Item = &'a str>>,
    discover: Option<&Bound<'_, PyAny>>,
) -> PyResult<Registry> {
    let Some(d) = discover else { return Ok(Registry::configured(config)) };
    // Native and YAML tools load without the GIL: other Python threads (an asyncio loop) go on.
    let native = d.py().detach(|| Registry::configured(config));
    native.with_plugins(needed, |wanted| {
        // `threading` must be first imported by this (the main) thread: if a plugin's
        // worker thread imported it first, Python would take that thread for the main
        // one and wait for it forever at exit.
        d.py().import("threading")?;
        let dirs: Vec<String> = config.tool_dirs().iter().map(|p| p.display().to_string()).collect();
        let (plugins, broken): (Bound<'_, PyList>, Bound<'_, PyList>) = d.call1((wanted, dirs))?.extract()?;
        found(&plugins, &broken)
    })
}

/// Run `work` on the engine's runtime without the GIL, checking for Ctrl-C (or SIGTERM
/// turned into it) every 100 ms: on one, `work` is dropped (its probes and the processes
/// they started stop) and KeyboardInterrupt is raised.
pub(crate) fn interruptible<F>(py: Python<'_>, work: F) -> PyResult<F::Output>
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    interruptible_unless(py, work, |_| false)
}

/// `interruptible`, also stopped (KeyboardInterrupt) when `stop` says so: asked every
/// 100 ms, for work on a thread Ctrl-C does not reach (a Ray task's).
pub(crate) fn interruptible_unless<F>(py: Python<'_>, work: F, stop: impl Fn(Python<'_>) -> bool) -> PyResult<F::Output>
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    not_forked()?;
    // Declared first, dropped last: `work` dropped on a stop is dropped inside the runtime,
    // so what it holds can still reach it (ComfyUI's `/interrupt` on drop).
    let _runtime = runtime().enter();
    let mut work = std::pin::pin!(work);
    loop {
        // The timer is made inside the runtime (`async`): outside it there is no clock to use.
        let step =
            py.detach(|| runtime().block_on(async { tokio::time::timeout(std::time::Duration::from_millis(100), work.as_mut()).await }));
        if let Ok(out) = step {
            return Ok(out);
        }
        py.check_signals()?;
        if stop(py) {
            return Err(pyo3::exceptions::PyKeyboardInterrupt::new_err("stopped"));
        }
    }
}

fn cwd() -> std::path::PathBuf {
    std::env::current_dir().unwrap_or_else(|_| ".".into())
}

/// The configuration for this process, or a `ConfigError` naming file, line and key.
pub(crate) fn load_config(py: Python<'_>) -> PyResult<Config> {
    let mut config = py.detach(|| Config::load(&cwd())).map_err(|d| errors::config_error(py, &d))?;
    // The shipped YAML tools live in the package's data folder (`PACKAGE_DIR` is text: no
    // `pathlib` import on the way to a run).
    let package: std::path::PathBuf = py.import("localforge._paths")?.getattr("PACKAGE_DIR")?.extract()?;
    config.builtin_tools = Some(package.join("data").join("tools"));
    Ok(config)
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    macro_rules! functions {
        ($($f:path),* $(,)?) => { $(m.add_function(wrap_pyfunction!($f, m)?)?;)* };
    }
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    m.add_class::<handle::RunHandle>()?;
    m.add_class::<remote::CallDone>()?;
    functions!(run::start_run, run::start_resume, run::plan_recipe, remote::call_tool);
    functions!(info::validate, info::validate_warnings, info::recipe_info, info::recipe_document, info::config_defaults);
    functions!(info::list_tools, info::schema_document, info::history, info::history_show, info::config);
    functions!(system::system_report, system::health_report, system::model_table);
    functions!(info::parse_yaml, info::render_template, info::tool_definition, info::cache_stats, info::cache_clear);
    functions!(info::step_log, info::search_step_log, info::query_runs, info::control_run, info::history_version, info::run_status);
    Ok(())
}
