//! `run_recipe` and `plan_recipe`: the long calls, made with the GIL released.

use super::errors::{recipe_error, store_error, RunError};
use super::runtime;
use crate::config::Config;
use crate::diag::Diagnostic;
use crate::engine::{self, Prepared};
use crate::exec::{self, Progress, RunOptions};
use crate::store::Store;
use crate::tools::Registry;
use indexmap::IndexMap;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pythonize::{depythonize, pythonize};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::mpsc::RecvTimeoutError;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Load, check (with plugins discovered only if the recipe needs them), bind and plan.
fn prepare(
    py: Python<'_>,
    config: &Config,
    path: &std::path::Path,
    inputs: Option<&Bound<'_, PyDict>>,
    discover: Option<&Bound<'_, PyAny>>,
) -> PyResult<(Prepared, Registry)> {
    let given: IndexMap<String, Value> = match inputs {
        Some(d) => depythonize(d.as_any())?,
        None => IndexMap::new(),
    };
    let path = path.to_path_buf();
    let (recipe, diags) = py.detach(|| crate::recipe::load(&path)).map_err(|d| recipe_error(py, &d, false))?;
    let tools = super::tools_for(config, Some(recipe.tool_names()), discover)?;
    let recipe = py.detach(|| engine::validated(recipe, diags, &tools)).map_err(|d| recipe_error(py, &d, false))?;
    // Input problems carry no line; recipe problems do.
    let prepared = py.detach(|| engine::bind(recipe, &given)).map_err(|diags| {
        let input_only = diags.iter().all(|d: &Diagnostic| d.line.is_none());
        recipe_error(py, &diags, input_only)
    })?;
    Ok((prepared, tools))
}

/// Check what the recipe needs against the machine; notes go to stderr unless `quiet`;
/// unmet needs are a `RecipeError` (exit 2, before any step runs) unless `force`.
fn preflight(
    py: Python<'_>,
    config: &Config,
    p: &Prepared,
    tools: &Registry,
    force: bool,
    quiet: bool,
) -> PyResult<crate::system::preflight::Preflight> {
    let probe = crate::system::Probe::machine();
    let pf = py.detach(|| runtime().block_on(crate::system::preflight::run(config, &p.recipe, &p.inputs, tools, &probe)));
    if !quiet {
        for note in &pf.notes {
            eprintln!("preflight: {note}");
        }
    }
    if !pf.problems.is_empty() && !force {
        let mut diags = pf.problems.clone();
        if let Some(last) = diags.last_mut() {
            if last.hint.as_deref().is_none_or(|h| !h.contains("--force")) {
                last.hint = Some(format!(
                    "{}{}",
                    last.hint.as_deref().map(|h| format!("{h}; ")).unwrap_or_default(),
                    "run with --force to start anyway"
                ));
            }
        }
        return Err(recipe_error(py, &diags, false));
    }
    Ok(pf)
}

/// Run a recipe and return the `run --json` document as a dict.
///
/// Ctrl-C (KeyboardInterrupt) or SIGTERM while it runs stops the running
/// steps and their processes, runs `cleanup.on_failure`, records the run as
/// `cancelled`, and returns normally with `status == "cancelled"`.
///
/// `plugins`: a callable returning `(plugins, broken)`, called only when the
/// recipe uses a tool that is not native.
#[pyfunction]
#[pyo3(signature = (path, inputs=None, auto_approve=false, quiet=false, plugins=None, force=false))]
pub fn run_recipe<'py>(
    py: Python<'py>,
    path: PathBuf,
    inputs: Option<&Bound<'py, PyDict>>,
    auto_approve: bool,
    quiet: bool,
    plugins: Option<&Bound<'py, PyAny>>,
    force: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let config = super::load_config(py)?;
    let (p, tools) = prepare(py, &config, &path, inputs, plugins)?;
    let pf = preflight(py, &config, &p, &tools, force, quiet)?;
    execute(py, &config, p, tools, &pf, auto_approve, quiet, None)
}

/// Run a prepared recipe on the engine's runtime, turning Ctrl-C / SIGTERM into cancellation.
#[allow(clippy::too_many_arguments)]
fn execute<'py>(
    py: Python<'py>,
    config: &Config,
    p: Prepared,
    tools: Registry,
    pf: &crate::system::preflight::Preflight,
    auto_approve: bool,
    quiet: bool,
    resume: Option<exec::Resume>,
) -> PyResult<Bound<'py, PyAny>> {
    let tools = Arc::new(tools);
    let store = match config.persistence_enabled() {
        true => Some(Arc::new(py.detach(|| Store::open(&config.db_path())).map_err(store_error)?)),
        false => None,
    };
    let cancel = CancellationToken::new();
    let opts = RunOptions {
        run_root: config.run_dir(),
        store,
        auto_approve,
        progress: Progress { quiet },
        cancel: cancel.clone(),
        resources: pf.resources(config),
        resume,
    };
    let (tx, rx) = std::sync::mpsc::channel();
    runtime().spawn(async move {
        let report = exec::run(p.recipe, p.plan, p.inputs, tools, opts).await;
        let _ = tx.send(report);
    });
    let mut rx = rx;
    let report = loop {
        let (received, back) = py.detach(move || (rx.recv_timeout(Duration::from_millis(100)), rx));
        rx = back;
        match received {
            Ok(report) => break report,
            Err(RecvTimeoutError::Timeout) => {
                if py.check_signals().is_err() {
                    // KeyboardInterrupt (or SIGTERM turned into one by the CLI): stop the run, keep waiting for it.
                    cancel.cancel();
                }
            }
            Err(RecvTimeoutError::Disconnected) => return Err(RunError::new_err("the engine stopped without a result (this is a bug)")),
        }
    };
    let report = report.map_err(RunError::new_err)?;
    Ok(pythonize(py, &report)?)
}

/// Continue a failed, cancelled or interrupted run in its own folder and history row:
/// completed steps keep their outputs and are not run again. The recipe file must be
/// unchanged (same hash) unless `force`.
#[pyfunction]
#[pyo3(signature = (run_id, auto_approve=false, quiet=false, plugins=None, force=false))]
pub fn resume_run<'py>(
    py: Python<'py>,
    run_id: String,
    auto_approve: bool,
    quiet: bool,
    plugins: Option<&Bound<'py, PyAny>>,
    force: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let config = super::load_config(py)?;
    let refuse = |msg: String, hint: &str| recipe_error(py, &[Diagnostic::new(msg).hint(hint)], false);
    let db = config.db_path();
    let detail = py.detach(|| crate::store::run_detail(&db, &run_id)).map_err(store_error)?;
    let Some(detail) = detail else {
        return Err(refuse(format!("no run `{run_id}` in the history ({})", db.display()), "list runs with `localforge history`"));
    };
    match detail.summary.status.as_str() {
        "completed" => {
            return Err(refuse(format!("run `{run_id}` completed; there is nothing to resume"), "start a new run with `localforge run`"))
        }
        "running" => {
            return Err(refuse(
                format!("run `{run_id}` is still running (its process is alive)"),
                "wait for it, or stop it with Ctrl-C / SIGTERM, then resume",
            ))
        }
        _ => {}
    }
    let path = PathBuf::from(detail.recipe_path.clone().unwrap_or_default());
    if !path.is_file() {
        return Err(refuse(format!("the recipe of run `{run_id}` is gone: `{}`", path.display()), "put the recipe back where it was"));
    }
    let given: IndexMap<String, Value> =
        detail.inputs.as_ref().and_then(Value::as_object).map(|m| m.clone().into_iter().collect()).unwrap_or_default();
    let inputs = pythonize(py, &given)?;
    let (p, tools) = prepare(py, &config, &path, Some(inputs.cast::<PyDict>()?), plugins)?;
    if detail.recipe_hash.as_deref() != Some(p.recipe.hash.as_str()) && !force {
        return Err(refuse(
            format!("the recipe `{}` changed since run `{run_id}` started", path.display()),
            "resume with --force to continue with the recipe as it is now, or start a new run",
        ));
    }
    let pf = preflight(py, &config, &p, &tools, force, quiet)?;
    let resume = exec::Resume::from_history(&detail);
    execute(py, &config, p, tools, &pf, auto_approve, quiet, Some(resume))
}

/// The plan of a recipe without running it (`run --dry-run`): levels, order, each step's tool and resources.
#[pyfunction]
#[pyo3(signature = (path, inputs=None, plugins=None, force=false))]
pub fn plan_recipe<'py>(
    py: Python<'py>,
    path: PathBuf,
    inputs: Option<&Bound<'py, PyDict>>,
    plugins: Option<&Bound<'py, PyAny>>,
    force: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let config = super::load_config(py)?;
    let (p, tools) = prepare(py, &config, &path, inputs, plugins)?;
    let pf = preflight(py, &config, &p, &tools, force, true)?;
    let needs: std::collections::HashMap<&str, &crate::system::preflight::StepNeed> = pf.needs.iter().map(|n| (n.id.as_str(), n)).collect();
    let resources = pf.resources(&config);
    let ledger = crate::schedule::Ledger::new(resources.capacity.clone());
    let steps = &p.recipe.steps;
    // Estimated durations: this recipe's history where it has them, tool defaults otherwise.
    let past = match config.persistence_enabled() {
        true => crate::store::step_seconds(&config.db_path(), &p.recipe.name).unwrap_or_default(),
        false => Default::default(),
    };
    let seconds: Vec<f64> = steps.iter().map(|s| crate::schedule::estimated_seconds(s, past.get(&s.id).copied())).collect();
    let critical = crate::schedule::critical_path(&p.plan, &seconds);
    let levels: Vec<Vec<&str>> = p.plan.levels().iter().map(|l| l.iter().map(|&i| steps[i].id.as_str()).collect()).collect();
    let detail: Vec<Value> = p
        .plan
        .order
        .iter()
        .map(|&i| {
            let s = &steps[i];
            let (tool, action) = s.tool_action().unwrap_or(("approval_gate", ""));
            json!({
                "id": s.id,
                "tool": tool,
                "action": action,
                "depends_on": p.plan.deps[i].iter().map(|&d| steps[d].id.as_str()).collect::<Vec<_>>(),
                "resources": s.resources.clone().or_else(|| p.recipe.resources.clone()),
                "needs": needs.get(s.id.as_str()),
                "never_fits": ledger.never_fits(&resources.of(&p.recipe, s)),
                "estimated_s": seconds[i],
                "on_failure": s.on_failure,
                "when": s.when,
            })
        })
        .collect();
    let doc = json!({
        "recipe": p.recipe.name,
        "valid": true,
        "sequential": p.plan.sequential,
        "inputs": p.inputs,
        "levels": levels,
        "critical_path": critical.iter().map(|&i| steps[i].id.as_str()).collect::<Vec<_>>(),
        "critical_path_s": critical.iter().map(|&i| seconds[i]).sum::<f64>(),
        "capacity": {"cpu": resources.capacity.cpu, "ram_gb": resources.capacity.ram_gb, "vram_gb": resources.capacity.vram_gb},
        "steps": detail,
        "preflight": {"ok": pf.problems.is_empty(), "forced": force && !pf.problems.is_empty(), "problems": pf.problems, "notes": pf.notes},
    });
    Ok(pythonize(py, &doc)?)
}
