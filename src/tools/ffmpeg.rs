//! `ffmpeg`: convert, normalize, loop, trim and measure audio (or video) with
//! the FFmpeg programs on this machine. Argument lists, never shell text.

use super::process::{on_path, run_process, tail, ProcessSpec};
use super::{need_str, opt_f64, opt_str, JsonMap, Tool, ToolCtx, ToolError, ToolKind};
use crate::config::Config;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

pub struct Ffmpeg {
    ffmpeg: String,
    ffprobe: String,
}

impl Ffmpeg {
    pub fn new(config: &Config) -> Self {
        let ffmpeg = config.service("ffmpeg").get("path").and_then(Value::as_str).unwrap_or("ffmpeg").to_string();
        // ffprobe ships beside ffmpeg.
        let ffprobe = match Path::new(&ffmpeg).parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(dir) => dir.join("ffprobe").to_string_lossy().into_owned(),
            None => "ffprobe".to_string(),
        };
        Ffmpeg { ffmpeg, ffprobe }
    }

    async fn run(&self, program: &str, args: Vec<String>, ctx: &ToolCtx) -> Result<String, ToolError> {
        let mut argv = vec![program.to_string()];
        argv.extend(args);
        let spec = ProcessSpec { argv, cwd: Some(ctx.temp_dir.clone()), ..Default::default() }.for_step(ctx);
        let out = run_process(&spec, &ctx.cancel).await?;
        if out.code != 0 {
            return Err(ToolError::Failed {
                message: format!("{program} exited with code {}: {}", out.code, tail(&out.stderr, 6, 800)),
                detail: Some(out.stderr),
            });
        }
        out.full_stdout()
    }

    async fn duration(&self, path: &str, ctx: &ToolCtx) -> Result<f64, ToolError> {
        let args = ["-v", "error", "-show_entries", "format=duration", "-of", "default=noprint_wrappers=1:nokey=1", path];
        let out = self.run(&self.ffprobe, args.map(String::from).to_vec(), ctx).await?;
        out.trim().parse().map_err(|_| ToolError::failed(format!("ffprobe gave no duration for `{path}` (got `{}`)", out.trim())))
    }
}

#[async_trait::async_trait]
impl Tool for Ffmpeg {
    fn name(&self) -> &str {
        "ffmpeg"
    }
    fn actions(&self) -> Vec<String> {
        ["convert", "normalize", "loop", "trim", "get_duration"].map(String::from).to_vec()
    }
    fn kind(&self) -> ToolKind {
        ToolKind::Native
    }
    fn description(&self) -> String {
        "Convert, normalize, loop, trim and measure audio with FFmpeg".into()
    }
    /// Only for a plain media file: a list or playlist (`ffconcat`, `m3u8`, `cue`, ...), an
    /// image sequence (`frame%03d.png`), a URL or a protocol (`concat:a|b`) reads other
    /// files or data, which the key does not hash.
    fn deterministic(&self, _action: &str, inputs: &JsonMap) -> bool {
        inputs.get("input").and_then(serde_json::Value::as_str).is_none_or(plain_media)
    }
    fn reads(&self, _action: &str, _inputs: &JsonMap) -> super::Reads {
        super::Reads { programs: vec![self.ffmpeg.clone(), self.ffprobe.clone()], env: false }
    }
    fn missing(&self) -> Vec<String> {
        [&self.ffmpeg, &self.ffprobe]
            .into_iter()
            .filter(|p| !on_path(p))
            .map(|p| format!("`{p}` (install FFmpeg, e.g. `apt install ffmpeg`, or set `services.ffmpeg.path`)"))
            .collect()
    }

    fn inputs(&self, action: &str) -> Option<super::ActionInputs> {
        use crate::recipe::InputType::{Integer as I, Number as N, Path as P, String as S};
        let input = ("input", P, true, "The audio or video file.");
        let output = ("output", P, false, "The file to write (default: in the run's temp folder, named after the input).");
        let rows: Vec<(&str, crate::recipe::InputType, bool, &str)> = match action {
            "convert" => vec![
                input,
                output,
                ("format", S, false, "The output's format (`-f`: `mp3`, `wav`, `ogg`, `flac`); without `output`, also its suffix."),
                ("codec", S, false, "The audio codec (`-c:a`)."),
                ("bitrate", S, false, "The audio bitrate (`-b:a`, e.g. `192k`)."),
                ("sample_rate", I, false, "Samples per second (`-ar`)."),
                ("channels", I, false, "Audio channels (`-ac`)."),
            ],
            "normalize" => vec![input, output, ("target_lufs", N, false, "Loudness to reach, in LUFS (default -16).")],
            "loop" => vec![
                input,
                output,
                ("count", I, false, "How many times to play it."),
                ("duration", N, false, "Seconds to fill by looping."),
                ("crossfade", N, false, "Seconds of crossfade between repeats (default 0.5)."),
            ],
            "trim" => vec![
                input,
                output,
                ("start", N, false, "Where to start, in seconds (default 0)."),
                ("duration", N, false, "How long, in seconds."),
                ("end", N, false, "Where to end, in seconds."),
            ],
            "get_duration" => vec![input],
            _ => return None,
        };
        Some(super::ActionInputs::of(&rows, false))
    }

    async fn call(&self, action: &str, inputs: JsonMap, ctx: &ToolCtx) -> Result<JsonMap, ToolError> {
        let what = format!("ffmpeg.{action}");
        let input = need_str(&inputs, "input", &what)?.to_string();
        if !Path::new(&input).is_file() {
            return Err(ToolError::failed(format!("{what}: input `{input}` does not exist")));
        }
        if action == "get_duration" {
            let d = self.duration(&input, ctx).await?;
            return Ok(super::outputs(json!({"duration_s": d, "duration": d, "input": input})));
            // `duration`: 0.x's name
        }
        let format = opt_str(&inputs, "format").filter(|_| action == "convert");
        let output = match opt_str(&inputs, "output") {
            Some(o) => PathBuf::from(o),
            None => {
                let suffix = format.as_ref().map(|f| format!(".{f}")).unwrap_or_else(|| suffix(&input));
                ctx.temp_dir.join(format!("{}_{action}{suffix}", stem(&input)))
            }
        };
        if let Some(parent) = output.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| ToolError::failed(format!("{what}: `{}`: {e}", parent.display())))?;
        }
        let mut args: Vec<String> = vec!["-hide_banner".into(), "-nostdin".into(), "-y".into()];
        let num = |k: &str| opt_f64(&inputs, k);
        match action {
            "convert" => {
                args.extend(["-i".into(), input.clone()]);
                for (key, flag) in [("codec", "-c:a"), ("bitrate", "-b:a"), ("sample_rate", "-ar"), ("channels", "-ac")] {
                    if let Some(v) = opt_str(&inputs, key) {
                        args.extend([flag.to_string(), v]);
                    }
                }
                if let Some(f) = &format {
                    args.extend(["-f".to_string(), f.clone()]);
                }
            }
            "normalize" => {
                let target = num("target_lufs").unwrap_or(-16.0);
                args.extend(["-i".into(), input.clone(), "-af".into(), format!("loudnorm=I={target}:TP=-1.5:LRA=11")]);
            }
            "loop" => match (num("count"), num("duration")) {
                (_, Some(d)) => args.extend(["-stream_loop".into(), "-1".into(), "-i".into(), input.clone(), "-t".into(), d.to_string()]),
                // As 0.x did: the copies cross-fade into each other (0.5 s unless `crossfade` says).
                (Some(n), None) if n >= 2.0 && num("crossfade").unwrap_or(0.5) > 0.0 => {
                    let (n, fade) = (n as usize, num("crossfade").unwrap_or(0.5));
                    for _ in 0..n {
                        args.extend(["-i".into(), input.clone()]);
                    }
                    let mut graph = Vec::new();
                    let mut last = "0:a".to_string();
                    for i in 1..n {
                        graph.push(format!("[{last}][{i}:a]acrossfade=d={fade}[x{i}]"));
                        last = format!("x{i}");
                    }
                    args.extend(["-filter_complex".into(), graph.join(";"), "-map".into(), format!("[{last}]")]);
                }
                (Some(n), None) if n >= 1.0 => {
                    args.extend(["-stream_loop".into(), format!("{}", n as u64 - 1), "-i".into(), input.clone()])
                }
                _ => return Err(ToolError::failed(format!("{what} needs `count` (times to play, at least 1) or `duration` (seconds)"))),
            },
            "trim" => {
                let start = num("start").unwrap_or(0.0);
                args.extend(["-ss".into(), start.to_string(), "-i".into(), input.clone()]);
                match (num("duration"), num("end")) {
                    (Some(d), _) => args.extend(["-t".into(), d.to_string()]),
                    (None, Some(e)) if e > start => args.extend(["-t".into(), (e - start).to_string()]),
                    (None, Some(e)) => return Err(ToolError::failed(format!("{what}: `end` ({e}) must be after `start` ({start})"))),
                    (None, None) => return Err(ToolError::failed(format!("{what} needs `duration` or `end` (seconds)"))),
                }
            }
            other => {
                return Err(ToolError::failed(format!("ffmpeg has no action `{other}` (convert, normalize, loop, trim, get_duration)")))
            }
        }
        let out_text = output.to_string_lossy().into_owned();
        args.push(out_text.clone());
        self.run(&self.ffmpeg, args, ctx).await?;
        let duration = self.duration(&out_text, ctx).await.ok();
        Ok(super::outputs(json!({"output": out_text, "input": input, "duration_s": duration})))
    }
}

fn stem(p: &str) -> String {
    Path::new(p).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "audio".into())
}

fn suffix(p: &str) -> String {
    Path::new(p).extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_else(|| ".wav".into())
}

/// Suffixes of files that name other files for FFmpeg to read.
const LISTS: &[&str] = &["ffconcat", "concat", "txt", "list", "m3u", "m3u8", "pls", "cue", "xspf", "sdp", "asx", "wpl", "smil"];

/// Whether FFmpeg reads `input` alone: a local file that is not a list of other files.
fn plain_media(input: &str) -> bool {
    let protocol = input.split_once(':').is_some_and(|(p, _)| p.len() > 1 && !p.contains('/'));
    if protocol || input.contains('%') {
        return false;
    }
    let path = std::path::Path::new(input);
    let suffix = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    if LISTS.contains(&suffix.as_str()) {
        return false;
    }
    let mut head = [0u8; 512];
    let n = std::fs::File::open(path).and_then(|mut f| std::io::Read::read(&mut f, &mut head)).unwrap_or(0);
    let head = String::from_utf8_lossy(&head[..n]);
    !["ffconcat", "#EXTM3U", "[playlist]", "file '", "file \""]
        .iter()
        .any(|m| head.trim_start().starts_with(m) || head.contains(&format!("\n{m}")))
}

#[cfg(test)]
mod tests {
    use super::plain_media;

    #[test]
    fn only_a_plain_media_file_is_cached_not_a_list_a_sequence_or_a_url() {
        let dir = tempfile::tempdir().unwrap();
        let wav = dir.path().join("a.wav");
        std::fs::write(&wav, b"RIFF\0\0\0\0WAVE").unwrap();
        let sneaky = dir.path().join("list.wav");
        std::fs::write(&sneaky, "ffconcat version 1.0\nfile 'a.wav'\nfile 'b.wav'\n").unwrap();
        let listed = dir.path().join("l.media");
        std::fs::write(&listed, "# made by hand\nfile 'a.wav'\n").unwrap();
        assert!(plain_media(wav.to_str().unwrap()));
        for input in [
            dir.path().join("x.ffconcat").display().to_string(),
            dir.path().join("x.m3u8").display().to_string(),
            sneaky.display().to_string(),
            listed.display().to_string(),
            dir.path().join("frame%03d.png").display().to_string(),
            "concat:a.wav|b.wav".into(),
            "http://127.0.0.1/a.wav".into(),
        ] {
            assert!(!plain_media(&input), "{input}");
        }
    }
}
