//! A run's events on their way to a reader in another thread (the Python API's
//! `RunHandle`): the engine never waits for the reader, and the reader gets them in
//! batches, so a run of thousands of steps wakes it far less than once per event.

use crate::exec::{Event, Listener};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// The events a run sends to its handle; closed when the run has ended.
pub struct EventStream {
    tx: Arc<Mutex<Option<mpsc::UnboundedSender<Arc<Event>>>>>,
    rx: mpsc::UnboundedReceiver<Arc<Event>>,
}

impl Default for EventStream {
    fn default() -> Self {
        Self::new()
    }
}

impl EventStream {
    pub fn new() -> EventStream {
        let (tx, rx) = mpsc::unbounded_channel();
        EventStream { tx: Arc::new(Mutex::new(Some(tx))), rx }
    }

    pub fn listener(&self) -> Listener {
        let tx = self.tx.clone();
        Arc::new(move |e: &Arc<Event>| {
            if let Some(tx) = tx.lock().expect("event stream").as_ref() {
                let _ = tx.send(e.clone());
            }
        })
    }
}

/// Most events handed to Python at once.
const BATCH: usize = 512;
/// After the first event, how long to gather more before waking Python: fewer,
/// fuller batches cost the engine far less CPU than one wake-up per step. Gathered
/// in slices, so a batch that holds the run's last event goes at once: a short run
/// is not kept waiting for events that cannot come.
const GATHER: Duration = Duration::from_millis(10);
const GATHER_SLICES: u32 = 5;

/// A run's events on their way to Python, with those a cancelled reader had taken.
pub struct Inbox {
    rx: mpsc::UnboundedReceiver<Arc<Event>>,
    /// Taken by a read that was cancelled (an asyncio task): handed out first next time.
    held: Vec<Arc<Event>>,
}

impl EventStream {
    /// The end a reader takes events from, and the sender to close when the run ends.
    pub fn into_parts(self) -> (Closer, Arc<tokio::sync::Mutex<Inbox>>) {
        (Closer(self.tx), Arc::new(tokio::sync::Mutex::new(Inbox { rx: self.rx, held: Vec::new() })))
    }
}

/// Ends the stream: a reader sees every event, then the end.
pub struct Closer(Arc<Mutex<Option<mpsc::UnboundedSender<Arc<Event>>>>>);

impl Closer {
    pub fn close(&self) {
        self.0.lock().expect("event stream").take();
    }
}

/// Take what is in the channel now, up to a batch.
fn drain(rx: &mut mpsc::UnboundedReceiver<Arc<Event>>, held: &mut Vec<Arc<Event>>) {
    while held.len() < BATCH {
        match rx.try_recv() {
            Ok(e) => held.push(e),
            Err(_) => break, // nothing more now, or the stream ended (shown on the next call)
        }
    }
}

/// The next events (waiting up to `wait` for the first, then `GATHER` for more);
/// empty when none came in time, `None` once the run has ended and all were read.
/// Events stay in the inbox until this returns: a read cancelled midway loses none.
pub async fn next_batch(inbox: Arc<tokio::sync::Mutex<Inbox>>, wait: Option<Duration>) -> Option<Vec<Arc<Event>>> {
    let read = async {
        let mut inbox = inbox.lock().await;
        let Inbox { rx, held } = &mut *inbox;
        if held.is_empty() {
            if rx.recv_many(held, BATCH).await == 0 {
                return None;
            }
            // Gather by sleeping, then take what came: waiting on the channel instead would
            // wake this thread once per event, a context switch the engine pays for.
            for _ in 0..GATHER_SLICES {
                if held.len() >= BATCH || matches!(held.last().map(|e| &**e), Some(Event::RunFinished { .. })) {
                    break;
                }
                tokio::time::sleep(GATHER / GATHER_SLICES).await;
                drain(rx, held);
            }
        }
        drain(rx, held);
        Some(std::mem::take(held))
    };
    match wait {
        Some(d) => tokio::time::timeout(d, read).await.unwrap_or_else(|_| Some(Vec::new())),
        None => read.await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_reader_gets_every_event_in_one_batch_then_the_end() {
        let stream = EventStream::new();
        let hear = stream.listener();
        let (closer, inbox) = stream.into_parts();
        let quiet = next_batch(inbox.clone(), Some(Duration::from_millis(20))).await;
        assert_eq!(quiet.map(|b| b.len()), Some(0), "none came in time: an empty batch, not the end");
        for i in 0..3 {
            hear(&Arc::new(Event::Note { message: format!("n{i}") }));
        }
        closer.close();
        hear(&Arc::new(Event::Note { message: "after the end".into() }));
        let batch = next_batch(inbox.clone(), None).await.unwrap();
        let said: Vec<_> = batch
            .iter()
            .map(|e| match &**e {
                Event::Note { message } => message.as_str(),
                _ => "?",
            })
            .collect();
        assert_eq!(said, ["n0", "n1", "n2"]);
        assert!(next_batch(inbox, None).await.is_none(), "then the end");
    }
}
