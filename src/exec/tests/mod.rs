//! End-to-end runs of small recipes through the engine, with a real history file.

use super::*;
use crate::engine::prepare;
use crate::store::{run_detail, Store};
use crate::tools::{JsonMap, Registry, Tool, ToolCtx, ToolError, ToolKind};
use indexmap::IndexMap;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// A test tool: `check` passes once the file at `path` holds at least `min` lines.
struct Checker;

#[async_trait::async_trait]
impl Tool for Checker {
    fn name(&self) -> &str {
        "checker"
    }
    fn actions(&self) -> Vec<String> {
        vec!["check".into()]
    }
    fn kind(&self) -> ToolKind {
        ToolKind::Native
    }
    async fn call(&self, _action: &str, inputs: JsonMap, _ctx: &ToolCtx) -> Result<JsonMap, ToolError> {
        let path = inputs["path"].as_str().unwrap();
        let lines = std::fs::read_to_string(path).unwrap_or_default().lines().count();
        let min = inputs["min"].as_u64().unwrap() as usize;
        let passed = lines >= min;
        Ok(json!({"passed": passed, "lines": lines, "failures": if passed { json!([]) } else { json!([format!("only {lines} lines")]) }})
            .as_object()
            .unwrap()
            .clone())
    }
}

/// A test tool with a bug: it panics.
struct Panics;

#[async_trait::async_trait]
impl Tool for Panics {
    fn name(&self) -> &str {
        "panics"
    }
    fn actions(&self) -> Vec<String> {
        vec!["now".into()]
    }
    fn kind(&self) -> ToolKind {
        ToolKind::Native
    }
    async fn call(&self, _action: &str, _inputs: JsonMap, _ctx: &ToolCtx) -> Result<JsonMap, ToolError> {
        panic!("a bug in the tool")
    }
}

/// A test tool for a service other clients share, whose model (the file `model` in the
/// folder `marks`, changed by the test meanwhile) may change between the key and the call.
/// `shared` says in its answer which model drew it (and counts its calls in `marks/calls`);
/// `unsaid` never says, writes the model into the run folder and outputs only that path.
struct Shared {
    says: bool,
}

#[async_trait::async_trait]
impl Tool for Shared {
    fn name(&self) -> &str {
        if self.says {
            "shared"
        } else {
            "unsaid"
        }
    }
    fn actions(&self) -> Vec<String> {
        vec!["draw".into()]
    }
    fn kind(&self) -> ToolKind {
        ToolKind::Native
    }
    fn deterministic(&self, _action: &str, _inputs: &JsonMap) -> bool {
        true
    }
    fn writes_only_outputs(&self, _action: &str) -> bool {
        self.says
    }
    fn names_no_files(&self, _action: &str, _input: &str) -> bool {
        true
    }
    async fn identity(&self, _action: &str, inputs: &JsonMap) -> Result<Option<Value>, ToolError> {
        Ok(Some(json!({"model": "a", "marks": inputs["marks"]})))
    }
    fn confirms(&self, _action: &str, identity: &Value, outputs: &JsonMap) -> Result<(), ToolError> {
        let drew = outputs.get("drew_with").cloned().unwrap_or(Value::Null);
        (drew == identity["model"]).then_some(()).ok_or_else(|| ToolError::failed(format!("drawn with {drew}")))
    }
    async fn call(&self, _action: &str, inputs: JsonMap, ctx: &ToolCtx) -> Result<JsonMap, ToolError> {
        let marks = Path::new(inputs["marks"].as_str().unwrap());
        let model = std::fs::read_to_string(marks.join("model")).unwrap_or_else(|_| "a".into());
        if !self.says {
            let image = ctx.run_dir.join("image.txt");
            std::fs::write(&image, model).unwrap();
            return Ok(json!({"image": image}).as_object().unwrap().clone());
        }
        let calls = marks.join("calls");
        std::fs::write(&calls, std::fs::read_to_string(&calls).unwrap_or_default() + "x").unwrap();
        Ok(json!({"drew_with": model}).as_object().unwrap().clone())
    }
}

struct Env {
    dir: tempfile::TempDir,
    tools: Arc<Registry>,
    listeners: Vec<super::Listener>,
    answers: Option<super::Answers>,
    cache: Option<Arc<crate::cache::Cache>>,
}

impl Env {
    fn new() -> Self {
        let mut tools = Registry::native();
        tools.add(Arc::new(Checker)).unwrap();
        tools.add(Arc::new(Panics)).unwrap();
        tools.add(Arc::new(Shared { says: true })).unwrap();
        tools.add(Arc::new(Shared { says: false })).unwrap();
        Env { dir: tempfile::tempdir().unwrap(), tools: Arc::new(tools), listeners: Vec::new(), answers: None, cache: None }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn db(&self) -> PathBuf {
        self.path("history.db")
    }

    async fn run_with(&self, yaml: &str, inputs: &[(&str, &str)], cancel: CancellationToken) -> RunReport {
        self.run_full(yaml, inputs, cancel, crate::schedule::Resources::default(), None).await
    }

    async fn run_full(
        &self,
        yaml: &str,
        inputs: &[(&str, &str)],
        cancel: CancellationToken,
        resources: crate::schedule::Resources,
        resume: Option<super::Resume>,
    ) -> RunReport {
        let file = self.path("recipe.yaml");
        std::fs::write(&file, yaml.replace("$DIR", &self.dir.path().display().to_string())).unwrap();
        let given: IndexMap<String, Value> = inputs.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
        let p = match prepare(&file, &given, &self.tools) {
            Ok(p) => p,
            Err(d) => panic!("invalid recipe: {d:?}"),
        };
        let store = Arc::new(Store::open(&self.db()).unwrap());
        let opts = RunOptions {
            cache: self.cache.clone(),
            run_root: self.path("runs"),
            store: Some(store),
            auto_approve: self.answers.is_none(),
            cancel,
            resources,
            resume,
            run_id: None,
            // LF_TEST_VERBOSE=1: the progress lines on stderr, as the CLI shows them.
            listeners: self
                .listeners
                .iter()
                .cloned()
                .chain(std::env::var_os("LF_TEST_VERBOSE").and_then(|_| crate::terminal::Terminal::new(true, false).listener()))
                .collect(),
            answers: self.answers.clone(),
        };
        run(p.recipe, p.plan, p.inputs, self.tools.clone(), opts).await.unwrap()
    }

    async fn run(&self, yaml: &str) -> RunReport {
        self.run_with(yaml, &[], CancellationToken::new()).await
    }
}

fn read(p: impl AsRef<Path>) -> String {
    std::fs::read_to_string(p).unwrap()
}

#[tokio::test]
async fn chain_writes_files_and_history() {
    let env = Env::new();
    let r = env
        .run(
            r#"
name: chain
inputs: [{name: greeting, default: hi}]
outputs: {last: "{{ steps.b.outputs.path }}"}
steps:
  - id: a
    tool: file_ops
    action: write
    inputs: {path: "{{ temp_dir }}/a.txt", content: "{{ inputs.greeting }}"}
  - id: b
    tool: file_ops
    action: write
    inputs: {path: "{{ temp_dir }}/b.txt", content: "prev={{ steps.a.outputs.path | basename }}"}
"#,
        )
        .await;
    assert_eq!(r.status, RunStatus::Completed, "{:?}", r.error);
    let last = r.outputs["last"].as_str().unwrap();
    assert_eq!(read(last), "prev=a.txt");
    assert!(last.starts_with(&format!("{}/{}/temp/", env.path("runs").display(), r.run_id)));
    let d = run_detail(&env.db(), &r.run_id).unwrap().unwrap();
    assert_eq!(d.summary.status, "completed");
    assert_eq!(d.steps.iter().map(|s| s.step_id.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(d.steps[0].inputs.as_ref().unwrap()["content"], "hi");
}

#[tokio::test]
async fn retry_runs_a_failing_script_again() {
    let env = Env::new();
    let r = env
        .run(
            r#"
name: retry
steps:
  - id: flaky
    tool: script
    action: run
    on_failure: retry
    retry_count: 2
    inputs:
      command: "echo x >> $DIR/count; test $(wc -l < $DIR/count) -ge 3 || { echo not yet >&2; exit 1; }"
"#,
        )
        .await;
    assert_eq!(r.status, RunStatus::Completed, "{:?}", r.error);
    assert_eq!(r.steps["flaky"].attempts, 3);
    let d = run_detail(&env.db(), &r.run_id).unwrap().unwrap();
    let statuses: Vec<_> = d.steps.iter().map(|s| s.status.as_str()).collect();
    assert_eq!(statuses, ["failed", "failed", "completed"]);
    assert!(d.steps[0].error.as_ref().unwrap().contains("exited with code 1: not yet"));
    // Each attempt keeps what it printed, the failed ones too, and the history says where.
    let logs: Vec<Vec<(crate::store::logs::Channel, u64)>> =
        d.steps.iter().map(|s| s.logs.iter().map(|l| (l.channel, l.bytes)).collect()).collect();
    use crate::store::logs::Channel::Stderr;
    assert_eq!(logs, [vec![(Stderr, 8)], vec![(Stderr, 8)], vec![]]);
    let second = std::fs::read_to_string(&d.steps[1].logs[0].path).unwrap();
    assert_eq!((second.as_str(), d.steps[1].logs[0].path.ends_with("logs/flaky.2.stderr.log")), ("not yet\n", true));
}

#[tokio::test]
async fn abort_stops_the_run_and_runs_failure_cleanup() {
    let env = Env::new();
    let r = env
        .run(
            r#"
name: abort
steps:
  - id: bad
    tool: script
    action: run
    inputs: {command: "exit 4"}
  - id: never
    tool: file_ops
    action: mkdir
    inputs: {path: "$DIR/never"}
cleanup:
  on_failure:
    - {action: move, source: "{{ workflow.run_dir }}", destination: "$DIR/failed-run"}
"#,
        )
        .await;
    assert_eq!(r.status, RunStatus::Failed);
    assert_eq!(r.steps["bad"].status, StepStatus::Failed);
    assert_eq!(r.steps["never"].status, StepStatus::NotRun);
    assert!(!env.path("never").exists());
    assert!(env.path("failed-run/temp").is_dir());
    assert_eq!(run_detail(&env.db(), &r.run_id).unwrap().unwrap().summary.status, "failed");
}

#[tokio::test]
async fn skip_goes_on_and_when_false_skips() {
    let env = Env::new();
    let r = env
        .run(
            r#"
name: skip
inputs: [{name: flag, type: boolean, default: false}]
steps:
  - id: bad
    tool: script
    action: run
    on_failure: skip
    inputs: {command: "exit 1"}
  - id: maybe
    when: "{{ inputs.flag }}"
    tool: file_ops
    action: mkdir
    inputs: {path: "$DIR/maybe"}
  - id: after
    tool: file_ops
    action: mkdir
    inputs: {path: "$DIR/after"}
"#,
        )
        .await;
    assert_eq!(r.status, RunStatus::Completed);
    assert_eq!(r.steps["bad"].status, StepStatus::Skipped);
    assert!(r.steps["bad"].error.is_some());
    assert_eq!(r.steps["maybe"].status, StepStatus::Skipped);
    assert!(!env.path("maybe").exists());
    assert!(env.path("after").is_dir());
}

#[tokio::test]
async fn gate_failure_triggers_refinement_until_it_passes() {
    let env = Env::new();
    let r = env
        .run(
            r#"
name: refine
config: {max_iterations: 5}
steps:
  - id: check
    tool: checker
    action: check
    gate: true
    on_failure: refine
    inputs: {path: "$DIR/lines.txt", min: 3}
    refinement:
      steps:
        - id: add_line
          tool: file_ops
          action: write
          inputs: {path: "$DIR/lines.txt", append: true, content: "{{ steps.check.outputs.lines }}\n"}
"#,
        )
        .await;
    assert_eq!(r.status, RunStatus::Completed, "{:?}", r.error);
    assert_eq!(r.steps["check"].attempts, 4);
    assert_eq!(read(env.path("lines.txt")), "0\n1\n2\n");
    assert_eq!(r.steps["check"].outputs["lines"], 3);
}

#[tokio::test]
async fn refinement_gives_up_after_max_iterations() {
    let env = Env::new();
    let r = env
        .run(
            r#"
name: refine
config: {max_iterations: 2}
steps:
  - id: check
    tool: checker
    action: check
    gate: true
    on_failure: refine
    inputs: {path: "$DIR/none.txt", min: 3}
  - id: fix
    type: refinement
    trigger: check.failed
    steps:
      - {id: noop, tool: file_ops, action: mkdir, inputs: {path: "$DIR/d"}}
"#,
        )
        .await;
    assert_eq!(r.status, RunStatus::Failed);
    let err = r.steps["check"].error.as_deref().unwrap();
    assert!(err.contains("gate failed: only 0 lines") && err.contains("after 2 refinement iterations"), "{err}");
}

#[tokio::test]
async fn timeout_stops_the_step() {
    let env = Env::new();
    let start = std::time::Instant::now();
    let r = env
        .run("name: t\nsteps:\n  - id: slow\n    tool: script\n    action: run\n    timeout: 0.5\n    inputs: {command: 'sleep 30'}\n")
        .await;
    assert_eq!(r.status, RunStatus::Failed);
    assert!(r.steps["slow"].error.as_deref().unwrap().contains("timed out after 0.5s"));
    assert!(start.elapsed().as_secs() < 10);
}

#[tokio::test]
async fn list_output_reaches_batch_and_copy_multiple_as_a_list() {
    let env = Env::new();
    std::fs::create_dir(env.path("src")).unwrap();
    for n in ["b.txt", "a.txt"] {
        std::fs::write(env.path("src").join(n), n).unwrap();
    }
    let r = env
        .run(
            r#"
name: lists
steps:
  - id: ls
    tool: file_ops
    action: list
    inputs: {path: "$DIR/src", pattern: "*.txt"}
  - id: each
    tool: batch
    action: foreach
    inputs:
      items: "{{ steps.ls.outputs.files }}"
      workflow_steps:
        - id: up
          tool: file_ops
          action: read
          inputs: {path: "{{ item }}"}
        - id: out
          tool: file_ops
          action: write
          inputs: {path: "$DIR/out/{{ item_index }}-{{ item | basename }}", content: "{{ up.outputs.content | upper }}"}
  - id: copy
    tool: file_ops
    action: copy_multiple
    inputs: {sources: "{{ steps.ls.outputs.files }}", destination: "$DIR/copies"}
"#,
        )
        .await;
    assert_eq!(r.status, RunStatus::Completed, "{:?}", r.error);
    assert_eq!(read(env.path("out/0-a.txt")), "A.TXT");
    assert_eq!(read(env.path("out/1-b.txt")), "B.TXT");
    assert_eq!(r.steps["each"].outputs["count"], 2);
    assert_eq!(r.steps["each"].outputs["results"][1]["outputs"]["out"]["path"], json!(env.path("out/1-b.txt")));
    assert_eq!(r.steps["copy"].outputs["count"], 2);
    assert_eq!(read(env.path("copies/b.txt")), "b.txt");
}

#[tokio::test]
async fn cancel_marks_run_and_step_cancelled() {
    let env = Env::new();
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        c.cancel();
    });
    let r = env
        .run_with(
            "name: c\nsteps:\n  - id: slow\n    tool: script\n    action: run\n    inputs: {command: 'sleep 30'}\n  - id: next\n    tool: file_ops\n    action: mkdir\n    inputs: {path: '$DIR/n'}\n",
            &[],
            cancel,
        )
        .await;
    assert_eq!(r.status, RunStatus::Cancelled);
    assert_eq!(r.steps["slow"].status, StepStatus::Cancelled);
    assert_eq!(r.steps["next"].status, StepStatus::NotRun);
    let d = run_detail(&env.db(), &r.run_id).unwrap().unwrap();
    assert_eq!(d.summary.status, "cancelled");
    assert_eq!(d.steps[0].status, "cancelled");
}

#[tokio::test]
async fn undefined_output_key_fails_the_step_with_the_keys_that_exist() {
    let env = Env::new();
    let r = env
        .run("name: u\nsteps:\n  - id: a\n    tool: file_ops\n    action: mkdir\n    inputs: {path: '$DIR/a'}\n  - id: b\n    tool: file_ops\n    action: mkdir\n    inputs: {path: '{{ steps.a.outputs.dir }}'}\n")
        .await;
    assert_eq!(r.status, RunStatus::Failed);
    let e = r.steps["b"].error.as_deref().unwrap();
    assert!(e.contains("`steps.a.outputs.dir` is undefined; `steps.a.outputs` has `created`, `path`"), "{e}");
}

#[tokio::test]
async fn approval_gate_takes_the_default_without_a_terminal() {
    let env = Env::new();
    let r = env
        .run("name: a\nsteps:\n  - id: ok\n    type: approval_gate\n    message: 'Go on?'\n    options: [yes-go, reject]\n  - id: after\n    tool: file_ops\n    action: mkdir\n    inputs: {path: '$DIR/{{ steps.ok.outputs.selection }}'}\n")
        .await;
    assert_eq!(r.status, RunStatus::Completed, "{:?}", r.error);
    assert_eq!(r.steps["ok"].outputs["auto"], true);
    assert!(env.path("yes-go").is_dir());
}

mod events;
mod gpus;
mod parallel;

#[tokio::test]
async fn a_call_its_outputs_do_not_confirm_is_not_stored() {
    // Another client switched the shared service's model between the key and the call: the
    // answer is not the identity's, so it is not kept for the next run.
    let mut env = Env::new();
    let store = crate::cache::store::Store { root: env.path("cache"), max_bytes: u64::MAX };
    env.cache = Some(Arc::new(crate::cache::Cache { store, refresh: Vec::new(), stored: Default::default() }));
    let marks = env.path("marks");
    std::fs::create_dir_all(&marks).unwrap();
    let yaml = "name: s\nsteps:\n  - {id: d, tool: shared, action: draw, inputs: {marks: '$DIR/marks'}}\n";
    let calls = || std::fs::read_to_string(marks.join("calls")).unwrap_or_default().len();
    std::fs::write(marks.join("model"), "b").unwrap();
    let first = env.run_with(yaml, &[], CancellationToken::new()).await;
    assert_eq!((first.status.as_str(), calls()), ("completed", 1));
    std::fs::write(marks.join("model"), "a").unwrap();
    let second = env.run_with(yaml, &[], CancellationToken::new()).await;
    assert_eq!(calls(), 2, "the unconfirmed answer was not served");
    assert_eq!(second.steps["d"].outputs["drew_with"], "a");
    env.run_with(yaml, &[], CancellationToken::new()).await;
    assert_eq!(calls(), 2, "the confirmed one was");
}

#[tokio::test]
async fn a_step_after_an_unconfirmed_one_is_keyed_by_what_it_made() {
    // The first step is never stored (its answers do not say what drew them) and outputs the
    // same path every run; the step after it must not be served a result made from another
    // run's image: the first hands on a digest of what it wrote, not of its key.
    let mut env = Env::new();
    let store = crate::cache::store::Store { root: env.path("cache"), max_bytes: u64::MAX };
    env.cache = Some(Arc::new(crate::cache::Cache { store, refresh: Vec::new(), stored: Default::default() }));
    let (marks, after) = (env.path("marks"), env.path("after"));
    std::fs::create_dir_all(&marks).unwrap();
    std::fs::create_dir_all(&after).unwrap();
    let yaml = "name: s\nsteps:\n  - {id: d, tool: unsaid, action: draw, inputs: {marks: '$DIR/marks'}}\n  \
                - {id: e, tool: shared, action: draw, depends_on: [d], inputs: {marks: '$DIR/after'}}\n";
    let calls = || std::fs::read_to_string(after.join("calls")).unwrap_or_default().len();
    std::fs::write(marks.join("model"), "b").unwrap();
    env.run_with(yaml, &[], CancellationToken::new()).await;
    env.run_with(yaml, &[], CancellationToken::new()).await;
    assert_eq!(calls(), 1, "the same image: the step after it is served");
    std::fs::write(marks.join("model"), "c").unwrap();
    let third = env.run_with(yaml, &[], CancellationToken::new()).await;
    assert_eq!((third.status.as_str(), calls()), ("completed", 2), "another image: the step after it runs");
}

fn with_cache(env: &mut Env) {
    let store = crate::cache::store::Store { root: env.path("cache"), max_bytes: u64::MAX };
    env.cache = Some(Arc::new(crate::cache::Cache { store, refresh: Vec::new(), stored: Default::default() }));
}

/// A cached step reading the run folder's `stamp.txt` without naming it (its key cannot
/// see the file): only the digests of the steps before it can tell a new stamp.
const USE_STAMP: &str =
    "  - {id: use, tool: script, action: run, cache: true, depends_on: [$BEFORE], inputs: {command: 'cd .. && cat stamp*'}}\n";

#[tokio::test]
async fn a_step_after_a_batch_is_keyed_by_what_the_batch_items_did() {
    let mut env = Env::new();
    with_cache(&mut env);
    let yaml = "name: b\nsteps:\n  - id: each\n    tool: batch\n    action: foreach\n    inputs:\n      items: [1]\n      workflow_steps:\n        \
                - {id: w, tool: script, action: run, inputs: {command: 'cat $DIR/src.txt > {{ workflow.run_dir }}/stamp.txt'}}\n"
        .to_string()
        + &USE_STAMP.replace("$BEFORE", "each");
    for stamp in ["A", "B"] {
        std::fs::write(env.path("src.txt"), stamp).unwrap();
        let r = env.run(&yaml).await;
        assert_eq!(r.status, RunStatus::Completed, "{:?}", r.error);
        assert_eq!(r.steps["use"].outputs["stdout"], stamp, "the stamp the batch's item wrote");
    }
}

#[tokio::test]
async fn a_step_after_a_failed_and_skipped_one_is_keyed_by_what_that_one_did() {
    let mut env = Env::new();
    with_cache(&mut env);
    let yaml = "name: s\nsteps:\n  - {id: w, tool: script, action: run, on_failure: skip, inputs: {command: 'cat $DIR/src.txt > {{ workflow.run_dir }}/stamp.txt; exit 1'}}\n"
        .to_string()
        + &USE_STAMP.replace("$BEFORE", "w");
    for stamp in ["A", "B"] {
        std::fs::write(env.path("src.txt"), stamp).unwrap();
        let r = env.run(&yaml).await;
        assert_eq!((r.status, r.steps["w"].status), (RunStatus::Completed, StepStatus::Skipped), "{:?}", r.error);
        assert_eq!(r.steps["use"].outputs["stdout"], stamp, "the stamp the failed step wrote");
    }
}

#[tokio::test]
async fn a_step_after_one_kept_from_before_a_resume_runs_rather_than_be_served() {
    // `stamp` wrote the stamp in the first process; the resumed run keeps it without seeing
    // what it wrote, so `use` (after the step that failed) must run, not be served another
    // run's answer.
    let mut env = Env::new();
    with_cache(&mut env);
    let yaml = "name: r\nsteps:\n  - {id: stamp, tool: script, action: run, inputs: {command: 'cat $DIR/src.txt > {{ workflow.run_dir }}/stamp.txt'}}\n  \
                - {id: flaky, tool: script, action: run, depends_on: [stamp], inputs: {command: 'test -e $DIR/ok'}}\n"
        .to_string()
        + &USE_STAMP.replace("$BEFORE", "stamp, flaky");
    for stamp in ["A", "B"] {
        let _ = std::fs::remove_file(env.path("ok"));
        std::fs::write(env.path("src.txt"), stamp).unwrap();
        let first = env.run(&yaml).await;
        assert_eq!(first.status, RunStatus::Failed);
        std::fs::write(env.path("ok"), "").unwrap();
        let detail = run_detail(&env.db(), &first.run_id).unwrap().unwrap();
        let resume = super::Resume::from_history(&detail);
        let r = env.run_full(&yaml, &[], CancellationToken::new(), crate::schedule::Resources::default(), Some(resume)).await;
        assert_eq!(r.status, RunStatus::Completed, "{:?}", r.error);
        assert_eq!(r.steps["use"].outputs["stdout"], stamp, "the stamp this run's kept step wrote");
    }
}

#[tokio::test]
async fn a_batch_sub_steps_own_refinement_runs_for_it() {
    let env = Env::new();
    let r = env
        .run(
            r#"
name: refine-in-batch
config: {max_iterations: 5}
steps:
  - id: each
    tool: batch
    action: foreach
    inputs:
      items: [1, 2]
      parallel: 2
      workflow_steps:
        - id: check
          tool: checker
          action: check
          gate: true
          on_failure: refine
          inputs: {path: "$DIR/lines{{ item }}.txt", min: 2}
          refinement:
            steps:
              - {id: add_line, tool: file_ops, action: write, inputs: {path: "$DIR/lines{{ item }}.txt", append: true, content: "x\n"}}
"#,
        )
        .await;
    assert_eq!(r.status, RunStatus::Completed, "{:?}", r.error);
    assert_eq!(read(env.path("lines1.txt")), "x\nx\n");
    assert_eq!(read(env.path("lines2.txt")), "x\nx\n");
    // Each item's refinement is its own in the history.
    let d = run_detail(&env.db(), &r.run_id).unwrap().unwrap();
    let fixes: Vec<&str> = d.steps.iter().map(|s| s.step_id.as_str()).filter(|s| s.contains("add_line")).collect();
    assert_eq!(fixes.len(), 4, "{fixes:?}");
    assert!(fixes.contains(&"each[0].add_line#1") && fixes.contains(&"each[1].add_line#2"), "{fixes:?}");
}

#[tokio::test]
async fn a_step_given_less_time_than_its_stored_run_took_runs_and_times_out() {
    let mut env = Env::new();
    with_cache(&mut env);
    let step = |timeout: &str| {
        format!("name: t\nsteps:\n  - {{id: slow, tool: script, action: run, cache: true{timeout}, inputs: {{command: 'sleep 0.4; echo done'}}}}\n")
    };
    assert_eq!(env.run(&step("")).await.status, RunStatus::Completed);
    let served = env.run(&step(", timeout: 30")).await;
    let d = run_detail(&env.db(), &served.run_id).unwrap().unwrap();
    assert_eq!(d.steps[0].status, "cached", "time enough: served");
    let r = env.run(&step(", timeout: 0.1")).await;
    assert_eq!(r.status, RunStatus::Failed, "a fresh run under this timeout times out, and so does this one");
    assert!(r.steps["slow"].error.as_deref().unwrap_or_default().contains("timed out"), "{:?}", r.steps["slow"].error);
}
