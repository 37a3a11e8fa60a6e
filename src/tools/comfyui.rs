//! `comfyui`: run a ComfyUI workflow (API format) with values substituted:
//! `POST /prompt`, wait on `/history/{id}`, fetch the images through `/view`.
//! A run that is cancelled or times out sends `POST /interrupt`; `free` asks
//! ComfyUI to unload its models (`POST /free`).

use super::{opt_f64, opt_str, JsonMap, Needs, Tool, ToolCtx, ToolError, ToolKind};
use crate::config::Config;
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::time::Duration;

pub struct ComfyUi {
    client: reqwest::Client,
    host: String,
}

impl ComfyUi {
    pub fn new(config: &Config) -> Self {
        let host = config
            .service("comfyui")
            .get("host")
            .and_then(Value::as_str)
            .unwrap_or("http://localhost:8188")
            .trim_end_matches('/')
            .to_string();
        ComfyUi { client: reqwest::Client::builder().connect_timeout(Duration::from_secs(10)).build().expect("HTTP client"), host }
    }

    fn transport(&self, host: &str, e: &reqwest::Error) -> ToolError {
        if e.is_connect() {
            ToolError::failed(format!(
                "ComfyUI is not running at {host}: start it (`python main.py --listen`), or set `services.comfyui.host`"
            ))
        } else {
            ToolError::failed(format!("request to ComfyUI at {host} failed: {e}"))
        }
    }

    async fn json(&self, host: &str, req: reqwest::RequestBuilder) -> Result<Value, ToolError> {
        let resp = req.send().await.map_err(|e| self.transport(host, &e))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| self.transport(host, &e))?;
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
        if !status.is_success() {
            return Err(ToolError::failed(format!(
                "ComfyUI at {host} refused the request (HTTP {}): {}",
                status.as_u16(),
                describe_error(&v)
            )));
        }
        Ok(v)
    }
}

/// `{"error": {...}, "node_errors": {id: {errors: [...]}}}` as one sentence.
fn describe_error(v: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(e) = v.get("error") {
        parts.push(e.get("message").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| e.to_string()));
    }
    for (node, errs) in v.get("node_errors").and_then(Value::as_object).into_iter().flatten() {
        for e in errs.get("errors").and_then(Value::as_array).into_iter().flatten() {
            let msg = e.get("message").and_then(Value::as_str).unwrap_or("error");
            let detail = e.get("details").and_then(Value::as_str).unwrap_or("");
            parts.push(format!("node {node}: {msg} {detail}").trim().to_string());
        }
    }
    if parts.is_empty() {
        v.to_string().chars().take(300).collect()
    } else {
        parts.join("; ")
    }
}

/// Sends `/interrupt` if dropped before the prompt finished (cancel, timeout).
struct InterruptOnDrop {
    client: reqwest::Client,
    host: String,
    armed: bool,
}

impl Drop for InterruptOnDrop {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let (client, url) = (self.client.clone(), format!("{}/interrupt", self.host));
            rt.spawn(async move {
                let _ = client.post(url).send().await;
            });
        }
    }
}

/// Put `values` into the workflow: keys are `NODE.inputs.NAME` (or any `/`- or `.`-separated path).
fn substitute(workflow: &mut Value, values: &Map<String, Value>) -> Result<(), ToolError> {
    for (key, value) in values {
        let parts: Vec<&str> = key.split(['.', '/']).filter(|p| !p.is_empty()).collect();
        let Some((last, init)) = parts.split_last() else { continue };
        let node = parts[0];
        if workflow.get(node).is_none() {
            let nodes: Vec<&String> = workflow.as_object().map(|m| m.keys().collect()).unwrap_or_default();
            return Err(ToolError::failed(format!("comfyui: `{key}`: the workflow has no node `{node}` (nodes: {nodes:?})")));
        }
        let not_mapping = |part: &str| ToolError::failed(format!("comfyui: `{key}`: `{part}` is not inside a mapping"));
        let mut cur = &mut *workflow;
        for part in init {
            cur = cur.as_object_mut().ok_or_else(|| not_mapping(part))?.entry((*part).to_string()).or_insert_with(|| json!({}));
        }
        cur.as_object_mut().ok_or_else(|| not_mapping(last))?.insert((*last).to_string(), value.clone());
    }
    Ok(())
}

#[async_trait::async_trait]
impl Tool for ComfyUi {
    fn name(&self) -> &str {
        "comfyui"
    }
    fn actions(&self) -> Vec<String> {
        ["run", "free"].map(String::from).to_vec()
    }
    fn kind(&self) -> ToolKind {
        ToolKind::Native
    }
    fn description(&self) -> String {
        "Run a ComfyUI workflow with values substituted and collect its images".into()
    }

    fn needs(&self, action: &str, inputs: &JsonMap) -> Needs {
        Needs { service: Some("comfyui".into()), host: opt_str(inputs, "host"), gpu: action == "run", ..Needs::default() }
    }

    fn inputs(&self, action: &str) -> Option<super::ActionInputs> {
        use crate::recipe::InputType::{Number as N, Object as O, Path as P, String as S};
        let host = ("host", S, false, "ComfyUI's URL, instead of `services.comfyui.host`.");
        let rows: Vec<(&str, crate::recipe::InputType, bool, &str)> = match action {
            "run" => vec![
                ("workflow", O, true, "The workflow in ComfyUI's API format: a file's path, or the graph itself."),
                ("values", O, false, "Values to set in the graph before it runs (`NODE.input: value`)."),
                ("output_dir", P, false, "Where the results are written (default: the run's folder)."),
                ("poll_interval", N, false, "Seconds between progress checks."),
                host,
            ],
            "free" => vec![host],
            _ => return None,
        };
        Some(super::ActionInputs::of(&rows, false))
    }

    async fn call(&self, action: &str, inputs: JsonMap, ctx: &ToolCtx) -> Result<JsonMap, ToolError> {
        let host = opt_str(&inputs, "host").map(|h| h.trim_end_matches('/').to_string()).unwrap_or_else(|| self.host.clone());
        if action == "free" {
            self.json(&host, self.client.post(format!("{host}/free")).json(&json!({"unload_models": true, "free_memory": true}))).await?;
            return Ok(super::outputs(json!({"freed": true})));
        }
        if action != "run" {
            return Err(ToolError::failed(format!("comfyui has no action `{action}` (run, free)")));
        }
        let mut workflow = match inputs.get("workflow") {
            Some(Value::String(path)) => {
                let text = std::fs::read_to_string(path).map_err(|e| ToolError::failed(format!("comfyui: workflow `{path}`: {e}")))?;
                serde_json::from_str(&text).map_err(|e| ToolError::failed(format!("comfyui: workflow `{path}` is not JSON: {e}")))?
            }
            Some(v @ Value::Object(_)) => v.clone(),
            _ => return Err(ToolError::failed("comfyui.run needs `workflow`: a workflow file saved in API format, or the mapping itself")),
        };
        if let Some(Value::Object(values)) = inputs.get("values") {
            substitute(&mut workflow, values)?;
        }
        let submitted = self
            .json(&host, self.client.post(format!("{host}/prompt")).json(&json!({"prompt": workflow, "client_id": ctx.run_id})))
            .await?;
        let id = submitted
            .get("prompt_id")
            .and_then(Value::as_str)
            .ok_or_else(|| ToolError::failed(format!("ComfyUI accepted the workflow without a prompt_id: {submitted}")))?
            .to_string();
        let mut guard = InterruptOnDrop { client: self.client.clone(), host: host.clone(), armed: true };
        let poll = Duration::from_secs_f64(opt_f64(&inputs, "poll_interval").unwrap_or(0.5).max(0.05));
        let entry = loop {
            let history = self.json(&host, self.client.get(format!("{host}/history/{id}"))).await?;
            if let Some(entry) = history.get(&id).filter(|e| {
                e.get("status").and_then(|s| s.get("completed")).and_then(Value::as_bool).unwrap_or(false)
                    || e.get("status").and_then(|s| s.get("status_str")).and_then(Value::as_str) == Some("error")
            }) {
                break entry.clone();
            }
            tokio::time::sleep(poll).await;
        };
        guard.armed = false;
        if entry.pointer("/status/status_str").and_then(Value::as_str) == Some("error") {
            let why = entry
                .pointer("/status/messages")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|m| m.get(0).and_then(Value::as_str) == Some("execution_error"))
                .filter_map(|m| m.get(1))
                .map(|d| {
                    format!(
                        "node {} ({}): {}",
                        d["node_id"].as_str().unwrap_or("?"),
                        d["node_type"].as_str().unwrap_or("?"),
                        d["exception_message"].as_str().unwrap_or("error").trim()
                    )
                })
                .collect::<Vec<_>>();
            return Err(ToolError::failed(format!(
                "ComfyUI could not run the workflow: {}",
                if why.is_empty() { "execution error".into() } else { why.join("; ") }
            )));
        }
        let dir = opt_str(&inputs, "output_dir").map(PathBuf::from).unwrap_or_else(|| ctx.temp_dir.clone());
        std::fs::create_dir_all(&dir).map_err(|e| ToolError::failed(format!("comfyui: `{}`: {e}", dir.display())))?;
        let mut paths = Vec::new();
        for (_, node) in entry.get("outputs").and_then(Value::as_object).into_iter().flatten() {
            for img in node.get("images").and_then(Value::as_array).into_iter().flatten() {
                let name = img.get("filename").and_then(Value::as_str).unwrap_or_default();
                let query = [
                    ("filename", name),
                    ("subfolder", img.get("subfolder").and_then(Value::as_str).unwrap_or("")),
                    ("type", img.get("type").and_then(Value::as_str).unwrap_or("output")),
                ];
                let url = reqwest::Url::parse_with_params(&format!("{host}/view"), &query)
                    .map_err(|e| ToolError::failed(format!("comfyui: {e}")))?;
                let resp = self.client.get(url).send().await.map_err(|e| self.transport(&host, &e))?;
                if !resp.status().is_success() {
                    return Err(ToolError::failed(format!("ComfyUI could not serve image `{name}` (HTTP {})", resp.status().as_u16())));
                }
                let bytes = resp.bytes().await.map_err(|e| self.transport(&host, &e))?;
                let path = dir.join(std::path::Path::new(name).file_name().unwrap_or_default());
                std::fs::write(&path, &bytes).map_err(|e| ToolError::failed(format!("comfyui: `{}`: {e}", path.display())))?;
                paths.push(path.to_string_lossy().into_owned());
            }
        }
        if paths.is_empty() {
            return Err(ToolError::failed("ComfyUI finished the workflow but it saved no images (does it end in a SaveImage node?)"));
        }
        let mut out = Map::new();
        for (i, p) in paths.iter().enumerate() {
            out.insert(format!("image_{i}"), json!(p));
        }
        out.insert("primary".into(), json!(paths[0]));
        out.insert("count".into(), json!(paths.len()));
        out.insert("images".into(), json!(paths));
        out.insert("prompt_id".into(), json!(id));
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
