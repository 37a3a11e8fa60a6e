//! Confinement of the programs steps start (Linux Landlock): what a confined program may
//! write and whether it may use TCP (`Sandbox`), how strictly (`Confinement`), and the
//! ruleset the child applies to itself before `exec` (`confine`). docs/security.md says
//! what is and is not confined.

use super::ToolError;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use tokio::process::Command;

/// What a confined program may do: read and run anything, write only beneath `write`
/// (folders; missing ones are created first; its `TMPDIR` is the first, unless the spec
/// sets one, as `/tmp` is not writable), and open or accept TCP connections only with `network`. Where the kernel cannot confine it the program runs unconfined and a
/// line on stderr says so once, unless `required`: then it is refused (docs/security.md).
#[derive(Debug, Clone, Default)]
pub struct Sandbox {
    pub write: Vec<PathBuf>,
    pub network: bool,
    pub required: bool,
}

/// Whether a program runs confined: `sandbox: false`, `true` or `required` (a tool
/// definition's key, a `script` step's input, `sandbox: required` in the configuration).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Confinement {
    #[default]
    Off,
    /// Confined where the kernel can; unconfined, with a note, where it cannot.
    On,
    /// Confined, or refused.
    Required,
}

impl Confinement {
    /// `true`, `false`, `"required"` (also as text: `"true"`); `None` for anything else.
    pub fn parse(v: &Value) -> Option<Confinement> {
        match v {
            Value::Null | Value::Bool(false) => Some(Confinement::Off),
            Value::Bool(true) => Some(Confinement::On),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "false" | "no" | "off" | "" => Some(Confinement::Off),
                "true" | "yes" | "on" => Some(Confinement::On),
                "required" => Some(Confinement::Required),
                _ => None,
            },
            _ => None,
        }
    }

    /// `On` becomes `Required` when the configuration says `sandbox: required`.
    pub fn strict(self, required: bool) -> Confinement {
        if required && self == Confinement::On {
            Confinement::Required
        } else {
            self
        }
    }

    /// The sandbox for a program that may write beneath `write`, if confined at all.
    pub fn sandbox(self, write: Vec<PathBuf>, network: bool) -> Option<Sandbox> {
        (self != Confinement::Off).then_some(Sandbox { write, network, required: self == Confinement::Required })
    }
}

/// Builds the Landlock ruleset for `sb` and has the child restrict itself with it before
/// exec. `None` (and a note on stderr, once) where the kernel has no Landlock.
#[cfg(target_os = "linux")]
pub(super) fn confine(
    cmd: &mut Command,
    sb: &Sandbox,
    spec_env: &BTreeMap<String, String>,
) -> Result<Option<std::os::fd::OwnedFd>, ToolError> {
    use landlock::{
        Access, AccessFs, AccessNet, CompatLevel, Compatible, PathBeneath, PathFd, Ruleset, RulesetAttr, RulesetCreatedAttr, ABI,
    };
    use std::os::fd::AsRawFd;
    let failed = |e: &dyn std::fmt::Display| ToolError::failed(format!("sandbox: {e}"));
    let version = landlock_abi();
    if let Some(why) = cannot_confine(sb, version) {
        return Err(failed(&why));
    }
    if version < 1 {
        static SAID: std::sync::Once = std::sync::Once::new();
        SAID.call_once(|| eprintln!("localforge: this kernel has no Landlock; sandboxed tools run unconfined (docs/security.md)"));
        return Ok(None);
    }
    for dir in &sb.write {
        std::fs::create_dir_all(dir).map_err(|e| failed(&format!("{}: {e}", dir.display())))?;
    }
    if let Some(tmp) = sb.write.first().filter(|_| !spec_env.contains_key("TMPDIR")) {
        cmd.env("TMPDIR", tmp);
    }
    let abi = ABI::from(version);
    let all = AccessFs::from_all(abi);
    // Reading, listing, running, and ioctl on devices (a terminal): everywhere.
    let read = all & (AccessFs::from_read(abi) | AccessFs::IoctlDev);
    let mut rules = Ruleset::default().set_compatibility(CompatLevel::BestEffort).handle_access(all).map_err(|e| failed(&e))?;
    if !sb.network && version >= 4 {
        rules = rules.handle_access(AccessNet::BindTcp | AccessNet::ConnectTcp).map_err(|e| failed(&e))?;
    }
    let mut created = rules.create().map_err(|e| failed(&e))?;
    let fd = |p: &std::path::Path| PathFd::new(p).map_err(|e| failed(&format!("{}: {e}", p.display())));
    created = created.add_rule(PathBeneath::new(fd(std::path::Path::new("/"))?, read)).map_err(|e| failed(&e))?;
    // `> /dev/null` is writing nothing anywhere.
    let file = AccessFs::from_file(abi);
    created = created.add_rule(PathBeneath::new(fd(std::path::Path::new("/dev/null"))?, file)).map_err(|e| failed(&e))?;
    for dir in &sb.write {
        created = created.add_rule(PathBeneath::new(fd(dir)?, all)).map_err(|e| failed(&e))?;
    }
    let Some(owned) = Option::<std::os::fd::OwnedFd>::from(created) else { return Ok(None) };
    let raw = owned.as_raw_fd();
    // SAFETY: only two system calls between fork and exec, no allocation or locking.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || libc::syscall(libc::SYS_landlock_restrict_self, raw, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Ok(Some(owned))
}

#[cfg(not(target_os = "linux"))]
pub(super) fn confine(
    _cmd: &mut Command,
    sb: &Sandbox,
    _env: &BTreeMap<String, String>,
) -> Result<Option<std::os::fd::OwnedFd>, ToolError> {
    if sb.required {
        return Err(ToolError::failed(
            "sandbox: `sandbox: required`, but this system has no Landlock (Linux only); say `sandbox: true` to let it run unconfined",
        ));
    }
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| eprintln!("localforge: no Landlock on this system; sandboxed tools run unconfined (docs/security.md)"));
    Ok(None)
}

/// Why a `required` sandbox cannot be had from a kernel with Landlock ABI `version`.
fn cannot_confine(sb: &Sandbox, version: i32) -> Option<String> {
    if !sb.required {
        None
    } else if version < 1 {
        Some("`sandbox: required`, but this kernel has no Landlock (Linux 5.13+ with `landlock` in `lsm=`); run it on one that has, or say `sandbox: true` to let it run unconfined".into())
    } else if !sb.network && version < 4 {
        Some(format!("`sandbox: required`, but this kernel's Landlock (ABI {version}) cannot refuse TCP connections (ABI 4, Linux 6.7); run it on a newer kernel, or declare `network: true`"))
    } else {
        None
    }
}

/// The kernel's Landlock ABI version; 0 where it has none (or it is disabled).
#[cfg(target_os = "linux")]
pub fn landlock_abi() -> i32 {
    // SAFETY: LANDLOCK_CREATE_RULESET_VERSION (1) only returns the version.
    let v = unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, std::ptr::null::<u8>(), 0usize, 1u32) };
    i32::try_from(v).unwrap_or(0).max(0)
}

#[cfg(not(target_os = "linux"))]
pub fn landlock_abi() -> i32 {
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_required_sandbox_is_refused_where_the_kernel_cannot_confine() {
        let sb = |network, required| Sandbox { network, required, ..Default::default() };
        assert!(cannot_confine(&sb(false, true), 0).unwrap().contains("no Landlock"));
        assert!(cannot_confine(&sb(false, true), 3).unwrap().contains("cannot refuse TCP connections"));
        assert_eq!(cannot_confine(&sb(true, true), 3), None, "TCP is allowed anyway");
        assert_eq!(cannot_confine(&sb(false, true), 4), None);
        assert_eq!(cannot_confine(&sb(false, false), 0), None, "best effort runs unconfined");
    }
}
