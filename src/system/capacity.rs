//! What the scheduler plans with, from what preflight found: CPU slots, RAM, each GPU as
//! an account of its own, each step's reservation, and which models are in memory where.

use super::hardware::Hardware;
use super::preflight::{Preflight, StepNeed};
use crate::config::instances::{instances, service_of, Instance};
use crate::schedule::{Capacity, Card, Reservation, Resources};
use std::collections::HashMap;

impl Preflight {
    /// What the scheduler plans with: `max_parallel` CPU slots, RAM available, each card's
    /// free VRAM (or `resources.vram_gb` of the config: one GPU LocalForge cannot see) plus
    /// what loaded models would give back, and each step's reservation. A model an instance
    /// on one card has loaded counts on that card; one a service over every card has
    /// loaded (a single Ollama) may be on any, so each card counts on it.
    pub fn resources(&self, config: &crate::config::Config) -> Resources {
        let hw = self.machine.hardware.as_ref();
        let total = |list: &mut dyn Iterator<Item = f64>| list.fold(0.0, |a, b| a + b); // not sum(): an empty f64 sum is -0.0
        let reclaimable = total(&mut self.machine.services.values().flat_map(|s| &s.loaded).map(|l| l.vram_gb));
        let vram = config.vram_override().or_else(|| hw.and_then(Hardware::best_free_vram).map(|f| f + reclaimable)).unwrap_or(0.0);
        let gpus = match (config.vram_override(), hw) {
            (None, Some(h)) => cards(h, reclaimable),
            _ => Vec::new(),
        };
        // Instances on cards of their own: their loaded models, and the cards each service serves from.
        let placed: Vec<(String, Instance)> = self
            .machine
            .services
            .keys()
            .filter_map(|name| {
                let service = service_of(name);
                let inst = instances(service, &config.service(service)).into_iter().find(|i| &i.name == name)?;
                Some((service.to_string(), inst))
            })
            .filter(|(_, i)| !i.gpus.is_empty())
            .collect();
        let on_cards =
            |inst: &Instance| -> Vec<usize> { gpus.iter().filter(|c| inst.gpus.iter().any(|w| c.is(w))).map(|c| c.index).collect() };
        let spread = total(&mut placed.iter().flat_map(|(_, i)| &self.machine.services[&i.name].loaded).map(|l| l.vram_gb));
        let mut warm = Vec::new();
        let mut held: HashMap<usize, f64> = HashMap::new();
        let mut serving: HashMap<String, Vec<usize>> = HashMap::new();
        for (service, inst) in &placed {
            let here = on_cards(inst);
            serving.entry(service.clone()).or_default().extend(&here);
            for l in &self.machine.services[&inst.name].loaded {
                for &c in &here {
                    warm.push((c, format!("{service}/{}", l.name)));
                    *held.entry(c).or_default() += l.vram_gb / here.len() as f64;
                }
            }
        }
        // A card counts on what the services over every card would unload, and on its own instances'.
        let gpus: Vec<Card> = gpus
            .into_iter()
            .map(|mut c| {
                let own = held.get(&c.index).copied().unwrap_or(0.0);
                c.vram_gb = (c.vram_gb - spread + own).max(0.0);
                c
            })
            .collect();
        let capacity = Capacity { cpu: config.max_parallel() as u32, ram_gb: hw.map_or(0.0, |h| h.ram_available_gb), vram_gb: vram, gpus };
        let key = |n: &StepNeed| n.model.as_ref().map(|m| format!("{}/{m}", n.service.as_deref().unwrap_or("")));
        let per_step = self
            .needs
            .iter()
            .filter(|n| !n.id.contains('.'))
            .map(|n| {
                let r = Reservation {
                    cpu: n.cpu,
                    ram_gb: n.ram_gb.unwrap_or(0.0),
                    gpu: n.gpu,
                    declared_gpu: n.declared_gpu(),
                    vram_gb: n.vram_gb,
                    model: key(n),
                    terminal: false,
                    card: n.card.clone(),
                    split: n.split,
                    serving: n.service.as_ref().and_then(|s| serving.get(s)).cloned().unwrap_or_default(),
                };
                (n.id.clone(), r)
            })
            .collect();
        let loaded = self
            .machine
            .services
            .iter()
            .flat_map(|(name, s)| s.loaded.iter().map(move |l| format!("{}/{}", service_of(name), l.name)))
            .collect();
        Resources { capacity, per_step, loaded, warm }
    }
}

/// The machine's GPUs as the ledger's cards: each with its free VRAM, plus `reclaimable`
/// (what loaded models would give back; on a machine of several cards, no more than the
/// card holds).
fn cards(hw: &Hardware, reclaimable: f64) -> Vec<Card> {
    let several = hw.gpus.len() > 1;
    hw.gpus
        .iter()
        .map(|g| Card {
            index: g.index,
            vendor: g.vendor.clone(),
            name: g.name.clone(),
            uuid: g.uuid.clone(),
            vram_gb: match several {
                true => (g.vram_free_gb + reclaimable).min(g.vram_total_gb.max(g.vram_free_gb)),
                false => g.vram_free_gb + reclaimable,
            },
        })
        .collect()
}
