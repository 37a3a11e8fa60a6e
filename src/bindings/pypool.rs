//! Threads that call Python plugins.
//!
//! Each thread attaches to the interpreter once and then detaches, keeping
//! its thread state: a call re-takes the GIL for its own duration only, and
//! does not pay for creating and destroying a Python thread state each time
//! (tokio's blocking pool would, as its threads are new to Python). A new
//! thread is started whenever none is idle, so a plugin that hangs past its
//! step's timeout never blocks the calls after it.

use pyo3::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock};

type Job = Box<dyn FnOnce() + Send>;

struct Pool {
    tx: Mutex<Sender<Job>>,
    rx: Arc<Mutex<Receiver<Job>>>,
    idle: Arc<AtomicUsize>,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let (tx, rx) = channel();
        Pool { tx: Mutex::new(tx), rx: Arc::new(Mutex::new(rx)), idle: Arc::new(AtomicUsize::new(0)) }
    })
}

fn start_worker(p: &Pool) {
    let (rx, idle) = (p.rx.clone(), p.idle.clone());
    idle.fetch_add(1, Ordering::SeqCst);
    std::thread::Builder::new()
        .name("localforge-python".into())
        .spawn(move || {
            Python::attach(|py| {
                py.detach(|| loop {
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
        })
        .expect("cannot start a Python worker thread");
}

/// Run `f` on a Python worker thread; the result comes back through the future.
pub async fn run<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let p = pool();
    let (tx, rx) = tokio::sync::oneshot::channel();
    if p.idle.load(Ordering::SeqCst) == 0 {
        start_worker(p);
    }
    let job: Job = Box::new(move || {
        let _ = tx.send(f());
    });
    p.tx.lock().ok()?.send(job).ok()?;
    rx.await.ok()
}
