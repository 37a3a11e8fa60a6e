//! Reading history: recent runs, and one run in detail.

use super::{hostname, schema};
use crate::status::RunStatus;
use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;
use std::path::Path;

#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub run_id: String,
    pub recipe: String,
    pub status: String,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub duration_s: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepRow {
    pub step_id: String,
    pub attempt: u32,
    pub status: String,
    pub tool: Option<String>,
    pub action: Option<String>,
    pub inputs: Option<serde_json::Value>,
    pub outputs: Option<serde_json::Value>,
    pub error: Option<String>,
    pub error_detail: Option<String>,
    pub started_at: String,
    pub ended_at: Option<String>,
    /// Served by the step cache from this run's attempt.
    pub cached_from: Option<String>,
    /// The machine's GPUs it ran on, by number (empty: no GPU work, or no cards listed).
    pub gpus: Vec<usize>,
    /// What the attempt's program printed, where it is kept (`logs`): the streams written.
    pub logs: Vec<LogFile>,
}

/// One of an attempt's output logs.
#[derive(Debug, Clone, Serialize)]
pub struct LogFile {
    pub channel: super::logs::Channel,
    pub path: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventRow {
    pub step_id: Option<String>,
    pub ts: String,
    pub level: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunDetail {
    #[serde(flatten)]
    pub summary: RunSummary,
    pub recipe_path: Option<String>,
    pub recipe_hash: Option<String>,
    pub inputs: Option<serde_json::Value>,
    pub outputs: Option<serde_json::Value>,
    pub error: Option<String>,
    pub run_dir: Option<String>,
    pub steps: Vec<StepRow>,
    pub events: Vec<EventRow>,
    /// The LLM calls of its steps, in order: prompt, response, model, tokens, seconds.
    pub llm_calls: Vec<LlmCallRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LlmCallRow {
    pub step_id: String,
    pub ts: String,
    pub service: String,
    pub model: String,
    pub prompt: String,
    pub response: String,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub duration_s: f64,
}

fn duration(start: &str, end: Option<&str>) -> Option<f64> {
    let s = chrono::DateTime::parse_from_rfc3339(start).ok()?;
    let e = chrono::DateTime::parse_from_rfc3339(end?).ok()?;
    Some((e - s).num_milliseconds() as f64 / 1000.0)
}

fn json(text: Option<String>) -> Option<serde_json::Value> {
    text.and_then(|t| serde_json::from_str(&t).ok())
}

/// Whether a `running` run's process is gone (same host, pid no longer alive).
fn is_orphaned(pid: Option<i64>, host: Option<&str>) -> bool {
    let (Some(pid), Some(host)) = (pid, host) else { return false };
    if host != hostname() {
        return false;
    }
    if pid as u32 == std::process::id() {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists.
    let exists = unsafe { libc::kill(pid as i32, 0) } == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    !exists
}

fn summary(row: &Row) -> rusqlite::Result<(RunSummary, Option<i64>, Option<String>)> {
    let started_at: String = row.get("started_at")?;
    let ended_at: Option<String> = row.get("ended_at")?;
    // A resumed run's own running time: before the resume, plus since it.
    let resumed_at: Option<String> = row.get("resumed_at")?;
    let prior_s: Option<f64> = row.get("prior_s")?;
    let ran = duration(resumed_at.as_deref().unwrap_or(&started_at), ended_at.as_deref()).map(|d| d + prior_s.unwrap_or(0.0));
    Ok((
        RunSummary {
            run_id: row.get("run_id")?,
            recipe: row.get("recipe")?,
            status: row.get("status")?,
            duration_s: ran.map(|d| (d * 1000.0).round() / 1000.0),
            started_at,
            ended_at,
        },
        row.get("pid")?,
        row.get("host")?,
    ))
}

/// `row` with the logs its attempt left in the run folder.
fn with_logs(mut row: StepRow, run_dir: Option<&str>) -> StepRow {
    use super::logs::{path, Channel};
    let Some(dir) = run_dir else { return row };
    for channel in [Channel::Stdout, Channel::Stderr] {
        let p = path(Path::new(dir), &row.step_id, row.attempt, channel);
        if let Ok(m) = std::fs::metadata(&p) {
            row.logs.push(LogFile { channel, path: p.to_string_lossy().into_owned(), bytes: m.len() });
        }
    }
    row
}

/// A run's status as `run_detail` would say it (a run whose process died is `interrupted`),
/// without reading its steps; `None` when the history has no such run.
pub fn run_status(path: &Path, run_id: &str) -> rusqlite::Result<Option<String>> {
    if !path.exists() {
        return Ok(None);
    }
    let conn = schema::open(path)?;
    let row = conn
        .query_row(
            "SELECT run_id, recipe, status, started_at, ended_at, pid, host, resumed_at, prior_s FROM runs WHERE run_id = ?1",
            params![run_id],
            summary,
        )
        .optional()?;
    let Some((mut s, pid, host)) = row else { return Ok(None) };
    settle(&conn, &mut s, pid, host.as_deref())?;
    Ok(Some(s.status))
}

/// A run left `running` by a process that no longer exists is recorded as `interrupted`.
fn settle(conn: &rusqlite::Connection, s: &mut RunSummary, pid: Option<i64>, host: Option<&str>) -> rusqlite::Result<()> {
    if s.status == RunStatus::Running.as_str() && is_orphaned(pid, host) {
        conn.execute("UPDATE runs SET status = 'interrupted' WHERE run_id = ?1 AND status = 'running'", params![s.run_id])?;
        conn.execute("UPDATE steps SET status = 'interrupted' WHERE run_id = ?1 AND status = 'running'", params![s.run_id])?;
        s.status = RunStatus::Interrupted.as_str().into();
    }
    Ok(())
}

/// The newest `limit` runs, newest first.
pub fn list_runs(path: &Path, limit: usize) -> rusqlite::Result<Vec<RunSummary>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let conn = schema::open(path)?;
    let mut stmt = conn.prepare(
        "SELECT run_id, recipe, status, started_at, ended_at, pid, host, resumed_at, prior_s FROM runs ORDER BY started_at DESC, rowid DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map(params![limit as i64], summary)?.collect::<rusqlite::Result<Vec<_>>>()?;
    let mut out = Vec::with_capacity(rows.len());
    for (mut s, pid, host) in rows {
        settle(&conn, &mut s, pid, host.as_deref())?;
        out.push(s);
    }
    Ok(out)
}

/// Which runs to list, newest first: each field given narrows the list.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunQuery {
    pub status: Option<String>,
    pub recipe: Option<String>,
    /// Started at or after this time (`2026-12-01` or a full RFC 3339 time).
    pub since: Option<String>,
    /// Started before this time; a date alone takes in that day.
    pub until: Option<String>,
    /// In the run's id, recipe name or error, any case.
    pub text: Option<String>,
    pub offset: usize,
    /// At most this many (0: 50).
    pub limit: usize,
}

/// A run as the runs list shows it: its summary and how far it got.
#[derive(Debug, Clone, Serialize)]
pub struct RunListing {
    #[serde(flatten)]
    pub summary: RunSummary,
    /// Steps that completed, came from the cache or were skipped (a batch's items count
    /// as their step).
    pub steps_done: u32,
    /// The recipe's steps (unknown for runs recorded before it was kept).
    pub steps_total: Option<u32>,
    /// Approval gates of the run waiting for an answer now.
    pub waiting: u32,
}

/// One page of the runs a query finds, how many it finds in all, and every recipe name in
/// the history (for a filter's choices).
#[derive(Debug, Clone, Serialize)]
pub struct RunPage {
    pub runs: Vec<RunListing>,
    pub total: u64,
    pub recipes: Vec<String>,
}

/// The runs `q` finds, filtered and counted in SQL over the whole history (indexed by
/// start time, status and recipe), so a page costs the same with 10 runs or 10,000.
pub fn query_runs(path: &Path, q: &RunQuery) -> rusqlite::Result<RunPage> {
    if !path.exists() {
        return Ok(RunPage { runs: Vec::new(), total: 0, recipes: Vec::new() });
    }
    let conn = schema::open(path)?;
    // Runs whose process died are `interrupted` before any status is matched.
    let live: Vec<(RunSummary, Option<i64>, Option<String>)> =
        conn.prepare_cached("SELECT * FROM runs WHERE status = 'running'")?.query_map([], summary)?.collect::<rusqlite::Result<_>>()?;
    for (mut s, pid, host) in live {
        settle(&conn, &mut s, pid, host.as_deref())?;
    }
    let mut clauses = Vec::new();
    let mut args: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
    let mut narrow = |clause: &str, value: String| {
        args.push(Box::new(value));
        clauses.push(clause.replace('?', &format!("?{}", args.len())));
    };
    if let Some(v) = q.status.clone().filter(|v| !v.is_empty()) {
        narrow("status = ?", v);
    }
    if let Some(v) = q.recipe.clone().filter(|v| !v.is_empty()) {
        narrow("recipe = ?", v);
    }
    if let Some(v) = q.since.clone().filter(|v| !v.is_empty()) {
        narrow("started_at >= ?", v);
    }
    if let Some(v) = q.until.clone().filter(|v| !v.is_empty()) {
        // A date alone (`2026-12-01`) takes in the whole of that day.
        narrow("started_at < ?", if v.len() == 10 { format!("{v}~") } else { v });
    }
    if let Some(v) = q.text.clone().filter(|v| !v.trim().is_empty()) {
        let like = format!("%{}%", v.trim().to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        narrow(
            "(lower(run_id) LIKE ? ESCAPE '\\' OR lower(recipe) LIKE ? ESCAPE '\\' OR lower(coalesce(error, '')) LIKE ? ESCAPE '\\')",
            like,
        );
    }
    let filter = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
    let refs: Vec<&dyn rusqlite::ToSql> = args.iter().map(|a| a.as_ref()).collect();
    let total: i64 = conn.query_row(&format!("SELECT count(*) FROM runs {filter}"), refs.as_slice(), |r| r.get(0))?;
    let limit = if q.limit == 0 { 50 } else { q.limit.min(1000) };
    let sql = format!(
        "SELECT r.*, (SELECT count(DISTINCT CASE WHEN instr(s.step_id, '[') > 0 THEN substr(s.step_id, 1, instr(s.step_id, '[') - 1)
                                                ELSE s.step_id END)
                        FROM steps s WHERE s.run_id = r.run_id AND s.status IN ('completed', 'cached', 'skipped')) AS done,
                (SELECT count(*) FROM steps s WHERE s.run_id = r.run_id AND s.status = 'running' AND s.tool = 'approval_gate'
                    AND r.status = 'running') AS waiting
           FROM runs r {filter} ORDER BY r.started_at DESC, r.rowid DESC LIMIT {limit} OFFSET {}",
        q.offset
    );
    let mut stmt = conn.prepare(&sql)?;
    let runs = stmt
        .query_map(refs.as_slice(), |row| {
            let (summary, _, _) = summary(row)?;
            Ok(RunListing { summary, steps_done: row.get("done")?, steps_total: row.get("steps")?, waiting: row.get("waiting")? })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let recipes = conn
        .prepare_cached("SELECT DISTINCT recipe FROM runs ORDER BY recipe")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(RunPage { runs, total: total as u64, recipes })
}

/// A number that changes whenever another connection (a run, in any process) has
/// written to the history since the last call: a front end asks it twice a second and
/// reloads only when it moved. One connection per file is kept for this.
pub fn data_version(path: &Path) -> rusqlite::Result<i64> {
    use std::sync::Mutex;
    static CONNS: Mutex<Vec<(std::path::PathBuf, rusqlite::Connection)>> = Mutex::new(Vec::new());
    if !path.exists() {
        return Ok(0);
    }
    let mut conns = CONNS.lock().unwrap_or_else(|e| e.into_inner());
    if !conns.iter().any(|(p, _)| p == path) {
        conns.push((path.to_path_buf(), schema::open(path)?));
    }
    let (_, conn) = conns.iter().find(|(p, _)| p == path).expect("just added");
    conn.pragma_query_value(None, "data_version", |r| r.get(0))
}

/// One run with every step attempt and event; `None` if no such run.
pub fn run_detail(path: &Path, run_id: &str) -> rusqlite::Result<Option<RunDetail>> {
    if !path.exists() {
        return Ok(None);
    }
    let conn = schema::open(path)?;
    let row = conn
        .query_row("SELECT * FROM runs WHERE run_id = ?1", params![run_id], |row| {
            let (s, pid, host) = summary(row)?;
            Ok((
                s,
                pid,
                host,
                row.get::<_, Option<String>>("recipe_path")?,
                row.get::<_, Option<String>>("recipe_hash")?,
                row.get::<_, Option<String>>("inputs")?,
                row.get::<_, Option<String>>("outputs")?,
                row.get::<_, Option<String>>("error")?,
                row.get::<_, Option<String>>("run_dir")?,
            ))
        })
        .optional()?;
    let Some((mut s, pid, host, recipe_path, recipe_hash, inputs, outputs, error, run_dir)) = row else { return Ok(None) };
    settle(&conn, &mut s, pid, host.as_deref())?;
    let mut stmt = conn.prepare(
        "SELECT step_id, attempt, status, tool, action, inputs, outputs, error, error_detail, started_at, ended_at, cached_from, gpus
         FROM steps WHERE run_id = ?1 ORDER BY rowid",
    )?;
    let steps = stmt
        .query_map(params![run_id], |r| {
            Ok(StepRow {
                step_id: r.get(0)?,
                attempt: r.get(1)?,
                status: r.get(2)?,
                tool: r.get(3)?,
                action: r.get(4)?,
                inputs: json(r.get(5)?),
                outputs: json(r.get(6)?),
                error: r.get(7)?,
                error_detail: r.get(8)?,
                started_at: r.get(9)?,
                ended_at: r.get(10)?,
                cached_from: r.get(11)?,
                gpus: r.get::<_, Option<String>>(12)?.map_or_else(Vec::new, |g| g.split(',').filter_map(|n| n.parse().ok()).collect()),
                logs: Vec::new(),
            })
        })?
        .collect::<rusqlite::Result<Vec<StepRow>>>()?;
    let steps = steps.into_iter().map(|s| with_logs(s, run_dir.as_deref())).collect();
    let mut stmt = conn.prepare("SELECT step_id, ts, level, message FROM events WHERE run_id = ?1 ORDER BY id")?;
    let events = stmt
        .query_map(params![run_id], |r| Ok(EventRow { step_id: r.get(0)?, ts: r.get(1)?, level: r.get(2)?, message: r.get(3)? }))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut stmt = conn.prepare(
        "SELECT step_id, ts, service, model, prompt, response, prompt_tokens, completion_tokens, duration_s
         FROM llm_calls WHERE run_id = ?1 ORDER BY id",
    )?;
    let llm_calls = stmt
        .query_map(params![run_id], |r| {
            Ok(LlmCallRow {
                step_id: r.get(0)?,
                ts: r.get(1)?,
                service: r.get(2)?,
                model: r.get(3)?,
                prompt: r.get(4)?,
                response: r.get(5)?,
                prompt_tokens: r.get(6)?,
                completion_tokens: r.get(7)?,
                duration_s: r.get(8)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Some(RunDetail {
        summary: s,
        llm_calls,
        recipe_path,
        recipe_hash,
        inputs: json(inputs),
        outputs: json(outputs),
        error,
        run_dir,
        steps,
        events,
    }))
}

/// Where an attempt of `step` in run `run_id` keeps its logs: the run folder, the attempt
/// (`attempt`, or the newest one) and its status; `None` when the history has no such
/// run, step or attempt.
pub fn log_place(path: &Path, run_id: &str, step: &str, attempt: Option<u32>) -> rusqlite::Result<Option<(String, u32, String)>> {
    if !path.exists() {
        return Ok(None);
    }
    let conn = schema::open(path)?;
    conn.query_row(
        "SELECT r.run_dir, s.attempt, s.status FROM steps s JOIN runs r ON r.run_id = s.run_id
          WHERE s.run_id = ?1 AND s.step_id = ?2 AND (?3 IS NULL OR s.attempt = ?3) AND r.run_dir IS NOT NULL
          ORDER BY s.attempt DESC LIMIT 1",
        params![run_id, step, attempt],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .optional()
}

/// Median seconds of each step's completed attempts in the last 5 runs of `recipe`
/// (the newest 5 attempts per step): read through the runs' keys, so a long history costs nothing.
pub fn step_seconds(path: &Path, recipe: &str) -> rusqlite::Result<std::collections::HashMap<String, f64>> {
    if !path.exists() {
        return Ok(Default::default());
    }
    let conn = schema::open(path)?;
    let mut stmt = conn.prepare(
        "SELECT s.step_id, s.started_at, s.ended_at FROM steps s
          WHERE s.run_id IN (SELECT run_id FROM runs WHERE recipe = ?1 ORDER BY started_at DESC LIMIT 5)
            AND s.status = 'completed' AND s.ended_at IS NOT NULL
          ORDER BY s.started_at DESC",
    )?;
    let mut by_step: std::collections::HashMap<String, Vec<f64>> = std::collections::HashMap::new();
    let rows = stmt.query_map(params![recipe], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, Option<String>>(2)?)))?;
    for row in rows {
        let (id, start, end) = row?;
        let times = by_step.entry(id).or_default();
        if let (true, Some(d)) = (times.len() < 5, duration(&start, end.as_deref())) {
            times.push(d);
        }
    }
    Ok(by_step
        .into_iter()
        .filter(|(_, t)| !t.is_empty())
        .map(|(id, mut t)| {
            t.sort_by(f64::total_cmp);
            (id, t[t.len() / 2])
        })
        .collect())
}
