//! `ollama`: text generation, chat and embeddings from a local LLM server.
//!
//! Speaks the Ollama API (`/api/generate`, `/api/chat`, `/api/embed`, streamed
//! NDJSON) or the OpenAI-compatible one (`/v1/chat/completions`,
//! `/v1/embeddings`; llama.cpp's `llama-server`, LM Studio, vLLM), chosen per
//! service in the config (`services.NAME.api: ollama | openai`). One shared
//! HTTP client and no lock: several steps can have requests in flight at once.

mod errors;
mod ollama;
mod openai;

use super::{opt_f64, opt_str, JsonMap, Needs, Tool, ToolCtx, ToolError, ToolKind};
use crate::config::Config;
use serde_json::{json, Map, Value};
use std::time::{Duration, Instant};

pub struct Llm {
    client: reqwest::Client,
    services: Map<String, Value>,
}

/// Where and how one call goes.
#[derive(Clone)]
pub(crate) struct Target {
    pub service: String,
    pub host: String,
    pub model: String,
    pub api: Api,
    /// No answer within this long is an error; `None` waits as long as the server works.
    pub timeout: Option<Duration>,
    /// Where streamed answers report their tokens so far.
    pub progress: Option<crate::tools::ProgressFn>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    Ollama,
    OpenAi,
}

/// What a generation produced.
pub(crate) struct Answer {
    pub text: String,
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    pub done_reason: Option<String>,
}

impl Llm {
    pub fn new(config: &Config) -> Self {
        let client = reqwest::Client::builder().connect_timeout(Duration::from_secs(10)).build().expect("HTTP client");
        let services = config.get("services").and_then(Value::as_object).cloned().unwrap_or_default();
        Llm { client, services }
    }

    /// Where a call goes: the step's `host`, else the instance of its service on the card
    /// the scheduler gave it (`cards`; `services.NAME.instances`), else the service's host.
    fn target(&self, inputs: &JsonMap, cards: &[crate::schedule::Card]) -> Result<Target, ToolError> {
        let service = opt_str(inputs, "service").unwrap_or_else(|| "ollama".into());
        let mut cfg = self.services.get(&service).and_then(Value::as_object).cloned().ok_or_else(|| {
            let names: Vec<&str> = self.services.keys().map(String::as_str).collect();
            ToolError::failed(format!("no service `{service}` in the configuration (services: {})", names.join(", ")))
        })?;
        let all = crate::config::instances::instances(&service, &cfg);
        let on_card = all.iter().find(|i| i.gpus.iter().any(|w| cards.iter().any(|c| c.is(w))));
        if let Some(inst) = on_card.or(all.first()) {
            cfg.insert("host".into(), Value::String(inst.host.clone()));
        }
        let get = |k: &str| opt_str(inputs, k).or_else(|| cfg.get(k).and_then(|v| v.as_str().map(str::to_string)));
        let api = match get("api").as_deref() {
            None | Some("ollama") => Api::Ollama,
            Some("openai") | Some("openai-compatible") => Api::OpenAi,
            Some(other) => return Err(ToolError::failed(format!("`services.{service}.api` is `{other}`; use `ollama` or `openai`"))),
        };
        let host = get("host").ok_or_else(|| ToolError::failed(format!("`services.{service}.host` is not set")))?;
        let model = opt_str(inputs, "model")
            .or_else(|| get("default_model"))
            .or_else(|| get("model"))
            .ok_or_else(|| ToolError::failed(format!("no model: pass `model`, or set `services.{service}.default_model`")))?;
        let timeout = opt_f64(inputs, "timeout").or_else(|| cfg.get("timeout").and_then(Value::as_f64)).filter(|t| *t > 0.0);
        Ok(Target {
            service,
            host: host.trim_end_matches('/').to_string(),
            model,
            api,
            timeout: timeout.map(Duration::from_secs_f64),
            progress: None,
        })
    }
}

#[async_trait::async_trait]
impl Tool for Llm {
    fn name(&self) -> &str {
        "ollama"
    }
    fn actions(&self) -> Vec<String> {
        ["generate", "chat", "embed"].map(String::from).to_vec()
    }
    /// An answer, not a file.
    fn writes_only_outputs(&self, _action: &str) -> bool {
        true
    }
    /// Every input goes to the server as text or numbers: no file is opened here.
    fn names_no_files(&self, _action: &str, _input: &str) -> bool {
        true
    }
    fn kind(&self) -> ToolKind {
        ToolKind::Native
    }
    fn description(&self) -> String {
        "Generate text, chat and embed with a local LLM (Ollama or an OpenAI-compatible server)".into()
    }

    /// Embeddings always; a generation only with `temperature: 0` or a fixed `seed` in `options`.
    fn deterministic(&self, action: &str, inputs: &JsonMap) -> bool {
        let Ok(options) = options(inputs) else { return false };
        let opt = |k: &str| options.as_ref().and_then(|o| o.get(k)).filter(|v| !v.is_null());
        action == "embed"
            || opt("temperature").and_then(Value::as_f64) == Some(0.0)
            || opt("seed").and_then(Value::as_i64).is_some_and(|s| s >= 0)
    }

    /// The model's digest as the server reports it (Ollama's `/api/tags`); for an
    /// OpenAI-compatible server, which reports no digest, the server's address and what it
    /// says of the model (`openai::served`: llama.cpp's weights size and shape, vLLM's path).
    ///
    /// A service with several instances (`services.NAME.instances`, one per card) answers
    /// from the instance on the card the step is given, which the key is made before: the
    /// identity is asked of each, and instances serving different models are not cached.
    async fn identity(&self, _action: &str, inputs: &JsonMap) -> Result<Option<Value>, ToolError> {
        let t = self.target(inputs, &[])?;
        let mut hosts = vec![t.host.clone()];
        if opt_str(inputs, "host").is_none() {
            let cfg = self.services.get(&t.service).and_then(Value::as_object).cloned().unwrap_or_default();
            let all = crate::config::instances::instances(&t.service, &cfg);
            hosts = all.into_iter().map(|i| i.host).collect::<Vec<_>>();
            hosts.dedup();
            if hosts.is_empty() {
                hosts.push(t.host.clone());
            }
        }
        let mut found: Option<Value> = None;
        for host in &hosts {
            let t = Target { host: host.clone(), ..t.clone() };
            let id = match t.api {
                Api::Ollama => ollama::digest(&self.client, &t).await.map(|d| serde_json::json!({"model": t.model, "digest": d}))?,
                Api::OpenAi => serde_json::json!({"model": t.model, "served": openai::served(&self.client, &t).await?}),
            };
            match &found {
                Some(first) if *first != id => {
                    return Err(ToolError::failed(format!(
                        "the instances of `{}` serve different models for `{}` ({} and {}): which one a call gets depends on its card",
                        t.service, t.model, hosts[0], host
                    )))
                }
                _ => found = Some(id),
            }
        }
        // An OpenAI-compatible server's own address stays in the key (what it says of the
        // model is not a digest); one instance's, whichever answers.
        Ok(found.map(|mut id| {
            if t.api == Api::OpenAi {
                id["server"] = json!(t.host);
            }
            id
        }))
    }

    fn needs(&self, _action: &str, inputs: &JsonMap) -> Needs {
        let service = opt_str(inputs, "service").unwrap_or_else(|| "ollama".into());
        let cfg = self.services.get(&service);
        let model = opt_str(inputs, "model").or_else(|| cfg?.get("default_model")?.as_str().map(String::from));
        let context = options(inputs).ok().flatten().and_then(|o| o.get("num_ctx").and_then(Value::as_u64));
        let host = opt_str(inputs, "host");
        Needs { service: Some(service), host, llm: model, llm_context: context.map(|c| c as u32), gpu: true, ..Needs::default() }
    }

    /// The model's options may also be given as inputs of their own (`MODEL_OPTIONS`); any
    /// other name is refused (a misspelled `sytem` must not be dropped on the way).
    fn inputs(&self, action: &str) -> Option<crate::tools::ActionInputs> {
        use crate::recipe::InputType::{List as L, Number as N, Object as O, String as S};
        let common: [(&str, crate::recipe::InputType, bool, &str); 5] = [
            ("model", S, false, "The model (an Ollama tag or a server's model id; default the service's `default_model`)."),
            ("service", S, false, "The configured service to use (default `ollama`)."),
            ("host", S, false, "The server's URL, instead of the service's."),
            ("options", O, false, "Model options (`temperature`, `num_ctx`, ...)."),
            ("timeout", N, false, "Seconds the request may take."),
        ];
        let own: Vec<(&str, crate::recipe::InputType, bool, &str)> = match action {
            "generate" => vec![
                ("prompt", S, false, "The prompt (or `messages`)."),
                ("system", S, false, "The system prompt."),
                ("format", O, false, "`json`, or a JSON Schema the answer must follow."),
            ],
            "chat" => vec![
                ("messages", L, false, "The conversation: a list of {role, content}."),
                ("prompt", S, false, "One user message, when there is no `messages`."),
                ("system", S, false, "The system prompt."),
                ("format", O, false, "`json`, or a JSON Schema the answer must follow."),
            ],
            "embed" => vec![("input", S, false, "The text (or list of texts) to embed; `text` and `prompt` also work.")],
            _ => return None,
        };
        let rows: Vec<_> = own.into_iter().chain(common).chain(MODEL_OPTIONS.iter().map(|(n, t, d)| (*n, *t, false, *d))).collect();
        Some(crate::tools::ActionInputs::of(&rows, false))
    }

    async fn call(&self, action: &str, inputs: JsonMap, ctx: &ToolCtx) -> Result<JsonMap, ToolError> {
        let target = Target { progress: Some(ctx.progress.clone()), ..self.target(&inputs, &ctx.cards)? };
        let started = Instant::now();
        let work = async {
            match action {
                "embed" => self.embed(&target, &inputs).await,
                "generate" | "chat" => self.generate(action, &target, &inputs, ctx, started).await,
                other => Err(ToolError::failed(format!("ollama has no action `{other}` (generate, chat, embed)"))),
            }
        };
        let bounded = async {
            match target.timeout {
                Some(limit) => tokio::time::timeout(limit, work).await.unwrap_or_else(|_| Err(errors::timed_out(&target, limit))),
                None => work.await,
            }
        };
        super::until_cancelled(ctx, bounded).await
    }
}

/// Ollama's model options (`options` in its API; its documentation's "Valid Parameters
/// and Values" and the runtime ones), which a step may also give as inputs of their own,
/// as 0.x recipes did (`temperature: 0.2` beside the prompt). They go into `options`.
const MODEL_OPTIONS: &[(&str, crate::recipe::InputType, &str)] = {
    use crate::recipe::InputType::{Boolean as B, Integer as I, List as L, Number as N};
    &[
        ("num_ctx", I, "The context length to load the model with."),
        ("temperature", N, "Sampling temperature (0: the most likely token each time)."),
        ("seed", I, "The random seed (with a fixed seed the same prompt gives the same answer)."),
        ("num_predict", I, "The most tokens to generate (-1: no limit)."),
        ("top_k", I, "Sample from this many most likely tokens."),
        ("top_p", N, "Sample from the tokens making up this much probability."),
        ("min_p", N, "Leave out tokens less likely than this, relative to the likeliest."),
        ("typical_p", N, "Locally typical sampling."),
        ("repeat_penalty", N, "How strongly repetitions are penalized."),
        ("repeat_last_n", I, "How far back repetitions are looked for."),
        ("presence_penalty", N, "Penalty for tokens already present."),
        ("frequency_penalty", N, "Penalty by how often tokens occurred."),
        ("penalize_newline", B, "Penalize newlines too."),
        ("stop", L, "Text that ends the answer when generated."),
        ("num_keep", I, "Tokens of the prompt kept when the context fills."),
        ("mirostat", I, "Mirostat sampling (0 off, 1, 2)."),
        ("mirostat_tau", N, "Mirostat's target entropy."),
        ("mirostat_eta", N, "Mirostat's learning rate."),
        ("tfs_z", N, "Tail free sampling."),
        ("num_batch", I, "Prompt tokens processed at once."),
        ("num_gpu", I, "Layers put on the GPU."),
        ("main_gpu", I, "The GPU for small tensors."),
        ("num_thread", I, "CPU threads."),
        ("use_mmap", B, "Map the model file into memory."),
        ("use_mlock", B, "Lock the model in memory."),
        ("low_vram", B, "Use less VRAM."),
        ("numa", B, "NUMA support."),
    ]
};

/// The model options a call sends: the `options` input with the options given as inputs
/// of their own (`MODEL_OPTIONS`) put in; one given both ways with two values is refused
/// (which would the model get?).
fn options(inputs: &JsonMap) -> Result<Option<Value>, ToolError> {
    let mut out = match inputs.get("options") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(o)) => o.clone(),
        Some(other) => return Err(ToolError::failed(format!("`options` must be a mapping of model options, got {other}"))),
    };
    for (name, _, _) in MODEL_OPTIONS {
        let Some(v) = inputs.get(*name).filter(|v| !v.is_null()) else { continue };
        match out.get(*name) {
            Some(given) if given != v => {
                return Err(ToolError::failed(format!(
                    "`{name}` is given twice, as an input ({v}) and in `options` ({given}): give it once"
                )))
            }
            _ => {
                out.insert(name.to_string(), v.clone());
            }
        }
    }
    Ok((!out.is_empty()).then_some(Value::Object(out)))
}

impl Llm {
    async fn generate(&self, action: &str, t: &Target, inputs: &JsonMap, ctx: &ToolCtx, started: Instant) -> Result<JsonMap, ToolError> {
        let messages = messages(action, inputs)?;
        let format = inputs.get("format").filter(|f| !f.is_null()).cloned();
        let options = options(inputs)?;
        let answer = match t.api {
            // 0.x's generate: Ollama's `/api/generate` with `prompt` and `system`.
            Api::Ollama if action == "generate" && !inputs.contains_key("messages") => {
                let system = opt_str(inputs, "system").filter(|s| !s.is_empty());
                let prompt = opt_str(inputs, "prompt").unwrap_or_default();
                ollama::generate(&self.client, t, &prompt, system.as_deref(), format.as_ref(), options.as_ref()).await?
            }
            Api::Ollama => ollama::chat(&self.client, t, &messages, format.as_ref(), options.as_ref()).await?,
            Api::OpenAi => openai::chat(&self.client, t, &messages, format.as_ref(), options.as_ref()).await?,
        };
        let duration = started.elapsed().as_secs_f64();
        let prompt_text = messages.iter().filter_map(|m| m["content"].as_str()).collect::<Vec<_>>().join("\n\n");
        if let Some(record) = &ctx.llm_calls {
            record(crate::store::LlmCall {
                run_id: ctx.run_id.clone(),
                step_id: ctx.step_id.clone(),
                service: t.service.clone(),
                model: t.model.clone(),
                prompt: prompt_text,
                response: answer.text.clone(),
                prompt_tokens: answer.prompt_tokens,
                completion_tokens: answer.completion_tokens,
                duration_s: duration,
            });
        }
        let mut out = json!({
            "response": answer.text,
            "sd_prompt": answer.text,
            "model": t.model,
            "tokens": {"prompt": answer.prompt_tokens, "completion": answer.completion_tokens},
            "duration_s": duration,
            "done_reason": answer.done_reason,
        });
        if format.is_some() {
            // Structured output: also give the parsed value, or fail saying why.
            let parsed: Value = serde_json::from_str(answer.text.trim()).map_err(|e| {
                ToolError::failed(format!(
                    "`format` asked for JSON but the model answered text that is not JSON ({e}): {}",
                    errors::short(&answer.text)
                ))
            })?;
            out["json"] = parsed;
        }
        Ok(crate::tools::outputs(out))
    }

    async fn embed(&self, t: &Target, inputs: &JsonMap) -> Result<JsonMap, ToolError> {
        let input = match inputs.get("input").or_else(|| inputs.get("text")).or_else(|| inputs.get("prompt")) {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items.iter().map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).collect(),
            _ => return Err(ToolError::failed("ollama.embed needs `input`: text or a list of texts")),
        };
        let options = options(inputs)?;
        let embeddings = match t.api {
            Api::Ollama => ollama::embed(&self.client, t, &input, options.as_ref()).await?,
            Api::OpenAi => openai::embed(&self.client, t, &input, options.as_ref()).await?,
        };
        let dims = embeddings.first().map(Vec::len).unwrap_or(0);
        Ok(json!({"embeddings": embeddings, "dimensions": dims, "model": t.model, "count": embeddings.len()})
            .as_object()
            .cloned()
            .unwrap_or_default())
    }
}

/// Chat messages: `messages` as given, else `system` + `prompt` (0.x's generate inputs).
fn messages(action: &str, inputs: &JsonMap) -> Result<Vec<Value>, ToolError> {
    if let Some(Value::Array(m)) = inputs.get("messages") {
        if m.iter().all(|x| x.get("role").is_some() && x.get("content").is_some()) {
            return Ok(m.clone());
        }
        return Err(ToolError::failed(format!("ollama.{action}: every item of `messages` needs `role` and `content`")));
    }
    let prompt = opt_str(inputs, "prompt").ok_or_else(|| ToolError::failed(format!("ollama.{action} needs `prompt` (or `messages`)")))?;
    let mut out = Vec::new();
    if let Some(system) = opt_str(inputs, "system").filter(|s| !s.is_empty()) {
        out.push(json!({"role": "system", "content": system}));
    }
    out.push(json!({"role": "user", "content": prompt}));
    Ok(out)
}

#[cfg(test)]
mod tests;
