use super::*;
use crate::status::{RunStatus, StepStatus};

fn at(run: &str, step: &str, attempt: u32) -> Attempt {
    Attempt { run_id: run.into(), step_id: step.into(), attempt }
}

fn new_run(id: &str) -> NewRun {
    NewRun {
        steps: 1,
        run_id: id.into(),
        recipe: "r".into(),
        recipe_path: "/r.yaml".into(),
        recipe_hash: "h".into(),
        inputs: "{}".into(),
        run_dir: "/runs/x".into(),
        started_at: now(),
    }
}

#[test]
fn a_run_and_its_steps_round_trip() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("h.db");
    let store = Store::open(&db).unwrap();
    store.begin_run(new_run("run1")).unwrap();
    store.step_started(at("run1", "a", 1), "file_ops", "write", r#"{"path":"x"}"#.into(), now(), &[]);
    store.step_finished(at("run1", "a", 1), StepStatus::Failed, None, Some("boom".into()), Some("trace".into()), now());
    store.step_started(at("run1", "a", 2), "file_ops", "write", "{}".into(), now(), &[]);
    store.step_finished(at("run1", "a", 2), StepStatus::Completed, Some(r#"{"path":"x"}"#.into()), None, None, now());
    store.event("run1", Some("a"), "INFO", "hello");
    store.finish_run("run1", RunStatus::Completed, Some("{}".into()), None);
    store.flush().unwrap();
    let runs = list_runs(&db, 10).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, "completed");
    let d = run_detail(&db, "run1").unwrap().unwrap();
    assert_eq!(d.steps.len(), 2);
    assert_eq!(d.steps[0].error.as_deref(), Some("boom"));
    assert_eq!(d.steps[1].outputs.as_ref().unwrap()["path"], "x");
    assert_eq!(d.events[0].message, "hello");
}

#[test]
fn a_running_run_whose_process_is_gone_is_interrupted() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("h.db");
    let store = Store::open(&db).unwrap();
    store.begin_run(new_run("run2")).unwrap();
    store.flush().unwrap();
    // Pretend another, dead, process wrote it.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute("UPDATE runs SET pid = 999999999", []).unwrap();
    let runs = list_runs(&db, 10).unwrap();
    assert_eq!(runs[0].status, "interrupted");
}

#[test]
fn two_writers_share_one_database() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("h.db");
    let handles: Vec<_> = (0..2)
        .map(|w| {
            let db = db.clone();
            std::thread::spawn(move || {
                let store = Store::open(&db).unwrap();
                let id = format!("w{w}");
                store.begin_run(new_run(&id)).unwrap();
                for i in 0..500 {
                    store.step_started(at(&id, &format!("s{i}"), 1), "t", "a", "{}".into(), now(), &[]);
                    store.step_finished(at(&id, &format!("s{i}"), 1), StepStatus::Completed, None, None, None, now());
                }
                store.finish_run(&id, RunStatus::Completed, None, None);
                store.flush().unwrap();
            })
        })
        .collect();
    handles.into_iter().for_each(|h| h.join().unwrap());
    for w in 0..2 {
        let detail = run_detail(&db, &format!("w{w}")).unwrap().unwrap();
        assert_eq!(detail.steps.len(), 500);
        assert_eq!(detail.summary.status, "completed");
    }
}

#[test]
fn many_processes_can_create_one_database_at_once() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("new.db");
    let handles: Vec<_> = (0..6)
        .map(|w| {
            let db = db.clone();
            std::thread::spawn(move || {
                let store = Store::open(&db).unwrap();
                store.begin_run(new_run(&format!("c{w}"))).unwrap();
                store.flush().unwrap();
            })
        })
        .collect();
    handles.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(list_runs(&db, 10).unwrap().len(), 6);
}

#[test]
fn a_resumed_run_shows_its_own_running_time_not_the_gap() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("h.db");
    let store = Store::open(&db).unwrap();
    let mut run = new_run("run3");
    run.started_at = "2026-01-01T10:00:00.000Z".into();
    store.begin_run(run).unwrap();
    store.flush().unwrap();
    // The first part ran 2 s and failed; the resume comes an hour later.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute("UPDATE runs SET status = 'failed', ended_at = '2026-01-01T10:00:02.000Z'", []).unwrap();
    store.resume_run("run3").unwrap();
    let resumed: String = conn.query_row("SELECT resumed_at FROM runs", [], |r| r.get(0)).unwrap();
    let end = chrono::DateTime::parse_from_rfc3339(&resumed).unwrap() + chrono::Duration::milliseconds(3500);
    conn.execute("UPDATE runs SET status = 'completed', ended_at = ?1", [end.to_rfc3339()]).unwrap();
    let runs = list_runs(&db, 10).unwrap();
    assert_eq!(runs[0].duration_s, Some(5.5), "2 s before the resume + 3.5 s after");
}

#[test]
fn an_older_database_gains_the_new_columns() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("h.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "CREATE TABLE runs (run_id TEXT PRIMARY KEY, recipe TEXT NOT NULL, recipe_path TEXT, recipe_hash TEXT, status TEXT NOT NULL,
           inputs TEXT, outputs TEXT, error TEXT, run_dir TEXT, started_at TEXT NOT NULL, ended_at TEXT, pid INTEGER, host TEXT);
         INSERT INTO runs (run_id, recipe, status, started_at, ended_at) VALUES ('old', 'r', 'completed', '2026-01-01T10:00:00.000Z', '2026-01-01T10:00:01.000Z');
         PRAGMA user_version = 2;",
    )
    .unwrap();
    drop(conn);
    let _store = Store::open(&db).unwrap();
    let runs = list_runs(&db, 10).unwrap();
    assert_eq!((runs[0].run_id.as_str(), runs[0].duration_s), ("old", Some(1.0)));
}

#[test]
fn a_database_deleted_during_a_run_is_made_again_with_the_runs_rows() {
    for also_wal in [false, true] {
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("h.db");
        let store = Store::open(&db).unwrap();
        store.begin_run(new_run("run1")).unwrap();
        store.step_started(at("run1", "a", 1), "file_ops", "write", "{}".into(), now(), &[]);
        store.step_finished(at("run1", "a", 1), StepStatus::Completed, Some("{}".into()), None, None, now());
        store.event("run1", Some("a"), "INFO", "before");
        store.flush().unwrap();
        // `rm runs.db` (or `rm runs.db*`) while the run goes on.
        std::fs::remove_file(&db).unwrap();
        if also_wal {
            for suffix in ["-wal", "-shm"] {
                let _ = std::fs::remove_file(d.path().join(format!("h.db{suffix}")));
            }
        }
        store.step_started(at("run1", "b", 1), "file_ops", "write", "{}".into(), now(), &[]);
        store.step_finished(at("run1", "b", 1), StepStatus::Completed, Some("{}".into()), None, None, now());
        store.event("run1", Some("b"), "INFO", "after");
        store.finish_run("run1", RunStatus::Completed, Some("{}".into()), None);
        store.flush().unwrap();
        let notes = store.take_notes();
        assert!(notes.len() == 1 && notes[0].contains("was deleted or replaced during the run"), "{notes:?}");
        let detail = run_detail(&db, "run1").unwrap().expect("the run is in the new database");
        assert_eq!(detail.summary.status, "completed", "also_wal: {also_wal}");
        assert_eq!(detail.steps.iter().map(|s| s.step_id.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(detail.events.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(), ["before", "after"]);
    }
}

#[test]
fn a_write_lock_held_elsewhere_is_waited_for_and_said() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("h.db");
    let store = Store::open(&db).unwrap();
    let heard = Arc::new(Mutex::new(Vec::<String>::new()));
    let h = heard.clone();
    store.on_note(Arc::new(move |m: &str| h.lock().unwrap().push(m.to_string())));
    let other = rusqlite::Connection::open(&db).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(4500));
        other.execute_batch("COMMIT").unwrap();
    });
    store.begin_run(new_run("run1")).unwrap();
    release.join().unwrap();
    let heard = heard.lock().unwrap().clone();
    assert!(heard.iter().any(|m| m.contains("waiting for the write lock") && m.contains("h.db")), "{heard:?}");
    assert_eq!(list_runs(&db, 10).unwrap().len(), 1);
}

#[test]
fn runs_localforge_0x_wrote_show_in_the_history_and_its_tables_are_kept() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("runs.db");
    {
        // The tables and rows 0.x's persistence layer wrote (its own schema, no WAL).
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch(
            "CREATE TABLE workflow_runs (id TEXT PRIMARY KEY, project_id TEXT, recipe_path TEXT NOT NULL, recipe_name TEXT,
                 status TEXT DEFAULT 'pending', inputs TEXT DEFAULT '{}', outputs TEXT DEFAULT '{}', error_message TEXT,
                 started_at TIMESTAMP, completed_at TIMESTAMP, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, run_directory TEXT);
             CREATE TABLE step_executions (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, step_id TEXT NOT NULL,
                 step_name TEXT, status TEXT DEFAULT 'pending', inputs TEXT, outputs TEXT, error_message TEXT,
                 started_at TIMESTAMP, completed_at TIMESTAMP, UNIQUE(run_id, step_id));
             INSERT INTO workflow_runs VALUES ('a1b2c3d4', NULL, 'recipes/x.yaml', 'x', 'completed', '{\"n\": \"3\"}',
                 '{\"s\": {\"outputs\": {\"k\": 1}}}', NULL, '2026-01-31 12:00:00', '2026-01-31 12:00:05', '2026-01-31 12:00:00', '/runs/zz');
             INSERT INTO workflow_runs VALUES ('e5f6a7b8', NULL, 'y.yaml', 'y', 'running', '{}', '{}', NULL,
                 '2026-02-01 09:00:00', NULL, '2026-02-01 09:00:00', '/runs/yy');
             INSERT INTO step_executions (run_id, step_id, step_name, status, inputs, outputs, started_at, completed_at)
                 VALUES ('a1b2c3d4', 's', 'S', 'completed', '{\"path\": \"{{inputs.n}}\"}', '{\"outputs\": {\"k\": 1}}',
                         '2026-01-31 12:00:01', '2026-01-31 12:00:04');",
        )
        .unwrap();
    }
    let runs = list_runs(&db, 10).unwrap();
    let shown: Vec<(&str, &str, &str)> = runs.iter().map(|r| (r.run_id.as_str(), r.recipe.as_str(), r.status.as_str())).collect();
    assert_eq!(shown, [("e5f6a7b8", "y", "interrupted"), ("a1b2c3d4", "x", "completed")]);
    let detail = run_detail(&db, "a1b2c3d4").unwrap().unwrap();
    assert_eq!(detail.summary.started_at, "2026-01-31T12:00:00.000Z");
    assert_eq!(detail.steps.len(), 1);
    assert_eq!(detail.steps[0].outputs.as_ref().unwrap()["k"], 1, "0.x's `outputs` wrapper is taken off");
    // Opened again: nothing doubles; 0.x's own tables are untouched.
    assert_eq!(list_runs(&db, 10).unwrap().len(), 2);
    let c = rusqlite::Connection::open(&db).unwrap();
    let kept: i64 = c.query_row("SELECT count(*) FROM workflow_runs", [], |r| r.get(0)).unwrap();
    assert_eq!(kept, 2);
}

#[test]
fn the_runs_list_filters_counts_and_pages_over_the_whole_history() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("h.db");
    let store = Store::open(&db).unwrap();
    // 300 runs: `old-recipe` only in the oldest, one failed with a distinctive error.
    for i in 0..300 {
        let recipe = if i == 3 { "old-recipe" } else { "daily" };
        let run = NewRun {
            recipe: recipe.into(),
            started_at: format!("2026-11-{:02}T00:{:02}:{:02}Z", 1 + i / 60 % 28, i % 60, i % 60),
            steps: 2,
            ..new_run(&format!("run{i:03}"))
        };
        store.begin_run(run).unwrap();
        store.step_started(at(&format!("run{i:03}"), "b[0].x", 1), "t", "a", "{}".into(), now(), &[]);
        store.step_finished(at(&format!("run{i:03}"), "b[0].x", 1), StepStatus::Completed, None, None, None, now());
        store.step_started(at(&format!("run{i:03}"), "b[1].x", 1), "t", "a", "{}".into(), now(), &[]);
        store.step_finished(at(&format!("run{i:03}"), "b[1].x", 1), StepStatus::Completed, None, None, None, now());
        let (status, error) =
            if i == 7 { (RunStatus::Failed, Some("Disk QUOTA_exceeded".to_string())) } else { (RunStatus::Completed, None) };
        store.finish_run(&format!("run{i:03}"), status, None, error);
    }
    store.flush().unwrap();
    let q = |q: RunQuery| query_runs(&db, &q).unwrap();
    let all = q(RunQuery::default());
    assert_eq!((all.total, all.runs.len(), all.runs[0].summary.run_id.as_str()), (300, 50, "run299"), "newest first, 50 a page");
    assert_eq!((all.runs[0].steps_done, all.runs[0].steps_total), (1, Some(2)), "a batch's items count as their step");
    assert_eq!(all.recipes, ["daily", "old-recipe"], "every recipe in the history, not only this page's");
    let old = q(RunQuery { recipe: Some("old-recipe".into()), ..Default::default() });
    assert_eq!((old.total, old.runs[0].summary.run_id.as_str()), (1, "run003"), "an old run is found behind 296 newer ones");
    let failed = q(RunQuery { status: Some("failed".into()), ..Default::default() });
    assert_eq!(failed.runs.iter().map(|r| r.summary.run_id.as_str()).collect::<Vec<_>>(), ["run007"]);
    let text = q(RunQuery { text: Some("quota_EXC".into()), ..Default::default() });
    assert_eq!(text.total, 1, "text matches the error in any case, `_` literally");
    assert_eq!(q(RunQuery { text: Some("quota%exc".into()), ..Default::default() }).total, 0, "`%` is a character, not a wildcard");
    let page = q(RunQuery { offset: 290, limit: 20, ..Default::default() });
    assert_eq!((page.total, page.runs.len(), page.runs[9].summary.run_id.as_str()), (300, 10, "run000"));
    let day = q(RunQuery { since: Some("2026-11-02".into()), until: Some("2026-11-02".into()), ..Default::default() });
    assert_eq!(day.total, 60, "a date alone as `until` takes in that whole day");
    let before = q(RunQuery { since: Some("2026-11-02".into()), until: Some("2026-11-02T00:30:00Z".into()), ..Default::default() });
    assert_eq!(before.total, 30, "a full time as `until`: the runs before it");
}
