//! Long-lived threads for blocking calls into an embedded interpreter (Python plugins,
//! Python executors).
//!
//! A thread is started whenever none is idle, so a call that hangs past its step's
//! timeout never blocks the calls after it. Each thread runs its whole loop inside the
//! pool's `enter` (the binding's: attach to the interpreter once, then release it), so a
//! call does not pay for creating and destroying the interpreter's thread state each
//! time, as it would on tokio's blocking pool, whose threads are new to it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// Runs a worker's whole loop (the argument) in the state its calls need.
pub type Enter = fn(&mut (dyn FnMut() + Send));

/// Worker threads named `name`, each living inside `enter`.
pub struct Workers {
    name: &'static str,
    enter: Enter,
    tx: Mutex<Sender<Job>>,
    rx: Arc<Mutex<Receiver<Job>>>,
    idle: Arc<AtomicUsize>,
}

impl Workers {
    pub fn new(name: &'static str, enter: Enter) -> Workers {
        let (tx, rx) = channel();
        Workers { name, enter, tx: Mutex::new(tx), rx: Arc::new(Mutex::new(rx)), idle: Arc::new(AtomicUsize::new(0)) }
    }

    fn start_worker(&self) {
        let (rx, idle, enter) = (self.rx.clone(), self.idle.clone(), self.enter);
        idle.fetch_add(1, Ordering::SeqCst);
        std::thread::Builder::new()
            .name(self.name.into())
            .spawn(move || {
                enter(&mut || loop {
                    let job = match rx.lock() {
                        Ok(r) => r.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    idle.fetch_sub(1, Ordering::SeqCst);
                    job();
                    idle.fetch_add(1, Ordering::SeqCst);
                })
            })
            .expect("cannot start a worker thread");
    }

    /// Run `f` on a worker thread; its result comes back through the future (`None`: the
    /// thread died without one).
    pub async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.idle.load(Ordering::SeqCst) == 0 {
            self.start_worker();
        }
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        self.tx.lock().ok()?.send(job).ok()?;
        rx.await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::Workers;
    use std::time::Duration;

    #[tokio::test]
    async fn a_hung_call_does_not_block_the_next_and_each_worker_lives_inside_enter() {
        thread_local!(static ENTERED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
        let workers: &'static Workers = Box::leak(Box::new(Workers::new("test-worker", |body| {
            ENTERED.with(|e| e.set(true));
            body()
        })));
        let hung = tokio::spawn(workers.run(|| std::thread::sleep(Duration::from_secs(2))));
        tokio::time::sleep(Duration::from_millis(50)).await;
        let next = tokio::time::timeout(Duration::from_secs(1), workers.run(|| ENTERED.with(|e| e.get()))).await;
        assert_eq!(next.expect("not blocked by the hung call"), Some(true));
        hung.abort();
    }
}
