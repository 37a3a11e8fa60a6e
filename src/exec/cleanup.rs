//! `cleanup.on_success` / `on_failure`: errors are logged, never change the result.

use super::state::Run;
use crate::recipe::CleanupAction;
use crate::template::render_text;
use std::path::Path;

impl Run {
    pub(super) fn cleanup(&self, success: bool) {
        let actions = if success { &self.recipe.cleanup.on_success } else { &self.recipe.cleanup.on_failure };
        for action in actions {
            if let Err(e) = self.cleanup_one(action) {
                self.warn(None, format!("cleanup: {e}"));
            }
        }
    }

    fn cleanup_one(&self, action: &CleanupAction) -> Result<(), String> {
        let render = |t: &str| render_text(t, &self.scope).map_err(|e| e.to_string());
        match action {
            CleanupAction::Delete { path } => {
                let p = render(path)?;
                let path = Path::new(&p);
                let r = if path.is_dir() {
                    std::fs::remove_dir_all(path)
                } else if path.exists() {
                    std::fs::remove_file(path)
                } else {
                    Ok(())
                };
                r.map_err(|e| format!("delete `{p}`: {e}"))
            }
            CleanupAction::Preserve { path, reason } => {
                let p = render(path)?;
                self.events.note(&format!("kept {p}{}", reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default()));
                Ok(())
            }
            CleanupAction::Move { source, destination } => {
                let (s, d) = (render(source)?, render(destination)?);
                if let Some(parent) = Path::new(&d).parent() {
                    std::fs::create_dir_all(parent).map_err(|e| format!("move to `{d}`: {e}"))?;
                }
                std::fs::rename(&s, &d).map_err(|e| format!("move `{s}` to `{d}`: {e}"))
            }
        }
    }
}
