//! Run events: their order, and approvals answered from outside the engine.

use super::*;
use crate::exec::{Answer, Answers, Event, RunStatus, StepStatus};
use std::sync::Mutex;
use std::time::Duration;

fn recorder() -> (super::super::Listener, Arc<Mutex<Vec<Event>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    (Arc::new(move |e: &Arc<Event>| sink.lock().unwrap().push((**e).clone())), seen)
}

fn position(events: &[Event], want: impl Fn(&Event) -> bool) -> usize {
    events.iter().position(want).expect("event present")
}

#[tokio::test]
async fn events_of_a_dag_arrive_in_order() {
    let mut env = Env::new();
    let (listener, seen) = recorder();
    env.listeners.push(listener);
    let yaml = "name: dag\nsteps:\n  - {id: a, tool: script, action: run, inputs: {command: 'echo a'}}\n  - {id: b, tool: script, action: run, depends_on: [a], inputs: {command: 'sleep 0.2'}}\n  - {id: c, tool: script, action: run, depends_on: [a], inputs: {command: 'echo c'}}\n  - {id: d, tool: batch, action: foreach, depends_on: [b, c], inputs: {items: [1, 2, 3], workflow_steps: [{id: e, tool: script, action: run, inputs: {command: 'true'}}]}}\n";
    let r = env.run(yaml).await;
    assert_eq!(r.status, RunStatus::Completed, "{:?}", r.error);
    let events = seen.lock().unwrap().clone();
    assert!(matches!(&events[0], Event::RunStarted { recipe, plan, .. } if recipe == "dag" && plan.len() == 3), "{:?}", events[0]);
    assert!(matches!(events.last().unwrap(), Event::RunFinished { status: RunStatus::Completed, .. }));
    let started = |id: &str| position(&events, |e| matches!(e, Event::StepStarted { step, .. } if step == id));
    let finished =
        |id: &str| position(&events, |e| matches!(e, Event::StepFinished { step, status: StepStatus::Completed, .. } if step == id));
    for id in ["a", "b", "c", "d"] {
        assert!(started(id) < finished(id), "{id} finished before it started");
    }
    for (step, deps) in [("b", vec!["a"]), ("c", vec!["a"]), ("d", vec!["b", "c"])] {
        for dep in deps {
            assert!(finished(dep) < started(step), "{step} started before {dep} finished");
        }
    }
    // The batch reports its items as it goes, all inside its own start and finish.
    let items: Vec<usize> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e, Event::StepProgress { step, unit, .. } if step == "d" && unit == "items"))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(items.len(), 3);
    assert!(items.iter().all(|&i| started("d") < i && i < finished("d")));
    assert!(matches!(&events[*items.last().unwrap()], Event::StepProgress { done: Some(3), total: Some(3), .. }));
    // A completed step's event carries its outputs.
    let a = &events[finished("a")];
    assert!(matches!(a, Event::StepFinished { outputs, attempt: 1, .. } if outputs["stdout"] == "a\n"), "{a:?}");
}

#[tokio::test]
async fn an_approval_answered_no_from_outside_takes_the_no_branch() {
    let mut env = Env::new();
    let answers = Answers::default();
    env.answers = Some(answers.clone());
    let (listener, seen) = recorder();
    env.listeners.push(listener);
    // Answer as a front end would, on the approval's event (from another thread, later).
    let asked = answers.clone();
    env.listeners.push(Arc::new(move |e: &Arc<Event>| {
        if let Event::ApprovalRequested { step, .. } = &**e {
            let (a, step) = (asked.clone(), step.clone());
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                assert_eq!(a.answer(&step, Answer::No).unwrap(), "reject");
            });
        }
    }));
    let yaml = "name: a\nsteps:\n  - id: ok\n    type: approval_gate\n    message: 'Ship {{ 1 + 1 }} files?'\n    options: [ship, reject]\n    on_failure: skip\n  - id: shipped\n    tool: file_ops\n    action: mkdir\n    when: \"{{ steps.ok.status == 'completed' }}\"\n    inputs: {path: '$DIR/shipped'}\n  - id: held\n    tool: file_ops\n    action: mkdir\n    when: \"{{ steps.ok.status != 'completed' }}\"\n    inputs: {path: '$DIR/held'}\n";
    let r = env.run(yaml).await;
    assert_eq!(r.status, RunStatus::Completed, "{:?}", r.error);
    assert!(env.path("held").is_dir() && !env.path("shipped").exists(), "the `no` branch ran: {:#?}", r.steps);
    let events = seen.lock().unwrap().clone();
    assert!(events.iter().any(|e| matches!(e, Event::ApprovalRequested { step, message, options, default }
        if step == "ok" && message == "Ship 2 files?" && options == &["ship", "reject"] && default == "ship")));
    assert!(answers.waiting().is_empty());
}

#[test]
fn answers_name_what_is_wrong() {
    let answers = Answers::default();
    let not_waiting = answers.answer("gate", Answer::Yes).unwrap_err();
    assert_eq!(not_waiting, crate::exec::AnswerError::NotWaiting("step `gate` is not waiting for approval (none is waiting now)".into()));
}
