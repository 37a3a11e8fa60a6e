//! One step: `when`, attempts with retry and refinement, gates, and history rows.

use super::report::{StepReport, StepStatus};
use super::runner::Run;
use crate::recipe::{OnFailure, Step, StepKind};
use crate::store::now;
use crate::template::{render_condition, render_value, Scope};
use crate::tools::{Outputs, ToolCtx, ToolError};
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Grace for a tool to stop after its step's timeout before it is abandoned.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Why an attempt did not succeed.
pub(super) enum Fail {
    Failed { message: String, detail: Option<String>, outputs: Outputs },
    Cancelled,
}

impl Fail {
    pub fn msg(message: impl Into<String>) -> Self {
        Fail::Failed { message: message.into(), detail: None, outputs: Outputs::new() }
    }
}

impl From<ToolError> for Fail {
    fn from(e: ToolError) -> Self {
        match e {
            ToolError::Failed { message, detail } => Fail::Failed { message, detail, outputs: Outputs::new() },
            ToolError::Cancelled => Fail::Cancelled,
        }
    }
}

type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

impl Run {
    /// Run a step to its final status, applying its `on_failure` policy.
    /// `record_id` is the id its history rows carry.
    pub(super) fn run_step<'a>(self: &'a Arc<Self>, step: &'a Step, scope: &'a Scope, record_id: &'a str) -> BoxFut<'a, StepReport> {
        Box::pin(async move {
            let started_at = now();
            if let Some(when) = &step.when {
                match render_condition(when, scope) {
                    Ok(false) => {
                        self.events.step_skipped(record_id, &format!("`when` is false ({when})"));
                        return StepReport {
                            status: StepStatus::Skipped,
                            outputs: Outputs::new(),
                            error: None,
                            attempts: 0,
                            started_at: Some(started_at.clone()),
                            ended_at: Some(started_at),
                        };
                    }
                    Ok(true) => {}
                    Err(e) => return self.finish(step, record_id, started_at, 0, Err(Fail::msg(format!("`when`: {e}")))),
                }
            }
            let max_attempts = if step.on_failure == OnFailure::Retry { 1 + step.retry_count } else { 1 };
            let mut attempt = 0;
            let mut result;
            loop {
                attempt += 1;
                result = self.attempt(step, scope, record_id, attempt).await;
                match &result {
                    Err(Fail::Failed { message, .. }) if attempt < max_attempts => {
                        let delay = step.retry_delay * 2f64.powi(attempt as i32 - 1);
                        self.events.note(&format!(
                            "{record_id}: attempt {attempt} failed ({message}); retrying{}",
                            if delay > 0.0 { format!(" in {delay:.1}s") } else { String::new() }
                        ));
                        if delay > 0.0 {
                            tokio::select! {
                                _ = tokio::time::sleep(Duration::from_secs_f64(delay)) => {}
                                _ = self.cancel.cancelled() => { result = Err(Fail::Cancelled); break; }
                            }
                        }
                    }
                    _ => break,
                }
            }
            if step.on_failure == OnFailure::Refine && matches!(result, Err(Fail::Failed { .. })) {
                let (r, n) = self.refine(step, scope, record_id, attempt, result).await;
                result = r;
                attempt = n;
            }
            self.finish(step, record_id, started_at, attempt, result)
        })
    }

    fn finish(&self, step: &Step, record_id: &str, started_at: String, attempts: u32, result: Result<Outputs, Fail>) -> StepReport {
        let ended_at = Some(now());
        let (status, outputs, error) = match result {
            Ok(outputs) => (StepStatus::Completed, outputs, None),
            Err(Fail::Cancelled) => (StepStatus::Cancelled, Outputs::new(), Some("cancelled".to_string())),
            Err(Fail::Failed { message, .. }) if step.on_failure == OnFailure::Skip => {
                self.events.step_skipped(record_id, &format!("failed, `on_failure: skip`: {message}"));
                (StepStatus::Skipped, Outputs::new(), Some(message))
            }
            Err(Fail::Failed { message, .. }) => (StepStatus::Failed, Outputs::new(), Some(message)),
        };
        StepReport { status, outputs, error, attempts, started_at: Some(started_at), ended_at }
    }

    /// Refinement: run the refinement steps, then the failed step again, until
    /// it passes or `config.max_iterations` is used up.
    async fn refine(
        self: &Arc<Self>,
        step: &Step,
        scope: &Scope,
        record_id: &str,
        attempt: u32,
        mut result: Result<Outputs, Fail>,
    ) -> (Result<Outputs, Fail>, u32) {
        let Some(refinement) = self.recipe.refinement_for(&step.id) else {
            if let Err(Fail::Failed { message, .. }) = &mut result {
                message.push_str(" (on_failure is `refine` but no refinement steps are defined)");
            }
            return (result, attempt);
        };
        /// Counts a refinement as going on until dropped (also when the run is cancelled).
        struct Active<'a>(&'a std::sync::Mutex<(std::collections::HashMap<String, u32>, usize)>);
        impl Drop for Active<'_> {
            fn drop(&mut self) {
                self.0.lock().expect("refinement").1 -= 1;
            }
        }
        self.refinement.lock().expect("refinement").1 += 1;
        let _active = Active(&self.refinement);
        self.refine_rounds(step, scope, record_id, attempt, result, refinement).await
    }

    async fn refine_rounds(
        self: &Arc<Self>,
        step: &Step,
        scope: &Scope,
        record_id: &str,
        mut attempt: u32,
        mut result: Result<Outputs, Fail>,
        refinement: &[Step],
    ) -> (Result<Outputs, Fail>, u32) {
        for iteration in 1..=self.recipe.max_iterations {
            self.refinement.lock().expect("refinement").0.insert(step.id.clone(), iteration);
            if let Err(Fail::Failed { outputs, .. }) = &result {
                // Refinement steps can read the failed attempt's outputs (e.g. `failures`).
                self.steps.set(&step.id, "failed", &Value::Object(outputs.clone()));
            }
            self.events.note(&format!("{record_id}: refinement {iteration}/{}", self.recipe.max_iterations));
            for r in refinement {
                let rec = format!("{}#{iteration}", r.id);
                let report = self.run_step(r, scope, &rec).await;
                self.steps.set(&r.id, report.status.as_str(), &Value::Object(report.outputs.clone()));
                match report.status {
                    StepStatus::Completed | StepStatus::Skipped => {}
                    StepStatus::Cancelled => return (Err(Fail::Cancelled), attempt),
                    _ => {
                        return (
                            Err(Fail::msg(format!("refinement step `{}` failed: {}", r.id, report.error.unwrap_or_default()))),
                            attempt,
                        )
                    }
                }
            }
            attempt += 1;
            result = self.attempt(step, scope, record_id, attempt).await;
            if !matches!(result, Err(Fail::Failed { .. })) {
                return (result, attempt);
            }
        }
        if let Err(Fail::Failed { message, .. }) = &mut result {
            *message = format!("{message} (still failing after {} refinement iterations)", self.recipe.max_iterations);
        }
        (result, attempt)
    }

    /// One attempt: render inputs, call the tool within the step's timeout,
    /// check the gate, and write the attempt's history row.
    async fn attempt(self: &Arc<Self>, step: &Step, scope: &Scope, record_id: &str, attempt: u32) -> Result<Outputs, Fail> {
        let (tool, action) = match &step.kind {
            StepKind::Tool { tool, action } => (tool.as_str(), action.as_str()),
            StepKind::Approval { .. } => ("approval_gate", ""),
            StepKind::Refinement { .. } => return Err(Fail::msg("refinement steps run only when triggered")),
        };
        let started = Instant::now();
        let started_at = now();
        // A 0.x plugin renders its own inputs, as 0.x did (through its ctx).
        let raw = step.tool_action().and_then(|(t, _)| self.tools.get(t)).is_some_and(|t| t.renders_0x());
        let rendered = if raw { Ok(Value::Object(step.inputs.clone())) } else { render_value(&Value::Object(step.inputs.clone()), scope) };
        let inputs_text = match &rendered {
            Ok(v) => v.to_string(),
            Err(_) => Value::Object(step.inputs.clone()).to_string(),
        };
        if let Some(store) = &self.store {
            store.step_started(self.attempt_key(record_id, attempt), tool, action, inputs_text, started_at);
        }
        let number = self.attempt_key(record_id, attempt).attempt;
        self.events.step_started(record_id, number, tool, action);
        let (key, hit) = match &rendered {
            Ok(Value::Object(inputs)) if !raw => self.cache_probe(step, record_id, tool, action, inputs).await,
            _ => (None, None),
        };
        if let Some(hit) = hit {
            return self.served(record_id, attempt, number, started, hit);
        }
        let result = match rendered {
            Err(e) => Err(Fail::msg(format!("cannot render inputs: {e}"))),
            Ok(Value::Object(inputs)) => self.call(step, scope, record_id, tool, action, inputs).await,
            Ok(_) => unreachable!("a mapping renders to a mapping"),
        };
        let result = result.and_then(|outputs| gate(step, outputs));
        // Only what passed its gate is kept: a hit is then always a step that succeeded.
        if let (Some((key, read)), Ok(outputs)) = (key, &result) {
            self.cache_put(&key, record_id, tool, action, outputs, read).await;
        }
        self.record(record_id, attempt, &result);
        let ended = match &result {
            Ok(o) => Ok(o),
            Err(Fail::Failed { message, .. }) => Err((message.as_str(), false)),
            Err(Fail::Cancelled) => Err(("cancelled", true)),
        };
        self.events.step_finished(record_id, number, started.elapsed(), ended);
        result
    }

    /// The cache key of this call when the step is cached (docs/cache.md), and the entry
    /// for it with its files restored into this run's folder when there is one (not for a
    /// step `--refresh` names, or one after it). Key, lookup and restore run in one blocking
    /// task: on a chain of small steps the thread hand-offs cost more than the work.
    #[allow(clippy::type_complexity)]
    async fn cache_probe(
        &self,
        step: &Step,
        record_id: &str,
        tool: &str,
        action: &str,
        inputs: &Outputs,
    ) -> (Option<(String, HashMap<String, String>)>, Option<(Outputs, String)>) {
        let Some(cache) = self.cache.clone() else { return (None, None) };
        if tool == "batch" || matches!(step.kind, StepKind::Approval { .. }) {
            return (None, None);
        }
        let Some(t) = self.tools.get(tool).cloned() else { return (None, None) };
        if !crate::cache::wanted(step.cache, self.recipe.cache, t.deterministic(action, inputs)) {
            return (None, None);
        }
        let identity = match t.identity(action, inputs).await {
            Ok(i) => i,
            Err(e) => {
                self.events.note(&format!("{record_id}: not taken from the step cache: {e}"));
                return (None, None);
            }
        };
        let top = record_id.split(['[', '#']).next().unwrap_or(record_id);
        let look = !self.refreshed.contains(top);
        let (fingerprint, run_dir) = (t.fingerprint(), self.run_dir.clone());
        let (tool, action, inputs) = (tool.to_string(), action.to_string(), inputs.clone());
        let gate_step = step.clone();
        let probed = tokio::task::spawn_blocking(move || {
            let (key, read) = crate::cache::key::key_and_files(&crate::cache::key::KeyParts {
                tool: &tool,
                action: &action,
                fingerprint: &fingerprint,
                inputs: &inputs,
                identity: identity.as_ref(),
                run_dir: &run_dir,
                known: None,
            })?;
            // An entry whose outputs would fail the step's gate is not served (it runs instead).
            let hit = look
                .then(|| cache.store.lookup(&key))
                .flatten()
                .filter(|e| e.outputs.as_object().is_some_and(|o| gate(&gate_step, o.clone()).is_ok()))
                .and_then(|entry| cache.store.restore(&entry, &run_dir).ok().map(|o| (o, entry.run_id)));
            Ok::<_, String>(((key, read), hit))
        })
        .await;
        match probed {
            Ok(Ok((key, hit))) => (Some(key), hit),
            Ok(Err(e)) => {
                self.events.note(&format!("{record_id}: not cached: {e}"));
                (None, None)
            }
            Err(_) => (None, None),
        }
    }

    /// Record a cached attempt and hand its outputs on (they passed the step's gate when stored).
    fn served(&self, record_id: &str, attempt: u32, number: u32, started: Instant, hit: (Outputs, String)) -> Result<Outputs, Fail> {
        let (outputs, from) = hit;
        if let Some(store) = &self.store {
            store.step_cached(self.attempt_key(record_id, attempt), Value::Object(outputs.clone()).to_string(), from.clone(), now());
        }
        self.events.step_cached(record_id, number, started.elapsed(), &outputs, &from);
        Ok(outputs)
    }

    /// Keep a successful call's outputs and files; a failure to store is a warning, not a failed step.
    async fn cache_put(&self, key: &str, record_id: &str, tool: &str, action: &str, outputs: &Outputs, read: HashMap<String, String>) {
        let Some(cache) = self.cache.clone() else { return };
        let (key, ids) = (key.to_string(), (self.run_id.clone(), record_id.to_string(), tool.to_string(), action.to_string()));
        let (outputs, run_dir) = (outputs.clone(), self.run_dir.clone());
        let stored = tokio::task::spawn_blocking(move || {
            let put = cache.store.put(&key, (&ids.0, &ids.1, &ids.2, &ids.3), &outputs, &run_dir, &read);
            if put.is_ok() {
                cache.stored.store(true, std::sync::atomic::Ordering::SeqCst);
            }
            put
        })
        .await;
        if let Ok(Err(e)) = stored {
            self.events.note(&format!("warning: {record_id}: could not store it in the step cache: {e}"));
        }
    }

    fn record(&self, record_id: &str, attempt: u32, result: &Result<Outputs, Fail>) {
        let Some(store) = &self.store else { return };
        let (status, outputs, error, detail) = match result {
            Ok(o) => ("completed", Some(Value::Object(o.clone()).to_string()), None, None),
            Err(Fail::Failed { message, detail, outputs }) => {
                let o = (!outputs.is_empty()).then(|| Value::Object(outputs.clone()).to_string());
                ("failed", o, Some(message.clone()), detail.clone())
            }
            Err(Fail::Cancelled) => ("cancelled", None, Some("cancelled".into()), None),
        };
        store.step_finished(self.attempt_key(record_id, attempt), status, outputs, error, detail, now());
    }

    /// Call the step's tool (or the engine's own batch / approval), bounded by the step's timeout.
    async fn call(
        self: &Arc<Self>,
        step: &Step,
        scope: &Scope,
        record_id: &str,
        tool: &str,
        action: &str,
        inputs: Outputs,
    ) -> Result<Outputs, Fail> {
        let step_cancel = self.cancel.child_token();
        let ctx = self.tool_ctx(record_id, step, scope, step_cancel.clone());
        let fut: BoxFut<'_, Result<Outputs, Fail>> = match &step.kind {
            StepKind::Approval { message, options, default_action } => {
                Box::pin(self.approval(record_id, message, options, default_action, scope))
            }
            _ if tool == "batch" => Box::pin(self.batch(step, scope, record_id, inputs, step_cancel.clone())),
            _ => {
                let t = self.tools.get(tool).cloned().ok_or_else(|| Fail::msg(format!("unknown tool `{tool}`")))?;
                let action = action.to_string();
                Box::pin(async move { t.call(&action, inputs, &ctx).await.map_err(Fail::from) })
            }
        };
        let mut fut = fut;
        let timeout = step.timeout.map(Duration::from_secs_f64);
        tokio::select! {
            r = &mut fut => r,
            _ = sleep_opt(timeout) => {
                step_cancel.cancel();
                let _ = tokio::time::timeout(STOP_GRACE, &mut fut).await;
                Err(Fail::msg(format!("step `{record_id}` timed out after {}s", step.timeout.unwrap_or_default())))
            }
            _ = self.cancel.cancelled() => {
                let _ = tokio::time::timeout(STOP_GRACE, &mut fut).await;
                Err(Fail::Cancelled)
            }
        }
    }

    fn attempt_key(&self, record_id: &str, attempt: u32) -> crate::store::Attempt {
        let base = self.attempt_base.get(record_id).copied().unwrap_or(0);
        crate::store::Attempt { run_id: self.run_id.clone(), step_id: record_id.to_string(), attempt: base + attempt }
    }

    pub(super) fn tool_ctx(&self, record_id: &str, step: &Step, scope: &Scope, cancel: tokio_util::sync::CancellationToken) -> ToolCtx {
        let store = self.store.clone();
        let run_id = self.run_id.clone();
        let step_id = record_id.to_string();
        let (events, for_progress, progress_step) = (self.events.clone(), self.events.clone(), record_id.to_string());
        ToolCtx {
            run_id: self.run_id.clone(),
            run_dir: self.run_dir.clone(),
            temp_dir: self.temp_dir.clone(),
            step_id: record_id.to_string(),
            llm_calls: self.store.clone().map(|s| Arc::new(move |call| s.llm_call(call)) as crate::tools::LlmSink),
            run: Some(Arc::new(super::view::View { info: self.info.clone(), scope: scope.clone(), steps: self.steps.clone() })),
            step: {
                let (counts, active) = &*self.refinement.lock().expect("refinement");
                serde_json::json!({"id": record_id, "name": step.name, "tool": step.tool_action().map(|t| t.0),
                                   "action": step.tool_action().map(|t| t.1),
                                   "iteration_count": counts, "refinement_active": *active > 0})
            },
            // A `batch.foreach` item's sub-step holds what it declares (preflight's figures are for whole steps).
            reservation: match record_id.contains('[') {
                true => crate::schedule::declared(&self.recipe, step),
                false => self.resources.of(&self.recipe, step),
            },
            cancel,
            progress: Arc::new(move |done: Option<u64>, total: Option<u64>, unit: &str| {
                for_progress.step_progress(&progress_step, done, total, unit);
            }),
            log: Arc::new(move |level: &str, message: &str| {
                events.log(&step_id, level, message);
                if let Some(s) = &store {
                    s.event(&run_id, Some(&step_id), level, message);
                }
            }),
        }
    }
}

async fn sleep_opt(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

/// `gate: true`: outputs saying `passed: false` fail the step with their `failures`.
fn gate(step: &Step, outputs: Outputs) -> Result<Outputs, Fail> {
    let failed_check = outputs.get("passed") == Some(&Value::Bool(false));
    if !(failed_check && (step.gate || step.on_failure == OnFailure::Refine)) {
        return Ok(outputs);
    }
    let failures = match outputs.get("failures") {
        Some(Value::Array(items)) => {
            items.iter().map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).collect::<Vec<_>>().join("; ")
        }
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => "no failures listed".into(),
    };
    Err(Fail::Failed { message: format!("gate failed: {failures}"), detail: None, outputs })
}
