//! `musicgen` and `acestep`: music from models that live in their own Python
//! environments (as in 0.x): the tool runs `VENV/bin/python SCRIPT ...` in the
//! folder `services.NAME.venv_dir` names, and checks the WAV it wrote.

use super::process::{run_process, tail, ProcessSpec};
use super::{opt_f64, opt_str, JsonMap, Tool, ToolCtx, ToolError, ToolKind};
use crate::config::Config;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy)]
enum Model {
    MusicGen,
    AceStep,
}

pub struct Music {
    model: Model,
    dir: Option<PathBuf>,
}

impl Music {
    pub fn musicgen(config: &Config) -> Self {
        Music { model: Model::MusicGen, dir: venv_dir(config, "musicgen") }
    }

    pub fn acestep(config: &Config) -> Self {
        Music { model: Model::AceStep, dir: venv_dir(config, "acestep") }
    }

    fn service(&self) -> &'static str {
        match self.model {
            Model::MusicGen => "musicgen",
            Model::AceStep => "acestep",
        }
    }

    fn script(&self) -> &'static str {
        match self.model {
            Model::MusicGen => "generate_music.py",
            Model::AceStep => "generate.py",
        }
    }

    /// The folder's Python and generation script, or what is missing.
    fn paths(&self, dir: &Path) -> Result<(PathBuf, PathBuf), String> {
        let python = ["venv/bin/python", ".venv/bin/python", "venv/Scripts/python.exe", ".venv/Scripts/python.exe"]
            .iter()
            .map(|p| dir.join(p))
            .find(|p| p.exists())
            .ok_or_else(|| format!("no Python environment in `{}` (expected venv/bin/python or .venv/bin/python)", dir.display()))?;
        let script = dir.join(self.script());
        if !script.is_file() {
            return Err(format!("`{}` not found", script.display()));
        }
        Ok((python, script))
    }
}

fn venv_dir(config: &Config, service: &str) -> Option<PathBuf> {
    config.service(service).get("venv_dir").and_then(Value::as_str).map(crate::config::expand)
}

#[async_trait::async_trait]
impl Tool for Music {
    fn name(&self) -> &str {
        self.service()
    }
    fn actions(&self) -> Vec<String> {
        vec!["generate".into()]
    }
    fn kind(&self) -> ToolKind {
        ToolKind::Native
    }
    fn description(&self) -> String {
        match self.model {
            Model::MusicGen => "Generate music with MusicGen from its own Python environment".into(),
            Model::AceStep => "Generate songs (with lyrics) with ACE-Step from its own Python environment".into(),
        }
    }
    fn missing(&self) -> Vec<String> {
        let service = self.service();
        match &self.dir {
            None => {
                vec![format!("`services.{service}.venv_dir` (the folder of your {service} install, with its venv and {})", self.script())]
            }
            Some(d) => self.paths(d).err().into_iter().collect(),
        }
    }

    fn inputs(&self, action: &str) -> Option<super::ActionInputs> {
        use crate::recipe::InputType::{Integer as I, Number as N, Path as P, String as S};
        (action == "generate").then(|| {
            let mut a = super::ActionInputs::of(
                &[
                    ("prompt", S, true, "What the music is like."),
                    ("duration", N, false, "Seconds of music."),
                    ("lyrics", S, false, "Lyrics to sing (ACE-Step)."),
                    ("model", S, false, "The model size or name."),
                    ("steps", I, false, "Sampling steps (ACE-Step)."),
                    ("output", P, false, "The audio file to write."),
                ],
                false,
            );
            a.inputs.push(super::InputDoc {
                name: format!("{}_dir", self.service()),
                ty: crate::recipe::InputType::Path,
                required: false,
                default: None,
                choices: None,
                description: format!("The {} install (with its venv), instead of `services.{}.venv_dir`.", self.service(), self.service()),
                any: false,
            });
            a
        })
    }

    async fn call(&self, action: &str, inputs: JsonMap, ctx: &ToolCtx) -> Result<JsonMap, ToolError> {
        let service = self.service();
        if action != "generate" {
            return Err(ToolError::failed(format!("{service} has no action `{action}` (generate)")));
        }
        let dir = opt_str(&inputs, &format!("{service}_dir")).map(|d| crate::config::expand(&d)).or_else(|| self.dir.clone()).ok_or_else(
            || ToolError::failed(format!("{service} is not configured: set `services.{service}.venv_dir` in localforge.yaml")),
        )?;
        let (python, script) = self.paths(&dir).map_err(|e| ToolError::failed(format!("{service}: {e}")))?;
        let prompt = opt_str(&inputs, "prompt").unwrap_or_default();
        let default_duration = if matches!(self.model, Model::MusicGen) { 30.0 } else { 60.0 };
        let duration = opt_f64(&inputs, "duration").unwrap_or(default_duration).round().max(1.0) as u64;
        let output = opt_str(&inputs, "output").map(PathBuf::from).unwrap_or_else(|| ctx.temp_dir.join(format!("{service}_music.wav")));
        let parent = output.parent().map(Path::to_path_buf).unwrap_or_else(|| ctx.temp_dir.clone());
        std::fs::create_dir_all(&parent).map_err(|e| ToolError::failed(format!("{service}: `{}`: {e}", parent.display())))?;
        let mut argv = vec![
            python.to_string_lossy().into_owned(),
            script.to_string_lossy().into_owned(),
            prompt.clone(),
            "--duration".into(),
            duration.to_string(),
        ];
        match self.model {
            Model::MusicGen => {
                let stem = output.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "music".into());
                argv.extend(["--model".into(), opt_str(&inputs, "model").unwrap_or_else(|| "small".into())]);
                argv.extend(["--output".into(), parent.to_string_lossy().into_owned(), "--name".into(), stem]);
                if duration > 30 {
                    argv.push("--extend".into());
                }
            }
            Model::AceStep => {
                argv.extend(["--output".into(), output.to_string_lossy().into_owned()]);
                argv.extend(["--steps".into(), format!("{}", opt_f64(&inputs, "steps").unwrap_or(27.0) as u64)]);
                if let Some(lyrics) = opt_str(&inputs, "lyrics").filter(|l| !l.is_empty()) {
                    argv.extend(["--lyrics".into(), lyrics]);
                }
            }
        }
        ctx.log("INFO", &format!("generating {duration}s of music with {service}"));
        let out = run_process(&ProcessSpec { argv, cwd: Some(dir.clone()), ..Default::default() }.for_step(ctx), &ctx.cancel).await?;
        if out.code != 0 {
            return Err(ToolError::Failed {
                message: format!("{service} failed (exit code {}): {}", out.code, tail(&out.stderr, 10, 1200)),
                detail: Some(out.stderr),
            });
        }
        let written = if output.with_extension("wav").exists() {
            Some(output.with_extension("wav"))
        } else {
            let stem = output.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let mut found: Vec<PathBuf> = std::fs::read_dir(&parent)
                .into_iter()
                .flatten()
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.extension().is_some_and(|e| e == "wav") && p.file_stem().is_some_and(|s| s.to_string_lossy().starts_with(&stem))
                })
                .collect();
            found.sort();
            found.into_iter().next()
        };
        let written =
            written.ok_or_else(|| ToolError::failed(format!("{service} finished but wrote no WAV for `{}`", output.display())))?;
        Ok(super::outputs(json!({"output": written, "duration": duration, "prompt": prompt})))
    }
}
