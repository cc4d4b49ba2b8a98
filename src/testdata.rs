//! testdata: where tests find what other tools made: the shared captures with tshark's figures
//! (`../shared` beside the repository, or `NETQL_SHARED`), the seeded pcap generator, and the
//! Python that runs the real MCP client (`NETQL_PYTHON`, else `python3`). One place for every
//! test, unit and end-to-end.
//!
//! When something is missing, a test says so in a loud SKIPPED line and passes, so a developer
//! without `../shared` can still run the rest. With `NETQL_REQUIRE_TEST_DATA=1` (CI sets it: CI
//! always has `../shared` and the test tools) the same test fails instead: CI cannot be green
//! without running it.

use std::path::{Path, PathBuf};

/// The variable that turns every skip into a failure.
pub const REQUIRE_VAR: &str = "NETQL_REQUIRE_TEST_DATA";

/// Whether missing test data fails the test (CI) instead of skipping it.
pub fn required() -> bool {
    std::env::var_os(REQUIRE_VAR).is_some_and(|v| !v.is_empty() && v != "0")
}

/// Skip (or, when data is required, fail) the calling test because `what` is missing.
pub fn missing(what: &str) {
    if required() {
        panic!("{what} is missing, and {REQUIRE_VAR} is set: this test must run here");
    }
    eprintln!("\n*** SKIPPED: {what} is missing; this test did NOT run ***\n");
}

/// The shared folder (`NETQL_SHARED`, else `../shared` next to the repository), if present.
pub fn shared_dir() -> Option<PathBuf> {
    let base = std::env::var_os("NETQL_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    base.is_dir().then_some(base)
}

/// A file or folder inside the shared folder; None (after [`missing`]) when it is not there.
pub fn shared(rel: &str) -> Option<PathBuf> {
    match shared_dir().map(|d| d.join(rel)).filter(|p| p.exists()) {
        Some(p) => Some(p),
        None => {
            missing(&format!("../shared/{rel}"));
            None
        }
    }
}

/// The shared captures folder, when it holds tshark's figures (`truth/`).
pub fn shared_captures() -> Option<PathBuf> {
    shared("captures/truth").and_then(|t| t.parent().map(Path::to_path_buf))
}

/// Every capture file in the shared captures folder (empty, after [`missing`], without it).
pub fn shared_capture_files() -> Vec<PathBuf> {
    let Some(dir) = shared_captures() else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"));
    files.sort();
    files
}

/// The bundled sample capture.
pub fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/sample.pcap")
}

/// The Python interpreter for test clients: `NETQL_PYTHON` (the test setup's virtual
/// environment), else `python3`.
pub fn python() -> PathBuf {
    std::env::var_os("NETQL_PYTHON")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("python3"))
}

/// Whether this process may capture on the loopback interface (root or CAP_NET_RAW); when not,
/// the calling test is skipped (or fails, when test data is required) after saying why.
pub fn can_capture_on_loopback(test: &str) -> bool {
    match pcap::Capture::from_device("lo").and_then(|c| c.open()) {
        Ok(_) => true,
        Err(e) => {
            missing(&format!(
                "permission to capture on lo for {test} ({e}; live capture needs root or CAP_NET_RAW)"
            ));
            false
        }
    }
}

/// tshark, if installed (after [`missing`] otherwise): the tests that read netql's own files back
/// with Wireshark's reader use it (.ci/test installs it).
pub fn tshark() -> Option<PathBuf> {
    let found = std::process::Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        missing("tshark (Debian package tshark)");
        return None;
    }
    Some(PathBuf::from("tshark"))
}

/// Chromium, if installed (after [`missing`] otherwise): the report test opens the page in it
/// headless (.ci/test installs Debian's `chromium`).
pub fn chromium() -> Option<PathBuf> {
    for name in ["chromium", "chromium-browser"] {
        if std::process::Command::new(name)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return Some(PathBuf::from(name));
        }
    }
    missing("chromium (Debian package chromium)");
    None
}
