//! Test helpers for tools: a tool context, and a stand-in HTTP server on
//! 127.0.0.1. Services that cannot
//! run here (no model weights) are imitated with their documented request and
//! response shapes. Bodies are written after `delay_ms`, chunk by chunk, and
//! the connection is closed to end the answer.

use super::ToolCtx;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the stand-in sends back.
pub struct Reply {
    pub status: u16,
    /// Written one after another with `gap_ms` between them (streaming).
    pub chunks: Vec<String>,
    pub delay_ms: u64,
    pub gap_ms: u64,
}

pub fn reply(status: u16, body: &str) -> Reply {
    Reply { status, chunks: vec![body.to_string()], delay_ms: 0, gap_ms: 0 }
}

pub type Handler = Arc<dyn Fn(&str, &Value) -> Reply + Send + Sync>;

/// Serve `handler` on a free port; the bodies it received are logged.
pub async fn stand_in(handler: Handler) -> (String, Arc<Mutex<Vec<(String, Value)>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let (handler, seen) = (handler.clone(), seen.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head_end, content_len) = loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..p]).to_lowercase();
                        let len =
                            head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
                        break (p + 4, len);
                    }
                };
                while buf.len() < head_end + content_len {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                let body: Value = serde_json::from_slice(&buf[head_end..]).unwrap_or(Value::Null);
                seen.lock().unwrap().push((path.clone(), body.clone()));
                let r = handler(&path, &body);
                tokio::time::sleep(Duration::from_millis(r.delay_ms)).await;
                let status_line = format!("HTTP/1.1 {} X\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n", r.status);
                let _ = sock.write_all(status_line.as_bytes()).await;
                for c in r.chunks {
                    let _ = sock.write_all(c.as_bytes()).await;
                    let _ = sock.flush().await;
                    tokio::time::sleep(Duration::from_millis(r.gap_ms)).await;
                }
            });
        }
    });
    (format!("http://{addr}"), log)
}

/// A tool context for calling a tool directly in a test.
pub fn ctx() -> ToolCtx {
    ctx_in(&std::env::temp_dir())
}

/// A tool context whose run and temp folders are `dir`.
pub fn ctx_in(dir: &std::path::Path) -> ToolCtx {
    ToolCtx {
        run_id: "r".into(),
        run_dir: dir.into(),
        temp_dir: dir.into(),
        step_id: "s".into(),
        attempt: 0,
        cancel: Default::default(),
        log: Arc::new(|_, _| {}),
        progress: Arc::new(|_, _, _| {}),
        run: None,
        step: Value::Null,
        llm_calls: None,
        reservation: Default::default(),
        cards: Vec::new(),
        gpu_env: Vec::new(),
    }
}
