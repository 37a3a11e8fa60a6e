//! OpenAI-compatible servers: `/v1/chat/completions`, `/v1/embeddings`, `/v1/models`.

use super::errors;
use super::{Answer, Target};
use crate::tools::ToolError;
use serde_json::{json, Value};

pub(crate) async fn chat(
    client: &reqwest::Client,
    t: &Target,
    messages: &[Value],
    format: Option<&Value>,
    options: Option<&Value>,
) -> Result<Answer, ToolError> {
    let mut body = json!({"model": t.model, "messages": messages, "stream": false});
    match format {
        Some(Value::String(s)) if s == "json" => body["response_format"] = json!({"type": "json_object"}),
        Some(schema @ Value::Object(_)) => {
            body["response_format"] = json!({"type": "json_schema", "json_schema": {"name": "output", "schema": schema}})
        }
        _ => {}
    }
    extra(t, &mut body, options)?;
    let v = match post(client, t, "/v1/chat/completions", &body).await {
        // llama-cpp-python's server knows only `json_object` (with an optional
        // `schema`), not OpenAI's `json_schema`: ask again in its form.
        Err(e) if matches!(format, Some(Value::Object(_))) && e.to_string().contains("response_format") => {
            body["response_format"] = json!({"type": "json_object", "schema": format});
            post(client, t, "/v1/chat/completions", &body).await?
        }
        other => other?,
    };
    let text = v.pointer("/choices/0/message/content").and_then(Value::as_str).ok_or_else(|| {
        ToolError::failed(format!("`{}` answered without `choices[0].message.content`: {}", t.service, errors::short(&v.to_string())))
    })?;
    Ok(Answer {
        text: text.to_string(),
        prompt_tokens: v.pointer("/usage/prompt_tokens").and_then(Value::as_u64),
        completion_tokens: v.pointer("/usage/completion_tokens").and_then(Value::as_u64),
        done_reason: v.pointer("/choices/0/finish_reason").and_then(Value::as_str).map(str::to_string),
    })
}

/// Ollama's options for loading a model, which an OpenAI-compatible server sets when it
/// starts, not per request: given to one, they would be dropped.
const LOAD_OPTIONS: &[&str] =
    &["num_ctx", "num_gpu", "main_gpu", "num_thread", "num_batch", "num_keep", "use_mmap", "use_mlock", "low_vram", "numa"];

/// The model options, as fields of the request itself (`temperature`, `max_tokens`, `seed`,
/// and the sampling fields llama.cpp and vLLM take); Ollama's `num_predict` is `max_tokens`.
fn extra(t: &Target, body: &mut Value, options: Option<&Value>) -> Result<(), ToolError> {
    let Some(Value::Object(o)) = options else { return Ok(()) };
    for (k, v) in o {
        if LOAD_OPTIONS.contains(&k.as_str()) {
            return Err(ToolError::failed(format!(
                "`{k}` is set when `{}` (an OpenAI-compatible server) starts, not per request: start it with it, or leave it out",
                t.service
            )));
        }
        // Ollama's `num_predict: -1` (no limit) is no `max_tokens` at all.
        if k == "num_predict" {
            if v.as_i64().is_some_and(|n| n >= 1) {
                body["max_tokens"] = v.clone();
            }
            continue;
        }
        body[k.as_str()] = v.clone();
    }
    Ok(())
}

pub(crate) async fn embed(
    client: &reqwest::Client,
    t: &Target,
    input: &[String],
    options: Option<&Value>,
) -> Result<Vec<Vec<f64>>, ToolError> {
    let mut body = json!({"model": t.model, "input": input});
    extra(t, &mut body, options)?;
    let v = post(client, t, "/v1/embeddings", &body).await?;
    let data = v
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| ToolError::failed(format!("`{}`: embeddings answer has no `data`", t.service)))?;
    data.iter()
        .map(|d| serde_json::from_value(d.get("embedding").cloned().unwrap_or_default()))
        .collect::<Result<_, _>>()
        .map_err(|e| ToolError::failed(format!("`{}`: `data[].embedding` is not a list of numbers: {e}", t.service)))
}

async fn post(client: &reqwest::Client, t: &Target, path: &str, body: &Value) -> Result<Value, ToolError> {
    let resp = client.post(format!("{}{path}", t.host)).json(body).send().await.map_err(|e| errors::transport(t, &e))?;
    let status = resp.status();
    let text = resp.text().await.map_err(|e| errors::transport(t, &e))?;
    if !status.is_success() {
        let unknown_model = status.as_u16() == 404 || text.contains("model_not_found") || text.contains("does not exist");
        let models = if unknown_model { Some(models(client, t).await.unwrap_or_default()) } else { None };
        return Err(errors::status(t, status.as_u16(), &text, models));
    }
    serde_json::from_str(&text)
        .map_err(|e| ToolError::failed(format!("`{}` answered text that is not JSON ({e}): {}", t.service, errors::short(&text))))
}

/// What the server says of the model a request names: its `/v1/models` entry (id, owner,
/// and what servers add — llama.cpp's `meta` with the weights' size and shape, vLLM's
/// `root` path), without what changes from one asking to the next (`created`, a router's
/// load `status`, vLLM's `permission` with its fresh ids); where the server is llama.cpp's
/// (`/props`), the model file's path, its chat template, the build and the default
/// generation settings; where it is Ollama (`/api/tags`), the model's digest. A server that
/// lists one model answers with it whatever the request names (llama.cpp's server): that
/// one. A model it does not list is an error, as is an endpoint that fails other than by
/// not being there: a cached answer could not be told from another model's.
pub(crate) async fn served(client: &reqwest::Client, t: &Target) -> Result<Value, ToolError> {
    let asked = |path: &str| optional(client, format!("{}{path}", t.host));
    let (listing, props, tags) = tokio::try_join!(asked("/v1/models"), asked("/props"), asked("/api/tags"))?;
    let listing = listing.unwrap_or_default();
    let listed: Vec<&Value> = listing.get("data").and_then(Value::as_array).into_iter().flatten().collect();
    let id = |m: &Value| m.get("id").and_then(Value::as_str).map(str::to_string);
    let latest = format!("{}:latest", t.model); // Ollama lists `x` as `x:latest`
    let named = listed.iter().find(|m| id(m).is_some_and(|i| i == t.model || (!t.model.contains(':') && i == latest)));
    let Some(entry) = named.or(if listed.len() == 1 { listed.first() } else { None }) else {
        return Err(ToolError::failed(format!(
            "`{}` lists no model `{}` at /v1/models, so a cached answer could not be told from another model's",
            t.service, t.model
        )));
    };
    let mut entry = entry.as_object().cloned().unwrap_or_default();
    for volatile in ["created", "status", "permission", "permissions"] {
        entry.remove(volatile);
    }
    if let Some(props) = props {
        let settings = props.get("default_generation_settings");
        let kept = json!({
            "model_path": props.get("model_path"),
            "chat_template": props.get("chat_template"),
            "build_info": props.get("build_info"),
            "n_ctx": settings.and_then(|s| s.get("n_ctx")),
            "params": settings.and_then(|s| s.get("params")),
        });
        entry.insert("props".into(), kept);
    }
    if let Some(tags) = tags {
        let name = entry.get("id").and_then(Value::as_str).unwrap_or_default();
        let digest = super::ollama::listed(&tags, name).and_then(|m| m.get("digest")).cloned();
        entry.insert("digest".into(), digest.unwrap_or(Value::Null));
    }
    Ok(Value::Object(entry))
}

/// GET `url` as JSON: None where the server has no such endpoint (404); an error where it
/// fails any other way.
async fn optional(client: &reqwest::Client, url: String) -> Result<Option<Value>, ToolError> {
    let failed = |e: &dyn std::fmt::Display| ToolError::failed(format!("GET {url}: {e}"));
    let resp = client.get(&url).timeout(std::time::Duration::from_secs(10)).send().await.map_err(|e| failed(&e))?;
    if resp.status().as_u16() == 404 {
        return Ok(None);
    }
    let resp = resp.error_for_status().map_err(|e| failed(&e))?;
    resp.json().await.map(Some).map_err(|e| failed(&e))
}

/// Served models (`/v1/models`), for "model not found" messages.
async fn models(client: &reqwest::Client, t: &Target) -> Result<Vec<String>, ToolError> {
    errors::model_names(client, t, "/v1/models", "data", "id").await
}
