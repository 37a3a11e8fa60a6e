//! The resource ledger: what running steps hold (CPU slots, RAM, and each GPU's VRAM)
//! and whether another step fits beside them. A GPU step is placed on one card — where
//! its model is already loaded, else the one it fits best — or, when it says it can
//! split (`resources.split`), on as few cards as hold it together.

use super::account::Account;
use super::card::Card;
use super::reservation::Reservation;

/// What the machine offers.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Capacity {
    pub cpu: u32,
    /// 0: not limited.
    pub ram_gb: f64,
    /// With no `gpus` listed: one GPU of this much VRAM (0: no GPU known; GPU steps are
    /// then only kept from overlapping). With `gpus`, the roomiest card's.
    pub vram_gb: f64,
    /// Each card, with its own account; empty: one GPU of `vram_gb`, or none.
    pub gpus: Vec<Card>,
}

/// Where a step's GPU work went: `(card, VRAM held there)`, positions in `Capacity::gpus`
/// (or 0, the one GPU of unknown identity). Empty for a step without GPU work.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Placement {
    pub on: Vec<(usize, Option<f64>)>,
}

impl Placement {
    /// The cards of `capacity` it names (none when the GPU is not listed by card).
    pub fn cards(&self, capacity: &Capacity) -> Vec<Card> {
        self.on.iter().filter_map(|(i, _)| capacity.gpus.get(*i).cloned()).collect()
    }
}

#[derive(Debug)]
pub struct Ledger {
    cap: Capacity,
    cpu: u32,
    ram: f64,
    accounts: Vec<Account>,
    terminal: bool,
}

impl Ledger {
    pub fn new(cap: Capacity) -> Self {
        let accounts = match cap.gpus.is_empty() {
            true => vec![Account::new(cap.vram_gb)],
            false => cap.gpus.iter().map(|g| Account::new(g.vram_gb)).collect(),
        };
        Ledger { cap, cpu: 0, ram: 0.0, accounts, terminal: false }
    }

    pub fn capacity(&self) -> &Capacity {
        &self.cap
    }

    pub fn is_idle(&self) -> bool {
        self.cpu == 0 && self.accounts.iter().all(|a| a.gpu_steps == 0) && !self.terminal
    }

    fn cpu_of(&self, r: &Reservation) -> u32 {
        r.cpu.min(self.cap.cpu)
    }

    /// The accounts `r` may use: its pinned card, else the cards its service serves from,
    /// else all (a card no account names is preflight's to report; here the step goes
    /// where it fits).
    fn candidates(&self, r: &Reservation) -> Vec<usize> {
        let cards = self.cap.gpus.iter().enumerate();
        let chosen: Vec<usize> = match (&r.card, r.serving.is_empty()) {
            (Some(want), _) => cards.filter(|(_, c)| c.is(want)).map(|(i, _)| i).collect(),
            (None, false) => cards.filter(|(_, c)| r.serving.contains(&c.index)).map(|(i, _)| i).collect(),
            (None, true) => Vec::new(),
        };
        match chosen.is_empty() {
            true => (0..self.accounts.len()).collect(),
            false => chosen,
        }
    }

    /// Card `index` (the machine's number) has `model` loaded before the run.
    pub fn warm(&mut self, index: usize, model: &str) {
        if let Some(i) = self.cap.gpus.iter().position(|c| c.index == index) {
            self.accounts[i].warm.insert(model.to_string());
        }
    }

    pub fn fits(&self, r: &Reservation) -> bool {
        self.place(r).is_some()
    }

    /// Where `r` would go beside the running steps, or `None` when it must wait.
    pub fn place(&self, r: &Reservation) -> Option<Placement> {
        if self.cpu + self.cpu_of(r) > self.cap.cpu || (r.terminal && self.terminal) {
            return None;
        }
        if self.cap.ram_gb > 0.0 && r.ram_gb > 0.0 && self.ram + r.ram_gb > self.cap.ram_gb {
            return None;
        }
        if !r.on_gpu() {
            return Some(Placement::default());
        }
        let cands = self.candidates(r);
        let one = |i: usize| Placement { on: vec![(i, r.vram_gb)] };
        let model = r.model.as_deref();
        let fits = |i: &usize| self.accounts[*i].fits(r, r.vram_gb);
        // Where a running step has its model loaded first, then where its server keeps it.
        if let Some(i) = cands.iter().copied().filter(fits).find(|&i| self.accounts[i].holds(model)) {
            return Some(one(i));
        }
        if let Some(i) = cands.iter().copied().filter(fits).find(|&i| self.accounts[i].is_warm(model)) {
            return Some(one(i));
        }
        // A model new to every card goes to a card with no model kept, so one server does not
        // swap two models while another sits idle.
        if model.is_some() && self.cap.gpus.len() > 1 {
            let fresh = cands.iter().copied().filter(fits).filter(|&i| self.accounts[i].warm.is_empty());
            if let Some(i) = fresh.max_by(|&a, &b| self.accounts[a].free().total_cmp(&self.accounts[b].free()).then(b.cmp(&a))) {
                return Some(one(i));
            }
        }
        let fitting = cands.iter().copied().filter(fits);
        // Then the tightest fit (the roomiest card for a step of unknown size), lowest index on ties.
        let best = match r.vram_gb {
            Some(gb) => fitting.min_by(|&a, &b| (self.accounts[a].free() - gb).total_cmp(&(self.accounts[b].free() - gb)).then(a.cmp(&b))),
            None => fitting.max_by(|&a, &b| self.accounts[a].cap.total_cmp(&self.accounts[b].cap).then(b.cmp(&a))),
        };
        if let Some(i) = best {
            return Some(one(i));
        }
        match r.split {
            true => self.split(r, &cands),
            false => None,
        }
    }

    /// `r` over as few cards as hold it together, roomiest first, each holding its share
    /// in proportion to what it has free.
    fn split(&self, r: &Reservation, cands: &[usize]) -> Option<Placement> {
        let need = r.vram_gb?;
        let mut open: Vec<usize> =
            cands.iter().copied().filter(|&i| self.accounts[i].exclusive == 0 && self.accounts[i].cap > 0.0).collect();
        open.sort_by(|&a, &b| self.accounts[b].free().total_cmp(&self.accounts[a].free()).then(a.cmp(&b)));
        let mut chosen = Vec::new();
        let mut total = 0.0;
        for i in open {
            if total + 1e-9 >= need {
                break;
            }
            let free = self.accounts[i].free();
            if free > 0.0 {
                chosen.push((i, free));
                total += free;
            }
        }
        if total + 1e-9 < need || chosen.len() < 2 {
            return None;
        }
        Some(Placement { on: chosen.into_iter().map(|(i, free)| (i, Some(need * free / total))).collect() })
    }

    /// Why `r` cannot run even on an idle machine, if it cannot.
    pub fn never_fits(&self, r: &Reservation) -> Option<String> {
        if let Some(gb) = r.vram_gb.filter(|_| self.accounts.iter().any(|a| a.cap > 0.0)) {
            let cands = self.candidates(r);
            let room = |i: &usize| self.accounts[*i].cap;
            let biggest = cands.iter().map(room).fold(0.0, f64::max);
            let together: f64 = cands.iter().map(room).fold(0.0, |a, b| a + b);
            let several = self.cap.gpus.len() > 1;
            let pinned = r.card.is_some() && several && cands.len() == 1;
            if pinned && gb > biggest {
                let card = &self.cap.gpus[cands[0]];
                return Some(format!("needs {gb:.1} GB of VRAM, {} has {biggest:.1} GB", card.label()));
            }
            if r.split && several && gb > together {
                return Some(format!("needs {gb:.1} GB of VRAM, the {} GPUs have {together:.1} GB together", cands.len()));
            }
            if !(r.split && several) && gb > biggest {
                return Some(match several {
                    true => format!(
                        "needs {gb:.1} GB of VRAM, the roomiest of the {} GPUs has {biggest:.1} GB (`resources.split: true` lets it \
                         spread over several)",
                        self.cap.gpus.len()
                    ),
                    false => format!("needs {gb:.1} GB of VRAM, the GPU has {biggest:.1} GB"),
                });
            }
        }
        if self.cap.ram_gb > 0.0 && r.ram_gb > self.cap.ram_gb {
            return Some(format!("needs {:.1} GB of RAM, the machine has {:.1} GB", r.ram_gb, self.cap.ram_gb));
        }
        None
    }

    /// Hold what `r` needs and say where it went. A step that does not fit (one run alone
    /// because it can never fit) goes to its card, or the roomiest (all of them, if it splits).
    pub fn take(&mut self, r: &Reservation) -> Placement {
        let p = self.place(r).unwrap_or_else(|| self.forced(r));
        self.cpu += self.cpu_of(r);
        self.ram += r.ram_gb;
        self.terminal |= r.terminal;
        for (i, gb) in &p.on {
            self.accounts[*i].take(r, *gb);
        }
        p
    }

    fn forced(&self, r: &Reservation) -> Placement {
        if !r.on_gpu() {
            return Placement::default();
        }
        let cands = self.candidates(r);
        if r.split && cands.len() > 1 {
            let share = r.vram_gb.map(|gb| gb / cands.len() as f64);
            return Placement { on: cands.into_iter().map(|i| (i, share)).collect() };
        }
        let roomiest = cands.into_iter().max_by(|&a, &b| self.accounts[a].free().total_cmp(&self.accounts[b].free()).then(b.cmp(&a)));
        Placement { on: roomiest.map(|i| (i, r.vram_gb)).into_iter().collect() }
    }

    pub fn give(&mut self, r: &Reservation, p: &Placement) {
        self.cpu -= self.cpu_of(r);
        self.ram = (self.ram - r.ram_gb).max(0.0);
        if r.terminal {
            self.terminal = false;
        }
        for (i, gb) in &p.on {
            self.accounts[*i].give(r, *gb);
        }
    }

    pub fn vram_in_use(&self) -> f64 {
        self.accounts.iter().map(|a| a.vram).fold(0.0, |a, b| a + b)
    }

    /// VRAM held on each card (by position).
    pub fn vram_by_card(&self) -> Vec<f64> {
        self.accounts.iter().map(|a| a.vram).collect()
    }
}
