//! Scheduling: which ready step runs next and whether it fits. The executor
//! (`exec::runner`) owns the loop; this holds the pure parts: the resource
//! ledger, each step's reservation, and the dispatch order.

mod account;
mod card;
mod ledger;
mod reservation;

pub use card::{visible_devices, Card};
pub use ledger::{Capacity, Ledger, Placement};
pub use reservation::Reservation;

use crate::plan::Plan;
use crate::recipe::{Recipe, Step, StepKind};
use std::collections::{HashMap, HashSet};

/// What the scheduler plans with.
#[derive(Debug, Clone)]
pub struct Resources {
    pub capacity: Capacity,
    /// Reservations worked out before the run (tool defaults, model profiles), by step id.
    /// A step without one holds what its `resources` declare, else one CPU slot.
    pub per_step: HashMap<String, Reservation>,
    /// Models already in memory (`service/model`, from Ollama's `/api/ps`).
    pub loaded: HashSet<String>,
    /// Where some of them are: `(card, service/model)` for the instances that serve from
    /// one card (`services.NAME.instances`); a step of that model goes there first.
    pub warm: Vec<(usize, String)>,
}

impl Default for Resources {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(1);
        Resources {
            capacity: Capacity { cpu: cores, ..Capacity::default() },
            per_step: HashMap::new(),
            loaded: HashSet::new(),
            warm: Vec::new(),
        }
    }
}

impl Resources {
    /// The reservation of a step: worked out before the run, else declared, else one CPU slot.
    pub fn of(&self, recipe: &Recipe, step: &Step) -> Reservation {
        if let Some(r) = self.per_step.get(&step.id) {
            return r.clone();
        }
        declared(recipe, step)
    }
}

/// A step's (or the recipe's) `resources`, as a reservation.
pub fn declared(recipe: &Recipe, step: &Step) -> Reservation {
    let d = step.resources.clone().or_else(|| recipe.resources.clone()).unwrap_or_default();
    Reservation {
        cpu: d.cpu.unwrap_or(1),
        ram_gb: d.ram_gb.unwrap_or(0.0),
        gpu: d.gpu.unwrap_or(false) || d.vram_gb.is_some_and(|v| v > 0.0),
        declared_gpu: d.gpu.unwrap_or(false) || d.vram_gb.is_some_and(|v| v > 0.0),
        vram_gb: d.vram_gb,
        model: None,
        terminal: matches!(step.kind, StepKind::Approval { .. }),
        card: d.card,
        split: d.split.unwrap_or(false),
        serving: Vec::new(),
    }
}

/// For each step, the number of steps on the longest path from it to the end (itself included).
pub fn remaining_path(plan: &Plan) -> Vec<u32> {
    let dependents = plan.dependents();
    let mut len = vec![1u32; plan.deps.len()];
    for &i in plan.order.iter().rev() {
        len[i] = 1 + dependents[i].iter().map(|&j| len[j]).max().unwrap_or(0);
    }
    len
}

/// The longest chain of steps by estimated duration (`seconds[i]` for step `i`), first to last.
pub fn critical_path(plan: &Plan, seconds: &[f64]) -> Vec<usize> {
    let dependents = plan.dependents();
    // Longest time from each step to the end, itself included.
    let mut rest = vec![0.0f64; plan.deps.len()];
    for &i in plan.order.iter().rev() {
        rest[i] = seconds[i] + dependents[i].iter().map(|&j| rest[j]).fold(0.0, f64::max);
    }
    let longest = |a: &usize, b: &usize| rest[*a].total_cmp(&rest[*b]).then(b.cmp(a));
    let Some(mut cur) = plan.order.iter().copied().filter(|&i| plan.deps[i].is_empty()).max_by(longest) else {
        return Vec::new();
    };
    let mut path = vec![cur];
    while let Some(next) = dependents[cur].iter().copied().max_by(longest) {
        path.push(next);
        cur = next;
    }
    path
}

/// How long a step is expected to take, in seconds: the median of its recent completed
/// attempts in this recipe's history when there are any (`past`), else a rough figure
/// for its tool (model work is slow, file work fast). Used to find the critical path.
pub fn estimated_seconds(step: &Step, past: Option<f64>) -> f64 {
    if let Some(s) = past {
        return s;
    }
    match step.tool_action().map(|(tool, _)| tool) {
        None => 0.0, // approval gates wait for a person, not for work
        Some("file_ops") => 0.1,
        Some("script") | Some("validator") | Some("image_processor") => 2.0,
        Some("ffmpeg") => 5.0,
        Some("ollama") | Some("sd_client") | Some("blender") => 30.0,
        Some("comfyui") | Some("musicgen") | Some("acestep") => 60.0,
        Some("batch") => 20.0,
        Some(_) => 5.0, // YAML tools and plugins: a command-line program
    }
}

/// Dispatch order among ready steps: a step whose model is already loaded first,
/// then steps without a model, then ones that would load a model; ties go to the
/// longest remaining path, then file order.
pub fn priority(model: Option<&str>, loaded: &HashSet<String>, remaining: u32, index: usize) -> (u8, u32, std::cmp::Reverse<usize>) {
    let affinity = match model {
        Some(m) if loaded.contains(m) => 2,
        None => 1,
        Some(_) => 0,
    };
    (affinity, remaining, std::cmp::Reverse(index))
}

#[cfg(test)]
mod tests;
