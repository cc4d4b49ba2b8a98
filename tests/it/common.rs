//! Shared helpers: where the real captures live, how to run the built binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `../shared/captures` next to the repository (or `NETQL_SHARED`/captures), if present.
pub fn shared_captures() -> Option<PathBuf> {
    let base = std::env::var_os("NETQL_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    let dir = base.join("captures");
    if dir.join("truth").is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "\n*** SKIPPED: {} not found; conformance tests against tshark truth did NOT run ***\n",
            dir.display()
        );
        None
    }
}

/// The bundled sample capture.
pub fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/sample.pcap")
}

/// Run `netql` with a private cache folder and no config file from the working directory.
pub fn netql(args: &[&str], cache: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netql"))
        .args(args)
        .env("NETQL_CACHE_DIR", cache)
        .env_remove("NETQL_CONFIG")
        .env_remove("NETQL_CAPTURES")
        .current_dir(cache)
        .output()
        .expect("run netql")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The message libpcap itself gives for a filter it cannot compile (what netql must pass on).
pub fn libpcap_filter_error(bad: &str) -> String {
    match pcap::Capture::dead(pcap::Linktype::ETHERNET)
        .unwrap()
        .compile(bad, true)
    {
        Err(pcap::Error::PcapError(msg)) => msg,
        other => panic!("libpcap accepted {bad:?}? {:?}", other.map(|_| ())),
    }
}
