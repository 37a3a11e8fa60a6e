//! One step: `when`, attempts with retry and refinement, gates, and history rows.

use super::fail::{gate, Fail};
use super::json_text;
use super::report::{StepReport, StepStatus};
use super::state::Run;
use crate::recipe::{OnFailure, Step, StepKind};
use crate::store::now;
use crate::template::{render_condition, render_map, Scope};
use crate::tools::{JsonMap, ToolCtx};
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Grace for a tool to stop after its step's timeout before it is abandoned.
const STOP_GRACE: Duration = Duration::from_secs(5);

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
                            outputs: JsonMap::new(),
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

    fn finish(&self, step: &Step, record_id: &str, started_at: String, attempts: u32, result: Result<JsonMap, Fail>) -> StepReport {
        let ended_at = Some(now());
        let (status, outputs, error) = match result {
            Ok(outputs) => (StepStatus::Completed, outputs, None),
            Err(Fail::Cancelled) => (StepStatus::Cancelled, JsonMap::new(), Some("cancelled".to_string())),
            Err(Fail::Failed { message, .. }) if step.on_failure == OnFailure::Skip => {
                self.events.step_skipped(record_id, &format!("failed, `on_failure: skip`: {message}"));
                (StepStatus::Skipped, JsonMap::new(), Some(message))
            }
            Err(Fail::Failed { message, .. }) => (StepStatus::Failed, JsonMap::new(), Some(message)),
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
        mut result: Result<JsonMap, Fail>,
    ) -> (Result<JsonMap, Fail>, u32) {
        // A step's own refinement first; a batch item's sub-step has no other but the
        // recipe's (a top-level step of the same id is another step).
        let found = match &step.refinement {
            Some(own) => Some(own.as_slice()),
            None if super::cached::item_of(record_id).is_some() => Some(self.recipe.refinement.as_slice()).filter(|r| !r.is_empty()),
            None => self.recipe.refinement_for(&step.id),
        };
        let Some(refinement) = found else {
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
        mut result: Result<JsonMap, Fail>,
        refinement: &[Step],
    ) -> (Result<JsonMap, Fail>, u32) {
        for iteration in 1..=self.recipe.max_iterations {
            self.refinement.lock().expect("refinement").0.insert(step.id.clone(), iteration);
            if let Err(Fail::Failed { outputs, .. }) = &result {
                // Refinement steps can read the failed attempt's outputs (e.g. `failures`).
                self.steps.set(&step.id, StepStatus::Failed, outputs);
            }
            self.events.note(&format!("{record_id}: refinement {iteration}/{}", self.recipe.max_iterations));
            // A batch item's sub-step's refinement is that item's: `each[3].fix#1`.
            let item = super::cached::item_of(record_id).unwrap_or_default();
            for r in refinement {
                let rec = format!("{item}{}#{iteration}", r.id);
                let report = self.run_step(r, scope, &rec).await;
                self.refined(record_id, &rec);
                self.steps.set(&r.id, report.status, &report.outputs);
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
    async fn attempt(self: &Arc<Self>, step: &Step, scope: &Scope, record_id: &str, attempt: u32) -> Result<JsonMap, Fail> {
        let (tool, action) = match &step.kind {
            StepKind::Tool { tool, action } => (tool.as_str(), action.as_str()),
            StepKind::Approval { .. } => ("approval_gate", ""),
            StepKind::Refinement { .. } => return Err(Fail::msg("refinement steps run only when triggered")),
        };
        let started = Instant::now();
        let started_at = now();
        // A 0.x plugin renders its own inputs, as 0.x did (through its ctx).
        let raw = step.tool_action().and_then(|(t, _)| self.tools.get(t)).is_some_and(|t| t.renders_0x());
        let rendered = if raw { Ok(Value::Object(step.inputs.clone())) } else { render_map(&step.inputs, scope).map(Value::Object) };
        let inputs_text = match &rendered {
            Ok(v) => v.to_string(),
            Err(_) => json_text(&step.inputs),
        };
        // The cards the step was given (a batch or an approval does no GPU work of its own).
        let gpus: Vec<usize> = match tool != "batch" && !matches!(step.kind, StepKind::Approval { .. }) {
            true => super::placed::current().cards.iter().map(|c| c.index).collect(),
            false => Vec::new(),
        };
        if let Some(store) = &self.store {
            store.step_started(self.attempt_key(record_id, attempt), tool, action, inputs_text, started_at, &gpus);
        }
        let number = self.attempt_key(record_id, attempt).attempt;
        self.events.step_started(record_id, number, tool, action, gpus);
        // With the cache on, a tool call (not a batch, nor an approval) is counted as running
        // while it does, so that the cache can tell the files of steps that run together
        // apart; and each step hands a digest of what it gave to the keys of the steps after
        // it. With the cache off nothing reads either.
        let caching = self.cache.is_some();
        let running = (caching && tool != "batch" && !matches!(step.kind, StepKind::Approval { .. })).then(|| self.activity.begin());
        let upstream = if caching { self.upstream_of(record_id) } else { Vec::new() };
        let probe = match &rendered {
            Ok(Value::Object(inputs)) if !raw => {
                let listing = running.as_ref().and_then(|r| r.listing.clone());
                self.cache_probe(step, record_id, (tool, action), inputs, &upstream, listing).await
            }
            _ => super::cached::Probe::Off,
        };
        let probe = match probe {
            super::cached::Probe::Hit { key, outputs, from, restored } => {
                if let Some(r) = running {
                    r.finish(restored);
                }
                self.set_digest(record_id, Some(&key), &outputs, &upstream);
                return self.served(record_id, attempt, number, started, (outputs, from));
            }
            other => other,
        };
        // Not cached, but steps after it are: what it does to the run folder is part of its digest.
        let effects = match (&probe, &running) {
            (super::cached::Probe::Off, Some(r)) if self.feeds(record_id) => {
                Some(self.effects_before(tool, action, r.listing.clone()).await)
            }
            _ => None,
        };
        let given = running.as_ref().map(|_| rendered.as_ref().ok().and_then(Value::as_object).cloned().unwrap_or_default());
        let result = match rendered {
            Err(e) => Err(Fail::msg(format!("cannot render inputs: {e}"))),
            Ok(Value::Object(inputs)) => self.call(step, scope, (record_id, number), tool, action, inputs).await,
            Ok(_) => unreachable!("a mapping renders to a mapping"),
        };
        let result = result.and_then(|outputs| gate(step, outputs));
        // What it names in the run folder is its own, for the steps that ran beside it.
        let (named, beside) = match running {
            Some(r) => {
                let given = given.unwrap_or_default();
                let named =
                    crate::cache::capture::named_in(&[&given].into_iter().chain(result.as_ref().ok()).collect::<Vec<_>>(), &self.run_dir);
                let beside = r.finish(named.clone());
                (named, beside)
            }
            None => Default::default(),
        };
        // A service shared with other clients may have changed between the key and the call
        // (`Tool::confirms`): then the result is not stored, and what it hands on is made from
        // what it did, as an uncached step's, not from what the key said.
        let unconfirmed = match (&probe, &result) {
            (super::cached::Probe::Miss { identity: Some(id), .. }, Ok(outputs)) => {
                self.tools.get(tool).and_then(|t| t.confirms(action, id, outputs).err())
            }
            _ => None,
        };
        // A plugin that read the run through its `ctx` depends on what its key does not hold.
        let read = self.read_run.lock().expect("reads").remove(record_id);
        let unconfirmed = match (unconfirmed, read, &probe, &result) {
            (None, Some(what), super::cached::Probe::Miss { .. }, Ok(_)) => {
                Some(crate::tools::ToolError::failed(format!("its result depends on {what}, which its key does not hold")))
            }
            (u, _, _, _) => u,
        };
        if caching {
            // A step that failed (and is skipped, or retried) may have written to the run
            // folder too: what it hands on is made from what it did, as an uncached step's.
            let failed = match &result {
                Err(Fail::Failed { outputs, .. }) => Some(outputs.clone()),
                _ => None,
            };
            if let Some(outputs) = result.as_ref().ok().or(failed.as_ref()) {
                let mut upstream = upstream.clone();
                let effects = match (unconfirmed.is_some() || failed.is_some(), &probe) {
                    (true, super::cached::Probe::Miss { before, .. }) => {
                        Some(before.clone().map_or(super::cached::Effects::Outputs, super::cached::Effects::Listed))
                    }
                    _ => effects,
                };
                if let Some(e) = effects {
                    upstream.push(("@made".into(), self.effects_digest(e, outputs).await));
                }
                if tool == "batch" {
                    upstream.push(("@items".into(), self.items_digest(record_id)));
                }
                let key = if unconfirmed.is_some() || failed.is_some() { None } else { probe.key() };
                self.set_digest(record_id, key, outputs, &upstream);
            }
        }
        // Only what passed its gate is kept: a hit is then always a step that succeeded.
        if let (super::cached::Probe::Miss { key, read, before, relocatable, .. }, Ok(outputs)) = (probe, &result) {
            match unconfirmed {
                Some(why) => {
                    self.events.note(&format!("{record_id}: not stored in the step cache: {why}"));
                    self.resolve_pending();
                }
                None => {
                    let took = started.elapsed().as_secs_f64();
                    self.cache_put(&key, record_id, tool, action, outputs, (read, before, relocatable), (beside, named), took).await
                }
            }
        } else if self.cache.is_some() {
            self.resolve_pending();
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

    fn record(&self, record_id: &str, attempt: u32, result: &Result<JsonMap, Fail>) {
        let Some(store) = &self.store else { return };
        let (status, outputs, error, detail) = match result {
            Ok(o) => (StepStatus::Completed, Some(json_text(o)), None, None),
            Err(Fail::Failed { message, detail, outputs }) => {
                let o = (!outputs.is_empty()).then(|| json_text(outputs));
                (StepStatus::Failed, o, Some(message.clone()), detail.clone())
            }
            Err(Fail::Cancelled) => (StepStatus::Cancelled, None, Some("cancelled".into()), None),
        };
        store.step_finished(self.attempt_key(record_id, attempt), status, outputs, error, detail, now());
    }

    /// Call the step's tool (or the engine's own batch / approval), bounded by the step's timeout.
    async fn call(
        self: &Arc<Self>,
        step: &Step,
        scope: &Scope,
        (record_id, attempt): (&str, u32),
        tool: &str,
        action: &str,
        inputs: JsonMap,
    ) -> Result<JsonMap, Fail> {
        let step_cancel = self.cancel.child_token();
        let mut ctx = self.tool_ctx(record_id, step, scope, step_cancel.clone());
        ctx.attempt = attempt;
        let fut: BoxFut<'_, Result<JsonMap, Fail>> = match &step.kind {
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

    pub(super) fn attempt_key(&self, record_id: &str, attempt: u32) -> crate::store::Attempt {
        let base = self.attempt_base.get(record_id).copied().unwrap_or(0);
        crate::store::Attempt { run_id: self.run_id.clone(), step_id: record_id.to_string(), attempt: base + attempt }
    }

    pub(super) fn tool_ctx(&self, record_id: &str, step: &Step, scope: &Scope, cancel: tokio_util::sync::CancellationToken) -> ToolCtx {
        let store = self.store.clone();
        let run_id = self.run_id.clone();
        let step_id = record_id.to_string();
        let (events, for_progress, progress_step) = (self.events.clone(), self.events.clone(), record_id.to_string());
        let given = super::placed::current();
        ToolCtx {
            run_id: self.run_id.clone(),
            run_dir: self.run_dir.clone(),
            temp_dir: self.temp_dir.clone(),
            step_id: record_id.to_string(),
            attempt: 0,
            llm_calls: self.store.clone().map(|s| Arc::new(move |call| s.llm_call(call)) as crate::tools::LlmSink),
            run: Some(Arc::new(crate::tools::view::View {
                info: self.info.clone(),
                scope: scope.clone(),
                steps: self.steps.clone(),
                reads: Some((record_id.to_string(), self.read_run.clone())),
            })),
            step: {
                let (counts, active) = &*self.refinement.lock().expect("refinement");
                let env: serde_json::Map<String, Value> = given.env.iter().map(|(k, v)| (k.to_string(), Value::from(v.as_str()))).collect();
                // Sized once: growing it key by key was most of what making a step's context cost.
                let mut m = serde_json::Map::with_capacity(8);
                m.insert("id".into(), record_id.into());
                m.insert("name".into(), step.name.clone().into());
                m.insert("tool".into(), step.tool_action().map(|t| t.0).into());
                m.insert("action".into(), step.tool_action().map(|t| t.1).into());
                m.insert("iteration_count".into(), serde_json::to_value(counts).unwrap_or_default());
                m.insert("refinement_active".into(), (*active > 0).into());
                m.insert("gpus".into(), serde_json::to_value(&given.cards).unwrap_or_default());
                m.insert("gpu_env".into(), Value::Object(env));
                Value::Object(m)
            },
            // A `batch.foreach` item's sub-step holds what it declares (preflight's figures are
            // for whole steps); a step, what the scheduler reserved for it.
            reservation: match &given.reservation {
                Some(r) if record_id == step.id => r.clone(),
                _ if record_id.contains('[') => crate::schedule::declared(&self.recipe, step),
                _ => self.resources.of(&self.recipe, step),
            },
            cards: given.cards,
            gpu_env: given.env,
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
