//! What can happen to the history database behind a run's back: the file deleted
//! or replaced while the run writes (the rows would go to a file nobody can open
//! again), or another process holding the write lock. The writer notices both and
//! says so; a vanished database is made again with the run's rows.

use rusqlite::types::Value;
use rusqlite::Connection;
use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Which file a path names now (device and inode); `None` if there is none.
pub(super) fn identity(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// The tables holding a run's rows, each keyed by `run_id`.
const TABLES: &[&str] = &["runs", "steps", "events", "llm_calls"];

/// Every row of `runs`, per table with its column names: read from the connection to
/// the file that was deleted (still readable through it) before that connection goes.
pub(super) struct Rows(Vec<TableRows>);

/// One table's rows: its name, the columns read, the values per row.
type TableRows = (&'static str, Vec<String>, Vec<Vec<Value>>);

/// Who hears the writer's notes as they happen.
pub type NoteListener = Arc<dyn Fn(&str) + Send + Sync>;

pub(super) fn read_runs(old: &Connection, runs: &BTreeSet<String>) -> rusqlite::Result<Rows> {
    let mut out = Vec::new();
    for table in TABLES {
        // Row ids of events and LLM calls are the new file's to give (another process
        // may have made it and written its own rows already).
        let columns: Vec<String> = {
            let mut s = old.prepare(&format!("SELECT name FROM pragma_table_info('{table}') WHERE name != 'id'"))?;
            let names = s.query_map([], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
            names
        };
        let mut read = old.prepare(&format!("SELECT {} FROM {table} WHERE run_id = ?1", columns.join(", ")))?;
        let mut rows = Vec::new();
        for run in runs {
            for row in
                read.query_map([run], |r| (0..columns.len()).map(|i| r.get::<_, Value>(i)).collect::<rusqlite::Result<Vec<Value>>>())?
            {
                rows.push(row?);
            }
        }
        out.push((*table, columns, rows));
    }
    Ok(Rows(out))
}

/// Write `rows` into `new` (its schema may be newer: columns are matched by name).
pub(super) fn write_runs(new: &Connection, rows: &Rows) -> rusqlite::Result<usize> {
    let mut written = 0;
    for (table, columns, data) in &rows.0 {
        let list = columns.join(", ");
        let marks = vec!["?"; columns.len()].join(", ");
        let mut write = new.prepare(&format!("INSERT OR REPLACE INTO {table} ({list}) VALUES ({marks})"))?;
        for row in data {
            write.execute(rusqlite::params_from_iter(row))?;
            written += 1;
        }
    }
    Ok(written)
}

/// Other processes that have `path` open (from /proc): who may be holding its lock.
pub(super) fn holders(path: &Path) -> Vec<String> {
    let Ok(target) = path.canonicalize() else { return Vec::new() };
    let me = std::process::id().to_string();
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) || pid == me {
            continue;
        }
        let open = std::fs::read_dir(entry.path().join("fd"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l == target));
        if open {
            let cmd = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let cmd: String = String::from_utf8_lossy(&cmd).replace('\0', " ").trim().chars().take(80).collect();
            out.push(format!("{pid} ({cmd})"));
        }
    }
    out
}

/// Messages the writer has for the run: shown as they happen (the run's notes) and
/// kept for its warnings.
#[derive(Default)]
pub(super) struct Notes {
    listener: Mutex<Option<NoteListener>>,
    kept: Mutex<Vec<String>>,
}

impl Notes {
    pub(super) fn say(&self, message: String) {
        if let Some(l) = self.listener.lock().expect("store notes").clone() {
            l(&message);
        }
        self.kept.lock().expect("store notes").push(message);
    }

    pub(super) fn listen(&self, f: NoteListener) {
        *self.listener.lock().expect("store notes") = Some(f);
    }

    pub(super) fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.kept.lock().expect("store notes"))
    }
}
