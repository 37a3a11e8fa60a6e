use super::*;
use std::collections::HashSet;

fn cap(cpu: u32, vram: f64) -> Capacity {
    Capacity { cpu, ram_gb: 0.0, vram_gb: vram }
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
    l.take(&gpu(Some(5.0), None));
    assert!(!l.fits(&gpu(Some(5.0), None)));
    l.give(&gpu(Some(5.0), None));
    assert!(l.fits(&gpu(Some(5.0), None)) && l.is_idle());
}

#[test]
fn gpu_steps_of_unknown_size_have_the_gpu_alone_while_cpu_steps_go_on() {
    let mut l = Ledger::new(cap(8, 24.0));
    let unknown = gpu(None, None);
    l.take(&unknown);
    assert!(!l.fits(&gpu(None, None)));
    assert!(!l.fits(&gpu(Some(1.0), None)));
    assert!(l.fits(&Reservation::cpu_only()));
    l.give(&unknown);
    l.take(&gpu(Some(1.0), None));
    assert!(!l.fits(&unknown), "an unknown-size step waits for the GPU to be free");
}

#[test]
fn steps_of_one_model_share_its_vram() {
    let mut l = Ledger::new(cap(8, 8.0));
    let a = gpu(Some(6.0), Some("ollama/llama3.1:8b"));
    l.take(&a);
    assert!(l.fits(&a), "the model is loaded once");
    l.take(&a);
    assert!(!l.fits(&gpu(Some(6.0), Some("ollama/qwen2.5:7b"))), "a second model does not fit beside it");
    l.give(&a);
    assert_eq!(l.vram_in_use(), 6.0);
    l.give(&a);
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
    let mut l = Ledger::new(Capacity { cpu: 8, ram_gb: 16.0, vram_gb: 0.0 });
    l.take(&Reservation { cpu: 1, ram_gb: 10.0, ..Default::default() });
    assert!(!l.fits(&Reservation { cpu: 1, ram_gb: 8.0, ..Default::default() }));
    let approval = Reservation { cpu: 1, terminal: true, ..Default::default() };
    l.take(&approval);
    assert!(!l.fits(&approval));
}

#[test]
fn a_reservation_larger_than_the_machine_is_named() {
    let l = Ledger::new(Capacity { cpu: 4, ram_gb: 16.0, vram_gb: 8.0 });
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
