//! `sd_client`: Stable Diffusion through the AUTOMATIC1111 WebUI API
//! (`/sdapi/v1/txt2img`, `/img2img`, `/sd-models`). Images are saved into the
//! run's temp folder; outputs keep 0.x's `primary` and `image_0..n`.

use super::{need_str, opt_f64, opt_str, JsonMap, Needs, Tool, ToolCtx, ToolError, ToolKind};
use crate::config::Config;
use base64::Engine as _;
use serde_json::{json, Map, Value};
use std::time::Duration;

pub struct SdClient {
    client: reqwest::Client,
    host: String,
    timeout: Option<Duration>,
}

/// Inputs the tool itself reads, never sent to the API.
const OWN_KEYS: &[&str] = &["host", "timeout", "output_dir", "filename", "init_image", "input", "strength", "model"];

/// Generation settings passed through to the API when given.
const PASSTHROUGH: &[&str] = &[
    "prompt",
    "negative_prompt",
    "width",
    "height",
    "steps",
    "cfg_scale",
    "seed",
    "sampler_name",
    "scheduler",
    "batch_size",
    "n_iter",
    "denoising_strength",
    "restore_faces",
    "tiling",
    "override_settings",
];

/// The WebUI's settings (`/sdapi/v1/options`) that cannot change an image, by prefix: where
/// files are saved and how, the interface, the checkpoint (keyed by its hash instead). Every
/// other setting is part of a cached step's identity: one unknown here costs hits, never a
/// wrong image.
const NOT_IMAGE_SETTINGS: &[&str] = &[
    "outdir",
    "save",
    "samples_",
    "grid_",
    "ui_",
    "gradio",
    "show_",
    "live_preview",
    "js_",
    "keyedit_",
    "localization",
    "quicksettings",
    "hidden_tabs",
    "extra_networks_",
    "return_",
    "enable_pnginfo",
    "export_for_4chan",
    "img_downscale_threshold",
    "target_side_length",
    "img_max_size_mp",
    "use_original_name_batch",
    "use_upscaler_name_as_suffix",
    "directories_",
    "temp_dir",
    "clean_temp_dir_at_start",
    "notification_",
    "do_not_show_images",
    "font",
    "auto_launch_browser",
    "enable_console_prompts",
    "list_hidden_files",
    "hide_",
    "add_model_",
    "add_version_",
    "add_user_name",
    "sd_model_checkpoint",
    "sd_checkpoint_hash",
    "memmon_poll_rate",
    "multiple_tqdm",
    "n_rows",
    "api_",
];

/// Prompt syntax that names files the WebUI reads and reports no hash for: a step whose
/// prompts hold one is not cached (a replaced LoRA file would be served stale).
const UNHASHED_FILES: &[&str] = &["<lora:", "<lyco:", "<hypernet:"];

/// The names the WebUI's `checkpoint_aliases` know checkpoint `m` of `/sd-models` by, as far
/// as `/sd-models` lets them be rebuilt (`CheckpointInfo.ids`: title, file name and its
/// stem, model name, short hash, sha256, the file name with the short hash in brackets; the
/// old 8-digit hash is not listed there, so names made with it are not found).
fn aliases(m: &Value) -> Vec<String> {
    let text = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or_default();
    let (title, sha) = (text("title"), text("sha256"));
    let short = sha.get(..10).unwrap_or_default();
    let name = if short.is_empty() { title } else { title.strip_suffix(&format!(" [{short}]")).unwrap_or(title) };
    let file = if text("filename").is_empty() { name } else { text("filename") };
    // The stem of the file name, on a WebUI running on Windows too.
    let base = file.rsplit(['/', '\\']).next().unwrap_or(file);
    let stem = base.rsplit_once('.').map_or(base, |(stem, _)| stem);
    let mut ids = vec![text("hash").to_string(), text("model_name").into(), title.into(), name.into(), stem.into()];
    if !short.is_empty() {
        ids.extend([short.to_string(), sha.to_string(), format!("{name} [{short}]"), format!("{stem} [{short}]")]);
    }
    ids.retain(|id| !id.is_empty());
    ids
}

/// The one checkpoint that goes by `wanted`, or None where none or several do (which one
/// the WebUI's table then holds depends on the order it hashed them in).
fn checkpoint<'a>(models: &'a [Value], wanted: &str) -> Option<&'a Value> {
    only(models.iter().filter(|m| aliases(m).iter().any(|id| id == wanted)))
}

/// The checkpoint a step's `model` names, by its title: the one the WebUI knows by that
/// name (a title, file name, stem or hash). A name no checkpoint (or several) goes by is an
/// error listing them, and so is an `override_settings.sd_model_checkpoint` naming another:
/// drawing with whatever the WebUI has loaded instead would be a silent wrong image.
fn model_title(inputs: &JsonMap, models: &[Value], host: &str) -> Result<Option<String>, ToolError> {
    let Some(wanted) = named_model(inputs)? else { return Ok(None) };
    let Some(found) = checkpoint(models, wanted) else {
        let names: Vec<&str> = models.iter().filter_map(|m| m.get("title").and_then(Value::as_str)).collect();
        return Err(ToolError::failed(format!(
            "the SD WebUI at {host} has no one checkpoint `{wanted}` (it has: {}): name one by its title, file name or hash",
            names.join(", ")
        )));
    };
    let title = found.get("title").and_then(Value::as_str).unwrap_or_default().to_string();
    let overridden = inputs.get("override_settings").and_then(|o| o.get("sd_model_checkpoint")).and_then(Value::as_str);
    if let Some(other) = overridden.filter(|o| checkpoint(models, o).is_none_or(|m| m.get("title").and_then(Value::as_str) != Some(&title)))
    {
        return Err(ToolError::failed(format!(
            "`model: {wanted}` and `override_settings.sd_model_checkpoint: {other}` name two checkpoints: give one"
        )));
    }
    Ok(Some(title))
}

/// The checkpoint name a step's `model` gives, if any (`model: ""`, a 0.x recipe's empty
/// default, names none); an error for a value that is not text.
fn named_model(inputs: &JsonMap) -> Result<Option<&str>, ToolError> {
    match inputs.get("model") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(m)) if m.trim().is_empty() => Ok(None),
        Some(Value::String(m)) => Ok(Some(m.as_str())),
        Some(other) => Err(ToolError::failed(format!("`model` must be a checkpoint's name, title or hash (text), got {other}"))),
    }
}

/// The one item of `items`, or None where there are none or several.
fn only<T>(mut items: impl Iterator<Item = T>) -> Option<T> {
    match (items.next(), items.next()) {
        (Some(one), None) => Some(one),
        _ => None,
    }
}

impl SdClient {
    pub fn new(config: &Config) -> Self {
        let sd = config.service("sd");
        let host = sd.get("host").and_then(Value::as_str).unwrap_or("http://localhost:7860").trim_end_matches('/').to_string();
        let timeout = sd.get("timeout").and_then(Value::as_f64).filter(|t| *t > 0.0).map(Duration::from_secs_f64);
        let client = reqwest::Client::builder().connect_timeout(Duration::from_secs(10)).build().expect("HTTP client");
        SdClient { client, host, timeout }
    }

    async fn request(&self, host: &str, method: reqwest::Method, path: &str, body: Option<&Value>) -> Result<Value, ToolError> {
        let mut req = self.client.request(method, format!("{host}{path}"));
        if let Some(b) = body {
            req = req.json(b);
        }
        if let Some(t) = self.timeout {
            req = req.timeout(t);
        }
        let resp = req.send().await.map_err(|e| self.transport(host, &e))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| self.transport(host, &e))?;
        if status.as_u16() == 404 {
            return Err(ToolError::failed(format!("SD WebUI at {host} has no `{path}`: start it with `--api` (e.g. `./webui.sh --api`)")));
        }
        if !status.is_success() {
            let detail = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.get("detail").or(v.get("error")).map(|d| d.as_str().map(str::to_string).unwrap_or_else(|| d.to_string())))
                .unwrap_or_else(|| text.chars().take(300).collect());
            return Err(ToolError::failed(format!("SD WebUI at {host} answered HTTP {}: {detail}", status.as_u16())));
        }
        serde_json::from_str(&text).map_err(|e| ToolError::failed(format!("SD WebUI at {host} answered text that is not JSON: {e}")))
    }

    fn transport(&self, host: &str, e: &reqwest::Error) -> ToolError {
        if e.is_connect() {
            ToolError::failed(format!("SD WebUI is not running at {host}: start it with `--api`, or set `services.sd.host`"))
        } else if e.is_timeout() {
            ToolError::failed(format!(
                "SD WebUI at {host} did not answer within {}s; raise `services.sd.timeout`",
                self.timeout.map(|t| t.as_secs_f64()).unwrap_or(0.0)
            ))
        } else {
            ToolError::failed(format!("request to SD WebUI at {host} failed: {e}"))
        }
    }
}

#[async_trait::async_trait]
impl Tool for SdClient {
    fn name(&self) -> &str {
        "sd_client"
    }
    fn actions(&self) -> Vec<String> {
        ["txt2img", "img2img", "get_models"].map(String::from).to_vec()
    }
    fn kind(&self) -> ToolKind {
        ToolKind::Native
    }
    fn description(&self) -> String {
        "Generate images with Stable Diffusion (AUTOMATIC1111 WebUI API)".into()
    }
    /// Text sent to the WebUI, never opened here (`init_image` and `input` are read,
    /// `output_dir` and `filename` written: those are looked up).
    fn names_no_files(&self, _action: &str, input: &str) -> bool {
        matches!(input, "prompt" | "negative_prompt" | "sampler_name" | "model" | "host")
    }
    /// Only with a fixed `seed` (the WebUI's default, -1, is a new one each time).
    fn deterministic(&self, action: &str, inputs: &JsonMap) -> bool {
        action != "get_models" && inputs.get("seed").and_then(Value::as_i64).is_some_and(|s| s >= 0)
    }
    /// What makes the image besides the step's inputs, or an error (the step runs and is not
    /// cached) where that cannot be told:
    /// - the checkpoint the call will use, by the sha256 `/sdapi/v1/sd-models` lists for it:
    ///   the one `override_settings.sd_model_checkpoint` names (it must name exactly one
    ///   checkpoint by a name the WebUI knows it by; the WebUI ignores a name it does not
    ///   know, and names made with the old hash cannot be checked here), else the loaded one
    ///   (`/sdapi/v1/options`, by its title). The step's `model` names it as the override
    ///   does (it is sent as one).
    /// - every WebUI setting but those that cannot change an image (`NOT_IMAGE_SETTINGS`),
    ///   the step's `override_settings` over the WebUI's own.
    ///
    /// Prompts naming LoRA or hypernetwork files are refused: the WebUI lists no hash for them.
    async fn identity(&self, _action: &str, inputs: &JsonMap) -> Result<Option<Value>, ToolError> {
        let host = super::opt_str(inputs, "host").map(|h| h.trim_end_matches('/').to_string()).unwrap_or_else(|| self.host.clone());
        for key in ["prompt", "negative_prompt"] {
            let text = inputs.get(key).and_then(Value::as_str).unwrap_or_default();
            if let Some(tag) = UNHASHED_FILES.iter().find(|t| text.contains(**t)) {
                return Err(ToolError::failed(format!("`{key}` names a file by `{tag}…>`, which the SD WebUI lists no hash for")));
            }
        }
        let overrides = inputs.get("override_settings").and_then(Value::as_object);
        let options = self.request(&host, reqwest::Method::GET, "/sdapi/v1/options", None).await?;
        let models = self.request(&host, reqwest::Method::GET, "/sdapi/v1/sd-models", None).await?;
        let models = models.as_array().map(Vec::as_slice).unwrap_or_default();
        let from_model = model_title(inputs, models, &host)?.map(Value::String);
        let named = overrides.and_then(|o| o.get("sd_model_checkpoint")).filter(|v| !v.is_null()).cloned().or(from_model);
        let found = match named.as_ref() {
            Some(named) => {
                let named = named.as_str().unwrap_or_default();
                checkpoint(models, named).ok_or_else(|| {
                    ToolError::failed(format!(
                        "cannot tell which checkpoint the SD WebUI at {host} takes for `override_settings.sd_model_checkpoint: {named}`: \
                         name it by its title or sha256"
                    ))
                })?
            }
            None => {
                let loaded = options.get("sd_model_checkpoint").and_then(Value::as_str).unwrap_or_default();
                only(models.iter().filter(|m| m.get("title").and_then(Value::as_str) == Some(loaded)))
                    .ok_or_else(|| ToolError::failed(format!("the SD WebUI at {host} does not list its loaded checkpoint `{loaded}`")))?
            }
        };
        let title = found.get("title").and_then(Value::as_str).unwrap_or_default();
        let Some(sha) = found.get("sha256").and_then(Value::as_str).filter(|s| !s.is_empty()) else {
            return Err(ToolError::failed(format!("the SD WebUI at {host} lists no sha256 for checkpoint `{title}` yet")));
        };
        // img2img sends every input: a refiner is another checkpoint; scripts load files of their own.
        let refiner = match inputs.get("refiner_checkpoint").filter(|v| !v.is_null()) {
            None => Value::Null,
            Some(named) => {
                let named = named.as_str().unwrap_or_default();
                let sha = checkpoint(models, named).and_then(|m| m.get("sha256")).and_then(Value::as_str).filter(|s| !s.is_empty());
                json!(sha.ok_or_else(|| ToolError::failed(format!("cannot tell the sha256 of `refiner_checkpoint: {named}`")))?)
            }
        };
        if let Some(key) = ["script_name", "alwayson_scripts"].into_iter().find(|k| inputs.get(*k).is_some_and(|v| !v.is_null())) {
            return Err(ToolError::failed(format!("`{key}` runs WebUI scripts, whose models the SD WebUI lists no hash for")));
        }
        let mut settings: Map<String, Value> = options.as_object().cloned().unwrap_or_default();
        settings.extend(overrides.cloned().unwrap_or_default());
        settings.retain(|k, _| !NOT_IMAGE_SETTINGS.iter().any(|p| k.starts_with(p)));
        Ok(Some(json!({"model": title, "sha256": sha, "refiner": refiner, "settings": settings})))
    }

    /// The WebUI says in each answer which checkpoint drew it (`info.sd_model_hash`, the
    /// sha256's first 10 digits): another client may have loaded another one since the key
    /// was made.
    fn confirms(&self, _action: &str, identity: &Value, outputs: &JsonMap) -> Result<(), ToolError> {
        let expected = identity.get("sha256").and_then(Value::as_str).and_then(|s| s.get(..10)).unwrap_or_default();
        match outputs.get("model_hash").and_then(Value::as_str) {
            Some(drew) if drew == expected => Ok(()),
            Some(drew) => {
                Err(ToolError::failed(format!("the SD WebUI drew it with checkpoint {drew}, not the {expected} it had loaded for the key")))
            }
            None => Err(ToolError::failed("the SD WebUI's answer does not say which checkpoint drew it (`info.sd_model_hash`)")),
        }
    }

    fn needs(&self, action: &str, inputs: &JsonMap) -> Needs {
        let mut n = Needs { service: Some("sd".into()), host: super::opt_str(inputs, "host"), ..Needs::default() };
        if action != "get_models" {
            let size = |k: &str| inputs.get(k).and_then(Value::as_u64).map_or(512, |v| v as u32);
            let checkpoint = inputs
                .get("override_settings")
                .and_then(|o| o.get("sd_model_checkpoint"))
                .or_else(|| inputs.get("model"))
                .and_then(Value::as_str)
                .map(String::from);
            n.image = Some((size("width"), size("height"), checkpoint));
            n.gpu = true;
        }
        n
    }

    fn inputs(&self, action: &str) -> Option<super::ActionInputs> {
        use crate::recipe::InputType::{Integer as I, Number as N, Path as P, String as S};
        let host = ("host", S, false, "The WebUI's URL, instead of `services.sd.host`.");
        let gen: [(&str, crate::recipe::InputType, bool, &str); 14] = [
            ("prompt", S, action == "txt2img", "What to draw."),
            host,
            ("negative_prompt", S, false, "What not to draw."),
            ("width", I, false, "Width in pixels."),
            ("height", I, false, "Height in pixels."),
            ("steps", I, false, "Sampling steps."),
            ("cfg_scale", N, false, "How closely to follow the prompt."),
            ("sampler_name", S, false, "The sampler."),
            ("seed", I, false, "The seed (-1: random)."),
            ("batch_size", I, false, "Images per batch."),
            ("n_iter", I, false, "Batches."),
            ("model", S, false, "The checkpoint to draw with, by its title, file name or hash: loaded for the call (as `override_settings.sd_model_checkpoint`); one the WebUI does not have fails the step."),
            ("output_dir", P, false, "Where the images are written (default: the run's folder)."),
            ("filename", S, false, "The images' file name stem."),
        ];
        let rows: Vec<(&str, crate::recipe::InputType, bool, &str)> = match action {
            "txt2img" => gen.to_vec(),
            "img2img" => gen
                .into_iter()
                .chain([
                    ("init_image", P, false, "The image to start from."),
                    ("input", P, false, "The image to start from, when there is no `init_image` (0.x)."),
                    ("strength", N, false, "How much to change it (0 to 1)."),
                ])
                .collect(),
            "get_models" => vec![host],
            _ => return None,
        };
        // img2img sends every other input to the API as it is (as 0.x did); txt2img only these.
        let mut a = super::ActionInputs::of(&rows, action == "img2img");
        if action != "get_models" {
            let declared: Vec<String> = a.inputs.iter().map(|i| i.name.clone()).collect();
            for key in PASSTHROUGH.iter().chain(OWN_KEYS).filter(|k| !declared.iter().any(|d| d == *k)) {
                a.inputs.push(super::InputDoc {
                    name: key.to_string(),
                    ty: S,
                    required: false,
                    default: None,
                    choices: None,
                    description: "Sent to the WebUI's API as it is.".into(),
                    any: true,
                });
            }
        }
        Some(a)
    }

    async fn call(&self, action: &str, inputs: JsonMap, ctx: &ToolCtx) -> Result<JsonMap, ToolError> {
        let host = opt_str(&inputs, "host").map(|h| h.trim_end_matches('/').to_string()).unwrap_or_else(|| self.host.clone());
        match action {
            "get_models" => {
                let v = self.request(&host, reqwest::Method::GET, "/sdapi/v1/sd-models", None).await?;
                let models: Vec<Value> = v.as_array().cloned().unwrap_or_default();
                let names: Vec<Value> = models.iter().filter_map(|m| m.get("title").or(m.get("model_name")).cloned()).collect();
                Ok(super::outputs(json!({"models": models, "names": names, "count": names.len()})))
            }
            "txt2img" | "img2img" => {
                let mut body = Map::new();
                for key in PASSTHROUGH {
                    if let Some(v) = inputs.get(*key).filter(|v| !v.is_null()) {
                        body.insert((*key).to_string(), v.clone());
                    }
                }
                // What 0.x sent when the recipe did not say: the same recipe makes the same kind of
                // image whatever the WebUI's own defaults are. (0.x always sent seed -1, even over
                // the recipe's own `seed`; a recipe's seed is kept here.)
                for (key, value) in [
                    ("width", json!(512)),
                    ("height", json!(512)),
                    ("steps", json!(20)),
                    ("cfg_scale", json!(7.0)),
                    ("sampler_name", json!("Euler a")),
                    ("seed", json!(-1)),
                    ("batch_size", json!(1)),
                    ("n_iter", json!(1)),
                    ("negative_prompt", json!("")),
                ] {
                    body.entry(key).or_insert(value);
                }
                if named_model(&inputs)?.is_some() {
                    let models = self.request(&host, reqwest::Method::GET, "/sdapi/v1/sd-models", None).await?;
                    if let Some(title) = model_title(&inputs, models.as_array().map(Vec::as_slice).unwrap_or_default(), &host)? {
                        let overrides = body.entry("override_settings").or_insert_with(|| json!({}));
                        if let Some(o) = overrides.as_object_mut() {
                            o.insert("sd_model_checkpoint".into(), json!(title));
                        }
                    }
                }
                if action == "txt2img" && !body.contains_key("prompt") {
                    return Err(ToolError::failed("sd_client.txt2img needs `prompt`"));
                }
                if action == "img2img" {
                    // 0.x sent every other key of an img2img step to the API as it was
                    // (`mask_blur`, `inpainting_fill`, ...): so does this.
                    for (k, v) in &inputs {
                        if !OWN_KEYS.contains(&k.as_str()) && !v.is_null() {
                            body.entry(k.clone()).or_insert(v.clone());
                        }
                    }
                    let path = need_str(&inputs, "init_image", "sd_client.img2img")
                        .or_else(|_| need_str(&inputs, "input", "sd_client.img2img"))?;
                    let bytes = std::fs::read(path).map_err(|e| ToolError::failed(format!("sd_client.img2img: `{path}`: {e}")))?;
                    body.insert("init_images".into(), json!([base64::engine::general_purpose::STANDARD.encode(bytes)]));
                    body.entry("denoising_strength").or_insert(json!(opt_f64(&inputs, "strength").unwrap_or(0.7)));
                }
                let (path, body) = (format!("/sdapi/v1/{action}"), Value::Object(body));
                let request = self.request(&host, reqwest::Method::POST, &path, Some(&body));
                match super::until_cancelled(ctx, request).await {
                    Err(ToolError::Cancelled) => {
                        // Stop the generation too, not only our wait for it.
                        let interrupt = self.request(&host, reqwest::Method::POST, "/sdapi/v1/interrupt", None);
                        let _ = tokio::time::timeout(Duration::from_secs(2), interrupt).await;
                        Err(ToolError::Cancelled)
                    }
                    r => save_images(&r?, &inputs, ctx),
                }
            }
            other => Err(ToolError::failed(format!("sd_client has no action `{other}` (txt2img, img2img, get_models)"))),
        }
    }
}

/// Decode `images` (base64 PNGs) into files; outputs `primary`, `image_0..n`, `images`, `seed`,
/// `model_hash` (the checkpoint that drew them, as the WebUI says).
fn save_images(v: &Value, inputs: &JsonMap, ctx: &ToolCtx) -> Result<JsonMap, ToolError> {
    let images = v
        .get("images")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| ToolError::failed("SD WebUI answered without images"))?;
    let dir = opt_str(inputs, "output_dir").map(std::path::PathBuf::from).unwrap_or_else(|| ctx.temp_dir.clone());
    std::fs::create_dir_all(&dir).map_err(|e| ToolError::failed(format!("sd_client: `{}`: {e}", dir.display())))?;
    let stem = opt_str(inputs, "filename").unwrap_or_else(|| ctx.step_id.replace(['[', ']', '.', '#'], "_"));
    let mut out = Map::new();
    let mut paths = Vec::new();
    for (i, img) in images.iter().enumerate() {
        let b64 = img.as_str().unwrap_or_default();
        let b64 = b64.split_once(',').map(|(_, d)| d).unwrap_or(b64); // "data:image/png;base64,..."
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|e| ToolError::failed(format!("SD WebUI sent image {i} that is not base64: {e}")))?;
        let path = dir.join(format!("{stem}_{i}.png"));
        std::fs::write(&path, bytes).map_err(|e| ToolError::failed(format!("sd_client: `{}`: {e}", path.display())))?;
        let p = path.to_string_lossy().into_owned();
        out.insert(format!("image_{i}"), json!(p));
        paths.push(p);
    }
    out.insert("primary".into(), json!(paths[0]));
    out.insert("image".into(), json!(paths[0])); // 0.x's img2img output
    out.insert("count".into(), json!(paths.len()));
    out.insert("images".into(), json!(paths));
    let info: Option<Value> = v.get("info").and_then(Value::as_str).and_then(|s| serde_json::from_str(s).ok());
    out.insert("seed".into(), info.as_ref().and_then(|i| i.get("seed")).cloned().unwrap_or(Value::Null));
    // Which checkpoint drew it (the sha256's first 10 digits), as the WebUI says.
    out.insert("model_hash".into(), info.as_ref().and_then(|i| i.get("sd_model_hash")).cloned().unwrap_or(Value::Null));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::stand_in::{ctx, reply, stand_in};
    use std::sync::Arc;

    fn tool(host: &str) -> SdClient {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.yaml");
        std::fs::write(&f, format!("services:\n  sd:\n    host: {host}\n    timeout: 5\n")).unwrap();
        SdClient::new(&Config::from_file(&f).unwrap())
    }

    const PNG_1PX: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

    #[tokio::test]
    async fn txt2img_saves_every_image_and_img2img_sends_the_init_image() {
        let (host, log) = stand_in(Arc::new(|path, body| match path {
            "/sdapi/v1/txt2img" | "/sdapi/v1/img2img" => {
                let n = body["batch_size"].as_u64().unwrap_or(1) as usize;
                reply(
                    200,
                    &json!({"images": vec![PNG_1PX; n], "parameters": {}, "info": "{\"seed\": 1234, \"sd_model_hash\": \"aaaaaaaaaa\"}"})
                        .to_string(),
                )
            }
            _ => reply(404, r#"{"detail":"Not Found"}"#),
        }))
        .await;
        let dir = tempfile::tempdir().unwrap();
        let t = tool(&host);
        let out = t
            .call(
                "txt2img",
                json!({"prompt": "a red fox", "width": 512, "batch_size": 2, "output_dir": dir.path()}).as_object().unwrap().clone(),
                &ctx(),
            )
            .await
            .unwrap();
        assert_eq!(out["count"], 2);
        assert_eq!(out["seed"], 1234);
        assert_eq!(out["model_hash"], "aaaaaaaaaa");
        let id = json!({"sha256": "a".repeat(64)});
        assert!(t.confirms("txt2img", &id, &out).is_ok());
        let other = json!({"sha256": "b".repeat(64)});
        assert!(t
            .confirms("txt2img", &other, &out)
            .unwrap_err()
            .to_string()
            .contains("drew it with checkpoint aaaaaaaaaa, not the bbbbbbbbbb"));
        let mut silent = out.clone();
        silent.insert("model_hash".into(), Value::Null);
        assert!(t.confirms("txt2img", &id, &silent).is_err(), "an answer that does not say is not stored");
        let primary = out["primary"].as_str().unwrap();
        assert_eq!(primary, out["image_0"].as_str().unwrap());
        assert!(std::fs::read(primary).unwrap().starts_with(b"\x89PNG"));
        let sent = log.lock().unwrap()[0].1.clone();
        assert_eq!((sent["prompt"].as_str(), sent["width"].as_u64()), (Some("a red fox"), Some(512)));
        // 0.x's defaults for what the recipe left out.
        assert_eq!((sent["sampler_name"].as_str(), sent["seed"].as_i64(), sent["steps"].as_u64()), (Some("Euler a"), Some(-1), Some(20)));
        assert_eq!((sent["height"].as_u64(), sent["cfg_scale"].as_f64(), sent["n_iter"].as_u64()), (Some(512), Some(7.0), Some(1)));
        assert_eq!(sent["batch_size"], 2, "the recipe's own value wins");
        let out2 = t
            .call(
                "img2img",
                json!({"init_image": primary, "prompt": "snowy", "output_dir": dir.path(), "mask_blur": 4}).as_object().unwrap().clone(),
                &ctx(),
            )
            .await
            .unwrap();
        assert_eq!(out2["count"], 1);
        let sent = log.lock().unwrap()[1].1.clone();
        assert_eq!(sent["init_images"][0].as_str().unwrap(), PNG_1PX);
        assert_eq!(sent["denoising_strength"], 0.7, "0.x's default");
        assert_eq!(sent["mask_blur"], 4, "other keys go to the API, as in 0.x");
        assert!(sent.get("output_dir").is_none() && sent.get("init_image").is_none(), "the tool's own keys do not");
        assert_eq!(out2["image"], out2["primary"]);
    }

    #[tokio::test]
    async fn models_and_errors() {
        let (host, _) = stand_in(Arc::new(|path, _| match path {
            "/sdapi/v1/sd-models" => reply(200, r#"[{"title":"v1-5.safetensors [abc]","model_name":"v1-5"}]"#),
            "/sdapi/v1/txt2img" => reply(500, r#"{"error":"OutOfMemoryError","detail":"CUDA out of memory"}"#),
            _ => reply(404, "{}"),
        }))
        .await;
        let t = tool(&host);
        let m = t.call("get_models", JsonMap::new(), &ctx()).await.unwrap();
        assert_eq!(m["names"], json!(["v1-5.safetensors [abc]"]));
        let e = t.call("txt2img", json!({"prompt": "x"}).as_object().unwrap().clone(), &ctx()).await.unwrap_err();
        assert_eq!(e.to_string(), format!("SD WebUI at {host} answered HTTP 500: CUDA out of memory"));
        let e = t.call("img2img", json!({"init_image": "/nonexistent.png"}).as_object().unwrap().clone(), &ctx()).await.unwrap_err();
        assert!(e.to_string().starts_with("sd_client.img2img: `/nonexistent.png`"), "{e}");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let e = tool(&format!("http://127.0.0.1:{port}")).call("get_models", JsonMap::new(), &ctx()).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("SD WebUI is not running at http://127.0.0.1:{port}: start it with `--api`, or set `services.sd.host`")
        );
    }

    fn models() -> Value {
        // As the WebUI's `/sd-models` lists them: `hash` is the sha256's first 10 digits (none
        // before the file was hashed).
        let sha = |c: char| c.to_string().repeat(64);
        json!([
            {"title": "base.safetensors [aaaaaaaaaa]", "model_name": "base", "hash": "aaaaaaaaaa", "sha256": sha('a'),
             "filename": "/m/Stable-diffusion/base.safetensors"},
            {"title": "sub/base-xl.safetensors [bbbbbbbbbb]", "model_name": "sub_base-xl", "hash": "bbbbbbbbbb", "sha256": sha('b'),
             "filename": "/m/Stable-diffusion/sub/base-xl.safetensors"},
            {"title": "old.ckpt", "model_name": "old", "hash": null, "sha256": null, "filename": "/m/Stable-diffusion/old.ckpt"},
            {"title": "win.safetensors [cccccccccc]", "model_name": "win", "hash": "cccccccccc", "sha256": sha('c'),
             "filename": "C:\\sd\\models\\Stable-diffusion\\win.safetensors"},
            {"title": "a/twin.safetensors [dddddddddd]", "model_name": "a_twin", "hash": "dddddddddd", "sha256": sha('d'),
             "filename": "/m/Stable-diffusion/a/twin.safetensors"},
            {"title": "b/twin.ckpt [eeeeeeeeee]", "model_name": "b_twin", "hash": "eeeeeeeeee", "sha256": sha('e'),
             "filename": "/m/Stable-diffusion/b/twin.ckpt"}
        ])
    }

    #[test]
    fn a_checkpoint_is_found_by_the_names_the_webui_knows_it_by_and_no_other() {
        let list = models();
        let m = list.as_array().unwrap();
        let title = |w: &str| checkpoint(m, w).map(|c| c["title"].as_str().unwrap().to_string());
        for name in [
            "sub/base-xl.safetensors [bbbbbbbbbb]",
            "sub/base-xl.safetensors",
            "base-xl",
            "sub_base-xl",
            "bbbbbbbbbb",
            &"b".repeat(64),
            "base-xl [bbbbbbbbbb]",
        ] {
            assert_eq!(title(name).as_deref(), Some("sub/base-xl.safetensors [bbbbbbbbbb]"), "{name}");
        }
        assert_eq!(title("old").as_deref(), Some("old.ckpt"));
        assert_eq!(title("win").as_deref(), Some("win.safetensors [cccccccccc]"), "a Windows path's stem");
        assert_eq!(title("a_twin").as_deref(), Some("a/twin.safetensors [dddddddddd]"));
        // Not names the WebUI knows (it does not look for parts of titles), or names two
        // checkpoints share (which one the WebUI takes depends on the order it hashed them).
        for unknown in ["base-x", "sub/base-xl", "bbbbbbbbb", "", "/m/Stable-diffusion/base.safetensors", "twin", "old.ckpt [33333333]"] {
            assert_eq!(title(unknown), None, "{unknown}");
        }
    }

    #[tokio::test]
    async fn model_is_the_checkpoint_the_call_loads_and_one_the_webui_lacks_fails() {
        let (host, log) = stand_in(Arc::new(|path, _| match path {
            "/sdapi/v1/sd-models" => reply(200, &models().to_string()),
            "/sdapi/v1/txt2img" => {
                reply(200, &json!({"images": [PNG_1PX], "info": "{\"seed\": 1, \"sd_model_hash\": \"bbbbbbbbbb\"}"}).to_string())
            }
            _ => reply(404, "{}"),
        }))
        .await;
        let dir = tempfile::tempdir().unwrap();
        let t = tool(&host);
        let call = |model: &str| {
            let inputs = json!({"prompt": "fox", "model": model, "output_dir": dir.path()}).as_object().unwrap().clone();
            let t = &t;
            async move { t.call("txt2img", inputs, &ctx()).await }
        };
        call("base-xl").await.unwrap();
        let sent = log.lock().unwrap().iter().find(|(p, _)| p == "/sdapi/v1/txt2img").unwrap().1.clone();
        assert_eq!(sent["override_settings"]["sd_model_checkpoint"], "sub/base-xl.safetensors [bbbbbbbbbb]");
        log.lock().unwrap().clear();
        call("").await.unwrap();
        let sent = log.lock().unwrap().iter().find(|(p, _)| p == "/sdapi/v1/txt2img").unwrap().1.clone();
        assert!(sent.get("override_settings").is_none(), "an empty model names none: {sent}");
        let e = call("sdxl_base_1.0").await.unwrap_err().to_string();
        assert!(e.contains("has no one checkpoint `sdxl_base_1.0` (it has: ") && e.contains("base.safetensors [aaaaaaaaaa]"), "{e}");
    }

    fn webui(options: &'static str) -> crate::tools::stand_in::Handler {
        Arc::new(move |path, _| match path {
            "/sdapi/v1/options" => reply(200, options),
            "/sdapi/v1/sd-models" => reply(200, &models().to_string()),
            _ => reply(404, "{}"),
        })
    }

    #[tokio::test]
    async fn the_identity_is_the_checkpoint_and_settings_the_call_uses() {
        let (host, _) = stand_in(webui(
            r#"{"sd_model_checkpoint": "base.safetensors [aaaaaaaaaa]", "sd_checkpoint_hash": "aaa", "sd_vae": "Automatic",
                "CLIP_stop_at_last_layers": 1, "s_churn": 0.0, "my_extension_strength": 0.5, "outdir_samples": "x", "ui_reorder": "y"}"#,
        ))
        .await;
        let t = tool(&host);
        let id = |inputs: Value| {
            let t = &t;
            async move { t.identity("txt2img", inputs.as_object().unwrap()).await }
        };
        let loaded = id(json!({"prompt": "fox"})).await.unwrap().unwrap();
        assert_eq!(loaded["sha256"], "a".repeat(64));
        // Every setting that may change the image, an extension's too; not where files go or the UI.
        assert_eq!(
            loaded["settings"],
            json!({"sd_vae": "Automatic", "CLIP_stop_at_last_layers": 1, "s_churn": 0.0, "my_extension_strength": 0.5})
        );
        // The checkpoint the WebUI loads for this call, not the one loaded now.
        let other = id(json!({"prompt": "fox", "override_settings": {"sd_model_checkpoint": "base-xl"}})).await.unwrap().unwrap();
        assert_eq!(
            (other["sha256"].as_str(), other["model"].as_str()),
            (Some(&*"b".repeat(64)), Some("sub/base-xl.safetensors [bbbbbbbbbb]"))
        );
        // `model` is the checkpoint the call loads, as the override is.
        assert_eq!(id(json!({"prompt": "fox", "model": "base-xl"})).await.unwrap().unwrap()["sha256"], "b".repeat(64));
        let vae = id(json!({"prompt": "fox", "override_settings": {"sd_vae": "kl-f8.pt"}})).await.unwrap().unwrap();
        assert_eq!(vae["settings"]["sd_vae"], "kl-f8.pt", "the step's override over the WebUI's setting");
        let refined = id(json!({"prompt": "fox", "refiner_checkpoint": "base-xl"})).await.unwrap().unwrap();
        assert_eq!(refined["refiner"], "b".repeat(64));
        // Not cached: a name that is unknown, shared, or made with the old hash; a checkpoint
        // not hashed yet; a prompt naming a LoRA file.
        for (inputs, says) in [
            (json!({"prompt": "fox", "override_settings": {"sd_model_checkpoint": "base-x"}}), "cannot tell which checkpoint"),
            (json!({"prompt": "fox", "override_settings": {"sd_model_checkpoint": "twin"}}), "cannot tell which checkpoint"),
            (json!({"prompt": "fox", "override_settings": {"sd_model_checkpoint": "1a2b3c4d"}}), "cannot tell which checkpoint"),
            (json!({"prompt": "fox", "override_settings": {"sd_model_checkpoint": "old"}}), "lists no sha256 for checkpoint `old.ckpt`"),
            (json!({"prompt": "fox <lora:style:0.8>"}), "`prompt` names a file by `<lora:…>`"),
            (json!({"prompt": "fox", "refiner_checkpoint": "twin"}), "cannot tell the sha256 of `refiner_checkpoint: twin`"),
            (json!({"prompt": "fox", "alwayson_scripts": {"controlnet": {}}}), "`alwayson_scripts` runs WebUI scripts"),
            (json!({"prompt": "fox", "model": "sdxl_base_1.0"}), "has no one checkpoint `sdxl_base_1.0`"),
            (json!({"prompt": "fox", "model": "base-xl", "override_settings": {"sd_model_checkpoint": "base"}}), "name two checkpoints"),
        ] {
            let e = id(inputs.clone()).await.unwrap_err().to_string();
            assert!(e.contains(says), "{inputs}: {e}");
        }
    }

    #[tokio::test]
    async fn a_loaded_checkpoint_not_listed_is_not_cached() {
        let (host, _) = stand_in(webui(r#"{"sd_model_checkpoint": "gone.safetensors"}"#)).await;
        let e = tool(&host).identity("txt2img", json!({"prompt": "fox"}).as_object().unwrap()).await.unwrap_err();
        assert_eq!(e.to_string(), format!("the SD WebUI at {host} does not list its loaded checkpoint `gone.safetensors`"));
    }

    #[tokio::test]
    async fn a_webui_without_api_says_so() {
        let (host, _) = stand_in(Arc::new(|_, _| reply(404, r#"{"detail":"Not Found"}"#))).await;
        let e = tool(&host).call("get_models", JsonMap::new(), &ctx()).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("SD WebUI at {host} has no `/sdapi/v1/sd-models`: start it with `--api` (e.g. `./webui.sh --api`)")
        );
    }

    #[tokio::test]
    async fn a_stopped_generation_is_interrupted_on_the_server() {
        let (host, log) = stand_in(Arc::new(|path, _| match path {
            "/sdapi/v1/txt2img" => crate::tools::stand_in::Reply { delay_ms: 30_000, ..reply(200, "{}") },
            _ => reply(200, "{}"),
        }))
        .await;
        let c = ctx();
        let stop = c.cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            stop.cancel();
        });
        let t = tool(&host);
        let call = t.call("txt2img", json!({"prompt": "fox"}).as_object().unwrap().clone(), &c);
        let r = tokio::time::timeout(Duration::from_secs(10), call).await.expect("the call did not stop");
        assert!(matches!(r, Err(ToolError::Cancelled)), "{r:?}");
        let paths: Vec<String> = log.lock().unwrap().iter().map(|(p, _)| p.clone()).collect();
        assert_eq!(paths, ["/sdapi/v1/txt2img", "/sdapi/v1/interrupt"]);
    }
}
