//! `blender`: 3D work in Blender's background mode. Each action writes its
//! arguments as JSON and runs the bundled driver script (`script.py`), which
//! builds the scene, renders with Cycles on the CPU and reports back; a Python
//! error in Blender fails the step with Blender's own message.

use super::process::{run_process, tail, ProcessSpec};
use super::{JsonMap, Tool, ToolCtx, ToolError, ToolKind};
use crate::config::Config;
use serde_json::{json, Value};

const SCRIPT: &str = include_str!("script.py");
const ACTIONS: &[&str] = &[
    "render",
    "render_animation",
    "create_primitive",
    "create_text_3d",
    "generate_texture",
    "render_isometric",
    "create_dice",
    "create_dice_set",
];

pub struct Blender {
    program: String,
}

/// The inputs the actions read (`script.py`'s `args`, and 0.x's spellings `compat_0x` maps).
const INPUTS: &[(&str, &str)] = &[
    ("input", "A .blend file to open (render, render_animation)."),
    ("output", "The image to write (default: in the run's temp folder)."),
    ("output_dir", "The folder for frames or a dice set's files."),
    ("export", "A mesh file to write instead of rendering (.glb, .gltf, .fbx, .obj)."),
    ("width", "Image width in pixels (default 256)."),
    ("height", "Image height in pixels (default 256)."),
    ("samples", "Cycles samples (default 8)."),
    ("transparent", "A transparent background."),
    ("background", "The world's colour."),
    ("save_blend", "Also save the scene as this .blend file."),
    ("camera_isometric", "Render the opened file through an isometric camera."),
    ("frame", "The frame to render."),
    ("start", "First frame of an animation."),
    ("end", "Last frame of an animation."),
    ("shape", "The primitive: cube, sphere, cylinder, cone, torus, plane, monkey."),
    ("size", "Its size."),
    ("subdivisions", "Subdivision levels."),
    ("color", "Its colour (a name, #hex or [r, g, b])."),
    ("metallic", "Metalness, 0 to 1."),
    ("text", "The text of a 3D text object."),
    ("extrude", "The text's depth."),
    ("font_size", "The text's size."),
    ("pattern", "The texture: noise, voronoi, checker, wave, bricks, gradient."),
    ("scale", "The texture's scale."),
    ("color_a", "The texture's first colour."),
    ("color_b", "The texture's second colour."),
    ("dice_type", "d4, d6, d8, d10, d12 or d20."),
    ("count", "How many dice."),
    ("pip_color", "The pips' colour."),
    ("blender_path", "The Blender program to run (default: services.blender.path, else `blender`)."),
    ("blend_file", "0.x's name for `input`."),
    ("output_path", "0.x's name for `output` (or `export`, for a mesh file)."),
    ("frame_start", "0.x's name for `start`."),
    ("frame_end", "0.x's name for `end`."),
    ("texture_type", "0.x's name for `pattern`."),
    ("resolution", "0.x's [width, height]."),
];

/// Mesh files a model action exports (0.x wrote these to `output_path`) rather than renders.
const MESH: &[&str] = &["glb", "gltf", "fbx", "obj"];

/// 0.x's input names, as this tool takes them: `blend_file` is `input`; `output_path` is
/// `output`, or `export` for a mesh file (then nothing is rendered); `resolution: [w, h]` is
/// `width`/`height`; `frame_start`/`frame_end` are `start`/`end`; `font_size` scales text;
/// `texture_type` is `pattern`; `dice_type` and the rest are read by the script.
fn compat_0x(action: &str, mut inputs: JsonMap) -> JsonMap {
    let mut rename = |from: &str, to: &str| {
        if let Some(v) = inputs.remove(from) {
            inputs.entry(to.to_string()).or_insert(v);
        }
    };
    rename("blend_file", "input");
    rename("frame_start", "start");
    rename("frame_end", "end");
    rename("texture_type", "pattern");
    if let Some(path) = inputs.remove("output_path") {
        let ext = path.as_str().and_then(|p| std::path::Path::new(p).extension()).map(|e| e.to_string_lossy().to_ascii_lowercase());
        let key = if ext.as_deref().is_some_and(|e| MESH.contains(&e)) && action != "render" { "export" } else { "output" };
        inputs.entry(key.to_string()).or_insert(path);
    }
    // Blender runs in the step's temp folder: a relative path means the folder the run started in.
    for key in ["input", "output", "export", "output_dir"] {
        if let Some(p) = inputs.get(key).and_then(Value::as_str).filter(|p| std::path::Path::new(p).is_relative()) {
            if let Ok(abs) = std::path::absolute(p) {
                inputs.insert(key.into(), json!(abs));
            }
        }
    }
    if let Some(Value::Array(wh)) = inputs.remove("resolution") {
        if let [w, h] = wh.as_slice() {
            inputs.entry("width".to_string()).or_insert(w.clone());
            inputs.entry("height".to_string()).or_insert(h.clone());
        }
    }
    inputs
}

impl Blender {
    pub fn new(config: &Config) -> Self {
        let configured = config.service("blender").get("path").and_then(Value::as_str).map(str::to_string);
        Blender { program: configured.unwrap_or_else(|| "blender".into()) }
    }
}

#[async_trait::async_trait]
impl Tool for Blender {
    fn name(&self) -> &str {
        "blender"
    }
    fn actions(&self) -> Vec<String> {
        ACTIONS.iter().map(|s| s.to_string()).collect()
    }
    fn kind(&self) -> ToolKind {
        ToolKind::Native
    }
    fn description(&self) -> String {
        "Render, model and texture with Blender in background mode".into()
    }
    fn deterministic(&self, _action: &str, _inputs: &crate::tools::JsonMap) -> bool {
        true
    }
    /// Every name an action's script or the 0.x spellings read (one table for all actions:
    /// the script takes what it needs and ignores the rest), so a misspelling is refused.
    fn inputs(&self, action: &str) -> Option<crate::tools::ActionInputs> {
        ACTIONS.contains(&action).then(|| {
            let inputs = INPUTS
                .iter()
                .map(|(name, description)| crate::tools::InputDoc {
                    name: name.to_string(),
                    ty: crate::recipe::InputType::String,
                    required: false,
                    default: None,
                    choices: None,
                    description: description.to_string(),
                    any: true,
                })
                .collect();
            crate::tools::ActionInputs { inputs, open: false }
        })
    }
    fn reads(&self, _action: &str, inputs: &crate::tools::JsonMap) -> crate::tools::Reads {
        let program = super::opt_str(inputs, "blender_path").unwrap_or_else(|| self.program.clone());
        crate::tools::Reads { programs: vec![program], env: false }
    }
    fn missing(&self) -> Vec<String> {
        if super::process::on_path(&self.program) {
            Vec::new()
        } else {
            vec![format!("`{}` (install Blender, e.g. `apt install blender`, or set `services.blender.path`)", self.program)]
        }
    }

    async fn call(&self, action: &str, inputs: JsonMap, ctx: &ToolCtx) -> Result<JsonMap, ToolError> {
        if !ACTIONS.contains(&action) {
            return Err(ToolError::failed(format!("blender has no action `{action}` ({})", ACTIONS.join(", "))));
        }
        let what = format!("blender.{action}");
        let stem = ctx.step_id.replace(['[', ']', '.', '#'], "_");
        let program = super::opt_str(&inputs, "blender_path").unwrap_or_else(|| self.program.clone());
        let mut args = Value::Object(compat_0x(action, inputs));
        args["action"] = json!(action);
        if matches!(action, "render" | "render_animation") {
            let p = args
                .get("input")
                .and_then(Value::as_str)
                .ok_or_else(|| ToolError::failed(format!("{what} needs `input`: a .blend file")))?;
            if !std::path::Path::new(p).is_file() {
                return Err(ToolError::failed(format!("{what}: `{p}` does not exist")));
            }
        }
        if action == "render_animation" {
            if args.get("output_dir").and_then(Value::as_str).is_none() {
                args["output_dir"] = json!(ctx.temp_dir.join(format!("{stem}_frames")));
            }
        } else if args.get("output").and_then(Value::as_str).is_none() && args.get("export").and_then(Value::as_str).is_none() {
            args["output"] = json!(ctx.temp_dir.join(format!("{stem}_{action}.png")));
        }
        if matches!(action, "create_text_3d") && args.get("text").and_then(Value::as_str).is_none() {
            return Err(ToolError::failed(format!("{what} needs `text`")));
        }
        let dir = &ctx.temp_dir;
        std::fs::create_dir_all(dir).map_err(|e| ToolError::failed(format!("{what}: `{}`: {e}", dir.display())))?;
        let script = dir.join(format!(".localforge_blender_{stem}.py"));
        let args_file = dir.join(format!(".localforge_blender_{stem}.json"));
        std::fs::write(&script, SCRIPT).map_err(|e| ToolError::failed(format!("{what}: {e}")))?;
        std::fs::write(&args_file, args.to_string()).map_err(|e| ToolError::failed(format!("{what}: {e}")))?;
        let argv = vec![
            program,
            "-b".into(),
            "--factory-startup".into(),
            "-noaudio".into(),
            "--python-exit-code".into(),
            "1".into(),
            "--python".into(),
            script.to_string_lossy().into_owned(),
            "--".into(),
            args_file.to_string_lossy().into_owned(),
        ];
        let out = run_process(&ProcessSpec { argv, cwd: Some(dir.clone()), ..Default::default() }.for_step(ctx), &ctx.cancel).await;
        let _ = (std::fs::remove_file(&script), std::fs::remove_file(&args_file));
        let out = out?;
        // The result line is the script's last word: in the tail kept, however much Blender printed.
        let reported =
            out.stdout.lines().find_map(|l| l.strip_prefix("LOCALFORGE_RESULT ")).and_then(|j| serde_json::from_str::<Value>(j).ok());
        match (out.code, reported) {
            (0, Some(Value::Object(map))) => Ok(map),
            (code, _) => {
                let all = format!("{}\n{}", out.stdout, out.stderr);
                // The Python exception (`ValueError: ...`), not Blender's closing "Error: script failed".
                let is_exception = |l: &&str| {
                    let head = l.split(':').next().unwrap_or("");
                    !l.starts_with("Error: script failed")
                        && (head.ends_with("Error") || head.ends_with("Exception"))
                        && !head.contains(' ')
                };
                let reason = all.lines().rev().map(str::trim).find(is_exception).map(str::to_string).unwrap_or_else(|| tail(&all, 5, 600));
                Err(ToolError::Failed { message: format!("{what}: Blender failed (exit code {code}): {reason}"), detail: Some(all) })
            }
        }
    }
}
