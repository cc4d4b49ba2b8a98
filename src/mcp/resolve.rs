//! resolve: capture names as a client gives them, confined to the captures folder: no `..`, no
//! absolute paths elsewhere, no links pointing out.

use std::path::{Component, Path};
use std::time::SystemTime;

use crate::table::catalog::{self, CaptureFile};

/// One named capture, checked to lie inside `root` (canonical) after resolving every link.
pub(crate) fn resolve_name(
    root: &Path,
    listed: &[CaptureFile],
    spec: &str,
) -> std::result::Result<CaptureFile, String> {
    let outside = || {
        format!(
            "capture '{spec}' is outside the captures folder: name a file inside it as list_captures shows it \
             (no '..', no absolute paths elsewhere, no links pointing out), or use \"latest\" / \"all\""
        )
    };
    if spec.is_empty() || spec.contains('\0') {
        return Err("empty capture name: use a name from list_captures, \"latest\" or \"all\"".into());
    }
    let p = Path::new(spec);
    if p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(outside());
    }
    if let Some(f) = listed.iter().find(|f| f.name == spec) {
        return Ok(f.clone());
    }
    // Lexical test first, so paths elsewhere are refused without touching them (and without
    // telling whether they exist).
    let candidate = if p.is_absolute() { p.to_path_buf() } else { root.join(p) };
    if !candidate.starts_with(root) {
        return Err(outside());
    }
    let Ok(canonical) = candidate.canonicalize() else {
        return Err(unknown_capture(spec, listed));
    };
    if !canonical.starts_with(root) {
        return Err(outside());
    }
    if !canonical.is_file() {
        return Err(format!("capture '{spec}' is not a file"));
    }
    let is_capture = canonical
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| catalog::EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)));
    if !is_capture {
        return Err(format!("'{spec}' is not a capture file (.pcap, .pcapng or .cap)"));
    }
    let meta = std::fs::metadata(&canonical).map_err(|e| format!("cannot read '{spec}': {e}"))?;
    Ok(CaptureFile {
        name: catalog::file_name(&candidate),
        path: canonical,
        size: meta.len(),
        modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
    })
}

pub(crate) fn unknown_capture(spec: &str, listed: &[CaptureFile]) -> String {
    let mut names: Vec<&str> = listed.iter().take(20).map(|f| f.name.as_str()).collect();
    if listed.len() > 20 {
        names.push("…");
    }
    if names.is_empty() {
        format!("no capture named '{spec}': the captures folder is empty")
    } else {
        format!(
            "no capture named '{spec}'. Captures (newest first): {}; or use \"latest\" / \"all\"",
            names.join(", ")
        )
    }
}
