//! The resource ledger: what running steps hold (CPU slots, RAM, the GPU and its
//! VRAM) and whether another step fits beside them.

use std::collections::HashMap;

/// What a step holds while it runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reservation {
    /// Slots out of `max_parallel`.
    pub cpu: u32,
    pub ram_gb: f64,
    /// Needs the GPU.
    pub gpu: bool,
    /// VRAM it holds; `None` on a GPU step: unknown, so it has the GPU to itself.
    pub vram_gb: Option<f64>,
    /// The model it loads (`service/model`): steps of the same model share its VRAM.
    pub model: Option<String>,
    /// Reads the terminal (an approval gate): one at a time.
    pub terminal: bool,
}

impl Reservation {
    pub fn cpu_only() -> Self {
        Reservation { cpu: 1, ..Default::default() }
    }
    fn on_gpu(&self) -> bool {
        self.gpu || self.vram_gb.is_some_and(|v| v > 0.0)
    }
}

/// What the machine offers.
#[derive(Debug, Clone, PartialEq)]
pub struct Capacity {
    pub cpu: u32,
    /// 0: not limited.
    pub ram_gb: f64,
    /// 0: no GPU known; GPU steps are then only kept from overlapping.
    pub vram_gb: f64,
}

#[derive(Debug)]
pub struct Ledger {
    cap: Capacity,
    cpu: u32,
    ram: f64,
    vram: f64,
    /// Models in VRAM: size and how many running steps use each.
    models: HashMap<String, (f64, usize)>,
    gpu_steps: usize,
    /// Running GPU steps whose VRAM is unknown: each needs the GPU alone.
    exclusive: usize,
    terminal: bool,
}

impl Ledger {
    pub fn new(cap: Capacity) -> Self {
        Ledger { cap, cpu: 0, ram: 0.0, vram: 0.0, models: HashMap::new(), gpu_steps: 0, exclusive: 0, terminal: false }
    }

    pub fn capacity(&self) -> &Capacity {
        &self.cap
    }

    pub fn is_idle(&self) -> bool {
        self.cpu == 0 && self.gpu_steps == 0 && !self.terminal
    }

    fn cpu_of(&self, r: &Reservation) -> u32 {
        r.cpu.min(self.cap.cpu)
    }

    /// VRAM `r` adds: nothing for a model already loaded by a running step.
    fn extra_vram(&self, r: &Reservation) -> f64 {
        match &r.model {
            Some(m) if self.models.contains_key(m) => 0.0,
            _ => r.vram_gb.unwrap_or(0.0),
        }
    }

    pub fn fits(&self, r: &Reservation) -> bool {
        if self.cpu + self.cpu_of(r) > self.cap.cpu || (r.terminal && self.terminal) {
            return false;
        }
        if self.cap.ram_gb > 0.0 && r.ram_gb > 0.0 && self.ram + r.ram_gb > self.cap.ram_gb {
            return false;
        }
        if !r.on_gpu() {
            return true;
        }
        let shares_model = r.model.as_ref().is_some_and(|m| self.models.contains_key(m));
        if self.exclusive > 0 {
            // Someone of unknown size holds the GPU: only the same model may join it.
            return shares_model && self.models.len() == 1;
        }
        if r.vram_gb.is_none() || self.cap.vram_gb <= 0.0 {
            // Unknown size, or no VRAM figure to plan with: the GPU alone (or with its model's other steps).
            return self.gpu_steps == 0
                || (shares_model && self.models.len() == 1 && self.gpu_steps == self.models[r.model.as_ref().unwrap()].1);
        }
        self.vram + self.extra_vram(r) <= self.cap.vram_gb + 1e-9
    }

    /// Why `r` cannot run even on an idle machine, if it cannot.
    pub fn never_fits(&self, r: &Reservation) -> Option<String> {
        if self.cap.vram_gb > 0.0 && r.vram_gb.is_some_and(|v| v > self.cap.vram_gb) {
            return Some(format!("needs {:.1} GB of VRAM, the GPU has {:.1} GB", r.vram_gb.unwrap_or(0.0), self.cap.vram_gb));
        }
        if self.cap.ram_gb > 0.0 && r.ram_gb > self.cap.ram_gb {
            return Some(format!("needs {:.1} GB of RAM, the machine has {:.1} GB", r.ram_gb, self.cap.ram_gb));
        }
        None
    }

    pub fn take(&mut self, r: &Reservation) {
        self.cpu += self.cpu_of(r);
        self.ram += r.ram_gb;
        self.terminal |= r.terminal;
        if !r.on_gpu() {
            return;
        }
        self.gpu_steps += 1;
        if r.vram_gb.is_none() || self.cap.vram_gb <= 0.0 {
            self.exclusive += usize::from(r.vram_gb.is_none());
        }
        let extra = self.extra_vram(r);
        self.vram += extra;
        if let Some(m) = &r.model {
            let e = self.models.entry(m.clone()).or_insert((extra, 0));
            e.1 += 1;
        }
    }

    pub fn give(&mut self, r: &Reservation) {
        self.cpu -= self.cpu_of(r);
        self.ram = (self.ram - r.ram_gb).max(0.0);
        if r.terminal {
            self.terminal = false;
        }
        if !r.on_gpu() {
            return;
        }
        self.gpu_steps -= 1;
        if r.vram_gb.is_none() || self.cap.vram_gb <= 0.0 {
            self.exclusive -= usize::from(r.vram_gb.is_none());
        }
        match &r.model {
            Some(m) => {
                let e = self.models.get_mut(m).expect("model held");
                e.1 -= 1;
                if e.1 == 0 {
                    let (gb, _) = self.models.remove(m).expect("model held");
                    self.vram = (self.vram - gb).max(0.0);
                }
            }
            None => self.vram = (self.vram - r.vram_gb.unwrap_or(0.0)).max(0.0),
        }
    }

    pub fn vram_in_use(&self) -> f64 {
        self.vram
    }
}
