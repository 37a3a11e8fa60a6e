//! Whole runs on machines of several cards: where each step went, what its program was
//! told (`CUDA_VISIBLE_DEVICES`, `ROCR_VISIBLE_DEVICES`/`HIP_VISIBLE_DEVICES`), and what
//! the history keeps. The scripts are real processes; each prints the variables it got.

use super::*;
use crate::schedule::{Capacity, Card, Resources};

fn card(index: usize, vendor: &str, gb: f64) -> Card {
    Card { index, vendor: vendor.into(), name: format!("{vendor} card"), uuid: Some(format!("GPU-{vendor}-{index}")), vram_gb: gb }
}

fn machine(cards: Vec<Card>) -> Resources {
    let vram = cards.iter().map(|c| c.vram_gb).fold(0.0, f64::max);
    Resources { capacity: Capacity { cpu: 8, ram_gb: 0.0, vram_gb: vram, gpus: cards }, ..Resources::default() }
}

/// A step that writes the GPU variables it got to `$DIR/ID.env` and, before it ends,
/// waits for `other` to have started (so the two must run at once).
fn step(id: &str, other: Option<&str>, resources: &str) -> String {
    let wait =
        other.map_or(String::new(), |o| format!("; for i in $(seq 100); do [ -e $DIR/{o}.env ] && exit 0; sleep 0.05; done; exit 1"));
    format!(
        "  - id: {id}\n    tool: script\n    action: run\n    depends_on: []\n    resources: {resources}\n    inputs: {{command: 'echo \"CUDA=${{CUDA_VISIBLE_DEVICES-}} ROCR=${{ROCR_VISIBLE_DEVICES-}} HIP=${{HIP_VISIBLE_DEVICES-}}\" > $DIR/{id}.env{wait}'}}\n"
    )
}

async fn run_on(env: &Env, yaml: &str, res: Resources) -> RunReport {
    env.run_full(yaml, &[], CancellationToken::new(), res, None).await
}

fn gpus_in_history(env: &Env, r: &RunReport) -> Vec<(String, Vec<usize>)> {
    let d = run_detail(&env.db(), &r.run_id).unwrap().unwrap();
    let mut rows: Vec<(String, Vec<usize>)> = d.steps.into_iter().map(|s| (s.step_id, s.gpus)).collect();
    rows.sort();
    rows
}

#[tokio::test]
async fn two_16_gb_steps_run_at_once_on_two_24_gb_cards_each_seeing_its_own() {
    let env = Env::new();
    let v = "{vram_gb: 16}";
    let yaml = format!("name: two\nsteps:\n{}{}", step("a", Some("b"), v), step("b", Some("a"), v));
    let r = run_on(&env, &yaml, machine(vec![card(0, "nvidia", 24.0), card(1, "nvidia", 24.0)])).await;
    assert_eq!(r.status, RunStatus::Completed, "{:?}", r.error);
    let mut seen = [read(env.path("a.env")), read(env.path("b.env"))];
    seen.sort();
    assert_eq!(seen, ["CUDA=GPU-nvidia-0 ROCR= HIP=\n", "CUDA=GPU-nvidia-1 ROCR= HIP=\n"]);
    let rows = gpus_in_history(&env, &r);
    let mut cards: Vec<usize> = rows.iter().flat_map(|(_, g)| g.clone()).collect();
    cards.sort();
    assert_eq!(cards, [0, 1], "{rows:?}");
}

#[tokio::test]
async fn a_pinned_step_an_amd_card_and_a_split_step_on_a_mixed_machine() {
    let env = Env::new();
    // GPU 0: NVIDIA 24 GB; GPU 1: AMD 16 GB; GPU 2: AMD 16 GB.
    let res = machine(vec![card(0, "nvidia", 24.0), card(1, "amd", 16.0), Card { uuid: None, ..card(2, "amd", 16.0) }]);
    let yaml = format!(
        "name: mixed\nsteps:\n{}{}{}",
        step("pinned", None, "{gpu: GPU-amd-1}"),
        step("by_index", None, "{gpu: 2, vram_gb: 4}"),
        step("big", None, "{vram_gb: 40, split: true}").replace("depends_on: []", "depends_on: [pinned, by_index]"),
    );
    let r = run_on(&env, &yaml, res).await;
    assert_eq!(r.status, RunStatus::Completed, "{:?}", r.error);
    assert_eq!(read(env.path("pinned.env")), "CUDA= ROCR=GPU-amd-1 HIP=0\n");
    assert_eq!(read(env.path("by_index.env")), "CUDA= ROCR=1 HIP=0\n", "no UUID: AMD's own number for the card");
    // 40 GB: the NVIDIA card and the first AMD card (24 + 16), each told of its own.
    assert_eq!(read(env.path("big.env")), "CUDA=GPU-nvidia-0 ROCR=GPU-amd-1 HIP=0\n");
    assert_eq!(gpus_in_history(&env, &r), [("big".to_string(), vec![0, 1]), ("by_index".into(), vec![2]), ("pinned".into(), vec![1])]);
}

#[tokio::test]
async fn on_one_card_nothing_is_set_and_a_cpu_step_gets_no_card() {
    let env = Env::new();
    let yaml = format!("name: one\nsteps:\n{}{}", step("g", None, "{vram_gb: 4}"), step("c", None, "{cpu: 1}"));
    let r = run_on(&env, &yaml, machine(vec![card(0, "nvidia", 24.0)])).await;
    assert_eq!(r.status, RunStatus::Completed, "{:?}", r.error);
    assert_eq!(read(env.path("g.env")), "CUDA= ROCR= HIP=\n", "one card: the program sees what it always did");
    assert_eq!(gpus_in_history(&env, &r), [("c".to_string(), vec![]), ("g".into(), vec![0])]);
    // And on a machine of two, a step without GPU work is not pinned either.
    let env = Env::new();
    let r = run_on(&env, &yaml, machine(vec![card(0, "nvidia", 24.0), card(1, "nvidia", 24.0)])).await;
    assert_eq!(r.status, RunStatus::Completed, "{:?}", r.error);
    assert_eq!(read(env.path("c.env")), "CUDA= ROCR= HIP=\n");
}

#[tokio::test]
async fn a_batch_steps_items_run_on_the_batch_steps_card() {
    let env = Env::new();
    let yaml = "name: b\nsteps:\n  - id: first\n    tool: script\n    action: run\n    depends_on: []\n    resources: {vram_gb: 20}\n    inputs: {command: 'sleep 0.3'}\n  - id: each\n    tool: batch\n    action: foreach\n    depends_on: []\n    resources: {vram_gb: 10}\n    inputs:\n      items: [x, y]\n      parallel: 2\n      workflow_steps:\n        - id: show\n          tool: script\n          action: run\n          inputs: {command: 'echo \"${CUDA_VISIBLE_DEVICES-}\" > $DIR/{{ item }}.env'}\n";
    let r = run_on(&env, yaml, machine(vec![card(0, "nvidia", 24.0), card(1, "nvidia", 24.0)])).await;
    assert_eq!(r.status, RunStatus::Completed, "{:?}", r.error);
    // `first` holds 20 GB of card 0; the batch (10 GB) goes to card 1, its items with it.
    assert_eq!([read(env.path("x.env")), read(env.path("y.env"))], ["GPU-nvidia-1\n", "GPU-nvidia-1\n"]);
}
