//! The Ollama API: `/api/chat` streamed as NDJSON, `/api/embed`, `/api/tags`.

use super::errors;
use super::{Answer, Target};
use crate::tools::ToolError;
use futures_util::StreamExt;
use serde_json::{json, Value};

pub(crate) async fn chat(
    client: &reqwest::Client,
    t: &Target,
    messages: &[Value],
    format: Option<&Value>,
    options: Option<&Value>,
) -> Result<Answer, ToolError> {
    let mut body = json!({"model": t.model, "messages": messages, "stream": true});
    if let Some(f) = format {
        body["format"] = f.clone();
    }
    if let Some(o) = options {
        body["options"] = o.clone();
    }
    stream(client, t, "/api/chat", &body).await
}

/// `/api/generate`: one prompt (and an optional system prompt), streamed.
pub(crate) async fn generate(
    client: &reqwest::Client,
    t: &Target,
    prompt: &str,
    system: Option<&str>,
    format: Option<&Value>,
    options: Option<&Value>,
) -> Result<Answer, ToolError> {
    let mut body = json!({"model": t.model, "prompt": prompt, "stream": true});
    if let Some(s) = system {
        body["system"] = json!(s);
    }
    if let Some(f) = format {
        body["format"] = f.clone();
    }
    if let Some(o) = options {
        body["options"] = o.clone();
    }
    stream(client, t, "/api/generate", &body).await
}

/// POST `body` to `path` and fold the NDJSON answer.
async fn stream(client: &reqwest::Client, t: &Target, path: &str, body: &Value) -> Result<Answer, ToolError> {
    let resp = client.post(format!("{}{path}", t.host)).json(body).send().await.map_err(|e| errors::transport(t, &e))?;
    let status = resp.status();
    if !status.is_success() {
        let text = resp.text().await.unwrap_or_default();
        let models = if status.as_u16() == 404 { Some(models(client, t).await.unwrap_or_default()) } else { None };
        return Err(errors::status(t, status.as_u16(), &text, models));
    }
    // NDJSON: one object per line; the last says `done: true` and carries the counts.
    let mut stream = resp.bytes_stream();
    let mut buf: Vec<u8> = Vec::new();
    let mut answer = Answer { text: String::new(), prompt_tokens: None, completion_tokens: None, done_reason: None };
    let mut done = false;
    let mut pieces = 0u64;
    while let Some(chunk) = stream.next().await {
        buf.extend_from_slice(&chunk.map_err(|e| errors::transport(t, &e))?);
        while let Some(pos) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=pos).collect();
            done |= absorb(t, &line, &mut answer)?;
            // One streamed line is one token; say so every 16, not every one.
            pieces += 1;
            if let (Some(report), 0) = (&t.progress, pieces % 16) {
                report(Some(pieces), None, "tokens");
            }
        }
    }
    if !buf.is_empty() {
        done |= absorb(t, &buf, &mut answer)?;
    }
    if !done {
        return Err(ToolError::failed(format!(
            "`{}` at {} closed the stream before the answer was complete ({} characters received)",
            t.service,
            t.host,
            answer.text.len()
        )));
    }
    Ok(answer)
}

/// Fold one NDJSON line into the answer; true when it is the last one.
fn absorb(t: &Target, line: &[u8], answer: &mut Answer) -> Result<bool, ToolError> {
    let line = String::from_utf8_lossy(line);
    let line = line.trim();
    if line.is_empty() {
        return Ok(false);
    }
    let v: Value = serde_json::from_str(line).map_err(|e| {
        ToolError::failed(format!("`{}` at {} sent a line that is not JSON ({e}): {}", t.service, t.host, errors::short(line)))
    })?;
    if let Some(err) = v.get("error") {
        return Err(ToolError::failed(format!(
            "`{}` reported an error mid-answer: {}",
            t.service,
            err.as_str().map(str::to_string).unwrap_or_else(|| err.to_string())
        )));
    }
    if let Some(piece) = v.pointer("/message/content").or_else(|| v.get("response")).and_then(Value::as_str) {
        answer.text.push_str(piece);
    }
    if v.get("done").and_then(Value::as_bool) == Some(true) {
        answer.prompt_tokens = v.get("prompt_eval_count").and_then(Value::as_u64);
        answer.completion_tokens = v.get("eval_count").and_then(Value::as_u64);
        answer.done_reason = v.get("done_reason").and_then(Value::as_str).map(str::to_string);
        return Ok(true);
    }
    Ok(false)
}

pub(crate) async fn embed(
    client: &reqwest::Client,
    t: &Target,
    input: &[String],
    options: Option<&Value>,
) -> Result<Vec<Vec<f64>>, ToolError> {
    let mut body = json!({"model": t.model, "input": input});
    if let Some(o) = options {
        body["options"] = o.clone();
    }
    let resp = client.post(format!("{}/api/embed", t.host)).json(&body).send().await.map_err(|e| errors::transport(t, &e))?;
    let status = resp.status();
    let text = resp.text().await.map_err(|e| errors::transport(t, &e))?;
    if !status.is_success() {
        let models = if status.as_u16() == 404 { Some(models(client, t).await.unwrap_or_default()) } else { None };
        return Err(errors::status(t, status.as_u16(), &text, models));
    }
    let v: Value =
        serde_json::from_str(&text).map_err(|e| ToolError::failed(format!("`{}`: embeddings answer is not JSON: {e}", t.service)))?;
    serde_json::from_value(v.get("embeddings").cloned().unwrap_or_default())
        .map_err(|e| ToolError::failed(format!("`{}`: answer has no `embeddings` list of numbers: {e}", t.service)))
}

/// Installed models (`/api/tags`), for "model not found" messages.
pub(crate) async fn models(client: &reqwest::Client, t: &Target) -> Result<Vec<String>, ToolError> {
    errors::model_names(client, t, "/api/tags", "models", "name").await
}

/// The digest of the installed model `t.model` (`/api/tags`; a tag without `:` means `:latest`).
pub(crate) async fn digest(client: &reqwest::Client, t: &Target) -> Result<String, ToolError> {
    let url = format!("{}/api/tags", t.host);
    let v: Value = client
        .get(&url)
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| ToolError::failed(format!("GET {url}: {e}")))?
        .json()
        .await
        .map_err(|e| ToolError::failed(format!("GET {url}: {e}")))?;
    listed(&v, &t.model)
        .ok_or_else(|| ToolError::failed(format!("`{}` has no model `{}`", t.service, t.model)))?
        .get("digest")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| {
            ToolError::failed(format!("`{}` does not report the digest of `{}`, so a cached answer could be stale", t.service, t.model))
        })
}

/// Model `name`'s entry in an `/api/tags` answer (`x` is listed as `x:latest`).
pub(crate) fn listed<'a>(tags: &'a Value, name: &str) -> Option<&'a Value> {
    let want = if name.contains(':') { name.to_string() } else { format!("{name}:latest") };
    tags.get("models")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|m| m.get("name").and_then(Value::as_str).is_some_and(|n| n == want || n == name))
}
