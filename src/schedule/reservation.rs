//! What a step holds while it runs, as the ledger reads it.

/// What a step holds while it runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reservation {
    /// Slots out of `max_parallel`.
    pub cpu: u32,
    pub ram_gb: f64,
    /// Needs a GPU.
    pub gpu: bool,
    /// The step's (or the recipe's) `resources` say so (not only an estimate of its tool's):
    /// where no GPU can be had, it is refused rather than run without.
    pub declared_gpu: bool,
    /// VRAM it holds; `None` on a GPU step: unknown, so it has a card to itself.
    pub vram_gb: Option<f64>,
    /// The model it loads (`service/model`): steps of the same model share its VRAM.
    pub model: Option<String>,
    /// Reads the terminal (an approval gate): one at a time.
    pub terminal: bool,
    /// The card it must run on (`resources.gpu: 1` or a UUID), if the recipe says.
    pub card: Option<String>,
    /// May spread its VRAM over several cards (`resources.split`).
    pub split: bool,
    /// The cards (the machine's numbers) its service has an instance on, when the service
    /// lists instances per card (`services.NAME.instances`); empty: any card.
    pub serving: Vec<usize>,
}

impl Reservation {
    pub fn cpu_only() -> Self {
        Reservation { cpu: 1, ..Default::default() }
    }
    pub(super) fn on_gpu(&self) -> bool {
        self.gpu || self.vram_gb.is_some_and(|v| v > 0.0)
    }
}
