//! History written by LocalForge 0.x into the same file (`workflow_runs`,
//! `step_executions`): copied into this schema so `history`, `history show` and the
//! API list those runs too. The 0.x tables are only read, and kept as they are;
//! runs 0.x adds later are copied the next time the database is opened.

use rusqlite::{Connection, OptionalExtension};

/// 0.x's `CURRENT_TIMESTAMP` (`2026-01-31 12:00:00`, UTC) as this schema writes times.
const TIME: &str = "strftime('%Y-%m-%dT%H:%M:%S.000Z', {})";

/// Copy the 0.x runs not copied yet; how many. Nothing to do (one lookup) without 0.x tables.
pub(super) fn import(conn: &Connection) -> rusqlite::Result<usize> {
    let has = |t: &str| -> rusqlite::Result<bool> {
        conn.query_row("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", [t], |_| Ok(())).optional().map(|r| r.is_some())
    };
    if !has("workflow_runs")? {
        return Ok(0);
    }
    let pending: i64 =
        conn.query_row("SELECT count(*) FROM workflow_runs w WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.run_id = w.id)", [], |r| {
            r.get(0)
        })?;
    if pending == 0 {
        return Ok(0);
    }
    let t = |col: &str| TIME.replace("{}", col);
    let tx = conn.unchecked_transaction()?;
    // A run 0.x left `running` (its process was killed) can never end now: interrupted.
    let runs = tx.execute(
        &format!(
            "INSERT OR IGNORE INTO runs (run_id, recipe, recipe_path, status, inputs, outputs, error, run_dir, started_at, ended_at, host)
             SELECT id, COALESCE(recipe_name, recipe_path, 'unknown'), recipe_path,
                    CASE status WHEN 'running' THEN 'interrupted' WHEN 'pending' THEN 'interrupted' ELSE status END,
                    inputs, outputs, error_message, run_directory,
                    COALESCE({}, {}, strftime('%Y-%m-%dT%H:%M:%S.000Z', 'now')), {}, 'localforge 0.x'
             FROM workflow_runs",
            t("started_at"),
            t("created_at"),
            t("completed_at")
        ),
        [],
    )?;
    if has("step_executions")? {
        // 0.x kept one row per step (its last attempt) with its outputs wrapped in `{"outputs": ...}`.
        tx.execute(
            &format!(
                "INSERT OR IGNORE INTO steps (run_id, step_id, attempt, status, inputs, outputs, error, started_at, ended_at)
                 SELECT s.run_id, s.step_id, 1,
                        CASE s.status WHEN 'running' THEN 'interrupted' WHEN 'pending' THEN 'interrupted' ELSE s.status END,
                        s.inputs,
                        CASE WHEN json_valid(s.outputs) AND json_type(s.outputs, '$.outputs') = 'object'
                             THEN json_extract(s.outputs, '$.outputs') ELSE s.outputs END,
                        s.error_message, COALESCE({}, r.started_at), {}
                 FROM step_executions s JOIN runs r ON r.run_id = s.run_id AND r.host = 'localforge 0.x'",
                t("s.started_at"),
                t("s.completed_at")
            ),
            [],
        )?;
    }
    tx.commit()?;
    Ok(runs)
}
