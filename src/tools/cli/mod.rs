//! Tools defined in YAML: a command-line program run with an argument list
//! (never a shell, unless a definition says `shell: true`, and then every
//! value is quoted), typed and checked inputs, declared outputs.

mod def;
pub mod keys;
mod run;
pub mod shared;

pub use def::{load, parse, ToolDef};
pub use run::{confinement, preview};

use super::{JsonMap, Tool, ToolCtx, ToolError, ToolKind};

/// A loaded YAML tool.
pub struct CliTool {
    pub def: ToolDef,
}

#[async_trait::async_trait]
impl Tool for CliTool {
    fn name(&self) -> &str {
        &self.def.name
    }
    fn actions(&self) -> Vec<String> {
        self.def.actions.keys().cloned().collect()
    }
    fn kind(&self) -> ToolKind {
        ToolKind::Yaml
    }
    fn description(&self) -> String {
        self.def.description.clone()
    }
    fn source(&self) -> String {
        self.def.file.clone()
    }
    fn fingerprint(&self) -> String {
        format!("yaml:{}", self.def.hash)
    }
    /// As the definition says, unless its call depends on what the key cannot see: a
    /// working folder of the definition's own (relative names are read there), a `PATH` of
    /// its own (its programs are not those found on LocalForge's), or a folder named in its
    /// shell text, its environment or a default the step leaves in place.
    fn deterministic(&self, action: &str, inputs: &crate::tools::JsonMap) -> bool {
        let Some(a) = self.def.actions.get(action) else { return self.def.deterministic };
        self.def.deterministic
            && a.cwd.is_none()
            && !self.def.env.contains_key("PATH")
            && !a.env.contains_key("PATH")
            && !self.fixed_paths(action, inputs).iter().any(|p| std::path::Path::new(p).is_dir())
    }
    fn reads(&self, action: &str, inputs: &JsonMap) -> crate::tools::Reads {
        let mut programs: Vec<String> = self.def.binary.iter().cloned().collect();
        if let Some(a) = self.def.actions.get(action) {
            match &a.command {
                def::Command::Argv(words) => {
                    programs.extend(words.first().filter(|w| !crate::template::has_template(w)).cloned());
                    // A wrapper (`env`, `sh -c "..."`) names the program it runs in its words, and
                    // an interpreter the script it runs (`[python3, /opt/tool/run.py]`).
                    words.iter().for_each(|w| programs.extend(crate::tools::script::command_words(w)));
                    programs.extend(words.iter().filter(|w| w.starts_with('/') && std::path::Path::new(w.as_str()).is_file()).cloned());
                }
                def::Command::Shell(text) => {
                    programs.push("sh".into());
                    programs.extend(crate::tools::script::command_words(text));
                }
            }
        }
        // The files the definition itself names (its shell text, its environment, the
        // defaults the step leaves in place) count by their content, as its programs do.
        programs.extend(self.fixed_paths(action, inputs).into_iter().filter(|p| std::path::Path::new(p).is_file()));
        // Its program inherits LocalForge's whole environment, and may read any of it.
        crate::tools::Reads { programs, env: true }
    }
    fn needs(&self, _action: &str, _inputs: &crate::tools::JsonMap) -> crate::tools::Needs {
        crate::tools::Needs { gpu: self.def.min_vram_gb.is_some(), vram_gb: self.def.min_vram_gb, ..Default::default() }
    }
    fn binaries(&self) -> Vec<String> {
        self.def.binary.iter().cloned().collect()
    }
    fn missing(&self) -> Vec<String> {
        let Some(b) = &self.def.binary else { return Vec::new() };
        let fix = self.def.install_hint.as_deref();
        let path_var = std::env::var_os("PATH").unwrap_or_default();
        match crate::tools::process::which_in(b, &path_var) {
            None => vec![format!("`{b}` ({})", fix.unwrap_or("not on PATH"))],
            // Known by what it says it is: a stand-in `convert` is not ImageMagick.
            Some(p) if !crate::tools::binaries::genuine_blocking(&p) => {
                let fix = fix.map(|h| format!("; {h}")).unwrap_or_default();
                vec![format!("`{b}` (`{}` is not the real program{fix})", p.display())]
            }
            Some(_) => Vec::new(),
        }
    }

    /// As the definition declares them; an input it does not declare is refused.
    fn inputs(&self, action: &str) -> Option<crate::tools::ActionInputs> {
        let a = self.def.actions.get(action)?;
        let inputs = a
            .inputs
            .iter()
            .map(|(name, d)| crate::tools::InputDoc {
                name: name.clone(),
                ty: d.ty,
                required: d.required,
                default: d.default.clone(),
                choices: d.choices.clone(),
                description: d.description.clone().unwrap_or_default(),
                any: false,
            })
            .collect();
        Some(crate::tools::ActionInputs { inputs, open: false })
    }

    async fn call(&self, action: &str, inputs: JsonMap, ctx: &ToolCtx) -> Result<JsonMap, ToolError> {
        let def =
            self.def.actions.get(action).ok_or_else(|| {
                ToolError::failed(format!("`{}` has no action `{action}` ({})", self.def.name, self.actions().join(", ")))
            })?;
        run::run(&self.def, action, def, inputs, ctx).await
    }
}

impl CliTool {
    /// The absolute paths the definition writes into the call itself, which the step's
    /// inputs do not show: words of its shell text, of its environment's values, and of
    /// the defaults of the inputs the step does not give (words holding a template left
    /// out: what they render to is in the inputs or the run folder); `~/` and `$HOME/`
    /// as the home folder.
    fn fixed_paths(&self, action: &str, given: &JsonMap) -> Vec<String> {
        let Some(a) = self.def.actions.get(action) else { return Vec::new() };
        let mut texts: Vec<String> = self.def.env.values().chain(a.env.values()).cloned().collect();
        match &a.command {
            def::Command::Shell(text) => texts.push(text.clone()),
            def::Command::Argv(words) => {
                texts.extend(words.iter().skip(1).map(|w| shlex::try_quote(w).map(|q| q.into_owned()).unwrap_or_default()))
            }
        }
        for (name, input) in &a.inputs {
            if given.get(name).is_none_or(|v| v.is_null()) {
                texts.extend(input.default.iter().flat_map(shared::texts));
            }
        }
        // The home folder as the program's shell would expand it (`~/x`, `$HOME/x`).
        // (the action's env over the definition's, as the program gets them)
        let home = a.env.get("HOME").or_else(|| self.def.env.get("HOME")).cloned().or_else(|| std::env::var("HOME").ok());
        let expand = |w: String| -> String {
            let rest = ["~/", "$HOME/", "${HOME}/"].iter().find_map(|p| w.strip_prefix(p));
            match (rest, &home) {
                (Some(rest), Some(home)) => format!("{}/{rest}", home.trim_end_matches('/')),
                _ => w,
            }
        };
        texts
            .iter()
            .flat_map(|t| shlex::split(t).unwrap_or_else(|| t.split_whitespace().map(str::to_string).collect()))
            .filter(|w| !crate::template::has_template(w))
            .flat_map(|w| {
                let value = w.split_once('=').map(|(_, v)| v.to_string());
                [Some(w), value].into_iter().flatten()
            })
            .map(expand)
            .filter(|w| w.starts_with('/') && w.len() > 1)
            .collect()
    }
}

/// Every `*.yaml` definition in `dirs`: the tools, and the files that failed with why.
pub fn load_dirs(dirs: &[std::path::PathBuf]) -> (Vec<CliTool>, Vec<(String, String)>) {
    let mut tools = Vec::new();
    let mut broken = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else { continue };
        let mut files: Vec<_> =
            entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml")).collect();
        files.sort();
        let from_registry = installed(dir);
        for f in files {
            match load(&f) {
                // Installed from a registry and unchanged since: the registry's rules hold at
                // every load too (a definition installed before a rule existed is caught here).
                // Known by its content, not by the path recorded: the same folder reached by
                // another spelling (a linked HOME, `/home` as `/var/home`) is the same tool.
                Ok(mut def) if from_registry.iter().any(|(_, sha)| *sha == def.hash) => {
                    // A registry's tool always runs confined (docs/security.md).
                    def.sandbox = def.sandbox.max(crate::tools::sandbox::Confinement::On);
                    let doc = std::fs::read_to_string(&f).ok().and_then(|t| crate::yaml::parse(&t).ok().flatten()).map(|n| n.to_json());
                    match shared::refusals(&def, doc.as_ref()) {
                        refused if refused.is_empty() => tools.push(CliTool { def }),
                        refused => broken.push((
                            f.display().to_string(),
                            format!("installed from a registry, and refused: {}", crate::diag::Diagnostics(refused)),
                        )),
                    }
                }
                Ok(def) => tools.push(CliTool { def }),
                Err(diags) => broken.push((f.display().to_string(), crate::diag::Diagnostics(diags).to_string())),
            }
        }
    }
    (tools, broken)
}

/// The definitions `tools install` recorded in `dir/installed.json`: path and sha256 (the
/// path as it was spelled then; the sha256 is what identifies one).
fn installed(dir: &std::path::Path) -> Vec<(std::path::PathBuf, String)> {
    let Ok(text) = std::fs::read_to_string(dir.join("installed.json")) else { return Vec::new() };
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    doc.get("tools")
        .and_then(serde_json::Value::as_object)
        .map(|tools| {
            tools
                .values()
                .filter_map(|r| Some((std::path::PathBuf::from(r.get("path")?.as_str()?), r.get("sha256")?.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
