//! The scheduler through whole runs: concurrency, the resource ledger, failure
//! and cancellation with steps in flight, `when` skips, resume, batch `parallel`.
//! Overlap is shown with barriers (each step waits for the other's file, so a
//! serialised run fails) and its absence with recorded start/end times.

use super::*;
use crate::schedule::{Capacity, Resources};
use std::collections::HashSet;

fn resources(cpu: u32, vram: f64) -> Resources {
    Resources { capacity: Capacity { cpu, ram_gb: 0.0, vram_gb: vram, gpus: Vec::new() }, ..Resources::default() }
}

/// A step that records when it ran: `$DIR/ID.span` holds "start end" in ns.
fn span(id: &str, secs: f64, extra: &str) -> String {
    format!(
        "  - id: {id}\n    tool: script\n    action: run\n{extra}    inputs: {{command: 's=$(date +%s%N); sleep {secs}; echo $s $(date +%s%N) > $DIR/{id}.span'}}\n"
    )
}

/// A step that meets `other` (each waits up to 5 s for the other's file): it fails if they do not overlap.
fn meet(id: &str, other: &str, extra: &str) -> String {
    format!(
        "  - id: {id}\n    tool: script\n    action: run\n{extra}    inputs: {{command: 'touch $DIR/{id}.here; for i in $(seq 100); do [ -e $DIR/{other}.here ] && exit 0; sleep 0.05; done; exit 1'}}\n"
    )
}

fn spans(env: &Env, ids: &[&str]) -> Vec<(u128, u128)> {
    ids.iter()
        .map(|id| {
            let t = read(env.path(&format!("{id}.span")));
            let mut it = t.split_whitespace().map(|x| x.parse::<u128>().unwrap());
            (it.next().unwrap(), it.next().unwrap())
        })
        .collect()
}

fn disjoint(s: &[(u128, u128)]) -> bool {
    let mut v = s.to_vec();
    v.sort();
    v.windows(2).all(|w| w[0].1 <= w[1].0)
}

async fn run_res(env: &Env, yaml: &str, res: Resources) -> RunReport {
    env.run_full(yaml, &[], CancellationToken::new(), res, None).await
}

#[tokio::test]
async fn independent_steps_run_at_the_same_time() {
    let env = Env::new();
    let yaml = format!("name: p\nsteps:\n{}{}", meet("a", "b", "    depends_on: []\n"), meet("b", "a", "    depends_on: []\n"));
    let r = run_res(&env, &yaml, resources(4, 0.0)).await;
    assert_eq!(r.status, RunStatus::Completed, "{:?}", r.error);
}

#[tokio::test]
async fn without_depends_on_steps_run_one_after_another_in_file_order() {
    let env = Env::new();
    let yaml = format!("name: s\nsteps:\n{}{}{}", span("a", 0.2, ""), span("b", 0.2, ""), span("c", 0.2, ""));
    let r = run_res(&env, &yaml, resources(8, 0.0)).await;
    assert_eq!(r.status, RunStatus::Completed);
    let s = spans(&env, &["a", "b", "c"]);
    assert!(s[0].1 <= s[1].0 && s[1].1 <= s[2].0, "{s:?}");
    let d = run_detail(&env.db(), &r.run_id).unwrap().unwrap();
    assert_eq!(d.steps.iter().map(|s| s.step_id.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);
}

#[tokio::test]
async fn max_parallel_of_one_serialises_independent_steps() {
    let env = Env::new();
    let root = "    depends_on: []\n";
    let yaml = format!("name: s\nsteps:\n{}{}{}", span("a", 0.2, root), span("b", 0.2, root), span("c", 0.2, root));
    assert_eq!(run_res(&env, &yaml, resources(1, 0.0)).await.status, RunStatus::Completed);
    assert!(disjoint(&spans(&env, &["a", "b", "c"])));
}

#[tokio::test]
async fn gpu_steps_are_serialised_while_a_cpu_step_runs_beside_them() {
    let env = Env::new();
    let g = "    depends_on: []\n    resources: {gpu: true}\n";
    // `c` (CPU) meets `g1`; the two GPU steps must not overlap.
    let yaml = format!("name: g\nsteps:\n{}{}{}", span("g1", 0.3, g), span("g2", 0.3, g), meet("c", "g1", "    depends_on: []\n"));
    let yaml = yaml.replace("echo $s", "touch $DIR/g1.here; echo $s");
    let r = run_res(&env, &yaml, resources(8, 24.0)).await;
    assert_eq!(r.status, RunStatus::Completed, "{:?}", r.error);
    assert!(disjoint(&spans(&env, &["g1", "g2"])));
}

#[tokio::test]
async fn two_5_gb_steps_run_together_on_12_gb() {
    let env = Env::new();
    let v = "    depends_on: []\n    resources: {vram_gb: 5}\n";
    let yaml = format!("name: v\nsteps:\n{}{}", meet("a", "b", v), meet("b", "a", v));
    let r = run_res(&env, &yaml, resources(8, 12.0)).await;
    assert_eq!(r.status, RunStatus::Completed, "{:?}", r.error);
}

#[tokio::test]
async fn two_5_gb_steps_take_turns_on_8_gb() {
    let env = Env::new();
    let v = "    depends_on: []\n    resources: {vram_gb: 5}\n";
    let yaml = format!("name: v\nsteps:\n{}{}", span("a", 0.3, v), span("b", 0.3, v));
    let r = run_res(&env, &yaml, resources(8, 8.0)).await;
    assert_eq!(r.status, RunStatus::Completed, "{:?}", r.error);
    assert!(disjoint(&spans(&env, &["a", "b"])));
}

#[tokio::test]
async fn abort_lets_running_steps_finish_and_records_them_then_cleans_up() {
    let env = Env::new();
    let yaml = format!(
        "name: f\ncleanup:\n  on_failure: [{{action: delete, path: '$DIR/scratch'}}]\nsteps:\n  - id: mk\n    tool: file_ops\n    action: mkdir\n    inputs: {{path: '$DIR/scratch'}}\n  - id: bad\n    tool: script\n    action: run\n    depends_on: [mk]\n    inputs: {{command: 'sleep 0.1; exit 3'}}\n{}  - id: after\n    tool: script\n    action: run\n    inputs: {{command: 'true'}}\n",
        span("slow", 0.8, "    depends_on: [mk]\n")
    );
    let r = run_res(&env, &yaml, resources(4, 0.0)).await;
    assert_eq!(r.status, RunStatus::Failed);
    assert!(r.error.as_deref().unwrap().contains("step `bad` failed"), "{:?}", r.error);
    assert_eq!(r.steps["slow"].status, StepStatus::Completed, "the step in flight finishes");
    assert_eq!(r.steps["after"].status, StepStatus::NotRun);
    assert!(env.path("slow.span").exists() && !env.path("scratch").exists());
    let d = run_detail(&env.db(), &r.run_id).unwrap().unwrap();
    assert!(d.steps.iter().any(|s| s.step_id == "slow" && s.status == "completed"));
}

#[tokio::test]
async fn skip_and_retry_apply_to_their_own_branch() {
    let env = Env::new();
    let yaml = "name: b\nsteps:\n  - id: flaky\n    tool: script\n    action: run\n    depends_on: []\n    on_failure: retry\n    retry_count: 2\n    inputs: {command: 'n=$(cat $DIR/n 2>/dev/null || echo 0); echo $((n+1)) > $DIR/n; [ $n -ge 1 ]'}\n  - id: broken\n    tool: script\n    action: run\n    depends_on: []\n    on_failure: skip\n    inputs: {command: 'exit 1'}\n  - id: after_broken\n    tool: script\n    action: run\n    inputs: {command: 'true'}\n";
    let r = run_res(&env, yaml, resources(4, 0.0)).await;
    assert_eq!(r.status, RunStatus::Completed, "{:?}", r.error);
    assert_eq!((r.steps["flaky"].status, r.steps["flaky"].attempts), (StepStatus::Completed, 2));
    assert_eq!(r.steps["broken"].status, StepStatus::Skipped);
    assert_eq!(r.steps["after_broken"].status, StepStatus::Completed);
}

#[tokio::test]
async fn when_false_skips_dependents_that_read_its_outputs_only() {
    let env = Env::new();
    let yaml = "name: w\nsteps:\n  - id: maybe\n    tool: file_ops\n    action: write\n    when: 'false'\n    inputs: {path: '$DIR/m.txt', content: x}\n  - id: reader\n    tool: file_ops\n    action: write\n    inputs: {path: '$DIR/r.txt', content: '{{ steps.maybe.outputs.path }}'}\n  - id: orderly\n    tool: file_ops\n    action: write\n    depends_on: [maybe]\n    inputs: {path: '$DIR/o.txt', content: ok}\n";
    let r = run_res(&env, yaml, resources(4, 0.0)).await;
    assert_eq!(r.status, RunStatus::Completed, "{:?}", r.error);
    assert_eq!(r.steps["maybe"].status, StepStatus::Skipped);
    assert_eq!(r.steps["reader"].status, StepStatus::Skipped);
    assert_eq!(r.steps["orderly"].status, StepStatus::Completed);
}

#[tokio::test]
async fn cancelling_stops_every_running_step_and_its_processes() {
    let env = Env::new();
    let step = |id: &str| {
        format!("  - id: {id}\n    tool: script\n    action: run\n    depends_on: []\n    inputs: {{command: 'echo $$ > $DIR/{id}.pid; exec sleep 30'}}\n")
    };
    let yaml = format!("name: c\nsteps:\n{}{}", step("a"), step("b"));
    let cancel = CancellationToken::new();
    let c2 = cancel.clone();
    let (pa, pb) = (env.path("a.pid"), env.path("b.pid"));
    tokio::spawn(async move {
        while !(pa.exists() && pb.exists()) {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        c2.cancel();
    });
    let r = env.run_full(&yaml, &[], cancel, resources(4, 0.0), None).await;
    assert_eq!(r.status, RunStatus::Cancelled);
    assert_eq!((r.steps["a"].status, r.steps["b"].status), (StepStatus::Cancelled, StepStatus::Cancelled));
    for id in ["a", "b"] {
        let pid: i32 = read(env.path(&format!("{id}.pid"))).trim().parse().unwrap();
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists() || read(format!("/proc/{pid}/stat")).contains(") Z"),
            "{id} left running"
        );
    }
}

#[tokio::test]
async fn resume_after_a_failure_reruns_only_what_did_not_complete() {
    let env = Env::new();
    let yaml = "name: r\nsteps:\n  - id: first\n    tool: script\n    action: run\n    inputs: {command: 'echo x >> $DIR/first.count; echo made'}\n  - id: second\n    tool: script\n    action: run\n    inputs: {command: 'echo x >> $DIR/second.count; [ -e $DIR/fixed ]'}\n  - id: third\n    tool: file_ops\n    action: write\n    inputs: {path: '$DIR/out.txt', content: '{{ steps.first.outputs.stdout | trim }}'}\n";
    let r = run_res(&env, yaml, resources(4, 0.0)).await;
    assert_eq!(r.status, RunStatus::Failed);
    std::fs::write(env.path("fixed"), "").unwrap();
    let detail = run_detail(&env.db(), &r.run_id).unwrap().unwrap();
    let resume = Resume::from_history(&detail);
    assert_eq!(resume.done.keys().collect::<Vec<_>>(), ["first"]);
    let again = env.run_full(yaml, &[], CancellationToken::new(), resources(4, 0.0), Some(resume)).await;
    assert_eq!((again.status, again.run_id.as_str()), (RunStatus::Completed, r.run_id.as_str()), "{:?}", again.error);
    assert_eq!(read(env.path("first.count")).lines().count(), 1, "a completed step is not run again");
    assert_eq!(read(env.path("second.count")).lines().count(), 2);
    assert_eq!(read(env.path("out.txt")), "made", "its outputs come from the history");
    let d = run_detail(&env.db(), &r.run_id).unwrap().unwrap();
    assert_eq!(d.summary.status, "completed");
    let second: Vec<(u32, &str)> = d.steps.iter().filter(|s| s.step_id == "second").map(|s| (s.attempt, s.status.as_str())).collect();
    assert_eq!(second, [(1, "failed"), (2, "completed")], "the failed attempt stays in the history");
}

#[tokio::test]
async fn resume_keeps_batch_items_that_completed() {
    let env = Env::new();
    // Item `c` fails until `fixed` exists; the others count their runs.
    let yaml = "name: r\nsteps:\n  - id: each\n    tool: batch\n    action: foreach\n    inputs:\n      items: [a, b, c, d]\n      parallel: 2\n      workflow_steps:\n        - id: work\n          tool: script\n          action: run\n          inputs: {command: 'echo x >> $DIR/{{ item }}.count; [ {{ item }} != c ] || [ -e $DIR/fixed ] || exit 1; echo done-{{ item }}'}\n        - id: after\n          tool: script\n          action: run\n          inputs: {command: 'echo {{ work.outputs.stdout | trim }}'}\n";
    let r = run_res(&env, yaml, resources(4, 0.0)).await;
    assert_eq!(r.status, RunStatus::Failed);
    std::fs::write(env.path("fixed"), "").unwrap();
    let detail = run_detail(&env.db(), &r.run_id).unwrap().unwrap();
    let again = env.run_full(yaml, &[], CancellationToken::new(), resources(4, 0.0), Some(Resume::from_history(&detail))).await;
    assert_eq!(again.status, RunStatus::Completed, "{:?}", again.error);
    let runs = |item: &str| read(env.path(&format!("{item}.count"))).lines().count();
    assert_eq!(runs("a"), 1, "an item completed before the resume is not run again");
    assert_eq!(runs("c"), 2);
    assert!(runs("b") == 1 && (1..=2).contains(&runs("d")), "d may not have started before c failed");
    let results = again.steps["each"].outputs["results"].as_array().unwrap();
    let said: Vec<&str> = results.iter().map(|x| x["outputs"]["after"]["stdout"].as_str().unwrap().trim()).collect();
    assert_eq!(said, ["done-a", "done-b", "done-c", "done-d"], "kept items' outputs come from the history");
}

#[tokio::test]
async fn batch_parallel_runs_items_at_once_and_keeps_item_order() {
    let env = Env::new();
    // Every item waits until all four have started: only four at once can pass.
    let yaml = "name: b\nsteps:\n  - id: each\n    tool: batch\n    action: foreach\n    inputs:\n      items: [a, b, c, d]\n      parallel: 4\n      workflow_steps:\n        - id: wait\n          tool: script\n          action: run\n          inputs: {command: 'touch $DIR/{{ item }}.here; for i in $(seq 100); do [ $(ls $DIR/*.here | wc -l) -ge 4 ] && echo {{ item_index }} && exit 0; sleep 0.05; done; exit 1'}\n";
    let r = run_res(&env, yaml, resources(2, 0.0)).await;
    assert_eq!(r.status, RunStatus::Completed, "{:?}", r.error);
    let results = r.steps["each"].outputs["results"].as_array().unwrap();
    let got: Vec<(String, String)> = results
        .iter()
        .map(|x| (x["item"].as_str().unwrap().to_string(), x["outputs"]["wait"]["stdout"].as_str().unwrap().trim().to_string()))
        .collect();
    assert_eq!(got, [("a", "0"), ("b", "1"), ("c", "2"), ("d", "3")].map(|(a, b)| (a.to_string(), b.to_string())));
}

#[tokio::test]
async fn a_step_larger_than_the_machine_runs_alone_with_a_warning() {
    let env = Env::new();
    let yaml = format!("name: big\nsteps:\n{}", span("huge", 0.1, "    resources: {vram_gb: 80}\n"));
    let r = run_res(&env, &yaml, resources(4, 8.0)).await;
    assert_eq!(r.status, RunStatus::Completed);
    assert!(r.warnings.iter().any(|w| w.contains("needs 80.0 GB of VRAM, the GPU has 8.0 GB")), "{:?}", r.warnings);
}

#[tokio::test]
async fn a_loaded_model_goes_first_when_models_cannot_share_the_gpu() {
    let env = Env::new();
    // Three ready LLM-like steps; only one model fits at a time. `x` is loaded already.
    let mut res = resources(8, 8.0);
    for (id, model) in [("y1", "s/y"), ("x1", "s/x"), ("x2", "s/x")] {
        res.per_step.insert(
            id.into(),
            crate::schedule::Reservation { cpu: 1, gpu: true, vram_gb: Some(6.0), model: Some(model.into()), ..Default::default() },
        );
    }
    res.loaded = HashSet::from(["s/x".to_string()]);
    let root = "    depends_on: []\n";
    let yaml = format!("name: m\nsteps:\n{}{}{}", span("y1", 0.2, root), span("x1", 0.2, root), span("x2", 0.2, root));
    assert_eq!(run_res(&env, &yaml, res).await.status, RunStatus::Completed);
    let s = spans(&env, &["y1", "x1", "x2"]);
    assert!(s[1].0 < s[0].0 && s[2].0 < s[0].0, "x steps first: {s:?}");
    assert!(s[1].0 < s[2].1 && s[2].0 < s[1].1, "the two x steps share the loaded model: {s:?}");
    assert!(s[0].0 >= s[1].1.max(s[2].1), "y waits for x to be unloaded: {s:?}");
}

#[tokio::test]
async fn a_bad_parallel_value_fails_the_batch_step_with_what_to_write() {
    // A literal 0 is refused before the run (validation); one a template makes is caught here.
    let env = Env::new();
    let yaml = "name: b\nsteps:\n  - id: each\n    tool: batch\n    action: foreach\n    inputs:\n      items: [a]\n      parallel: '{{ 1 - 1 }}'\n      workflow_steps:\n        - {id: s, tool: file_ops, action: mkdir, inputs: {path: '$DIR/x'}}\n";
    let r = run_res(&env, yaml, resources(2, 0.0)).await;
    assert_eq!(r.status, RunStatus::Failed);
    assert!(r.error.as_deref().unwrap().contains("`parallel` must be a whole number of 1 or more, got 0"), "{:?}", r.error);
}

#[tokio::test]
async fn a_tool_that_panics_fails_its_step_not_the_run_beside_it() {
    let env = Env::new();
    let yaml = format!(
        "name: p\ncleanup:\n  on_failure: [{{action: delete, path: '$DIR/scratch'}}]\nsteps:\n  - id: mk\n    tool: file_ops\n    action: mkdir\n    depends_on: []\n    inputs: {{path: '$DIR/scratch'}}\n  - id: bug\n    tool: panics\n    action: now\n    depends_on: []\n{}",
        span("beside", 0.3, "    depends_on: []\n")
    );
    let r = run_res(&env, &yaml, resources(4, 0.0)).await;
    assert_eq!(r.status, RunStatus::Failed);
    assert_eq!(r.steps["bug"].status, StepStatus::Failed);
    assert!(r.steps["bug"].error.as_deref().unwrap().contains("stopped unexpectedly"), "{:?}", r.steps["bug"].error);
    assert_eq!(r.steps["beside"].status, StepStatus::Completed);
    assert!(!env.path("scratch").exists(), "cleanup ran");
}

#[tokio::test]
async fn a_tool_that_panics_alone_fails_its_step_too() {
    let env = Env::new();
    let r = run_res(&env, "name: p\nsteps:\n  - {id: bug, tool: panics, action: now}\n", resources(4, 0.0)).await;
    assert_eq!((r.status, r.steps["bug"].status), (RunStatus::Failed, StepStatus::Failed));
    assert!(r.steps["bug"].error.as_deref().unwrap().contains("stopped unexpectedly (a bug in the tool)"), "{:?}", r.steps["bug"].error);
}
