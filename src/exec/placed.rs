//! What the scheduler gave the step being run: its reservation and its GPUs. They are set
//! around the step's whole future, so its attempts, its refinement steps and its
//! `batch.foreach` items (which run inside the step's reservation) all see the same cards
//! without passing them down.

use crate::schedule::{visible_devices, Capacity, Card, Placement, Reservation};
use std::future::Future;

/// A step's reservation, its cards and what its programs are told of them.
#[derive(Debug, Clone, Default)]
pub(super) struct Given {
    pub cards: Vec<Card>,
    pub env: Vec<(&'static str, String)>,
    /// What the step holds (`None` outside a step).
    pub reservation: Option<Reservation>,
}

impl Given {
    /// What `placement` gives on a machine of `capacity`. The variables are set only where
    /// there is a choice (two cards or more): on one card a program sees what it always did.
    pub fn of(placement: &Placement, capacity: &Capacity, reservation: Reservation) -> Given {
        let cards = placement.cards(capacity);
        let env = match capacity.gpus.len() > 1 {
            true => visible_devices(&cards, &capacity.gpus),
            false => Vec::new(),
        };
        Given { cards, env, reservation: Some(reservation) }
    }
}

tokio::task_local! {
    static GIVEN: Given;
}

/// Run `work` with `given` as its step's cards.
pub(super) fn within<F: Future>(given: Given, work: F) -> impl Future<Output = F::Output> {
    GIVEN.scope(given, work)
}

/// The cards of the step being run (none outside a step, or for a step without GPU work).
pub(super) fn current() -> Given {
    GIVEN.try_with(Given::clone).unwrap_or_default()
}
