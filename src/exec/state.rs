//! What every step of one run shares: the recipe and tools, the run's folders, scope and
//! step table, its cancel tokens, event emitter, history store and cache.

use super::activity::Activity;
use super::answers::Answers;
use super::events::Emitter;
use super::report::StepReport;
use crate::recipe::Recipe;
use crate::schedule::Resources;
use crate::store::Store;
use crate::template::{Scope, StepTable};
use crate::tools::Registry;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// State every step of one run shares.
pub(super) struct Run {
    pub recipe: Arc<Recipe>,
    pub tools: Arc<Registry>,
    pub store: Option<Arc<Store>>,
    pub run_id: String,
    pub run_dir: PathBuf,
    pub temp_dir: PathBuf,
    pub scope: Scope,
    pub steps: Arc<StepTable>,
    /// Stops steps: the caller's cancel, or the recipe's `timeout_minutes`.
    pub cancel: CancellationToken,
    pub user_cancel: CancellationToken,
    pub events: Emitter,
    pub auto_approve: bool,
    pub answers: Option<Answers>,
    pub warnings: Mutex<Vec<String>>,
    /// What plugins see of the run (`ctx.inputs`, `ctx.recipe`, ...), built once.
    pub info: Arc<Value>,
    /// Attempts recorded before a resume, by record id: new attempts are numbered after them.
    pub attempt_base: HashMap<String, u32>,
    /// `batch.foreach` items' sub-steps a resumed run completed before (`STEP[i].SUB`):
    /// kept, not run again, like whole steps.
    pub kept_items: HashMap<String, StepReport>,
    /// Refinement so far, as 0.x plugins read it (`ctx.iteration_count`, `ctx.refinement_active`):
    /// the iteration reached per refined step, and how many refinements are going on now.
    pub refinement: Mutex<(HashMap<String, u32>, usize)>,
    pub cache: Option<Arc<crate::cache::Cache>>,
    /// Steps `--refresh` names and every step after them: run, not taken from the cache.
    pub refreshed: std::collections::HashSet<String>,
    /// Each step's reservation, handed to its tool call (an executor places the call by it).
    pub resources: Resources,
    /// The steps each step depends on, by id (the plan's edges).
    pub upstream: HashMap<String, Vec<String>>,
    /// The steps some other step depends on.
    pub feeds: HashSet<String>,
    /// What each finished record hands to the cache keys of the records after it.
    pub digests: Mutex<HashMap<String, String>>,
    /// The tool calls running now (the cache tells steps that ran together).
    pub activity: Activity,
    /// Records whose plugin read the run through its `ctx` (its inputs, config, the steps'
    /// outputs), with what it read: its key does not hold those, so its result is not stored.
    pub read_run: crate::tools::view::Reads,
}

impl Run {
    pub fn warn(&self, step: Option<&str>, message: String) {
        self.events.note(&format!("warning: {message}"));
        if let Some(s) = &self.store {
            s.event(&self.run_id, step, "WARNING", &message);
        }
        self.warnings.lock().expect("warnings").push(message);
    }
}
