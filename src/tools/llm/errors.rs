//! Errors that say what happened and what to do about it.

use super::{Api, Target};
use crate::tools::ToolError;
use std::time::Duration;

pub(crate) fn short(text: &str) -> String {
    let t = text.trim();
    if t.chars().count() > 300 {
        format!("{}…", t.chars().take(300).collect::<String>())
    } else {
        t.to_string()
    }
}

pub(crate) fn timed_out(t: &Target, limit: Duration) -> ToolError {
    ToolError::failed(format!(
        "no complete answer from `{}` at {} within {}s (model `{}`); raise `timeout` on the step's inputs or `services.{}.timeout`",
        t.service,
        t.host,
        limit.as_secs_f64(),
        t.model,
        t.service
    ))
}

/// A request that never got an HTTP answer.
pub(crate) fn transport(t: &Target, e: &reqwest::Error) -> ToolError {
    let how_to_start = match t.api {
        Api::Ollama => "start it with `ollama serve`".to_string(),
        Api::OpenAi => "start the server (e.g. `llama-server -m MODEL.gguf --port PORT`)".to_string(),
    };
    if e.is_connect() {
        return ToolError::failed(format!(
            "cannot connect to `{}` at {}: {}; {how_to_start}, or set `services.{}.host`",
            t.service,
            t.host,
            root_cause(e),
            t.service
        ));
    }
    if e.is_body() || e.is_decode() || e.is_request() {
        return ToolError::failed(format!(
            "`{}` at {} closed the connection before the answer was complete: {}",
            t.service,
            t.host,
            root_cause(e)
        ));
    }
    ToolError::failed(format!("request to `{}` at {} failed: {}", t.service, t.host, root_cause(e)))
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// An HTTP error status, with the models the server has when the model is unknown.
pub(crate) fn status(t: &Target, code: u16, body: &str, models: Option<Vec<String>>) -> ToolError {
    let detail = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("error")
                .map(|e| e.get("message").and_then(|m| m.as_str()).or(e.as_str()).map(str::to_string).unwrap_or_else(|| e.to_string()))
        })
        .unwrap_or_else(|| short(body));
    if let Some(models) = models {
        let pull = if t.api == Api::Ollama { format!("; pull it with `ollama pull {}`", t.model) } else { String::new() };
        let list = if models.is_empty() { "none".to_string() } else { models.join(", ") };
        return ToolError::failed(format!("model `{}` is not available on `{}` at {} (it has: {list}){pull}", t.model, t.service, t.host));
    }
    ToolError::failed(format!("`{}` at {} answered HTTP {code}: {detail}", t.service, t.host))
}

/// The model names a server lists at `path` (`{list_key: [{name_key: ...}]}`).
pub(crate) async fn model_names(
    client: &reqwest::Client,
    t: &Target,
    path: &str,
    list_key: &str,
    name_key: &str,
) -> Result<Vec<String>, ToolError> {
    let v: serde_json::Value =
        client.get(format!("{}{path}", t.host)).send().await.map_err(|e| transport(t, &e))?.json().await.map_err(|e| transport(t, &e))?;
    Ok(v.get(list_key)
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m.get(name_key).and_then(serde_json::Value::as_str).map(str::to_string))
        .collect())
}
