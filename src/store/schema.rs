//! Connection settings and the schema.

use rusqlite::Connection;
use std::path::Path;
use std::time::Duration;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
    run_id      TEXT PRIMARY KEY,
    recipe      TEXT NOT NULL,
    recipe_path TEXT,
    recipe_hash TEXT,
    status      TEXT NOT NULL,
    inputs      TEXT,
    outputs     TEXT,
    error       TEXT,
    run_dir     TEXT,
    started_at  TEXT NOT NULL,
    ended_at    TEXT,
    pid         INTEGER,
    host        TEXT,
    resumed_at  TEXT,
    prior_s     REAL
);
CREATE INDEX IF NOT EXISTS runs_started_at ON runs (started_at);
CREATE INDEX IF NOT EXISTS runs_recipe ON runs (recipe, started_at);
CREATE INDEX IF NOT EXISTS runs_status ON runs (status, started_at);
CREATE TABLE IF NOT EXISTS steps (
    run_id       TEXT NOT NULL,
    step_id      TEXT NOT NULL,
    attempt      INTEGER NOT NULL,
    status       TEXT NOT NULL,
    tool         TEXT,
    action       TEXT,
    inputs       TEXT,
    outputs      TEXT,
    error        TEXT,
    error_detail TEXT,
    started_at   TEXT NOT NULL,
    ended_at     TEXT,
    cached_from  TEXT,
    gpus         TEXT,
    PRIMARY KEY (run_id, step_id, attempt)
);
CREATE TABLE IF NOT EXISTS events (
    id      INTEGER PRIMARY KEY,
    run_id  TEXT NOT NULL,
    step_id TEXT,
    ts      TEXT NOT NULL,
    level   TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_run ON events (run_id);
CREATE TABLE IF NOT EXISTS llm_calls (
    id                INTEGER PRIMARY KEY,
    run_id            TEXT NOT NULL,
    step_id           TEXT NOT NULL,
    ts                TEXT NOT NULL,
    service           TEXT NOT NULL,
    model             TEXT NOT NULL,
    prompt            TEXT NOT NULL,
    response          TEXT NOT NULL,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    duration_s        REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS llm_calls_run ON llm_calls (run_id);
CREATE TABLE IF NOT EXISTS controls (
    id       INTEGER PRIMARY KEY,
    run_id   TEXT NOT NULL,
    control  TEXT NOT NULL,
    at       TEXT NOT NULL,
    taken_at TEXT
);
CREATE INDEX IF NOT EXISTS controls_waiting ON controls (run_id, taken_at);
";

/// Bumped whenever SCHEMA gains a table, index or column (tables and indexes are IF NOT
/// EXISTS; columns added to an existing table are in COLUMNS).
const VERSION: i64 = 8;

/// Columns added after a table was first released: (table, column, type).
/// `resumed_at` / `prior_s`: a resumed run's last start, and its running time before it.
/// `cached_from`: the run an attempt served by the step cache came from.
/// `steps`: how many steps the run's recipe has (a run's progress in the runs list).
/// `gpus`: the cards an attempt ran on (`0`, `0,1`: the machine's GPU numbers).
const COLUMNS: &[(&str, &str, &str)] = &[
    ("runs", "resumed_at", "TEXT"),
    ("runs", "prior_s", "REAL"),
    ("steps", "cached_from", "TEXT"),
    ("runs", "steps", "INTEGER"),
    ("steps", "gpus", "TEXT"),
];

/// Open with WAL, a generous busy timeout, and the schema in place.
pub fn open(path: &Path) -> rusqlite::Result<Connection> {
    // The history is its user's alone: a new database is made 0600 before SQLite opens it
    // (its WAL and shared-memory files take that mode). Where that fails, opening says why.
    let _ = crate::config::private::touch(path);
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(30))?;
    // Switching a new file to WAL takes an exclusive lock and does not wait on
    // the busy handler: when two runs open a new database at once, retry.
    let mut tries = 0;
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::DatabaseBusy && tries < 200 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(10 + tries % 20));
            }
            other => break other?,
        }
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version < VERSION {
        conn.execute_batch(&format!("BEGIN IMMEDIATE; {SCHEMA}"))?;
        let migrated = add_columns(&conn).and_then(|_| conn.execute_batch(&format!("PRAGMA user_version = {VERSION}; COMMIT;")));
        if migrated.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        migrated?;
    }
    // Runs LocalForge 0.x wrote into this file. A failure here must not stop a run: the
    // 0.x tables stay as they are, and the next open tries again.
    if let Err(e) = super::legacy::import(&conn) {
        eprintln!("warning: the LocalForge 0.x runs in {} could not be read: {e}", path.display());
    }
    Ok(conn)
}

/// Add the columns an older database lacks (inside the caller's transaction).
fn add_columns(conn: &Connection) -> rusqlite::Result<()> {
    for (table, column, ty) in COLUMNS {
        let has: bool =
            conn.query_row(&format!("SELECT count(*) FROM pragma_table_info('{table}') WHERE name = ?1"), [column], |r| r.get(0))?;
        if !has {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {ty}"))?;
        }
    }
    Ok(())
}
