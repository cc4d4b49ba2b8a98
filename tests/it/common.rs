//! Shared helpers: where the real captures live, how to run the built binary.

use std::path::Path;
use std::process::{Command, Output};

// Where the shared captures, the sample and the test tools are (one helper for every test).
pub use netql::testdata::{sample, shared_captures};

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
