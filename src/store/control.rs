//! Asking a run to stop, or to take an answer at an approval gate, from any process: a row
//! in the history's `controls` table that the run's own process reads (`engine::control`
//! watches it while the run goes on). So the dashboard can cancel a run the CLI started,
//! and any front end can answer any run's gate, whichever process runs it.

use super::{now, schema};
use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::Path;

/// What a run is asked to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Control {
    /// Stop, as Ctrl-C would: running steps stop, the run ends `cancelled`.
    Cancel,
    /// Answer the gate `step`: `true` (go on), `false` (reject) or one of its options.
    Answer { step: String, answer: Value },
}

/// Record `control` for run `run_id`; its process takes it within a moment.
pub fn send(db: &Path, run_id: &str, control: &Control) -> rusqlite::Result<()> {
    let conn = schema::open(db)?;
    let doc = serde_json::to_string(control).expect("a control is plain data");
    conn.execute("INSERT INTO controls (run_id, control, at) VALUES (?1, ?2, ?3)", params![run_id, doc, now()])?;
    Ok(())
}

/// The controls sent to `run_id` not taken yet, oldest first; each is taken once.
pub fn take(conn: &mut Connection, run_id: &str) -> rusqlite::Result<Vec<Control>> {
    let tx = conn.transaction()?;
    let rows: Vec<(i64, String)> = {
        let mut stmt = tx.prepare_cached("SELECT id, control FROM controls WHERE run_id = ?1 AND taken_at IS NULL ORDER BY id")?;
        let rows = stmt.query_map(params![run_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let taken = now();
    for (id, _) in &rows {
        tx.execute("UPDATE controls SET taken_at = ?2 WHERE id = ?1", params![id, taken])?;
    }
    tx.commit()?;
    // A row another version wrote in a shape this one does not know is skipped, not fatal.
    Ok(rows.into_iter().filter_map(|(_, doc)| serde_json::from_str(&doc).ok()).collect())
}

/// A connection for a run's watcher (`take`).
pub fn watcher(db: &Path) -> rusqlite::Result<Connection> {
    schema::open(db)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_control_is_taken_once_and_only_by_its_run() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("runs.db");
        send(&db, "r1", &Control::Cancel).unwrap();
        send(&db, "r1", &Control::Answer { step: "gate".into(), answer: Value::Bool(true) }).unwrap();
        send(&db, "r2", &Control::Cancel).unwrap();
        let mut conn = watcher(&db).unwrap();
        assert_eq!(take(&mut conn, "r1").unwrap(), [Control::Cancel, Control::Answer { step: "gate".into(), answer: Value::Bool(true) }]);
        assert!(take(&mut conn, "r1").unwrap().is_empty(), "taken once");
        assert_eq!(take(&mut conn, "r2").unwrap(), [Control::Cancel]);
    }
}
