//! Services probed over HTTP, all at once, each with a short deadline:
//! Ollama, OpenAI-compatible servers, SD WebUI, ComfyUI — hosts from the config.

use super::hardware::{round2, GB};
use crate::config::Config;
use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;
use std::time::Duration;

/// How long a service may take to answer a probe.
pub const PROBE_DEADLINE: Duration = Duration::from_millis(800);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceKind {
    Ollama,
    Openai,
    Sd,
    Comfyui,
}

/// A model a service holds in memory now (Ollama's `/api/ps`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Loaded {
    pub name: String,
    pub vram_gb: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Service {
    pub kind: ServiceKind,
    /// Its name for people (0.x's `label`): "Ollama", "SD WebUI", ...
    pub label: &'static str,
    pub running: bool,
    pub url: String,
    pub version: Option<String>,
    pub models: Vec<String>,
    pub loaded: Vec<Loaded>,
    pub error: Option<String>,
    /// What to do when it is not running.
    pub hint: Option<String>,
    /// Set in the user's configuration (file or `LOCALFORGE_*`), not only a built-in default:
    /// `health` fails when such a service is down.
    pub configured: bool,
    /// Installed model sizes (GB) where the service says (Ollama): a fallback estimate.
    #[serde(skip)]
    pub sizes: IndexMap<String, f64>,
}

impl Service {
    fn new(kind: ServiceKind, url: &str) -> Self {
        let label = match kind {
            ServiceKind::Ollama => "Ollama",
            ServiceKind::Openai => "OpenAI-compatible server",
            ServiceKind::Sd => "SD WebUI",
            ServiceKind::Comfyui => "ComfyUI",
        };
        Service {
            kind,
            label,
            running: false,
            url: url.to_string(),
            version: None,
            models: Vec::new(),
            loaded: Vec::new(),
            error: None,
            hint: None,
            configured: false,
            sizes: IndexMap::new(),
        }
    }
    fn down(mut self, error: String) -> Self {
        self.hint = Some(start_hint(self.kind, &self.url));
        self.error = Some(error);
        self
    }
}

pub fn start_hint(kind: ServiceKind, url: &str) -> String {
    let local = ["://127.0.0.1", "://localhost", "://[::1]"].iter().any(|h| url.contains(h));
    let path = std::env::var_os("PATH").unwrap_or_default();
    match kind {
        // Not installed here: starting it is not the first thing to do.
        ServiceKind::Ollama if local && crate::tools::process::which_in("ollama", &path).is_none() => format!(
            "Ollama is not installed here: install it (https://ollama.com/download; on Linux `curl -fsSL https://ollama.com/install.sh | sh`), \
             then `ollama serve` so it listens at {url}; or set `services.ollama.host` to a machine that runs it"
        ),
        ServiceKind::Ollama => format!("start Ollama (`ollama serve`) so it listens at {url}, or set `services.ollama.host`"),
        ServiceKind::Openai => format!("start the OpenAI-compatible server at {url}, or fix its `host` in the config"),
        ServiceKind::Sd => format!("start the SD WebUI with --api (`./webui.sh --api`) at {url}, or set `services.sd.host`"),
        ServiceKind::Comfyui => format!("start ComfyUI (`python main.py --port 8188`) at {url}, or set `services.comfyui.host`"),
    }
}

/// The services in the config that can be probed: `(name, kind, url)`, one per instance
/// of a service that lists several (`ollama#0`, `ollama#1`: `config::instances`).
pub fn configured(config: &Config) -> Vec<(String, ServiceKind, String)> {
    let Some(services) = config.get("services").and_then(Value::as_object) else { return Vec::new() };
    services
        .iter()
        .filter_map(|(name, s)| {
            let kind = match (name.as_str(), s.get("api").and_then(Value::as_str)) {
                (_, Some("openai")) => ServiceKind::Openai,
                ("ollama", _) | (_, Some("ollama")) => ServiceKind::Ollama,
                ("sd", _) => ServiceKind::Sd,
                ("comfyui", _) => ServiceKind::Comfyui,
                _ => return None,
            };
            let all = crate::config::instances::instances(name, s.as_object()?);
            Some(all.into_iter().map(move |i| (i.name, kind, i.host)))
        })
        .flatten()
        .collect()
}

/// Probe every configured service concurrently; each gets `deadline` in all.
pub async fn probe_all(config: &Config, deadline: Duration) -> IndexMap<String, Service> {
    let mut found = probe_list(configured(config), deadline).await;
    for (name, svc) in found.iter_mut() {
        svc.configured = config.user_set(&format!("services.{}", crate::config::instances::service_of(name)));
    }
    found
}

pub async fn probe_list(list: Vec<(String, ServiceKind, String)>, deadline: Duration) -> IndexMap<String, Service> {
    let client = match reqwest::Client::builder().connect_timeout(deadline).timeout(deadline).no_proxy().build() {
        Ok(c) => c,
        Err(e) => return list.into_iter().map(|(n, k, u)| (n, Service::new(k, &u).down(format!("HTTP client: {e}")))).collect(),
    };
    let probes = list.into_iter().map(|(name, kind, url)| {
        let client = client.clone();
        async move {
            let svc = match tokio::time::timeout(deadline, probe(&client, kind, &url)).await {
                Ok(s) => s,
                Err(_) => Service::new(kind, &url).down(format!("no answer within {:.1}s", deadline.as_secs_f64())),
            };
            (name, svc)
        }
    });
    futures_util::future::join_all(probes).await.into_iter().collect()
}

async fn get_json(client: &reqwest::Client, url: String) -> Result<Value, String> {
    let resp = client.get(&url).send().await.map_err(|e| describe(&e))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("{url} answered HTTP {}", status.as_u16()));
    }
    resp.json::<Value>().await.map_err(|e| format!("{url} did not answer JSON: {e}"))
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "no answer in time".into()
    } else if e.is_connect() {
        // Refused: nothing listens there. Otherwise (unknown host, no route) say what the system said.
        let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
        let mut innermost = None;
        while let Some(s) = source {
            if let Some(io) = s.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::ConnectionRefused {
                    return "connection refused (not running)".into();
                }
            }
            innermost = Some(s.to_string());
            source = s.source();
        }
        format!("cannot connect: {}", innermost.unwrap_or_else(|| e.to_string()))
    } else {
        e.to_string()
    }
}

async fn probe(client: &reqwest::Client, kind: ServiceKind, url: &str) -> Service {
    let svc = Service::new(kind, url);
    match kind {
        ServiceKind::Ollama => ollama(client, svc).await,
        ServiceKind::Openai => match get_json(client, format!("{url}/v1/models")).await {
            Ok(v) => Service { running: true, models: names(&v["data"], "id"), ..svc },
            Err(e) => svc.down(e),
        },
        ServiceKind::Sd => match get_json(client, format!("{url}/sdapi/v1/sd-models")).await {
            Ok(v) => Service { running: true, models: names(&v, "model_name"), ..svc },
            Err(e) if e.contains("HTTP 404") => {
                let mut s = svc.down(format!("{url} answers but has no API (/sdapi/v1 is missing)"));
                s.hint = Some("restart the SD WebUI with --api".into());
                s
            }
            Err(e) => svc.down(e),
        },
        ServiceKind::Comfyui => match get_json(client, format!("{url}/system_stats")).await {
            Ok(v) => {
                let version = v["system"]["comfyui_version"].as_str().map(String::from);
                let models = get_json(client, format!("{url}/models/checkpoints"))
                    .await
                    .ok()
                    .and_then(|m| m.as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect()))
                    .unwrap_or_default();
                Service { running: true, version, models, ..svc }
            }
            Err(e) => svc.down(e),
        },
    }
}

async fn ollama(client: &reqwest::Client, svc: Service) -> Service {
    let url = svc.url.clone();
    let (version, tags, ps) = tokio::join!(
        get_json(client, format!("{url}/api/version")),
        get_json(client, format!("{url}/api/tags")),
        get_json(client, format!("{url}/api/ps")),
    );
    let tags = match (version.as_ref(), tags) {
        (Err(e), Err(_)) => return svc.down(e.clone()),
        (_, t) => t.unwrap_or(Value::Null),
    };
    let empty = Vec::new();
    let listed = tags["models"].as_array().unwrap_or(&empty);
    let sizes = listed.iter().filter_map(|m| Some((m["name"].as_str()?.to_string(), round2(m["size"].as_f64()? / GB)))).collect();
    let loaded = ps
        .ok()
        .and_then(|p| p["models"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|m| {
            Some(Loaded { name: m["name"].as_str()?.to_string(), vram_gb: round2(m["size_vram"].as_f64().unwrap_or(0.0) / GB) })
        })
        .collect();
    Service {
        running: true,
        version: version.ok().and_then(|v| v["version"].as_str().map(String::from)),
        models: names(&tags["models"], "name"),
        loaded,
        sizes,
        ..svc
    }
}

fn names(list: &Value, key: &str) -> Vec<String> {
    list.as_array().map(|a| a.iter().filter_map(|m| m[key].as_str().map(String::from)).collect()).unwrap_or_default()
}
