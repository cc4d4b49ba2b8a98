//! The query engine on real captures: canned queries against tshark's truth, scan detection on
//! real and generated scans, quiet on benign traffic, and the run/check/analyze commands.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use netql::query::canned;
use netql::query::engine::{Captures, Limits, Output, ScriptEngine};
use netql::table::catalog::CaptureFile;
use netql::table::load::{LoadOptions, load};
use serde_json::Value;

use crate::common::{netql, sample, shared_captures, stderr, stdout};
use crate::conformance::{PROTOS, deliberate};

pub(crate) fn opts() -> LoadOptions {
    LoadOptions::uncached(2)
}

fn engine() -> ScriptEngine {
    ScriptEngine::new(
        Limits::default(),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("queries").as_path()),
    )
}

pub(crate) fn data(path: &Path) -> Arc<Captures> {
    Arc::new(Captures::new(vec![
        load(&CaptureFile::stat(path).unwrap(), &opts()).unwrap(),
    ]))
}

/// Run a canned query with parameters and return its table as JSON rows.
fn table(d: &Arc<Captures>, name: &str, params: &[(&str, &str)]) -> Vec<Value> {
    let q = canned::find(Path::new("queries"), name).unwrap();
    let given: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let r = engine()
        .run(&q.source, d.clone(), &q.bind(&given).unwrap())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    match r.output {
        Output::Table(df) => netql::table::values::rows_json(&df),
        other => panic!("{name} returned {other:?}"),
    }
}

/// Findings of a canned query as (severity, title, facts) JSON objects.
pub(crate) fn findings(d: &Arc<Captures>, name: &str, params: &[(&str, &str)]) -> Vec<Value> {
    let q = canned::find(Path::new("queries"), name).unwrap();
    let given: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let r = engine()
        .run(&q.source, d.clone(), &q.bind(&given).unwrap())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    match r.output {
        Output::Findings(fs) => fs
            .into_iter()
            .map(|f| {
                let rep = netql::query::analyze::Reported {
                    query: name.into(),
                    finding: f,
                };
                netql::query::analyze::finding_json(&rep)
            })
            .collect(),
        other => panic!("{name} returned {other:?}"),
    }
}

fn truth(dir: &Path, name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("truth").join(format!("{name}.json"))).unwrap()).unwrap()
}

fn readable_captures(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .filter(|p| !p.ends_with("shb-option-too-long.pcapng"))
        .collect();
    v.sort();
    v
}

#[test]
fn share_talkers_and_conversations_equal_tshark() {
    let Some(dir) = shared_captures() else { return };
    let dels = deliberate();
    let mut problems = Vec::new();
    for path in readable_captures(&dir) {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let t = truth(&dir, &name);
        let d = data(&path);

        let share: HashMap<String, u64> = table(&d, "protocol_share", &[("limit", "1000")])
            .into_iter()
            .map(|r| {
                (
                    r["protocol"].as_str().unwrap().to_string(),
                    r["frames"].as_u64().unwrap(),
                )
            })
            .collect();
        for p in PROTOS {
            let mine = share.get(p).copied().unwrap_or(0);
            let want = match dels.get(&(name.as_str(), p)) {
                Some(&(m, _, _)) => m,
                None => t["frames_with"][p].as_u64().unwrap_or(0),
            };
            if mine != want {
                problems.push(format!("{name} protocol_share {p}: {mine} != {want}"));
            }
        }

        let talkers = table(&d, "top_talkers", &[("limit", "100000")]);
        let n_truth = t["endpoints_ipv4"]["count"].as_u64().unwrap() + t["endpoints_ipv6"]["count"].as_u64().unwrap();
        if talkers.len() as u64 != n_truth {
            problems.push(format!("{name} top_talkers: {} addresses != {n_truth}", talkers.len()));
        }
        let by_addr: HashMap<&str, &Value> = talkers.iter().map(|r| (r["address"].as_str().unwrap(), r)).collect();
        for fam in ["endpoints_ipv4", "endpoints_ipv6"] {
            for e in t[fam]["top10_by_packets"]
                .as_array()
                .unwrap()
                .iter()
                .chain(t[fam]["top10_by_bytes"].as_array().unwrap())
            {
                let a = e["addr"].as_str().unwrap();
                let got = by_addr
                    .get(a)
                    .map(|r| (r["packets"].as_u64().unwrap(), r["bytes"].as_u64().unwrap()));
                let want = (e["packets"].as_u64().unwrap(), e["bytes"].as_u64().unwrap());
                if got != Some(want) {
                    problems.push(format!("{name} top_talkers {a}: {got:?} != {want:?}"));
                }
            }
        }
        // The default output is tshark's top 10 order (packets, bytes, address) for one family.
        if t["endpoints_ipv6"]["count"] == 0 {
            let top: Vec<String> = table(&d, "top_talkers", &[])
                .iter()
                .map(|r| r["address"].as_str().unwrap().to_string())
                .collect();
            let want: Vec<String> = t["endpoints_ipv4"]["top10_by_packets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["addr"].as_str().unwrap().to_string())
                .collect();
            if top != want {
                problems.push(format!("{name} top 10 order {top:?} != {want:?}"));
            }
        }

        let convs = table(&d, "conversations", &[("limit", "100000")]);
        let n_truth =
            t["conversations_ipv4"]["count"].as_u64().unwrap() + t["conversations_ipv6"]["count"].as_u64().unwrap();
        if convs.len() as u64 != n_truth {
            problems.push(format!("{name} conversations: {} != {n_truth}", convs.len()));
        }
        let mut by_pair: HashMap<(String, String), &Value> = HashMap::new();
        for r in &convs {
            let (a, b) = (
                r["a"].as_str().unwrap().to_string(),
                r["b"].as_str().unwrap().to_string(),
            );
            by_pair.insert(if a <= b { (a, b) } else { (b, a) }, r);
        }
        for fam in ["conversations_ipv4", "conversations_ipv6"] {
            for c in t[fam]["list"].as_array().unwrap() {
                let (a, b) = (
                    c["a"].as_str().unwrap().to_string(),
                    c["b"].as_str().unwrap().to_string(),
                );
                let key = if a <= b {
                    (a.clone(), b.clone())
                } else {
                    (b.clone(), a.clone())
                };
                let Some(r) = by_pair.get(&key) else {
                    problems.push(format!("{name} conversation {a} <-> {b} missing"));
                    continue;
                };
                let got = (r["frames"].as_u64().unwrap(), r["bytes"].as_u64().unwrap());
                let want = (c["frames"].as_u64().unwrap(), c["bytes"].as_u64().unwrap());
                // Direction counts, seen from tshark's `a`.
                let a_to_b = if r["a"].as_str() == Some(a.as_str()) {
                    r["frames_a_to_b"].as_u64()
                } else {
                    r["frames_b_to_a"].as_u64()
                };
                if got != want || (a != b && a_to_b != c["frames_a_to_b"].as_u64()) {
                    problems.push(format!("{name} conversation {a} <-> {b}: {got:?} != {want:?}"));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} differences:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn every_canned_query_runs_on_real_captures() {
    let Some(dir) = shared_captures() else { return };
    let files = [
        "wikipedia.pcap",
        "synscan.pcapng",
        "nmap-vsn.pcap",
        "dns-edns-ecs.pcap",
        "empty.pcap",
        "linuxsll-arp.pcap",
    ];
    for f in files {
        let d = data(&dir.join(f));
        for q in canned::list(Path::new("queries")) {
            let p = q.bind(&[]).unwrap();
            if let Err(e) = engine().run(&q.source, d.clone(), &p) {
                panic!("{} on {f}: {e}", q.name);
            }
        }
    }
    // The bandwidth buckets add up to the capture.
    let d = data(&dir.join("cwd-navigation.pcap"));
    let rows = table(&d, "bandwidth", &[]);
    let total: u64 = rows.iter().map(|r| r["packets"].as_u64().unwrap()).sum();
    assert_eq!(total, 8317);
    assert!(
        rows.len() > 10 && rows.len() <= 121,
        "auto interval: {} rows",
        rows.len()
    );
}

fn scan_titles(d: &Arc<Captures>) -> Vec<String> {
    findings(d, "port_scan", &[])
        .iter()
        .map(|f| f["title"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn port_scan_finds_the_real_scans() {
    let Some(dir) = shared_captures() else { return };
    let cases = [
        (
            "synscan.pcapng",
            "TCP SYN (half-open) scan from 172.16.0.8 against 64.13.134.52: 1000 ports probed in 5.142 s (387.79 probes/s): \
             3 open (22, 53, 80), 4 closed, 993 unanswered",
        ),
        (
            "tcp_0_1000_20190821.pcap",
            "TCP port scan from 172.31.15.102 against 198.124.152.15: 1001 ports probed in 10.047 s",
        ),
        (
            "udp_0_1000_20190821.pcap",
            "UDP port scan from 172.31.15.102 against 198.124.152.15: 1001 ports probed in 10.023 s: 0 answered, \
             0 closed (ICMP port unreachable), 1001 no answer (open or filtered)",
        ),
        (
            "nmap-vsn.pcap",
            "ARP sweep from 192.168.1.71: who-has for 245 addresses",
        ),
        (
            "activeosfingerprinting.pcapng",
            "odd-flag TCP probes (NULL, SYN+FIN, Xmas: OS fingerprinting or a stealth scan) from 172.16.16.128 to 172.16.16.150",
        ),
    ];
    for (file, want) in cases {
        let titles = scan_titles(&data(&dir.join(file)));
        assert!(
            titles.iter().any(|t| t.starts_with(want)),
            "{file}: expected {want:?}, got {titles:?}"
        );
    }
    // Evidence cites the scanner, the frames and the file.
    let fs = findings(&data(&dir.join("synscan.pcapng")), "port_scan", &[]);
    assert_eq!(fs[0]["src"], "172.16.0.8");
    assert_eq!(fs[0]["file"], "synscan.pcapng");
    assert_eq!(fs[0]["frames"].as_array().unwrap().len(), 20);
    assert_eq!(fs[0]["severity"], "high");
    // Explained: the kind, the open ports, per-port counts that add up, the probing span apart
    // from the answers trailing in (23 s with them).
    let f = &fs[0]["facts"];
    assert_eq!(f["kind"], "TCP SYN (half-open) scan");
    assert_eq!(f["open_ports"], serde_json::json!([22, 53, 80]));
    assert_eq!(f["closed_ports"].as_array().unwrap().len(), 4);
    assert_eq!(f["unanswered_ports"].as_array().unwrap().len(), 20, "cut at 20");
    let counts: Vec<u64> = ["open", "closed", "unanswered"]
        .iter()
        .map(|k| f[k].as_u64().unwrap())
        .collect();
    assert_eq!(counts.iter().sum::<u64>(), f["ports"].as_u64().unwrap(), "{f}");
    assert!(
        f["probing_s"].as_f64().unwrap() < f["duration_s"].as_f64().unwrap(),
        "{f}"
    );
}

#[test]
fn port_scan_is_quiet_on_benign_captures() {
    let Some(dir) = shared_captures() else { return };
    for f in [
        "wikipedia.pcap",
        "http_espn.pcapng",
        "tls-1.2-stream-keylog.pcap",
        "openjdk-25.0.2-zeek.org.pcap",
        "quic_win11_firefox_google.pcap",
        "quic_handshake_truncated.pcap",
        "echo-connections.pcap",
        "1000-requests-one-dropped-response.pcap",
    ] {
        let titles = scan_titles(&data(&dir.join(f)));
        assert!(titles.is_empty(), "{f}: {titles:?}");
    }
}

#[test]
fn port_scan_finds_every_scan_the_generator_injects() {
    let Some(gen_script) = netql::testdata::shared("bench/gen_pcap.py") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let pcap = tmp.path().join("gen.pcap");
    let st = std::process::Command::new("python3")
        .arg(&gen_script)
        .args(["--packets", "30000", "--seed", "7", "--out"])
        .arg(&pcap)
        .status()
        .expect("python3 runs the generator");
    assert!(st.success());
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("gen.pcap.truth.json")).unwrap()).unwrap();
    let fs = findings(&data(&pcap), "port_scan", &[]);
    let facts: Vec<&Value> = fs.iter().map(|f| &f["facts"]).collect();
    for scan in truth["scans"].as_array().unwrap() {
        let src = scan["src"].as_str().unwrap();
        let hit = facts
            .iter()
            .find(|f| f["src"] == src)
            .unwrap_or_else(|| panic!("no finding for {scan}: {fs:?}"));
        let kind = hit["kind"].as_str().unwrap();
        match scan["type"].as_str().unwrap() {
            "vertical_tcp_syn" => {
                assert_eq!(kind, "TCP SYN (half-open) scan");
                assert_eq!(hit["dst"], scan["dst"]);
                assert_eq!(hit["ports"], scan["ports"]);
                assert_eq!(hit["open_ports"], scan["open_ports"]);
                let sum: u64 = ["open", "closed", "unanswered"]
                    .iter()
                    .map(|k| hit[k].as_u64().unwrap())
                    .sum();
                assert_eq!(sum, scan["ports"].as_u64().unwrap(), "{hit}");
            }
            "horizontal_tcp_syn_sweep" => {
                assert_eq!(kind, "TCP SYN (half-open) sweep");
                assert_eq!(hit["port"], scan["dst_port"]);
                assert_eq!(hit["hosts"], scan["targets"]);
                assert_eq!(hit["open"], scan["targets_open"]);
                // Each host judged once: the counts add up to the hosts swept.
                let sum: u64 = ["open", "closed", "unanswered"]
                    .iter()
                    .map(|k| hit[k].as_u64().unwrap())
                    .sum();
                assert_eq!(sum, scan["targets"].as_u64().unwrap(), "{hit}");
                assert_eq!(
                    hit["open_hosts"].as_array().unwrap().len() as u64,
                    scan["targets_open"].as_u64().unwrap().min(20)
                );
            }
            "udp_scan" => {
                assert_eq!(kind, "UDP port scan");
                assert_eq!(hit["ports"], scan["ports"], "every port probed, answered or not");
                assert_eq!(hit["unreachable"], scan["response_packets"]);
                // Each unreachable quotes a distinct probe: that many closed ports, the rest
                // open or filtered.
                assert_eq!(hit["closed"], scan["response_packets"]);
                assert_eq!(
                    hit["open_or_filtered"].as_u64().unwrap(),
                    scan["ports"].as_u64().unwrap() - scan["response_packets"].as_u64().unwrap()
                );
            }
            "slow_tcp_syn" => {
                assert_eq!(kind, "slow TCP port scan");
                assert_eq!(hit["ports"], scan["ports"]);
            }
            other => panic!("unknown scan type {other}"),
        }
    }
    assert_eq!(
        fs.len(),
        truth["scans"].as_array().unwrap().len(),
        "no other scans reported: {fs:?}"
    );
}

/// ICMP sweeps on a capture this test writes: a fast one, a slow one nobody answers, and a host
/// that pings as many servers over half an hour (several requests each, all answered), which
/// is not a sweep.
#[test]
fn port_scan_tells_icmp_sweeps_from_busy_pingers() {
    use etherparse::PacketBuilder;
    let tmp = tempfile::tempdir().unwrap();
    let s = 1_000_000_000i64;
    let mut recs: Vec<(i64, Vec<u8>)> = Vec::new();
    let mut echo = |t: i64, src: [u8; 4], dst: [u8; 4], seq: u16, reply: bool| {
        let mut v = Vec::new();
        let b = PacketBuilder::ethernet2([2; 6], [4; 6]).ipv4(src, dst, 64);
        let b = if reply {
            b.icmpv4_echo_reply(7, seq)
        } else {
            b.icmpv4_echo_request(7, seq)
        };
        b.write(&mut v, &[0u8; 32]).unwrap();
        recs.push((t, v));
    };
    // Fast: 30 hosts in 3 s, one request each; 5 of them answer.
    for h in 1..=30u8 {
        let t = 100 * s + h as i64 * s / 10;
        echo(t, [10, 9, 9, 9], [10, 1, 0, h], 1, false);
        if h <= 5 {
            echo(t + s / 100, [10, 1, 0, h], [10, 9, 9, 9], 1, true);
        }
    }
    // Slow: 25 hosts, one every two minutes, no answers.
    for h in 1..=25u8 {
        echo(200 * s + h as i64 * 120 * s, [10, 8, 8, 8], [10, 2, 0, h], 1, false);
    }
    // Busy but benign: 25 servers, one a minute, four answered requests each.
    for h in 1..=25u8 {
        for seq in 1..=4u16 {
            let t = 300 * s + h as i64 * 60 * s + seq as i64 * s;
            echo(t, [10, 0, 0, 5], [192, 0, 2, h], seq, false);
            echo(t + s / 50, [192, 0, 2, h], [10, 0, 0, 5], seq, true);
        }
    }
    recs.sort_by_key(|r| r.0);
    let path = tmp.path().join("pings.pcap");
    netql::capture::write::write_file(&path, 1, &recs).unwrap();
    let fs = findings(&data(&path), "port_scan", &[]);
    let facts: Vec<&Value> = fs.iter().map(|f| &f["facts"]).collect();
    assert_eq!(facts.len(), 2, "{fs:?}");
    let fast = facts.iter().find(|f| f["src"] == "10.9.9.9").expect("fast sweep");
    assert_eq!(fast["kind"], "ICMP echo sweep");
    assert_eq!(fast["answered_hosts"].as_array().unwrap().len(), 5, "{fast}");
    assert_eq!((fast["hosts"].as_u64(), fast["answered"].as_u64()), (Some(30), Some(5)));
    let slow = facts.iter().find(|f| f["src"] == "10.8.8.8").expect("slow sweep");
    assert_eq!(slow["kind"], "slow ICMP echo sweep");
    assert_eq!((slow["hosts"].as_u64(), slow["answered"].as_u64()), (Some(25), Some(0)));
    // A window as long as the capture makes the pinger's one request per host count, but each
    // of its hosts got four: still not a sweep.
    let fs = findings(&data(&path), "port_scan", &[("sweep_window", "1h")]);
    assert!(fs.iter().all(|f| f["facts"]["src"] != "10.0.0.5"), "{fs:?}");
}

#[test]
fn security_queries_find_what_they_look_for() {
    let Some(dir) = shared_captures() else { return };
    // FTP logins in clear text (the password itself is never shown).
    let fs = findings(
        &data(&dir.join("var-services-std-ports.pcap")),
        "cleartext_credentials",
        &[],
    );
    assert_eq!(fs.len(), 1, "{fs:?}");
    let t = fs[0]["title"].as_str().unwrap();
    assert!(
        t.contains("FTP USER jsiwek") && t.contains("FTP PASS (12 chars)"),
        "{t}"
    );
    // A backdoor-looking port.
    let fs = findings(&data(&dir.join("timestamp.pcap")), "unusual_ports", &[]);
    assert!(
        fs.iter()
            .any(|f| f["severity"] == "medium" && f["title"].as_str().unwrap().contains(":12345")),
        "{fs:?}"
    );
    // DNS overview of a DNS-heavy capture.
    let fs = findings(&data(&dir.join("dns-edns-ecs.pcap")), "dns_summary", &[]);
    assert_eq!(fs[0]["severity"], "info");
    assert!(fs[0]["title"].as_str().unwrap().starts_with("DNS: "), "{fs:?}");
    // Nothing to report on a plain web capture.
    let d = data(&dir.join("wikipedia.pcap"));
    for q in ["arp_spoof", "cleartext_credentials", "beaconing", "long_connections"] {
        assert!(findings(&d, q, &[]).is_empty(), "{q} on wikipedia.pcap");
    }
}

/// ARP spoofing, DGA-like DNS and beaconing on captures this test writes.
#[test]
fn arp_spoofing_dns_tunnelling_and_beaconing_on_made_captures() {
    use etherparse::PacketBuilder;
    let tmp = tempfile::tempdir().unwrap();
    let mut recs: Vec<(i64, Vec<u8>)> = Vec::new();
    let arp_reply = |mac: [u8; 6], ip: [u8; 4]| {
        let mut v = vec![0xff; 6];
        v.extend_from_slice(&mac);
        v.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 2]);
        v.extend_from_slice(&mac);
        v.extend_from_slice(&ip);
        v.extend_from_slice(&[0; 6]);
        v.extend_from_slice(&[10, 0, 0, 9]);
        v.resize(60, 0);
        v
    };
    let s = 1_000_000_000i64;
    recs.push((0, arp_reply([2, 0, 0, 0, 0, 1], [10, 0, 0, 1])));
    recs.push((s, arp_reply([2, 0, 0, 0, 0, 0x66], [10, 0, 0, 1])));
    // DNS look-ups of random-looking names (tunnelling/DGA).
    for i in 0..30u16 {
        let mut x: u32 = 0x9e37_79b9 ^ (i as u32 + 1).wrapping_mul(2_654_435_761);
        let letters: String = (0..28)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                b"abcdefghijklmnopqrstuvwxyz0123456789"[(x % 36) as usize] as char
            })
            .collect();
        let label = format!("{letters}{i}x9q");
        let name = format!("{label}.evil.example");
        let mut q = domain::base::MessageBuilder::new_vec().question();
        q.header_mut().set_id(i);
        let qname = domain::base::Name::<Vec<u8>>::from_chars(name.chars()).unwrap();
        q.push((&qname, domain::base::iana::Rtype::TXT)).unwrap();
        let query = q.finish();
        let mut v = Vec::new();
        PacketBuilder::ethernet2([2; 6], [4; 6])
            .ipv4([10, 0, 0, 9], [10, 0, 0, 53], 64)
            .udp(40000 + i, 53)
            .write(&mut v, &query)
            .unwrap();
        recs.push((2 * s + i as i64 * s / 10, v));
    }
    // A check-in every 60 s to one server.
    for i in 0..12i64 {
        let mut v = Vec::new();
        PacketBuilder::ethernet2([2; 6], [4; 6])
            .ipv4([10, 0, 0, 9], [203, 0, 113, 7], 64)
            .tcp(50000 + i as u16, 8081, 1, 1000)
            .syn()
            .write(&mut v, &[])
            .unwrap();
        recs.push((10 * s + i * 60 * s + (i % 3) * s / 5, v));
    }
    recs.sort_by_key(|r| r.0);
    let path = tmp.path().join("made.pcap");
    netql::capture::write::write_file(&path, 1, &recs).unwrap();
    let d = data(&path);

    let fs = findings(&d, "arp_spoof", &[]);
    assert_eq!(fs.len(), 1, "{fs:?}");
    assert!(
        fs[0]["title"]
            .as_str()
            .unwrap()
            .contains("10.0.0.1 is claimed by 2 MAC addresses"),
        "{fs:?}"
    );

    let fs = findings(&d, "dns_summary", &[]);
    let odd = fs
        .iter()
        .find(|f| {
            f["title"]
                .as_str()
                .unwrap()
                .starts_with("Suspicious DNS names from 10.0.0.9:")
        })
        .expect("DGA-like names found");
    assert_eq!(odd["severity"], "high");
    assert!(odd["facts"]["names"].as_u64().unwrap() >= 25, "{odd}");

    let fs = findings(&d, "beaconing", &[]);
    assert_eq!(fs.len(), 1, "{fs:?}");
    assert!(
        fs[0]["title"].as_str().unwrap().contains("12 connections every 60"),
        "{fs:?}"
    );
}

/// Below 10 connections beaconing asks for half the jitter: 5 gaps of random traffic look that
/// regular by chance about once in 500 services, which on a busy capture meant false alarms.
#[test]
fn beaconing_wants_tighter_timing_from_few_connections() {
    use etherparse::PacketBuilder;
    let tmp = tempfile::tempdir().unwrap();
    let s = 1_000_000_000i64;
    let mut recs: Vec<(i64, Vec<u8>)> = Vec::new();
    // Gaps in seconds: jitter (std / mean) about 0.16 for the first server, 0.03 for the second.
    let loose = [500, 600, 450, 560, 420];
    let tight = [500, 510, 495, 505, 490];
    for (server, gaps) in [(7u8, loose), (8u8, tight)] {
        let mut t = 10 * s;
        for (i, gap) in std::iter::once(0).chain(gaps).enumerate() {
            t += gap * s;
            let mut v = Vec::new();
            PacketBuilder::ethernet2([2; 6], [4; 6])
                .ipv4([10, 0, 0, 9], [203, 0, 113, server], 64)
                .tcp(50000 + i as u16, 8081, 1, 1000)
                .syn()
                .write(&mut v, &[])
                .unwrap();
            recs.push((t, v));
        }
    }
    recs.sort_by_key(|r| r.0);
    let path = tmp.path().join("beacons.pcap");
    netql::capture::write::write_file(&path, 1, &recs).unwrap();
    let fs = findings(&data(&path), "beaconing", &[]);
    assert_eq!(fs.len(), 1, "{fs:?}");
    assert_eq!(fs[0]["facts"]["dst"], "203.0.113.8", "{fs:?}");
    assert_eq!(fs[0]["facts"]["connections"], 6, "{fs:?}");
}

#[test]
fn run_prints_tables_json_and_errors_with_carets() {
    let tmp = tempfile::tempdir().unwrap();
    let s = sample();
    let o = netql(
        &[
            "run",
            "top_talkers",
            s.to_str().unwrap(),
            "--format",
            "json",
            "--param",
            "limit=2",
        ],
        tmp.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(v[0]["address"], "192.168.56.10");
    assert_eq!(v[0]["packets"], 251);

    let o = netql(
        &[
            "run",
            "-e",
            "packets().filter(col(\"dns_response\") == false).count()",
            s.to_str().unwrap(),
        ],
        tmp.path(),
    );
    assert_eq!(stdout(&o).trim(), "3");

    // Top-k and filtered top-k over the packet table (Polars pushes a filter and a "dynamic"
    // predicate into its scan): the largest frames, largest first.
    for script in [
        "packets().select([\"frame\", \"wire_len\"]).sort(\"wire_len\", true).head(3)",
        "packets().filter(col(\"l4\") == \"tcp\").select([\"frame\", \"wire_len\"]).sort(\"wire_len\", true).head(3)",
    ] {
        let o = netql(
            &["run", "--format", "json", "-e", script, s.to_str().unwrap()],
            tmp.path(),
        );
        assert!(o.status.success(), "{script}: {}", stderr(&o));
        let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
        let lens: Vec<u64> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["wire_len"].as_u64().unwrap())
            .collect();
        assert_eq!(lens.len(), 3, "{script}");
        assert!(
            lens.windows(2).all(|w| w[0] >= w[1]) && lens[0] > 0,
            "{script}: {lens:?}"
        );
    }
    let all = netql(
        &[
            "run",
            "-e",
            "packets().select([col(\"wire_len\").max()])",
            s.to_str().unwrap(),
        ],
        tmp.path(),
    );
    let o = netql(
        &[
            "run",
            "--format",
            "json",
            "-e",
            "packets().sort(\"wire_len\", true).head(1)",
            s.to_str().unwrap(),
        ],
        tmp.path(),
    );
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(stdout(&all).contains(&v[0]["wire_len"].to_string()), "{}", stdout(&all));

    // A bad script: exit 2, message with line, column and a caret.
    let o = netql(
        &[
            "run",
            "-e",
            "let x = packets();\nx.filter(col(\"dst_port\") == 53 &&)",
            s.to_str().unwrap(),
        ],
        tmp.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("line 2") && e.contains('^'), "{e}");

    // A runaway script is stopped with a clear message.
    let o = netql(&["run", "-e", "loop { }", s.to_str().unwrap()], tmp.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("runaway"), "{}", stderr(&o));

    // Unknown parameter.
    let o = netql(
        &["run", "top_talkers", s.to_str().unwrap(), "--param", "nope=1"],
        tmp.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no parameter 'nope'"), "{}", stderr(&o));
}

/// Polars errors reach the user at the call that caused them (line, column, caret), naming the
/// operation and showing its expression with the column; text works in `is_in` on the enum and
/// categorical columns as it does in `==`.
#[test]
fn polars_errors_name_the_column_and_the_script_position() {
    let tmp = tempfile::tempdir().unwrap();
    let s = sample();
    let cases = [
        // A comparison only fails when Polars evaluates it: caught on no rows at the filter.
        // An unknown column: the caret goes under its name, after the call that failed.
        (
            "let t = flows();\nt.filter(col(\"l4\") == 3)",
            "line 2, column 3",
            "col(\"l4\")",
        ),
        (
            "packets()\n  .select([\"frame\", \"nope\"])",
            "line 2, column 22",
            "select: no column named \"nope\"",
        ),
        (
            "flows().filter(col(\"conn_state\").is_in([1, 2]))",
            "line 1, column 9",
            "col(\"conn_state\")",
        ),
        (
            "flows().group_by([\"l4\"]).agg([col(\"nope\").sum()])",
            "line 1, column 36",
            "agg: no column named \"nope\"",
        ),
        (
            "flows().join(flows(), [\"nope\"], \"inner\")",
            "line 1, column 25",
            "join: no column named \"nope\"",
        ),
    ];
    for (script, at, names) in cases {
        let o = netql(&["run", "-e", script, s.to_str().unwrap()], tmp.path());
        assert_eq!(o.status.code(), Some(2), "{script}");
        let e = stderr(&o);
        assert!(e.contains(at) && e.contains('^'), "{script}: {e}");
        assert!(e.contains(names), "{script}: {e}");
        assert!(!e.contains("column ''"), "{script}: {e}");
    }
    // is_in with text on enum (l4, conn_state) and categorical (src_ip) columns, as == does; a
    // text the column never holds matches nothing.
    let count = |script: &str| -> u64 {
        let o = netql(&["run", "-e", script, s.to_str().unwrap()], tmp.path());
        assert!(o.status.success(), "{script}: {}", stderr(&o));
        stdout(&o).trim().parse().unwrap()
    };
    for (a, b) in [
        (
            r#"flows().filter(col("l4").is_in(["tcp", "no-such-protocol"])).count()"#,
            r#"flows().filter(col("l4") == "tcp").count()"#,
        ),
        (
            r#"flows().filter(col("conn_state") in ["SF", "S0"]).count()"#,
            r#"flows().filter(col("conn_state") == "SF" || col("conn_state") == "S0").count()"#,
        ),
        (
            r#"packets().filter(col("src_ip").is_in(["192.168.56.10"])).count()"#,
            r#"packets().filter(col("src_ip") == "192.168.56.10").count()"#,
        ),
        // Text made once (`to_text()`), tested in one pass: the same rows.
        (
            r#"flows().filter(col("l4").to_text().is_in(["tcp", "udp", "no-such-protocol"])).count()"#,
            r#"flows().filter(col("l4") == "tcp" || col("l4") == "udp").count()"#,
        ),
    ] {
        let n = count(a);
        assert!(n > 0, "{a}");
        assert_eq!(n, count(b), "{a} vs {b}");
    }
    assert_eq!(count(r#"flows().filter(col("app").is_in(["no-such-app"])).count()"#), 0);
}

#[test]
fn check_exit_codes_and_junit() {
    let tmp = tempfile::tempdir().unwrap();
    let s = sample();
    let junit = tmp.path().join("report.xml");
    let o = netql(
        &[
            "check",
            "port_scan",
            s.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
            "--format",
            "json",
        ],
        tmp.path(),
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "the sample's port scan fails the check: {}",
        stdout(&o)
    );
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["passed"], false);
    assert_eq!(v["results"][0]["status"], "fail");
    let xml = std::fs::read_to_string(&junit).unwrap();
    // Read back as JUnit: the port_scan case of sample.pcap failed.
    let report = quick_junit::Report::deserialize_from_str(&xml).unwrap_or_else(|e| panic!("{e}: {xml}"));
    let case = report.test_suites[0]
        .test_cases
        .iter()
        .find(|c| c.name.as_str() == "port_scan")
        .unwrap_or_else(|| panic!("{xml}"));
    assert_eq!(
        case.classname.as_ref().map(|c| c.as_str()),
        Some("sample.pcap"),
        "{xml}"
    );
    assert!(
        matches!(
            case.status,
            quick_junit::TestCaseStatus::NonSuccess {
                kind: quick_junit::NonSuccessKind::Failure,
                ..
            }
        ),
        "{xml}"
    );

    let o = netql(
        &["check", "port_scan", s.to_str().unwrap(), "--fail-on", "critical"],
        tmp.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));

    // Saved scripts with assertions.
    let ok = tmp.path().join("ok.rhai");
    std::fs::write(&ok, "assert(packets().count() == 253, \"sample has 253 packets\");\nexpect_empty(packets().filter(col(\"error\").is_not_null()), \"no decode errors\");\n").unwrap();
    let o = netql(&["check", ok.to_str().unwrap(), s.to_str().unwrap()], tmp.path());
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let bad = tmp.path().join("bad.rhai");
    std::fs::write(
        &bad,
        "expect_empty(packets().filter(col(\"dst_port\") == 22), \"nobody talks SSH\");\n",
    )
    .unwrap();
    let o = netql(&["check", bad.to_str().unwrap(), s.to_str().unwrap()], tmp.path());
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("nobody talks SSH"), "{}", stdout(&o));
    let broken = tmp.path().join("broken.rhai");
    std::fs::write(&broken, "packets(.count()").unwrap();
    let o = netql(&["check", broken.to_str().unwrap(), s.to_str().unwrap()], tmp.path());
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn analyze_reports_in_every_format() {
    let tmp = tempfile::tempdir().unwrap();
    let s = sample();
    let o = netql(&["analyze", s.to_str().unwrap()], tmp.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    for part in [
        "netql analysis: sample.pcap",
        "253 packets",
        "Protocols",
        "Top devices",
        "Security status",
        "[HIGH] TCP SYN (half-open) scan from 192.168.56.66",
        "evidence: frames",
        "Verdict",
        "Attention needed",
    ] {
        assert!(text.contains(part), "missing {part:?} in\n{text}");
    }
    let o = netql(&["analyze", s.to_str().unwrap(), "--format", "json"], tmp.path());
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let f = &v["findings"][0];
    assert_eq!(f["query"], "port_scan");
    assert_eq!(f["severity"], "high");
    assert_eq!(f["src"], "192.168.56.66");
    assert!(f["title"].as_str().unwrap().contains("100 ports"));
    // Totals read from the cache's meta file (the first run above wrote it) equal a fresh count.
    let summary: Value = serde_json::from_str(&stdout(&netql(
        &["--no-cache", "summary", s.to_str().unwrap(), "--format", "json"],
        tmp.path(),
    )))
    .unwrap();
    let fresh = netql(
        &["--no-cache", "analyze", s.to_str().unwrap(), "--format", "json"],
        tmp.path(),
    );
    let fresh: Value = serde_json::from_str(&stdout(&fresh)).unwrap();
    for (a, b) in [
        ("packets", "packets"),
        ("bytes", "bytes"),
        ("first_ts", "first_ts"),
        ("last_ts", "last_ts"),
    ] {
        assert_eq!(v[a], summary[b], "{a}");
        assert_eq!(fresh[a], summary[b], "{a}");
    }
    let o = netql(&["analyze", s.to_str().unwrap(), "--format", "markdown"], tmp.path());
    assert!(stdout(&o).contains("## Security status"), "{}", stdout(&o));
    let o = netql(&["analyze", s.to_str().unwrap(), "--fail-on", "high"], tmp.path());
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn analyze_all_reports_each_capture_and_the_set() {
    let Some(dir) = shared_captures() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let caps = tmp.path().join("caps");
    std::fs::create_dir(&caps).unwrap();
    std::fs::copy(dir.join("wikipedia.pcap"), caps.join("wikipedia.pcap")).unwrap();
    std::fs::copy(sample(), caps.join("sample.pcap")).unwrap();
    let o = netql(
        &[
            "--captures",
            caps.to_str().unwrap(),
            "analyze",
            "all",
            "--format",
            "json",
        ],
        tmp.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["packets"], 253 + 136);
    assert_eq!(v["captures"].as_array().unwrap().len(), 2);
    let per: Vec<u64> = v["captures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["packets"].as_u64().unwrap())
        .collect();
    assert!(per.contains(&253) && per.contains(&136));
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["src"] == "192.168.56.66")
    );
}

/// Run an ad-hoc script and return its table as JSON rows.
fn adhoc(d: &Arc<Captures>, src: &str) -> Vec<Value> {
    let r = engine()
        .run(src, d.clone(), &Vec::new())
        .unwrap_or_else(|e| panic!("{src}: {e}"));
    match r.output {
        Output::Table(df) => netql::table::values::rows_json(&df),
        other => panic!("{src} returned {other:?}"),
    }
}

#[test]
fn collect_gives_the_same_answers_as_the_lazy_plan() {
    let d = data(&sample());
    let question = |t: &str| {
        format!(
            r#"let t = {t};
            t.filter(col("dst_port") < 1024)
             .group_by(["src_ip", "dst_port"]).agg([count().alias("n"), sum("wire_len").alias("b")])
             .with_column(col("src_ip").to_text().alias("src_ip"))
             .sort(["n", "dst_port", "src_ip"], [true, false, false])"#
        )
    };
    let tcp = r#"packets().filter(col("l4") == "tcp")"#;
    let lazy = adhoc(&d, &question(tcp));
    let collected = adhoc(&d, &question(&format!("{tcp}.collect()")));
    assert!(lazy.len() > 5, "{lazy:?}");
    assert_eq!(lazy, collected);
    // A collected table keeps text columns comparable with text.
    let r = engine()
        .run(
            r#"packets().collect().filter(col("src_ip") == "192.168.56.66").count()"#,
            d.clone(),
            &Vec::new(),
        )
        .unwrap();
    assert!(
        matches!(r.output, Output::Value(Value::Number(ref n)) if n.as_i64() == Some(102)),
        "{:?}",
        r.output
    );
}

/// events() spelled out in the query language: what the schema promises it holds.
const EVENT_RULE: &str = r#"packets().filter(
    col("dns_qname").is_not_null() || col("dns_qtype").is_not_null() || col("dns_rcode").is_not_null()
    || col("dns_response").is_not_null() || col("dns_answers").is_not_null()
    || col("http_method").is_not_null() || col("http_host").is_not_null() || col("http_path").is_not_null()
    || col("http_status").is_not_null() || col("tls_sni").is_not_null() || col("tls_version").is_not_null()
    || col("arp_op").is_not_null() || col("arp_sender_ip").is_not_null() || col("arp_target_ip").is_not_null()
    || col("credential").is_not_null() || col("error").is_not_null()
    || col("l4") == "icmp" || col("l4") == "icmpv6"
    || (col("l4") == "tcp" && ((!tcp_flag("SYN") && !tcp_flag("ACK") && !tcp_flag("RST"))
        || (tcp_flag("SYN") && tcp_flag("FIN")) || (tcp_flag("SYN") && tcp_flag("RST")))))"#;

const STACKS_BY_COUNTS: &str = r#"stacks().group_by(["protocols"])
    .agg([sum("frames").alias("frames"), sum("bytes").alias("bytes")])
    .with_column(col("protocols").to_text().alias("protocols")).sort("protocols")"#;
const STACKS_BY_PACKETS: &str = r#"packets().group_by(["protocols"])
    .agg([count().cast("u64").alias("frames"), sum("wire_len").cast("u64").alias("bytes")])
    .with_column(col("protocols").to_text().alias("protocols")).sort("protocols")"#;

#[test]
fn events_and_stacks_agree_with_the_packets_fresh_cached_and_live() {
    let mut files = vec![sample()];
    if let Some(dir) = shared_captures() {
        files.extend(readable_captures(&dir));
    }
    let cache = tempfile::tempdir().unwrap();
    let cached = LoadOptions {
        cache_dir: cache.path().into(),
        use_cache: true,
        ..opts()
    };
    let (mut events_seen, mut odd_seen) = (0, 0);
    for f in &files {
        let cap = CaptureFile::stat(f).unwrap();
        let fresh = Arc::new(Captures::new(vec![load(&cap, &cached).unwrap()]));
        let again = load(&cap, &cached).unwrap();
        let from_cache = Arc::new(Captures::new(vec![again]));
        let want_events = adhoc(&fresh, &format!("{EVENT_RULE}.sort(\"frame\")"));
        let want_stacks = adhoc(&fresh, STACKS_BY_PACKETS);
        // A live window's table is not split: the same answers through the fallback plans.
        let whole = fresh.loaded[0].packets.to_dataframe().unwrap();
        let window = Arc::new(netql::query::watch::WindowData::new(whole));
        for (how, d) in [
            ("fresh", fresh.clone() as Arc<dyn netql::query::bindings::DataSource>),
            ("cached", from_cache.clone()),
            ("window", window),
        ] {
            let got = engine()
                .run("events().sort(\"frame\")", d.clone(), &Vec::new())
                .unwrap_or_else(|e| panic!("{f:?} {how}: {e}"));
            let Output::Table(df) = got.output else {
                panic!("{f:?} {how}: not a table")
            };
            assert_eq!(netql::table::values::rows_json(&df), want_events, "{f:?} events {how}");
            let got = engine().run(STACKS_BY_COUNTS, d, &Vec::new()).unwrap();
            let Output::Table(df) = got.output else {
                panic!("{f:?} {how}: not a table")
            };
            assert_eq!(netql::table::values::rows_json(&df), want_stacks, "{f:?} stacks {how}");
        }
        assert!(from_cache.loaded[0].from_cache, "{f:?} not read from the cache");
        events_seen += want_events.len();
        odd_seen += adhoc(
            &fresh,
            r#"events().filter(col("l4") == "tcp" && !tcp_flag("SYN") && !tcp_flag("ACK") && !tcp_flag("RST"))"#,
        )
        .len();
    }
    // The captures exercise the rule: the sample's DNS, HTTP, TLS, ARP and ICMP events, and with
    // the shared captures many more, odd-flag probes included.
    assert!(events_seen >= 20, "{events_seen}");
    if files.len() > 1 {
        assert!(events_seen > 1000, "{events_seen}");
        assert!(odd_seen > 0, "no NULL/FIN/Xmas probe in the shared captures");
    }
}

#[test]
fn dns_summary_without_dns_has_no_findings_rather_than_a_value() {
    let Some(dir) = shared_captures() else { return };
    let d = data(&dir.join("icmp6.pcap"));
    assert_eq!(adhoc(&d, r#"events().filter(col("dns_qname").is_not_null())"#).len(), 0);
    // `findings` panics unless the query returns findings.
    assert!(findings(&d, "dns_summary", &[]).is_empty());
}

/// `analyze` keeps only the event rows when no suite script calls `packets()`; a suite script
/// that reads the packets anyway (named plainly, or reached through a function pointer the
/// loader cannot see) still gets every packet.
#[test]
fn analyze_gives_the_packets_to_a_suite_script_that_asks() {
    let tmp = tempfile::tempdir().unwrap();
    let s = sample();
    let plain = netql(
        &["--no-cache", "run", "-e", "packets().count()", s.to_str().unwrap()],
        tmp.path(),
    );
    let total: u64 = stdout(&plain).trim().parse().unwrap();
    for (name, call) in [("plain", "packets()"), ("hidden", "Fn(\"pack\" + \"ets\").call()")] {
        let q = tmp.path().join(format!("queries_{name}"));
        std::fs::create_dir(&q).unwrap();
        for e in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/queries")).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                continue; // queries/sql: the lake's SQL, not scripts
            }
            std::fs::copy(&p, q.join(p.file_name().unwrap())).unwrap();
        }
        std::fs::write(
            q.join("unusual_ports.rhai"),
            format!("//! name: unusual_ports\nlet n = {call}.count();\nfinding(\"info\", `counted ${{n}} packets`, {call}.head(1))\n"),
        )
        .unwrap();
        let cfg = tmp.path().join(format!("{name}.toml"));
        std::fs::write(&cfg, format!("[queries]\ndir = {:?}\n", q.to_str().unwrap())).unwrap();
        for cache in [true, false] {
            let mut args = vec!["--config", cfg.to_str().unwrap()];
            if !cache {
                args.push("--no-cache");
            }
            args.extend(["analyze", s.to_str().unwrap(), "--format", "json"]);
            let o = netql(&args, tmp.path());
            assert!(o.status.success(), "{name}: {}", stderr(&o));
            let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
            let titles: Vec<&str> = v["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|f| f["title"].as_str())
                .collect();
            assert!(
                titles.contains(&format!("counted {total} packets").as_str()),
                "{name} (cache {cache}): {titles:?}"
            );
            // The rest of the suite still ran on the same capture.
            assert!(
                titles
                    .iter()
                    .any(|t| t.contains("TCP SYN (half-open) scan from 192.168.56.66")),
                "{name}: {titles:?}"
            );
        }
    }
}

/// The report does not depend on the order the captures are given in, nor on the order Polars
/// happens to give groups in: each kind of finding comes in time order. (Before, two runs over
/// the same set could list two UDP scans or two FTP logins either way round; the notice.log of
/// `netql export zeek` changed with them.)
#[test]
fn analyze_lists_findings_in_the_same_order_whatever_the_order_of_the_captures() {
    let files = netql::testdata::shared_capture_files();
    assert!(files.len() > 10, "the shared captures are missing");
    let dir = tempfile::tempdir().unwrap();
    let titles = |files: &[std::path::PathBuf]| -> Vec<(String, String)> {
        let mut args = vec!["analyze", "--format", "json"];
        args.extend(files.iter().map(|f| f.to_str().unwrap()));
        let o = netql(&args, dir.path());
        let v: Value = serde_json::from_str(&stdout(&o)).unwrap_or_else(|e| panic!("{e}: {}", stderr(&o)));
        v["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .map(|f| {
                (
                    f["query"].as_str().unwrap().to_string(),
                    f["title"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let forward = titles(&files);
    let reversed: Vec<_> = files.iter().rev().cloned().collect();
    assert_eq!(forward, titles(&reversed));
    // The set holds several findings of one kind, so the order is put to the test.
    let count = |q: &str| forward.iter().filter(|(query, _)| query == q).count();
    assert!(
        count("port_scan") >= 3 && count("cleartext_credentials") >= 2,
        "{forward:#?}"
    );
}

/// The cached tables' scans take a filter or a sort + head from Polars (a sort + head hands them
/// a "dynamic" predicate that is only a hint and cannot be run): every such query gives what the
/// same query gives over the table collected first, from the cache and without it.
#[test]
fn sorted_heads_and_filters_over_cached_tables_equal_the_collected_tables() {
    let Some(dir) = shared_captures() else {
        netql::testdata::missing("captures");
        return;
    };
    let capture = dir.join("wikipedia.pcap");
    let tmp = tempfile::tempdir().unwrap();
    let queries = [
        (
            r#"flows()"#,
            r#".sort("bytes", true).head(3).select(["flow_id", "bytes"])"#,
        ),
        (
            r#"events()"#,
            r#".filter(col("l4") == "udp").sort("ts", true).head(3).select(["frame", "ts"])"#,
        ),
        (r#"dns()"#, r#".sort("rtt", true).head(3).select(["query", "rtt"])"#),
        (
            r#"http()"#,
            r#".filter(col("status_code") >= 200).sort("request_frame", true).head(2).select(["uri"])"#,
        ),
        (
            r#"flows()"#,
            r#".filter(col("bytes") > 100000000000).select(["flow_id", "history"])"#,
        ),
        (
            r#"events()"#,
            r#".filter(col("credential").is_not_null()).select(["frame", "flow_id"])"#,
        ),
    ];
    let run = |script: &str, cached: bool| -> Value {
        let cache = tmp.path().join("cache");
        let cache = cache.to_str().unwrap();
        let mut args = vec!["-q", "run", "-e", script, "--format", "json", capture.to_str().unwrap()];
        args.extend(if cached {
            ["--cache-dir", cache]
        } else {
            ["--no-cache", "-q"]
        });
        let out = netql(&args, tmp.path());
        assert!(out.status.success(), "{script}: {}", stderr(&out));
        serde_json::from_str(&stdout(&out)).unwrap()
    };
    // The first cached run writes the cache; the ones after read it.
    run("flows().count()", true);
    let mut rows = 0;
    for (table, query) in queries {
        let want = run(&format!("{table}.collect(){query}"), false);
        for cached in [false, true] {
            assert_eq!(
                run(&format!("{table}{query}"), cached),
                want,
                "{table}{query} (cached: {cached})"
            );
        }
        rows += want.as_array().map_or(0, Vec::len);
    }
    assert_eq!(
        rows, 11,
        "three flows, three events, three DNS rows, two HTTP rows, none of the rest"
    );
}
