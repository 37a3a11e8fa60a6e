//! Model profiles (`data/model_profiles.yaml`) and the memory a model needs.

use super::hardware::{round2, GB};
use crate::diag::Diagnostic;
use crate::yaml;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The shipped file, used when the data folder is not known (engine tests, benches).
const SHIPPED: &str = include_str!("../../python/localforge/data/model_profiles.yaml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profiles {
    #[serde(default)]
    pub quant_bits: IndexMap<String, f64>,
    #[serde(default)]
    pub kv_cache_bytes: IndexMap<String, f64>,
    #[serde(default = "default_context")]
    pub default_context: u32,
    #[serde(default)]
    pub llm: Vec<LlmProfile>,
    #[serde(default)]
    pub image: Vec<ImageProfile>,
    #[serde(default)]
    pub speech: Vec<SpeechProfile>,
}

fn default_context() -> u32 {
    4096
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmProfile {
    pub name: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    pub params_b: f64,
    pub quant: String,
    pub layers: u32,
    pub kv_heads: u32,
    pub head_dim: u32,
    /// Longest context the model supports.
    pub context: u32,
    #[serde(default)]
    pub extra_gb: f64,
    pub tasks: Vec<String>,
    pub quality: u8,
    pub measured: Option<Measured>,
}

/// A published figure for a loaded model.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Measured {
    pub vram_gb: f64,
    pub context: u32,
    pub source: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageProfile {
    pub name: String,
    pub family: String,
    pub weights_gb: f64,
    pub activations_gb_per_mpx: f64,
    pub native: u32,
    pub tasks: Vec<String>,
    pub quality: u8,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpeechProfile {
    pub name: String,
    pub vram_gb: f64,
    pub tasks: Vec<String>,
    pub quality: u8,
}

/// How the memory of an LLM was worked out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LlmEstimate {
    pub model: String,
    pub quant: String,
    pub context: u32,
    pub kv_type: String,
    pub weights_gb: f64,
    pub kv_cache_gb: f64,
    pub overhead_gb: f64,
    pub total_gb: f64,
    /// `formula`, or the source of the measured figure used.
    pub basis: String,
}

impl LlmEstimate {
    /// What the figure is made of: the formula's parts, or where the measured figure comes from.
    pub fn parts(&self) -> String {
        match self.basis.as_str() {
            "formula" => format!(
                "{:.1} weights ({}) + {:.1} KV cache ({} ctx, {}) + {:.1} overhead",
                self.weights_gb, self.quant, self.kv_cache_gb, self.context, self.kv_type, self.overhead_gb
            ),
            measured => measured.to_string(),
        }
    }
}

/// How the KV cache is stored and how long the context is.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmSettings {
    pub context: Option<u32>,
    pub kv_type: String,
}

impl Default for LlmSettings {
    fn default() -> Self {
        LlmSettings { context: None, kv_type: "f16".into() }
    }
}

impl LlmSettings {
    /// Ollama's settings as the environment gives them: `OLLAMA_CONTEXT_LENGTH`, and
    /// `OLLAMA_KV_CACHE_TYPE` (which Ollama honours only with `OLLAMA_FLASH_ATTENTION`).
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Self {
        let flash = env("OLLAMA_FLASH_ATTENTION").is_some_and(|v| truthy(&v));
        let kv = env("OLLAMA_KV_CACHE_TYPE").map(|v| v.trim().to_lowercase()).filter(|v| !v.is_empty());
        LlmSettings {
            context: env("OLLAMA_CONTEXT_LENGTH").and_then(|v| v.trim().parse().ok()),
            kv_type: match kv {
                Some(k) if flash => k,
                _ => "f16".into(),
            },
        }
    }
}

impl LlmSettings {
    /// The context Ollama gives a model when nothing sets `num_ctx`, by its version:
    /// 2048 before 0.6.7, 4096 until 0.15.5, then by total VRAM (ollama/ollama#13946):
    /// 4096 under 23 GiB, 32768 under 47 GiB, 262144 above. Unknown version: 4096.
    pub fn with_ollama_default(mut self, version: Option<&str>, vram_total_gb: f64) -> Self {
        if self.context.is_none() {
            let v = version.map(parse_version).unwrap_or((0, 6, 7));
            self.context = Some(if v < (0, 6, 7) {
                2048
            } else if v < (0, 15, 5) {
                4096
            } else if vram_total_gb >= 47.0 {
                262_144
            } else if vram_total_gb >= 23.0 {
                32_768
            } else {
                4096
            });
        }
        self
    }
}

/// `0.15.5`, `0.6.7-rc1`, `v0.12.3` → (major, minor, patch); unparsable parts are 0.
fn parse_version(v: &str) -> (u32, u32, u32) {
    let mut parts = v.trim().trim_start_matches('v').split(['.', '-']).map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

pub fn truthy(v: &str) -> bool {
    matches!(v.trim().to_lowercase().as_str(), "1" | "true" | "yes" | "on")
}

impl Profiles {
    pub fn shipped() -> Profiles {
        Profiles::parse(SHIPPED, "model_profiles.yaml (built in)").expect("the shipped model profiles parse")
    }

    pub fn parse(text: &str, file: &str) -> Result<Profiles, Diagnostic> {
        let node = yaml::parse(text).map_err(|d| Diagnostic::new(format!("{file}: {}", d.message)))?;
        let value = node.map(|n| n.to_json()).unwrap_or(serde_json::Value::Null);
        serde_json::from_value(value).map_err(|e| Diagnostic::new(format!("{file}: {e}")))
    }

    /// The shipped profiles (from `data_dir`, else the copy built in), then the user's
    /// additions (`user_file`), whose entries replace shipped ones of the same name.
    pub fn load(data_dir: Option<&Path>, user_file: Option<&Path>) -> Result<Profiles, Diagnostic> {
        let shipped = data_dir.map(|d| d.join("model_profiles.yaml")).filter(|p| p.is_file());
        let mut base = match shipped {
            Some(p) => Profiles::parse(
                &std::fs::read_to_string(&p).map_err(|e| Diagnostic::new(format!("{}: {e}", p.display())))?,
                &p.display().to_string(),
            )?,
            None => Profiles::shipped(),
        };
        if let Some(p) = user_file.filter(|p| p.is_file()) {
            let text = std::fs::read_to_string(p).map_err(|e| Diagnostic::new(format!("{}: {e}", p.display())))?;
            base.overlay(Profiles::parse(&text, &p.display().to_string())?);
        }
        Ok(base)
    }

    fn overlay(&mut self, user: Profiles) {
        self.quant_bits.extend(user.quant_bits);
        self.kv_cache_bytes.extend(user.kv_cache_bytes);
        for p in user.llm {
            self.llm.retain(|q| q.name != p.name);
            self.llm.push(p);
        }
        for p in user.image {
            self.image.retain(|q| q.name != p.name);
            self.image.push(p);
        }
        for p in user.speech {
            self.speech.retain(|q| q.name != p.name);
            self.speech.push(p);
        }
    }

    /// The profile of an Ollama model tag, and the quantisation the tag names
    /// (`llama3.1:8b-instruct-q8_0` → the `llama3.1:8b` profile at Q8_0).
    pub fn llm(&self, tag: &str) -> Option<(&LlmProfile, String)> {
        let tag = tag.trim().to_lowercase();
        let tag = tag.strip_prefix("library/").unwrap_or(&tag);
        let names = |p: &LlmProfile| std::iter::once(p.name.clone()).chain(p.aliases.iter().cloned()).collect::<Vec<_>>();
        let quant = self.quant_in(tag);
        let found = self.llm.iter().find(|p| names(p).iter().any(|n| n == tag)).or_else(|| {
            // `name:size-variant-quant`: the longest profile name the tag starts with, followed by `-`.
            self.llm
                .iter()
                .flat_map(|p| names(p).into_iter().map(move |n| (p, n)))
                .filter(|(_, n)| n.contains(':') && tag.strip_prefix(n.as_str()).is_some_and(|rest| rest.starts_with('-')))
                .max_by_key(|(_, n)| n.len())
                .map(|(p, _)| p)
        })?;
        Some((found, quant.unwrap_or_else(|| found.quant.clone())))
    }

    fn quant_in(&self, tag: &str) -> Option<String> {
        let variant = tag.split_once(':')?.1;
        variant.split('-').rev().find_map(|part| {
            let up = part.to_uppercase();
            let up = if up == "FP16" { "F16".to_string() } else { up };
            self.quant_bits.contains_key(&up).then_some(up)
        })
    }

    /// Memory for `model` with `settings`; `None` when no profile matches the tag.
    pub fn estimate_llm(&self, model: &str, settings: &LlmSettings) -> Option<LlmEstimate> {
        let (p, quant) = self.llm(model)?;
        let context = settings.context.unwrap_or(self.default_context).min(p.context).max(1);
        Some(self.estimate_profile(p, &quant, context, &settings.kv_type))
    }

    pub fn estimate_profile(&self, p: &LlmProfile, quant: &str, context: u32, kv_type: &str) -> LlmEstimate {
        let bits = self.quant_bits.get(quant).copied().unwrap_or(4.89);
        let kv_bytes = self.kv_cache_bytes.get(kv_type).copied().unwrap_or(2.0);
        let weights = p.params_b * 1e9 * bits / 8.0 / GB + p.extra_gb;
        let kv_at = |ctx: u32| f64::from(p.layers) * f64::from(ctx) * f64::from(p.kv_heads) * f64::from(p.head_dim) * 2.0 * kv_bytes / GB;
        let kv = kv_at(context);
        let overhead = (0.05 * (weights + kv)).max(1.0);
        let (total, basis) = match &p.measured {
            Some(m) if quant == p.quant => ((m.vram_gb + kv - kv_at(m.context)).max(weights), format!("measured: {}", m.source)),
            _ => (weights + kv + overhead, "formula".to_string()),
        };
        LlmEstimate {
            model: p.name.clone(),
            quant: quant.to_string(),
            context,
            kv_type: kv_type.to_string(),
            weights_gb: round2(weights),
            kv_cache_gb: round2(kv),
            overhead_gb: round2(overhead),
            total_gb: round2(total),
            basis,
        }
    }

    /// The image profile for a checkpoint name (`sdxl`, `sd_xl_base_1.0.safetensors`, `flux1-dev-fp8`), if recognisable.
    pub fn image_for_checkpoint(&self, checkpoint: &str) -> Option<&ImageProfile> {
        let c = checkpoint.to_lowercase();
        let key = if c.contains("flux") {
            if c.contains("fp8") {
                "flux-dev-fp8"
            } else {
                "flux-dev"
            }
        } else if c.contains("xl") {
            "sdxl"
        } else if c.contains("1.5") || c.contains("v1-5") || c.contains("sd15") {
            "sd15"
        } else {
            return self.image.iter().find(|p| p.name == c);
        };
        self.image.iter().find(|p| p.name == key)
    }

    /// Memory for an image of `width` × `height` with profile `p`.
    pub fn estimate_image(p: &ImageProfile, width: u32, height: u32) -> f64 {
        let mpx = f64::from(width) * f64::from(height) / 1e6;
        round2(p.weights_gb + 1.0 + p.activations_gb_per_mpx * mpx)
    }

    /// The image profile a resolution most likely means when the checkpoint is unknown:
    /// SD 1.5 up to 768 px on the longer side, SDXL above.
    pub fn image_for_size(&self, width: u32, height: u32) -> Option<&ImageProfile> {
        let key = if width.max(height) <= 768 { "sd15" } else { "sdxl" };
        self.image.iter().find(|p| p.name == key)
    }
}
