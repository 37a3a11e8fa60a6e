//! One GPU's account in the ledger: the VRAM its running steps hold, the models in it,
//! and whether a step of unknown size has it to itself.

use super::reservation::Reservation;
use std::collections::HashMap;

#[derive(Debug, Default)]
pub(super) struct Account {
    /// VRAM to plan with; 0: no figure (GPU steps then only keep from overlapping).
    pub cap: f64,
    pub vram: f64,
    /// Models in its VRAM: size and how many running steps use each.
    pub models: HashMap<String, (f64, usize)>,
    pub gpu_steps: usize,
    /// Running steps whose VRAM is unknown: each needs the card alone.
    pub exclusive: usize,
    /// Models its server has loaded (before the run, or for a step that ran here): kept
    /// there after their steps end, so another step of one goes here first.
    pub warm: std::collections::HashSet<String>,
}

impl Account {
    pub fn new(cap: f64) -> Account {
        Account { cap, ..Default::default() }
    }

    pub fn is_warm(&self, model: Option<&str>) -> bool {
        model.is_some_and(|m| self.warm.contains(m))
    }

    pub fn holds(&self, model: Option<&str>) -> bool {
        model.is_some_and(|m| self.models.contains_key(m))
    }

    pub fn free(&self) -> f64 {
        (self.cap - self.vram).max(0.0)
    }

    /// VRAM `gb` of `r` adds here: nothing for a model a running step has loaded.
    fn extra(&self, r: &Reservation, gb: Option<f64>) -> f64 {
        match self.holds(r.model.as_deref()) {
            true => 0.0,
            false => gb.unwrap_or(0.0),
        }
    }

    /// Whether `r`, holding `gb` here (`None`: unknown), fits beside the running steps.
    pub fn fits(&self, r: &Reservation, gb: Option<f64>) -> bool {
        let shares_model = self.holds(r.model.as_deref());
        if self.exclusive > 0 {
            // Someone of unknown size holds the card: only the same model may join it.
            return shares_model && self.models.len() == 1;
        }
        if gb.is_none() || self.cap <= 0.0 {
            // Unknown size, or no VRAM figure to plan with: the card alone (or with its model's other steps).
            return self.gpu_steps == 0
                || (shares_model && self.models.len() == 1 && self.gpu_steps == self.models[r.model.as_deref().unwrap_or_default()].1);
        }
        self.vram + self.extra(r, gb) <= self.cap + 1e-9
    }

    pub fn take(&mut self, r: &Reservation, gb: Option<f64>) {
        self.gpu_steps += 1;
        if gb.is_none() || self.cap <= 0.0 {
            self.exclusive += usize::from(gb.is_none());
        }
        let extra = self.extra(r, gb);
        self.vram += extra;
        if let Some(m) = &r.model {
            self.models.entry(m.clone()).or_insert((extra, 0)).1 += 1;
            self.warm.insert(m.clone());
        }
    }

    pub fn give(&mut self, r: &Reservation, gb: Option<f64>) {
        self.gpu_steps -= 1;
        if gb.is_none() || self.cap <= 0.0 {
            self.exclusive -= usize::from(gb.is_none());
        }
        match &r.model {
            Some(m) => {
                let e = self.models.get_mut(m).expect("model held");
                e.1 -= 1;
                if e.1 == 0 {
                    let (held, _) = self.models.remove(m).expect("model held");
                    self.vram = (self.vram - held).max(0.0);
                }
            }
            None => self.vram = (self.vram - gb.unwrap_or(0.0)).max(0.0),
        }
    }
}
