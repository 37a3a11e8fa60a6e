//! Run history in SQLite: one row per run, one per step attempt, and events.
//!
//! Writes go through one writer thread that owns the connection and commits
//! whatever has queued up in a single transaction (group commit): a step costs
//! two prepared statements, not a commit of its own. WAL mode and a busy
//! timeout let several runs share one database file.

pub mod control;
mod guard;
mod legacy;
pub mod logs;
mod query;
mod schema;

pub use query::{
    data_version, list_runs, log_place, query_runs, run_detail, run_status, step_seconds, EventRow, LogFile, RunDetail, RunListing,
    RunPage, RunQuery, RunSummary, StepRow,
};

use crate::status::{RunStatus, StepStatus};
use rusqlite::types::{ToSql, ToSqlOutput};
use rusqlite::{params, Connection};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, SyncSender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, thiserror::Error)]
#[error("history database `{path}`: {message}")]
pub struct StoreError {
    pub path: String,
    pub message: String,
}

/// The run row written when a run starts.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub run_id: String,
    pub recipe: String,
    pub recipe_path: String,
    pub recipe_hash: String,
    pub inputs: String,
    pub run_dir: String,
    pub started_at: String,
    /// How many steps the recipe has (a run's progress: steps done of these).
    pub steps: u32,
}

/// One request to an LLM, kept with the step that made it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct LlmCall {
    pub run_id: String,
    pub step_id: String,
    pub service: String,
    pub model: String,
    pub prompt: String,
    pub response: String,
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    pub duration_s: f64,
}

/// Which attempt of which step of which run a row is about.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub run_id: String,
    pub step_id: String,
    pub attempt: u32,
}

impl Attempt {
    fn key(&self) -> (&str, &str, u32) {
        (&self.run_id, &self.step_id, self.attempt)
    }
}

enum Op {
    BeginRun(NewRun, SyncSender<Result<(), StoreError>>),
    StepStarted {
        at: Attempt,
        tool: String,
        action: String,
        inputs: String,
        started_at: String,
        gpus: Option<String>,
    },
    StepFinished {
        at: Attempt,
        status: StepStatus,
        outputs: Option<String>,
        error: Option<String>,
        detail: Option<String>,
        ended_at: String,
        /// A `cached` attempt: the run whose attempt gave the outputs.
        cached_from: Option<String>,
    },
    Event {
        run_id: String,
        step_id: Option<String>,
        ts: String,
        level: String,
        message: String,
    },
    FinishRun {
        run_id: String,
        status: RunStatus,
        outputs: Option<String>,
        error: Option<String>,
        ended_at: String,
    },
    Flush(SyncSender<Result<(), StoreError>>),
    ResumeRun(String, SyncSender<Result<(), StoreError>>),
    Llm(Box<LlmCall>, String),
}

/// A handle to the history database, shared by a run's tasks.
pub struct Store {
    queue: Arc<Queue>,
    path: PathBuf,
    /// The first write error, reported at the end of the run.
    failure: Arc<Mutex<Option<String>>>,
    /// What the writer has to say (the database replaced, a lock waited for).
    notes: Arc<guard::Notes>,
}

impl Store {
    /// Open (creating if needed) the database and start its writer thread.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let err = |message: String| StoreError { path: path.display().to_string(), message };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            crate::config::private::create_dir(parent).map_err(|e| err(format!("cannot create folder: {e}")))?;
        }
        let conn = schema::open(path).map_err(|e| err(e.to_string()))?;
        // The writer waits for another process's lock in short turns, so it can say it waits.
        conn.busy_timeout(WRITER_BUSY).map_err(|e| err(e.to_string()))?;
        let queue = Arc::new(Queue::default());
        let (q, failure, notes) = (queue.clone(), Arc::new(Mutex::new(None)), Arc::new(guard::Notes::default()));
        let w = Writer { path: path.to_path_buf(), identity: guard::identity(path), runs: Default::default(), notes: notes.clone() };
        let f = failure.clone();
        std::thread::Builder::new()
            .name("localforge-store".into())
            .spawn(move || w.run(conn, q, f))
            .map_err(|e| err(format!("cannot start writer thread: {e}")))?;
        Ok(Store { queue, path: path.to_path_buf(), failure, notes })
    }

    /// Hear what the writer has to say as it happens (a run shows it as a note).
    pub fn on_note(&self, f: guard::NoteListener) {
        self.notes.listen(f);
    }

    /// What the writer said so far (a run's warnings), taken.
    pub fn take_notes(&self) -> Vec<String> {
        self.notes.take()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn send(&self, op: Op) {
        self.queue.push(op);
    }

    fn sync(&self, make: impl FnOnce(SyncSender<Result<(), StoreError>>) -> Op) -> Result<(), StoreError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(make(tx));
        rx.recv().unwrap_or_else(|_| Err(StoreError { path: self.path.display().to_string(), message: "writer thread stopped".into() }))
    }

    /// Write the run row, waiting until it is committed.
    pub fn begin_run(&self, run: NewRun) -> Result<(), StoreError> {
        self.sync(|tx| Op::BeginRun(run, tx))
    }

    /// An attempt begins, on the machine's GPUs `gpus` (none: no GPU work, or none listed).
    pub fn step_started(&self, at: Attempt, tool: &str, action: &str, inputs: String, started_at: String, gpus: &[usize]) {
        let gpus = (!gpus.is_empty()).then(|| gpus.iter().map(usize::to_string).collect::<Vec<_>>().join(","));
        self.send(Op::StepStarted { at, tool: tool.into(), action: action.into(), inputs, started_at, gpus });
    }

    pub fn step_finished(
        &self,
        at: Attempt,
        status: StepStatus,
        outputs: Option<String>,
        error: Option<String>,
        detail: Option<String>,
        ended_at: String,
    ) {
        self.send(Op::StepFinished { at, status, outputs, error, detail, ended_at, cached_from: None });
    }

    /// An attempt served by the step cache: status `cached`, with the run it came from.
    pub fn step_cached(&self, at: Attempt, outputs: String, cached_from: String, ended_at: String) {
        self.send(Op::StepFinished {
            at,
            status: StepStatus::Cached,
            outputs: Some(outputs),
            error: None,
            detail: None,
            ended_at,
            cached_from: Some(cached_from),
        });
    }

    pub fn event(&self, run_id: &str, step_id: Option<&str>, level: &str, message: &str) {
        self.send(Op::Event {
            run_id: run_id.into(),
            step_id: step_id.map(Into::into),
            ts: now(),
            level: level.into(),
            message: message.into(),
        });
    }

    pub fn llm_call(&self, call: LlmCall) {
        self.send(Op::Llm(Box::new(call), now()));
    }

    /// Mark an ended run `running` again, owned by this process (`resume`).
    pub fn resume_run(&self, run_id: &str) -> Result<(), StoreError> {
        self.sync(|tx| Op::ResumeRun(run_id.to_string(), tx))
    }

    pub fn finish_run(&self, run_id: &str, status: RunStatus, outputs: Option<String>, error: Option<String>) {
        self.send(Op::FinishRun { run_id: run_id.into(), status, outputs, error, ended_at: now() });
    }

    /// Wait until everything sent so far is committed; the first write error, if any.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.sync(Op::Flush)?;
        match self.failure.lock().expect("store failure").clone() {
            Some(message) => Err(StoreError { path: self.path.display().to_string(), message }),
            None => Ok(()),
        }
    }
}

/// Current time, UTC, RFC 3339 with milliseconds (sorts as text).
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// How long the writer gathers operations before committing them together.
/// A run that ends calls `flush`, which commits at once.
const GATHER: Duration = Duration::from_millis(5);
const MAX_BATCH: usize = 20_000;

/// Operations waiting for the writer. Senders wake the writer only when the
/// queue was empty or someone waits for a commit, so a fast run costs one
/// wake-up per batch rather than one per row.
#[derive(Default)]
struct Queue {
    pending: Mutex<Pending>,
    ready: Condvar,
}

#[derive(Default)]
struct Pending {
    ops: Vec<Op>,
    /// An operation in `ops` is waited for (commit without gathering more).
    urgent: bool,
    closed: bool,
}

impl Queue {
    fn push(&self, op: Op) {
        let mut p = self.pending.lock().expect("store queue");
        let wake = p.ops.is_empty() || op.is_sync();
        p.urgent |= op.is_sync();
        p.ops.push(op);
        drop(p);
        if wake {
            self.ready.notify_one();
        }
    }

    fn close(&self) {
        self.pending.lock().expect("store queue").closed = true;
        self.ready.notify_one();
    }

    /// The next batch, or `None` once closed and drained.
    fn take(&self) -> Option<Vec<Op>> {
        let mut p = self.pending.lock().expect("store queue");
        while p.ops.is_empty() {
            if p.closed {
                return None;
            }
            p = self.ready.wait(p).expect("store queue");
        }
        let deadline = std::time::Instant::now() + GATHER;
        while !p.urgent && !p.closed && p.ops.len() < MAX_BATCH {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            p = self.ready.wait_timeout(p, left).expect("store queue").0;
        }
        p.urgent = false;
        Some(std::mem::take(&mut p.ops))
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.queue.close();
    }
}

/// The writer thread's state: the file it writes, which file that was when opened,
/// and the runs it wrote rows for (to write again into a database made anew).
struct Writer {
    path: PathBuf,
    identity: Option<(u64, u64)>,
    runs: std::collections::BTreeSet<String>,
    notes: Arc<guard::Notes>,
}

impl Writer {
    fn run(mut self, mut conn: Connection, queue: Arc<Queue>, failure: Arc<Mutex<Option<String>>>) {
        while let Some(batch) = queue.take() {
            for op in &batch {
                if let Op::BeginRun(r, _) = op {
                    self.runs.insert(r.run_id.clone());
                } else if let Op::ResumeRun(id, _) = op {
                    self.runs.insert(id.clone());
                }
            }
            let mut result = commit(&mut conn, &batch, &self.path, &self.notes);
            if result.is_ok() && guard::identity(&self.path) != self.identity {
                result = self.reopen(&mut conn);
            }
            if let Err(e) = &result {
                failure.lock().expect("store failure").get_or_insert_with(|| e.to_string());
            }
            for op in batch {
                match op {
                    Op::BeginRun(_, reply) | Op::Flush(reply) | Op::ResumeRun(_, reply) => {
                        let _ = reply.send(
                            result
                                .as_ref()
                                .map(|_| ())
                                .map_err(|e| StoreError { path: self.path.display().to_string(), message: e.to_string() }),
                        );
                    }
                    _ => {}
                }
            }
        }
    }

    /// The database file was deleted or replaced while this run wrote to it: read this
    /// run's rows from the old file (still readable through the open connection), close
    /// it (which also removes its `-wal` and `-shm` files when it was the last user),
    /// open what is at the path now (made anew if nothing is) and write the rows into it.
    fn reopen(&mut self, conn: &mut Connection) -> rusqlite::Result<()> {
        let rows = guard::read_runs(conn, &self.runs)?;
        let fresh = Connection::open_in_memory()?;
        drop(std::mem::replace(conn, fresh));
        *conn = schema::open(&self.path)?;
        conn.busy_timeout(WRITER_BUSY)?;
        let tx = conn.unchecked_transaction()?;
        let copied = guard::write_runs(&tx, &rows)?;
        tx.commit()?;
        self.identity = guard::identity(&self.path);
        self.notes.say(format!(
            "the history database {} was deleted or replaced during the run; it was made again with this run's rows ({copied} rows)",
            self.path.display()
        ));
        Ok(())
    }
}

impl Op {
    /// Someone waits for this one: commit without gathering more.
    fn is_sync(&self) -> bool {
        matches!(self, Op::BeginRun(..) | Op::Flush(_) | Op::ResumeRun(..))
    }
}

/// The writer's SQLite busy timeout: one turn of waiting for a lock.
const WRITER_BUSY: Duration = Duration::from_secs(1);
/// After this long waiting for another process's write lock, say so (and again each time as long).
const LOCK_NOTE_AFTER: Duration = Duration::from_secs(3);
/// Give up on a batch after waiting this long in all.
const LOCK_GIVE_UP: Duration = Duration::from_secs(300);

/// Apply a batch in one transaction, waiting while another process holds the lock
/// (the connection's busy timeout waits first) and saying what waits on what.
fn commit(conn: &mut Connection, batch: &[Op], path: &Path, notes: &guard::Notes) -> rusqlite::Result<()> {
    let start = std::time::Instant::now();
    let mut next_note = LOCK_NOTE_AFTER;
    loop {
        match apply(conn, batch) {
            Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::DatabaseBusy && start.elapsed() < LOCK_GIVE_UP => {
                if start.elapsed() >= next_note {
                    let who = guard::holders(path);
                    let who = if who.is_empty() { "another process".to_string() } else { format!("another process ({})", who.join(", ")) };
                    notes.say(format!(
                        "the run's history is waiting for the write lock on {}, held by {who}, for {} s now; it goes on once that process lets go",
                        path.display(),
                        start.elapsed().as_secs()
                    ));
                    next_note += LOCK_NOTE_AFTER * 5;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

fn apply(conn: &mut Connection, batch: &[Op]) -> rusqlite::Result<()> {
    // An attempt that started and finished within this batch becomes one INSERT.
    let finished: std::collections::HashSet<(&str, &str, u32)> = batch
        .iter()
        .filter_map(|op| match op {
            Op::StepFinished { at, .. } => Some(at.key()),
            _ => None,
        })
        .collect();
    let mut started: HashMap<(&str, &str, u32), &Op> = HashMap::new();
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    for op in batch {
        match op {
            Op::StepStarted { at, .. } if finished.contains(&at.key()) => {
                started.insert(at.key(), op);
            }
            Op::StepFinished { at, status, outputs, error, detail, ended_at, cached_from } if started.contains_key(&at.key()) => {
                let Some(Op::StepStarted { tool, action, inputs, started_at, gpus, .. }) = started.remove(&at.key()) else {
                    unreachable!()
                };
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO steps (run_id, step_id, attempt, status, tool, action, inputs, outputs, error, error_detail, started_at, ended_at, cached_from, gpus)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                )?
                .execute(params![at.run_id, at.step_id, at.attempt, status, tool, action, inputs, outputs, error, detail, started_at, ended_at, cached_from, gpus])?;
            }
            Op::BeginRun(r, _) => {
                tx.prepare_cached(
                    "INSERT INTO runs (run_id, recipe, recipe_path, recipe_hash, status, inputs, run_dir, started_at, pid, host, steps)
                     VALUES (?1, ?2, ?3, ?4, 'running', ?5, ?6, ?7, ?8, ?9, ?10)",
                )?
                .execute(params![
                    r.run_id,
                    r.recipe,
                    r.recipe_path,
                    r.recipe_hash,
                    r.inputs,
                    r.run_dir,
                    r.started_at,
                    std::process::id(),
                    hostname(),
                    r.steps
                ])?;
            }
            Op::StepStarted { at, tool, action, inputs, started_at, gpus } => {
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO steps (run_id, step_id, attempt, status, tool, action, inputs, started_at, gpus)
                     VALUES (?1, ?2, ?3, 'running', ?4, ?5, ?6, ?7, ?8)",
                )?
                .execute(params![at.run_id, at.step_id, at.attempt, tool, action, inputs, started_at, gpus])?;
            }
            Op::StepFinished { at, status, outputs, error, detail, ended_at, cached_from } => {
                tx.prepare_cached(
                    "UPDATE steps SET status = ?4, outputs = ?5, error = ?6, error_detail = ?7, ended_at = ?8, cached_from = ?9
                     WHERE run_id = ?1 AND step_id = ?2 AND attempt = ?3",
                )?
                .execute(params![
                    at.run_id,
                    at.step_id,
                    at.attempt,
                    status,
                    outputs,
                    error,
                    detail,
                    ended_at,
                    cached_from
                ])?;
            }
            Op::Event { run_id, step_id, ts, level, message } => {
                tx.prepare_cached("INSERT INTO events (run_id, step_id, ts, level, message) VALUES (?1, ?2, ?3, ?4, ?5)")?
                    .execute(params![run_id, step_id, ts, level, message])?;
            }
            Op::FinishRun { run_id, status, outputs, error, ended_at } => {
                tx.prepare_cached("UPDATE runs SET status = ?2, outputs = ?3, error = ?4, ended_at = ?5 WHERE run_id = ?1")?
                    .execute(params![run_id, status, outputs, error, ended_at])?;
                // Attempts still open when the run ends were stopped with it.
                tx.prepare_cached("UPDATE steps SET status = 'cancelled', ended_at = ?2 WHERE run_id = ?1 AND status = 'running'")?
                    .execute(params![run_id, ended_at])?;
            }
            Op::Llm(c, ts) => {
                tx.prepare_cached(
                    "INSERT INTO llm_calls (run_id, step_id, ts, service, model, prompt, response, prompt_tokens, completion_tokens, duration_s)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )?
                .execute(params![c.run_id, c.step_id, ts, c.service, c.model, c.prompt, c.response, c.prompt_tokens.map(|n| n as i64), c.completion_tokens.map(|n| n as i64), c.duration_s])?;
            }
            Op::ResumeRun(run_id, _) => {
                // The time the run ran so far is kept (`prior_s`); a run killed without an end
                // time ran until its last recorded step.
                tx.prepare_cached(
                    "UPDATE runs SET prior_s = COALESCE(prior_s, 0) + MAX(0, 86400 * (
                         julianday(COALESCE(ended_at, (SELECT MAX(COALESCE(s.ended_at, s.started_at)) FROM steps s WHERE s.run_id = ?1),
                                            COALESCE(resumed_at, started_at)))
                         - julianday(COALESCE(resumed_at, started_at)))),
                       resumed_at = ?4, status = 'running', outputs = NULL, error = NULL, ended_at = NULL, pid = ?2, host = ?3
                     WHERE run_id = ?1",
                )?
                .execute(params![run_id, std::process::id(), hostname(), now()])?;
            }
            Op::Flush(_) => {}
        }
    }
    tx.commit()
}

/// This machine's name (runs are `interrupted` only if their process is gone from this host).
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it on success.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    if !ok {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// A status is stored as its word (`completed`, `cached`, ...).
impl ToSql for StepStatus {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl ToSql for RunStatus {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

#[cfg(test)]
mod tests;
