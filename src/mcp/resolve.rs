//! resolve: capture names as a client gives them, confined to the captures folder: no `..`, no
//! absolute paths elsewhere, no links pointing out.

use std::path::{Component, Path};
use std::time::SystemTime;

use crate::mcp::tool_error::ToolError;
use crate::table::catalog::{self, CaptureFile};

/// One named capture, checked to lie inside `root` (canonical) after resolving every link.
pub(crate) fn resolve_name(root: &Path, listed: &[CaptureFile], spec: &str) -> Result<CaptureFile, ToolError> {
    let outside = || ToolError::Outside(spec.to_string());
    if spec.is_empty() || spec.contains('\0') {
        return Err(ToolError::EmptyName);
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
        return Err(ToolError::NotAFile(spec.to_string()));
    }
    let is_capture = canonical
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| catalog::EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)));
    if !is_capture {
        return Err(ToolError::NotACapture(spec.to_string()));
    }
    let meta = std::fs::metadata(&canonical).map_err(|source| ToolError::Unreadable {
        spec: spec.to_string(),
        source,
    })?;
    Ok(CaptureFile {
        name: catalog::file_name(&candidate),
        path: canonical,
        size: meta.len(),
        modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
    })
}

/// The error for a name the folder does not hold, listing the first names it does.
pub(crate) fn unknown_capture(spec: &str, listed: &[CaptureFile]) -> ToolError {
    ToolError::Unknown {
        spec: spec.to_string(),
        known: listed.iter().take(20).map(|f| f.name.clone()).collect(),
        more: listed.len() > 20,
    }
}
