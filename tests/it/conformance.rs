//! Conformance: every capture in ../shared/captures against the figures tshark 4.0.17 recorded
//! in `truth/<file>.json`: packets, wire and captured bytes, truncated frames, frames per protocol
//! (eth, vlan, ieee8021ad, sll, arp, ip, ipv6, tcp, udp, icmp, icmpv6, igmp, dns, mdns, http,
//! tls, quic, ssh, ftp, ntp, dhcp), every endpoint and the top 10 talkers in tshark's order, and
//! every IP conversation.
//!
//! How netql counts as tshark does (see `src/decode` and `src/table/packet_columns.rs`): a frame
//! quoting a packet inside an ICMP error counts the quoted layers; fragments count their upper
//! layers only on the frame that completes the datagram; HTTP and TLS are named only on the frames
//! where tshark's reassembly names them (the frame that completes a message or record; for TLS
//! also a segment that starts a record), so retransmissions and the same segment seen on another
//! VLAN do not count twice; QUIC Initials are decrypted with the keys RFC 9001 derives, so `tls`
//! is counted in QUIC handshakes where tshark counts it.
//!
//! Deliberate differences (each one is asserted, not skipped):
//! - get-to-ssh-server.pcap: an HTTP GET sent to port 22. tshark names it `ssh` by port; netql
//!   reads the payload first and names it `http` (payload first, ports second).
//! - trunc-hdr.pcap: libpcap clamps the 8-byte record to the file's 1-byte snap length; tshark
//!   reads 8 bytes.
//! - shb-option-too-long.pcapng: unreadable for both; netql must fail with a clear error.
//!
//! Without ../shared these tests print a loud SKIPPED line (and fail in CI, which sets
//! NETQL_REQUIRE_TEST_DATA).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use netql::table::catalog::CaptureFile;
use netql::table::pipeline::{LoadOptions, decode_file};
use polars::prelude::*;
use serde_json::Value;

use crate::common::shared_captures;

pub const PROTOS: [&str; 21] = [
    "eth",
    "vlan",
    "ieee8021ad",
    "sll",
    "arp",
    "ip",
    "ipv6",
    "tcp",
    "udp",
    "icmp",
    "icmpv6",
    "igmp",
    "dns",
    "mdns",
    "http",
    "tls",
    "quic",
    "ssh",
    "ftp",
    "ntp",
    "dhcp",
];

/// (file, protocol) -> (netql's count, tshark's count, reason)
pub fn deliberate() -> HashMap<(&'static str, &'static str), (u64, u64, &'static str)> {
    let mut m = HashMap::new();
    m.insert(
        ("get-to-ssh-server.pcap", "http"),
        (1, 0, "payload says HTTP, tshark goes by port 22"),
    );
    m.insert(
        ("get-to-ssh-server.pcap", "ssh"),
        (1, 2, "the HTTP GET to port 22 is http to netql"),
    );
    m
}

fn opts() -> LoadOptions {
    LoadOptions::uncached(2)
}

fn strings(df: &DataFrame, name: &str) -> Vec<Option<String>> {
    let s = df
        .column(name)
        .unwrap()
        .as_materialized_series()
        .cast(&DataType::String)
        .unwrap();
    s.str().unwrap().iter().map(|v| v.map(str::to_string)).collect()
}

fn u64s(df: &DataFrame, name: &str) -> Vec<Option<u64>> {
    let s = df
        .column(name)
        .unwrap()
        .as_materialized_series()
        .cast(&DataType::UInt64)
        .unwrap();
    s.u64().unwrap().iter().collect()
}

/// Frames per protocol: a frame counts once for each protocol in its stack.
fn protocol_counts(df: &DataFrame) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for stack in strings(df, "protocols").into_iter().flatten() {
        let mut seen = Vec::new();
        for tok in stack.split(':') {
            if !seen.contains(&tok) {
                seen.push(tok);
                *out.entry(tok.to_string()).or_insert(0) += 1;
            }
        }
    }
    out
}

struct Ip {
    src: String,
    dst: String,
    bytes: u64,
}

/// The IP headers tshark's ip/ipv6 taps count: every outer header except IPv6 fragments that do
/// not complete a datagram.
fn ip_rows(df: &DataFrame, version: u64) -> Vec<Ip> {
    let src = strings(df, "src_ip");
    let dst = strings(df, "dst_ip");
    let ver = u64s(df, "ip_version");
    let wire = u64s(df, "wire_len");
    let frag = strings(df, "frag");
    let mut out = Vec::new();
    for i in 0..df.height() {
        if ver[i] != Some(version) {
            continue;
        }
        if version == 6 && frag[i].as_deref() == Some("fragment") {
            continue;
        }
        if let (Some(s), Some(d)) = (&src[i], &dst[i]) {
            out.push(Ip {
                src: s.clone(),
                dst: d.clone(),
                bytes: wire[i].unwrap(),
            });
        }
    }
    out
}

fn endpoints(rows: &[Ip]) -> HashMap<String, (u64, u64)> {
    let mut m: HashMap<String, (u64, u64)> = HashMap::new();
    for r in rows {
        for a in [&r.src, &r.dst] {
            let e = m.entry(a.clone()).or_default();
            e.0 += 1;
            e.1 += r.bytes;
        }
    }
    m
}

fn conversations(rows: &[Ip]) -> HashMap<(String, String), (u64, u64)> {
    let mut m: HashMap<(String, String), (u64, u64)> = HashMap::new();
    for r in rows {
        let key = if r.src <= r.dst {
            (r.src.clone(), r.dst.clone())
        } else {
            (r.dst.clone(), r.src.clone())
        };
        let e = m.entry(key).or_default();
        e.0 += 1;
        e.1 += r.bytes;
    }
    m
}

fn check_file(path: &Path, truth: &Value, problems: &mut Vec<String>) {
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let cap = CaptureFile::stat(path).unwrap();
    let readable = truth["readable"].as_bool().unwrap_or(true);
    let result = decode_file(&cap, &opts());
    if !readable {
        match result {
            Err(e) => {
                let msg = e.to_string();
                assert!(msg.contains(&name), "error should name the file: {msg}");
                assert!(
                    msg.contains("block total length"),
                    "error should give libpcap's reason: {msg}"
                );
            }
            Ok(_) => problems.push(format!("{name}: tshark cannot read it, netql did")),
        }
        return;
    }
    let (df, warning) = match result {
        Ok(d) => (d.packets.to_dataframe().unwrap(), d.warning),
        Err(e) => {
            problems.push(format!("{name}: {e}"));
            return;
        }
    };
    if let Some(w) = warning {
        problems.push(format!("{name}: warning {w}"));
    }
    let mut p = |s: String| problems.push(format!("{name}: {s}"));

    let packets = truth["packets"].as_u64().unwrap();
    if df.height() as u64 != packets {
        p(format!("packets {} != {packets}", df.height()));
    }
    let bytes: u64 = u64s(&df, "wire_len").into_iter().flatten().sum();
    if bytes != truth["bytes_wire"].as_u64().unwrap() {
        p(format!("bytes {bytes} != {}", truth["bytes_wire"]));
    }
    let captured: u64 = u64s(&df, "cap_len").into_iter().flatten().sum();
    // trunc-hdr.pcap stores an 8-byte record in a file whose snap length is 1: libpcap hands
    // out 1 byte, tshark reads all 8. Either way nothing past the Ethernet header is decodable.
    let want_captured = if name == "trunc-hdr.pcap" {
        1
    } else {
        truth["bytes_captured"].as_u64().unwrap()
    };
    if captured != want_captured {
        p(format!("captured bytes {captured} != {}", truth["bytes_captured"]));
    }
    let truncated = strings(&df, "truncated")
        .iter()
        .filter(|v| v.as_deref() == Some("true"))
        .count() as u64;
    if truncated != truth["frames_truncated"].as_u64().unwrap() {
        p(format!("truncated frames {truncated} != {}", truth["frames_truncated"]));
    }
    // Frame numbers are 1..=n in file order.
    let frames = u64s(&df, "frame");
    if frames.iter().enumerate().any(|(i, f)| *f != Some(i as u64 + 1)) {
        p("frame numbers are not 1..n".into());
    }

    let counts = protocol_counts(&df);
    let dels = deliberate();
    for proto in PROTOS {
        let mine = counts.get(proto).copied().unwrap_or(0);
        let theirs = truth["frames_with"][proto].as_u64().unwrap_or(0);
        match dels.get(&(name.as_str(), proto)) {
            Some(&(want_mine, want_theirs, why)) => {
                assert_eq!(theirs, want_theirs, "{name} {proto}: truth changed? ({why})");
                if mine != want_mine {
                    p(format!("{proto}: {mine}, expected the deliberate {want_mine} ({why})"));
                }
            }
            None if mine != theirs => p(format!("{proto}: {mine} frames, tshark {theirs}")),
            None => {}
        }
    }

    for (fam, version) in [("ipv4", 4), ("ipv6", 6)] {
        let rows = ip_rows(&df, version);
        let eps = endpoints(&rows);
        let t = &truth[format!("endpoints_{fam}")];
        if eps.len() as u64 != t["count"].as_u64().unwrap() {
            p(format!("{fam} endpoints {} != {}", eps.len(), t["count"]));
        }
        let list = t.get("all").unwrap_or(&t["top10_by_packets"]);
        for e in list.as_array().unwrap() {
            let addr = e["addr"].as_str().unwrap();
            let want = (e["packets"].as_u64().unwrap(), e["bytes"].as_u64().unwrap());
            if eps.get(addr) != Some(&want) {
                p(format!("{fam} endpoint {addr}: {:?} != {want:?}", eps.get(addr)));
            }
        }
        // Same top 10, in tshark's order (packets, then bytes, then address).
        let mut mine: Vec<(&String, &(u64, u64))> = eps.iter().collect();
        mine.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(b.1.1.cmp(&a.1.1)).then(a.0.cmp(b.0)));
        let top: Vec<&str> = mine.iter().take(10).map(|(a, _)| a.as_str()).collect();
        let want: Vec<&str> = t["top10_by_packets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["addr"].as_str().unwrap())
            .collect();
        if top != want {
            p(format!("{fam} top talkers {top:?} != {want:?}"));
        }

        let convs = conversations(&rows);
        let t = &truth[format!("conversations_{fam}")];
        if convs.len() as u64 != t["count"].as_u64().unwrap() {
            p(format!("{fam} conversations {} != {}", convs.len(), t["count"]));
        }
        for c in t["list"].as_array().unwrap() {
            let (a, b) = (
                c["a"].as_str().unwrap().to_string(),
                c["b"].as_str().unwrap().to_string(),
            );
            let key = if a <= b { (a, b) } else { (b, a) };
            let want = (c["frames"].as_u64().unwrap(), c["bytes"].as_u64().unwrap());
            if convs.get(&key) != Some(&want) {
                p(format!("{fam} conversation {key:?}: {:?} != {want:?}", convs.get(&key)));
            }
        }
    }
}

#[test]
fn every_shared_capture_matches_tshark() {
    let Some(dir) = shared_captures() else { return };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 40, "the shared set has 40 captures");
    let mut problems = Vec::new();
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy();
        let truth: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("truth").join(format!("{name}.json"))).unwrap())
                .unwrap();
        check_file(f, &truth, &mut problems);
    }
    assert!(
        problems.is_empty(),
        "{} differences from tshark:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn timestamps_keep_nanoseconds_and_order() {
    let Some(dir) = shared_captures() else { return };
    for name in [
        "tcp-handshake-nano.pcap",
        "get-to-ssh-server.pcap",
        "pcapng-multi-interface.pcapng",
        "wikipedia.pcap",
    ] {
        let truth: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("truth").join(format!("{name}.json"))).unwrap())
                .unwrap();
        let df = decode_file(&CaptureFile::stat(&dir.join(name)).unwrap(), &opts())
            .unwrap()
            .packets
            .to_dataframe()
            .unwrap();
        let ts = df
            .column("ts")
            .unwrap()
            .as_materialized_series()
            .to_physical_repr()
            .i64()
            .unwrap()
            .clone();
        let first = netql::units::epoch_text(ts.get(0).unwrap());
        let last = netql::units::epoch_text(ts.get(df.height() - 1).unwrap());
        assert_eq!(first, truth["first_ts"].as_str().unwrap(), "{name} first");
        assert_eq!(last, truth["last_ts"].as_str().unwrap(), "{name} last");
        assert_eq!(
            netql::units::epoch_text(ts.min().unwrap()),
            truth["min_ts"].as_str().unwrap(),
            "{name} min"
        );
    }
}
