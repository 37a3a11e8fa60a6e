use super::*;
use std::collections::HashSet;

fn cap(cpu: u32, vram: f64) -> Capacity {
    Capacity { cpu, ram_gb: 0.0, vram_gb: vram, gpus: Vec::new() }
}
fn gpu(vram: Option<f64>, model: Option<&str>) -> Reservation {
    Reservation { cpu: 1, gpu: true, vram_gb: vram, model: model.map(String::from), ..Default::default() }
}

#[test]
fn two_5_gb_steps_fit_together_in_12_gb_but_not_in_8() {
    let mut l = Ledger::new(cap(8, 12.0));
    l.take(&gpu(Some(5.0), None));
    assert!(l.fits(&gpu(Some(5.0), None)));
    let mut l = Ledger::new(cap(8, 8.0));
    let p = l.take(&gpu(Some(5.0), None));
    assert!(!l.fits(&gpu(Some(5.0), None)));
    l.give(&gpu(Some(5.0), None), &p);
    assert!(l.fits(&gpu(Some(5.0), None)) && l.is_idle());
}

#[test]
fn gpu_steps_of_unknown_size_have_the_gpu_alone_while_cpu_steps_go_on() {
    let mut l = Ledger::new(cap(8, 24.0));
    let unknown = gpu(None, None);
    let p = l.take(&unknown);
    assert!(!l.fits(&gpu(None, None)));
    assert!(!l.fits(&gpu(Some(1.0), None)));
    assert!(l.fits(&Reservation::cpu_only()));
    l.give(&unknown, &p);
    l.take(&gpu(Some(1.0), None));
    assert!(!l.fits(&unknown), "an unknown-size step waits for the GPU to be free");
}

#[test]
fn steps_of_one_model_share_its_vram() {
    let mut l = Ledger::new(cap(8, 8.0));
    let a = gpu(Some(6.0), Some("ollama/llama3.1:8b"));
    let p = l.take(&a);
    assert!(l.fits(&a), "the model is loaded once");
    let q = l.take(&a);
    assert!(!l.fits(&gpu(Some(6.0), Some("ollama/qwen2.5:7b"))), "a second model does not fit beside it");
    l.give(&a, &p);
    assert_eq!(l.vram_in_use(), 6.0);
    l.give(&a, &q);
    assert_eq!(l.vram_in_use(), 0.0);
    assert!(l.fits(&gpu(Some(6.0), Some("ollama/qwen2.5:7b"))));
}

#[test]
fn without_a_vram_figure_gpu_steps_take_turns_except_one_models_steps() {
    let mut l = Ledger::new(cap(8, 0.0));
    let a = gpu(Some(4.0), Some("ollama/m"));
    l.take(&a);
    assert!(l.fits(&a));
    assert!(!l.fits(&gpu(Some(4.0), Some("ollama/other"))));
    assert!(!l.fits(&gpu(Some(2.0), None)));
}

#[test]
fn cpu_slots_bound_concurrency_and_a_big_step_is_clamped() {
    let mut l = Ledger::new(cap(2, 0.0));
    l.take(&Reservation::cpu_only());
    l.take(&Reservation::cpu_only());
    assert!(!l.fits(&Reservation::cpu_only()));
    let mut l = Ledger::new(cap(2, 0.0));
    let big = Reservation { cpu: 16, ..Default::default() };
    assert!(l.fits(&big));
    l.take(&big);
    assert!(!l.fits(&Reservation::cpu_only()));
}

#[test]
fn ram_and_the_terminal_are_held_too() {
    let mut l = Ledger::new(Capacity { cpu: 8, ram_gb: 16.0, vram_gb: 0.0, gpus: Vec::new() });
    l.take(&Reservation { cpu: 1, ram_gb: 10.0, ..Default::default() });
    assert!(!l.fits(&Reservation { cpu: 1, ram_gb: 8.0, ..Default::default() }));
    let approval = Reservation { cpu: 1, terminal: true, ..Default::default() };
    l.take(&approval);
    assert!(!l.fits(&approval));
}

#[test]
fn a_reservation_larger_than_the_machine_is_named() {
    let l = Ledger::new(Capacity { cpu: 4, ram_gb: 16.0, vram_gb: 8.0, gpus: Vec::new() });
    assert_eq!(l.never_fits(&gpu(Some(40.0), None)).unwrap(), "needs 40.0 GB of VRAM, the GPU has 8.0 GB");
    assert!(l.never_fits(&Reservation { ram_gb: 32.0, ..Default::default() }).unwrap().contains("RAM"));
    assert!(l.never_fits(&gpu(Some(8.0), None)).is_none());
}

#[test]
fn ready_steps_prefer_a_loaded_model_then_the_longest_path_then_file_order() {
    let loaded: HashSet<String> = ["ollama/a".to_string()].into();
    let mut ready = [(Some("ollama/b"), 5, 0usize), (None, 2, 1), (Some("ollama/a"), 1, 2), (None, 2, 3), (None, 4, 4)];
    ready.sort_by_key(|y| std::cmp::Reverse(priority(y.0, &loaded, y.1, y.2)));
    let order: Vec<usize> = ready.iter().map(|r| r.2).collect();
    assert_eq!(order, [2, 4, 1, 3, 0]);
}

fn plan_of(deps: Vec<Vec<usize>>) -> Plan {
    Plan { order: (0..deps.len()).collect(), deps, sequential: false }
}

#[test]
fn remaining_path_and_critical_path_of_a_diamond_with_a_tail() {
    // 0 → {1, 2}; 2 → 3; {1, 3} → 4; 5 alone
    let p = plan_of(vec![vec![], vec![0], vec![0], vec![2], vec![1, 3], vec![]]);
    assert_eq!(remaining_path(&p), [4, 2, 3, 2, 1, 1]);
    assert_eq!(critical_path(&p, &[1.0; 6]), [0, 2, 3, 4]);
    // By time, not by count: a slow step on the short branch makes it the critical one.
    assert_eq!(critical_path(&p, &[1.0, 60.0, 1.0, 1.0, 1.0, 1.0]), [0, 1, 4]);
    // A slow step alone beats a long chain of quick ones.
    assert_eq!(critical_path(&p, &[1.0, 1.0, 1.0, 1.0, 1.0, 30.0]), [5]);
}

// Machines of several cards (the fake machines of `LOCALFORGE_FAKE_GPUS` in the Python tests).

fn card(index: usize, vendor: &str, gb: f64) -> Card {
    Card { index, vendor: vendor.into(), name: format!("card{index}"), uuid: Some(format!("GPU-{vendor}-{index}")), vram_gb: gb }
}
fn machine(cards: &[f64]) -> Capacity {
    let gpus: Vec<Card> = cards.iter().enumerate().map(|(i, gb)| card(i, "nvidia", *gb)).collect();
    Capacity { cpu: 16, ram_gb: 0.0, vram_gb: cards.iter().copied().fold(0.0, f64::max), gpus }
}
fn on(p: &Placement) -> Vec<usize> {
    p.on.iter().map(|(i, _)| *i).collect()
}

#[test]
fn two_16_gb_steps_run_at_once_on_two_24_gb_cards_each_on_its_own_card() {
    let mut l = Ledger::new(machine(&[24.0, 24.0]));
    let step = gpu(Some(16.0), None);
    let a = l.take(&step);
    assert!(l.fits(&step), "the second card is free");
    let b = l.take(&step);
    assert_eq!((on(&a), on(&b)), (vec![0], vec![1]));
    assert!(!l.fits(&step), "a third waits: 8 GB left on each card is not 16 on one");
    assert_eq!(l.vram_by_card(), [16.0, 16.0]);
    l.give(&step, &a);
    assert_eq!(on(&l.place(&step).unwrap()), [0], "it goes where the room is");
}

#[test]
fn a_step_goes_to_the_card_with_its_model_then_to_the_tightest_fit() {
    let mut l = Ledger::new(machine(&[24.0, 12.0, 48.0]));
    assert_eq!(on(&l.place(&gpu(Some(10.0), None)).unwrap()), [1], "12 GB is the tightest fit for 10 GB");
    assert_eq!(on(&l.place(&gpu(Some(20.0), None)).unwrap()), [0]);
    let llama = gpu(Some(6.0), Some("ollama/llama3.1:8b"));
    let first = l.take(&gpu(Some(40.0), None));
    assert_eq!(on(&first), [2], "48 GB: the only card that holds 40");
    l.warm(2, "ollama/llama3.1:8b");
    let m = l.take(&llama);
    assert_eq!(on(&m), [2], "its server keeps the model on card 2 (48 GB less 40 leaves 8)");
    // The same model joins its loaded copy, even though another card is emptier.
    assert_eq!(on(&l.place(&llama).unwrap()), [2]);
    assert_eq!(l.vram_by_card(), [0.0, 0.0, 46.0]);
    // A model new to every card goes to the roomiest card that keeps no model.
    let qwen = gpu(Some(6.0), Some("ollama/qwen2.5:7b"));
    assert_eq!(on(&l.place(&qwen).unwrap()), [0]);
    l.give(&llama, &m);
    assert_eq!(on(&l.place(&llama).unwrap()), [2], "after its step ends the model stays where it was loaded");
}

#[test]
fn two_models_over_two_instances_each_stay_on_their_card() {
    let mut l = Ledger::new(machine(&[24.0, 24.0]));
    let (a, b) = (gpu(Some(6.0), Some("ollama/a")), gpu(Some(6.0), Some("ollama/b")));
    let mut cards_of = |r: &Reservation| {
        let p = l.take(r);
        l.give(r, &p);
        on(&p)[0]
    };
    // One after another (each ends before the next starts): no card ever loads a second model.
    let seen: Vec<(usize, usize)> = (0..8).map(|_| (cards_of(&a), cards_of(&b))).collect();
    assert!(seen.iter().all(|s| *s == (0, 1)), "{seen:?}");
}

#[test]
fn a_step_of_a_service_with_instances_goes_only_to_their_cards() {
    let l = Ledger::new(machine(&[24.0, 24.0, 24.0, 24.0]));
    let r = Reservation { serving: vec![1, 3], ..gpu(Some(6.0), Some("ollama/a")) };
    assert_eq!(on(&l.place(&r).unwrap()), [1]);
    let mut l = l;
    let p = l.take(&Reservation { serving: vec![1, 3], ..gpu(Some(20.0), Some("ollama/big")) });
    assert_eq!(on(&p), [1]);
    assert_eq!(on(&l.place(&r).unwrap()), [3]);
}

#[test]
fn a_40_gb_step_never_fits_on_two_24_gb_cards_unless_it_may_split() {
    let mut l = Ledger::new(machine(&[24.0, 24.0]));
    let whole = gpu(Some(40.0), None);
    assert!(l.place(&whole).is_none());
    assert_eq!(
        l.never_fits(&whole).unwrap(),
        "needs 40.0 GB of VRAM, the roomiest of the 2 GPUs has 24.0 GB (`resources.split: true` lets it spread over several)"
    );
    let split = Reservation { split: true, ..whole.clone() };
    assert!(l.never_fits(&split).is_none());
    let p = l.take(&split);
    assert_eq!(p.on, [(0, Some(20.0)), (1, Some(20.0))], "each card holds its share");
    assert!(!l.fits(&gpu(Some(8.0), None)), "4 GB is left on each");
    assert!(l.fits(&gpu(Some(4.0), None)));
    l.give(&split, &p);
    assert_eq!(l.vram_by_card(), [0.0, 0.0]);
    let huge = Reservation { split: true, ..gpu(Some(60.0), None) };
    assert_eq!(l.never_fits(&huge).unwrap(), "needs 60.0 GB of VRAM, the 2 GPUs have 48.0 GB together");
    // A step that may split but fits on one card takes one.
    assert_eq!(on(&l.place(&Reservation { split: true, ..gpu(Some(16.0), None) }).unwrap()), [0]);
}

#[test]
fn a_split_step_uses_as_few_cards_as_hold_it_in_proportion_to_their_room() {
    let mut l = Ledger::new(machine(&[8.0, 24.0, 16.0, 12.0]));
    let split = Reservation { split: true, ..gpu(Some(30.0), None) };
    let p = l.take(&split);
    assert_eq!(on(&p), [1, 2], "24 + 16 hold 30: two cards, the roomiest");
    assert_eq!(p.on[0].1, Some(18.0));
    assert_eq!(p.on[1].1, Some(12.0));
}

#[test]
fn a_pinned_step_runs_on_its_card_by_index_or_uuid_and_waits_for_it() {
    let mut l = Ledger::new(machine(&[24.0, 24.0]));
    let pin = |want: &str| Reservation { card: Some(want.into()), ..gpu(Some(16.0), None) };
    assert_eq!(on(&l.place(&pin("1")).unwrap()), [1]);
    assert_eq!(on(&l.place(&pin("gpu-nvidia-1")).unwrap()), [1], "UUIDs are matched without regard to case");
    let p = l.take(&pin("1"));
    assert!(l.place(&pin("1")).is_none(), "its card is busy: it waits, though card 0 is free");
    assert_eq!(on(&l.place(&gpu(Some(16.0), None)).unwrap()), [0]);
    l.give(&pin("1"), &p);
    assert_eq!(
        l.never_fits(&Reservation { card: Some("0".into()), ..gpu(Some(30.0), None) }).unwrap(),
        "needs 30.0 GB of VRAM, GPU 0 (card0) has 24.0 GB"
    );
}

#[test]
fn gpu_steps_of_unknown_size_each_take_a_card_of_their_own() {
    let mut l = Ledger::new(machine(&[12.0, 24.0]));
    let unknown = gpu(None, None);
    let a = l.take(&unknown);
    assert_eq!(on(&a), [1], "the roomiest card");
    let b = l.take(&unknown);
    assert_eq!(on(&b), [0]);
    assert!(!l.fits(&unknown) && !l.fits(&gpu(Some(1.0), None)));
    l.give(&unknown, &a);
    assert!(l.fits(&gpu(Some(20.0), None)));
}

#[test]
fn a_step_that_can_never_fit_still_runs_alone_on_the_roomiest_card() {
    let mut l = Ledger::new(machine(&[12.0, 24.0]));
    let p = l.take(&gpu(Some(40.0), None));
    assert_eq!(on(&p), [1]);
    let cards = p.cards(l.capacity());
    assert_eq!(cards[0].uuid.as_deref(), Some("GPU-nvidia-1"));
}

#[test]
fn programs_see_their_cards_nvidia_by_uuid_amd_through_rocr_and_hip() {
    let all = vec![
        card(0, "nvidia", 24.0),
        Card { uuid: None, ..card(1, "nvidia", 24.0) },
        card(2, "amd", 24.0),
        Card { uuid: None, ..card(3, "amd", 16.0) },
    ];
    assert_eq!(visible_devices(&all[..1], &all), [("CUDA_VISIBLE_DEVICES", "GPU-nvidia-0".to_string())]);
    assert_eq!(visible_devices(&all[1..2], &all), [("CUDA_VISIBLE_DEVICES", "1".to_string())], "no UUID: NVIDIA's own number");
    assert_eq!(
        visible_devices(&all[2..], &all),
        [("ROCR_VISIBLE_DEVICES", "GPU-amd-2,1".to_string()), ("HIP_VISIBLE_DEVICES", "0,1".to_string())],
        "the second AMD card, without a UUID, is AMD's number 1"
    );
    let bare = Card { uuid: Some("6f1c2a8b9d0e4f13".into()), ..card(0, "amd", 24.0) };
    assert_eq!(visible_devices(std::slice::from_ref(&bare), std::slice::from_ref(&bare))[0].1, "GPU-6f1c2a8b9d0e4f13");
}

#[test]
fn one_listed_card_plans_as_the_one_gpu_did() {
    // The one-card machine: the same answers as `cap(8, 12.0)` above.
    let mut l = Ledger::new(machine(&[12.0]));
    let p = l.take(&gpu(Some(5.0), None));
    assert!(l.fits(&gpu(Some(5.0), None)));
    assert!(!l.fits(&gpu(Some(8.0), None)));
    assert_eq!(on(&p), [0]);
    assert_eq!(l.never_fits(&gpu(Some(40.0), None)).unwrap(), "needs 40.0 GB of VRAM, the GPU has 12.0 GB");
}

#[test]
fn a_gpu_the_resources_ask_for_is_declared_and_goes_to_an_executor_as_such() {
    let text = "name: r\nsteps:\n  - {id: a, tool: script, action: run, resources: {vram_gb: 6}, inputs: {command: x}}\n  - {id: b, tool: script, action: run, inputs: {command: x}}\n";
    let (recipe, _) = crate::recipe::parse_str(text, "r.yaml").unwrap();
    let r = super::declared(&recipe, &recipe.steps[0]);
    assert!(r.gpu && r.declared_gpu);
    assert!(!super::declared(&recipe, &recipe.steps[1]).declared_gpu);
    let tool = crate::tools::Registry::native();
    let ctx = crate::tools::ToolCtx { reservation: r, ..crate::tools::stand_in::ctx() };
    let held = crate::tools::call::CallRequest::new(tool.get("script").unwrap().as_ref(), "run", &ctx).reservation;
    assert!(held.declared_gpu, "the executor is told the step declares it");
}
