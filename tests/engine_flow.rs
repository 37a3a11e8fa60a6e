//! The run flow with no Python linked: dry-run, run, cancel, resume, and the
//! checks that refuse a resume — what every front door (CLI, Python API, MCP)
//! gets from `engine::flow`.

use indexmap::IndexMap;
use localforge::config::Config;
use localforge::engine::flow::{self, Start};
use localforge::engine::EngineError;
use localforge::exec::RunStatus;
use localforge::tools::Registry;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// `a` writes a line; `b` waits (up to 60 s) for a `go` file in `dir`, then finishes.
const RECIPE: &str = r#"name: wait-for-go
inputs:
  - {name: dir, type: path, required: true}
steps:
  - id: a
    tool: script
    action: run
    inputs: {command: "echo ran >> {{ inputs.dir }}/a.log"}
  - id: b
    tool: script
    action: run
    depends_on: [a]
    inputs: {command: "touch {{ inputs.dir }}/b.started; for i in $(seq 600); do [ -f {{ inputs.dir }}/go ] && exit 0; sleep 0.1; done; exit 1"}
"#;

struct Setup {
    _tmp: tempfile::TempDir,
    dir: std::path::PathBuf,
    recipe: std::path::PathBuf,
    config: Config,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let cfg = dir.join("localforge.yaml");
    std::fs::write(&cfg, format!("run_dir: {0}/runs\npersistence: {{db_path: {0}/runs.db}}\n", dir.display())).unwrap();
    let recipe = dir.join("wait.yaml");
    std::fs::write(&recipe, RECIPE).unwrap();
    Setup { config: Config::from_file(&cfg).unwrap(), _tmp: tmp, dir, recipe }
}

fn inputs(dir: &Path) -> IndexMap<String, Value> {
    [("dir".to_string(), json!(dir.display().to_string()))].into_iter().collect()
}

fn prepared(path: &Path, given: &IndexMap<String, Value>) -> (localforge::engine::Prepared, Registry) {
    let tools = Registry::native();
    let (recipe, diags) = flow::load(path).unwrap();
    (flow::ready(recipe, diags, given, &tools).unwrap_or_else(|e| panic!("{e}")), tools)
}

fn quiet() -> Start {
    Start { options: localforge::engine::Options { auto_approve: true, ..Default::default() }, ..Start::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_cancel_resume_and_dry_run_without_python() {
    let s = setup();
    let given = inputs(&s.dir);

    // Dry run: the plan document, nothing run.
    let (p, tools) = prepared(&s.recipe, &given);
    let pf = flow::preflight(&s.config, &p, &tools, false, &[], false).await.unwrap();
    let plan = flow::plan_document(&s.config, &p, &pf, false);
    assert_eq!(plan["levels"], json!([["a"], ["b"]]));
    assert_eq!(plan["critical_path"], json!(["a", "b"]));
    assert!(!s.dir.join("a.log").exists() && !s.dir.join("runs").exists(), "a dry run runs nothing");

    // Run, and cancel once `b` is running: `b`'s process is stopped, the run is `cancelled`.
    let cancel = CancellationToken::new();
    let run = tokio::spawn({
        let (config, cancel) = (s.config.clone(), cancel.clone());
        async move { flow::execute(&config, p, Arc::new(tools), &pf, (quiet(), flow::open_history(&config).unwrap()), cancel).await }
    });
    let t = Instant::now();
    while !s.dir.join("b.started").exists() {
        assert!(t.elapsed() < Duration::from_secs(30), "step b never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cancel.cancel();
    let report = run.await.unwrap().unwrap();
    assert_eq!(report.status, RunStatus::Cancelled);
    assert!(t.elapsed() < Duration::from_secs(30), "cancelling waited for the step to finish");
    let history = localforge::store::run_detail(&s.config.db_path(), &report.run_id).unwrap().unwrap();
    assert_eq!(history.summary.status, "cancelled");

    // A changed recipe is refused unless forced.
    let target = flow::resume_target(&s.config, &report.run_id).unwrap();
    let changed = s.dir.join("changed.yaml");
    std::fs::write(&changed, format!("{RECIPE}# edited\n")).unwrap();
    let (p2, _) = prepared(&changed, &target.inputs);
    assert!(matches!(target.resume(&p2, false), Err(EngineError::Refused(d)) if d.message.contains("changed since run")));
    assert!(target.resume(&p2, true).is_ok());

    // Resume: `a` is kept (not run again), `b` runs to the end in the same run.
    std::fs::write(s.dir.join("go"), "").unwrap();
    let (p, tools) = prepared(&target.recipe, &target.inputs);
    let resume = target.resume(&p, false).unwrap();
    let pf = flow::preflight(&s.config, &p, &tools, false, &[], false).await.unwrap();
    let start = Start { resume: Some(resume), ..quiet() };
    let resumed =
        flow::execute(&s.config, p, Arc::new(tools), &pf, (start, flow::open_history(&s.config).unwrap()), CancellationToken::new())
            .await
            .unwrap();
    assert_eq!(resumed.status, RunStatus::Completed);
    assert_eq!(resumed.run_id, report.run_id);
    assert_eq!(std::fs::read_to_string(s.dir.join("a.log")).unwrap().lines().count(), 1, "`a` ran once");

    // A completed run, and an unknown one, cannot be resumed.
    let done = flow::resume_target(&s.config, &report.run_id).err().unwrap();
    assert!(matches!(&done, EngineError::Refused(d) if d.message.contains("completed")), "{done}");
    let unknown = flow::resume_target(&s.config, "no-such-run").err().unwrap();
    assert!(matches!(&unknown, EngineError::Refused(d) if d.hint.as_deref() == Some("list runs with `localforge history`")));
}

#[tokio::test]
async fn bad_inputs_and_bad_recipes_are_typed_errors() {
    let s = setup();
    let tools = Registry::native();
    let (recipe, diags) = flow::load(&s.recipe).unwrap();
    let missing = flow::ready(recipe, diags, &IndexMap::new(), &tools).err().unwrap();
    assert!(matches!(&missing, EngineError::Input(d) if d[0].message == "missing required input `dir`"), "{missing}");
    let bad = s.dir.join("bad.yaml");
    std::fs::write(&bad, "name: bad\nsteps:\n  - {id: a, tool: nope, action: x}\n").unwrap();
    let (recipe, diags) = flow::load(&bad).unwrap();
    let err = flow::ready(recipe, diags, &IndexMap::new(), &tools).err().unwrap();
    let d = err.diagnostics();
    assert!(matches!(err, EngineError::Recipe(_)));
    assert_eq!((d[0].line, d[0].column), (Some(3), Some(5)));
    assert!(matches!(flow::load(&s.dir.join("absent.yaml")), Err(EngineError::Recipe(_))));
}

#[test]
fn an_honest_16000_step_recipe_is_not_mistaken_for_an_alias_bomb() {
    let tmp = tempfile::tempdir().unwrap();
    let mut text = String::from("name: big\nsteps:\n");
    for i in 0..16_000 {
        let content = if i == 0 { "first".to_string() } else { format!("{{{{ steps.s{}.outputs.path }}}}", i - 1) };
        text.push_str(&format!(
            "  - {{id: s{i}, tool: file_ops, action: write, inputs: {{path: \"f{i}.txt\", content: \"{content}\"}}}}\n"
        ));
    }
    let path = tmp.path().join("big.yaml");
    std::fs::write(&path, text).unwrap();
    let recipe = localforge::engine::check(&path, &Registry::native()).unwrap_or_else(|d| panic!("{:?}", &d[..d.len().min(3)]));
    assert_eq!(recipe.steps.len(), 16_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_process_cancels_a_run_and_answers_its_gate_through_the_history() {
    use localforge::engine::control;
    use localforge::store::control::Control;
    let s = setup();
    let given = inputs(&s.dir);
    let (p, tools) = prepared(&s.recipe, &given);
    let pf = flow::preflight(&s.config, &p, &tools, false, &[], false).await.unwrap();
    let start = Start { run_id: Some("r-control".into()), ..quiet() };
    let run = tokio::spawn({
        let config = s.config.clone();
        async move {
            flow::execute(&config, p, Arc::new(tools), &pf, (start, flow::open_history(&config).unwrap()), CancellationToken::new()).await
        }
    });
    let t = Instant::now();
    while !s.dir.join("b.started").exists() {
        assert!(t.elapsed() < Duration::from_secs(30), "step b never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // What the dashboard does for a run the CLI started: a row in the history, nothing shared.
    control::request(&s.config, "r-control", &Control::Cancel).unwrap();
    let report = run.await.unwrap().unwrap();
    assert_eq!(report.status, RunStatus::Cancelled);
    assert!(t.elapsed() < Duration::from_secs(10), "the run took the cancel within a moment");
    let ended = control::request(&s.config, "r-control", &Control::Cancel).unwrap_err();
    assert!(ended.to_string().contains("has already ended (cancelled)"), "{ended}");
    let unknown = control::request(&s.config, "nope", &Control::Cancel).unwrap_err();
    assert!(unknown.to_string().contains("no run `nope`"), "{unknown}");

    // A gate waiting for its caller's answer takes one sent from elsewhere.
    let gate = s.dir.join("gate.yaml");
    std::fs::write(
        &gate,
        "name: gated\nsteps:\n  - id: ask\n    type: approval_gate\n    message: go?\n    options: [go, stop]\n    default_action: stop\n",
    )
    .unwrap();
    let (p, tools) = prepared(&gate, &IndexMap::new());
    let pf = flow::preflight(&s.config, &p, &tools, false, &[], false).await.unwrap();
    let answers = localforge::exec::Answers::default();
    let start = Start { run_id: Some("r-gate".into()), answers: Some(answers.clone()), ..Start::default() };
    let run = tokio::spawn({
        let config = s.config.clone();
        async move {
            flow::execute(&config, p, Arc::new(tools), &pf, (start, flow::open_history(&config).unwrap()), CancellationToken::new()).await
        }
    });
    while answers.waiting().is_empty() {
        assert!(t.elapsed() < Duration::from_secs(30), "the gate never asked");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    control::request(&s.config, "r-gate", &Control::Answer { step: "ask".into(), answer: json!("go") }).unwrap();
    let report = run.await.unwrap().unwrap();
    assert_eq!(report.status, RunStatus::Completed);
    assert_eq!(report.steps["ask"].outputs["selection"], json!("go"));
}
