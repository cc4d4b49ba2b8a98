//! Packet-level facts the transaction work fixed, through `netql run` as a user runs it: the
//! packet an ICMP error quotes, HTTP request facts only from request lines, DNS response codes
//! only on responses, and no DNS message left without a name or a reason.

use std::path::Path;

use serde_json::Value;

use crate::common::{netql, shared_captures, stderr, stdout};

/// Rows of an ad-hoc script over one capture, as JSON objects.
fn rows(script: &str, capture: &Path, cache: &Path) -> Vec<Value> {
    let o = netql(
        &["run", "-q", "--format", "json", "-e", script, capture.to_str().unwrap()],
        cache,
    );
    assert!(o.status.success(), "{script}: {}", stderr(&o));
    serde_json::from_str::<Value>(&stdout(&o))
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// Every ICMP port-unreachable of the generator's UDP scan names, in its quoted columns, exactly
/// one probe of the capture: the join the scan needs, with no `shift` guesswork.
#[test]
fn icmp_errors_name_the_probe_they_answer() {
    let Some(gen_script) = netql::testdata::shared("bench/gen_pcap.py") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let pcap = tmp.path().join("gen.pcap");
    let st = std::process::Command::new("python3")
        .arg(&gen_script)
        .args(["--packets", "20000", "--seed", "11", "--out"])
        .arg(&pcap)
        .status()
        .expect("python3 runs the generator");
    assert!(st.success());
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("gen.pcap.truth.json")).unwrap()).unwrap();
    let scan = truth["scans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["type"] == "udp_scan")
        .expect("the generator injects a UDP scan");
    let script = r#"
        let errs = packets()
            .filter(col("icmp_type") == 3 & col("icmp_code") == 3)
            .select([col("frame").alias("error_frame"), col("src_ip").cast("str").alias("answered_by"),
                     col("quoted_l4"),
                     col("quoted_src_ip").cast("str").alias("src_ip"), col("quoted_dst_ip").cast("str").alias("dst_ip"),
                     col("quoted_src_port").alias("src_port"), col("quoted_dst_port").alias("dst_port")]);
        let probes = packets().filter(col("l4") == "udp")
            .select([col("frame").alias("probe_frame"), col("src_ip").cast("str"), col("dst_ip").cast("str"),
                     "src_port", "dst_port"]);
        errs.join(probes, ["src_ip", "dst_ip", "src_port", "dst_port"], "left")
    "#;
    let got = rows(script, &pcap, tmp.path());
    assert_eq!(
        got.len() as u64,
        scan["response_packets"].as_u64().unwrap(),
        "one row per error"
    );
    for r in &got {
        assert_eq!(r["quoted_l4"], "udp", "{r}");
        assert_eq!(r["src_ip"], scan["src"], "the scanner sent the quoted probe: {r}");
        assert_eq!(r["dst_ip"], scan["dst"], "{r}");
        assert_eq!(r["answered_by"], scan["dst"], "the target answers: {r}");
        let (probe, error) = (r["probe_frame"].as_u64(), r["error_frame"].as_u64().unwrap());
        assert!(probe.is_some_and(|p| p < error), "the probe precedes its error: {r}");
    }
    let ports: std::collections::BTreeSet<u64> = got.iter().map(|r| r["dst_port"].as_u64().unwrap()).collect();
    assert_eq!(ports.len(), got.len(), "each error answers a different port");
}

/// A traceroute over IPv6 (icmp6.pcap): time-exceeded and port-unreachable errors quote the
/// probe's UDP header, whose destination port traceroute raises by one per probe from 33435.
#[test]
fn icmpv6_errors_quote_the_traceroute_probes() {
    let Some(dir) = shared_captures() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let got = rows(
        r#"packets().filter(col("quoted_l4").is_not_null())
            .select(["frame", "icmp_type", "quoted_l4", "quoted_src_ip", "quoted_dst_ip", "quoted_src_port", "quoted_dst_port"])"#,
        &dir.join("icmp6.pcap"),
        tmp.path(),
    );
    // Every frame of this capture is ICMPv6, so tshark's frames with udp are exactly the errors
    // that quote a UDP header (13); 12 belong to the traceroute.
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("truth/icmp6.pcap.json")).unwrap()).unwrap();
    assert_eq!(truth["frames_with"]["icmpv6"], truth["packets"]);
    assert_eq!(got.len() as u64, truth["frames_with"]["udp"].as_u64().unwrap());
    let probes: Vec<&Value> = got.iter().filter(|r| r["quoted_src_port"] == 41077).collect();
    assert_eq!(probes.len(), 12);
    for (i, r) in probes.iter().enumerate() {
        assert_eq!(r["quoted_l4"], "udp");
        assert_eq!(r["quoted_dst_port"].as_u64(), Some(33435 + i as u64), "{r}");
        assert_eq!(r["quoted_dst_ip"], "3ffe:501:410:0:2c0:dfff:fe47:33e");
    }
    // ICMP errors that quote an ICMP echo (icmp_traceroute) name the protocol, with no ports.
    let echo = rows(
        r#"packets().filter(col("quoted_l4").is_not_null()).group_by(["quoted_l4"]).agg([count(), col("quoted_src_port").is_null().sum().alias("no_port")])"#,
        &dir.join("icmp_traceroute.pcapng"),
        tmp.path(),
    );
    assert_eq!(echo.len(), 1, "{echo:?}");
    assert_eq!(echo[0]["quoted_l4"], "icmp");
    assert_eq!(echo[0]["count"], echo[0]["no_port"]);
}

/// Request facts (method, host, path) come only from request lines: a response body segment on
/// port 80 once gave methods such as "ody.className". Each connection's packets then count the
/// same requests as the http() table, which reads them from the reassembled stream, except on
/// connections whose start was not captured: Zeek (and so http()) leaves those out, a packet
/// still says what it carries.
#[test]
fn http_request_facts_come_only_from_request_lines() {
    let Some(dir) = shared_captures() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let mut missed_starts = 0;
    for f in [
        "http_espn.pcapng",
        "wikipedia.pcap",
        "1000-requests-one-dropped-response.pcap",
    ] {
        let methods = rows(
            r#"packets().filter(col("http_method").is_not_null()).select([col("http_method").cast("str").alias("m")]).unique()"#,
            &dir.join(f),
            tmp.path(),
        );
        assert!(!methods.is_empty(), "{f}");
        for m in &methods {
            assert!(["GET", "POST", "HEAD"].contains(&m["m"].as_str().unwrap()), "{f}: {m}");
        }
        let per_flow = rows(
            r#"let p = packets().filter(col("http_method").is_not_null()).group_by(["flow_id"]).agg([count().alias("packets")]);
               let h = http().filter(col("method").is_not_null()).group_by(["flow_id"]).agg([count().alias("http")]);
               p.join(h, ["flow_id"], "full").join(flows().select(["flow_id", "history"]), ["flow_id"], "left")"#,
            &dir.join(f),
            tmp.path(),
        );
        for r in &per_flow {
            if r["packets"] == r["http"] {
                continue;
            }
            let history = r["history"].as_str().unwrap_or_default();
            assert!(
                r["http"].is_null() && !history.contains('S'),
                "{f}: requests differ on a connection whose start was seen: {r}"
            );
            missed_starts += 1;
        }
        let hosts_without_method = rows(
            r#"packets().filter(col("http_method").is_null() & (col("http_host").is_not_null() | col("http_path").is_not_null()))"#,
            &dir.join(f),
            tmp.path(),
        );
        assert!(hosts_without_method.is_empty(), "{f}: {hosts_without_method:?}");
    }
    // wikipedia.pcap has one: a GET on a connection seen from its middle (history DdA).
    assert_eq!(missed_starts, 1);
}

/// DNS: a query has no response code; a response carried in reassembled IPv6 fragments is read
/// on the frame that completes it; every DNS message on the wire has a name or an error saying
/// why not (mDNS announcements carry no question: they are responses with answers).
#[test]
fn dns_messages_have_a_name_or_a_reason() {
    let Some(dir) = shared_captures() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let frag = rows(
        r#"packets().filter(col("dns_response").is_not_null()).select(["frame", "frag", "dns_qname", "dns_rcode", "dns_response", "dns_answers"])"#,
        &dir.join("ipv6-fragmented-dns.pcap"),
        tmp.path(),
    );
    for r in &frag {
        let response = r["dns_response"].as_bool().unwrap();
        assert_eq!(r["dns_rcode"].is_null(), !response, "rcode only on responses: {r}");
    }
    // Zeek's dns.log for this capture has the two answered transactions (tests/it/zeek.rs); the
    // second answer is in fragments.
    let reassembled: Vec<&Value> = frag.iter().filter(|r| r["frag"] == "reassembled").collect();
    assert_eq!(reassembled.len(), 1, "{frag:?}");
    assert_eq!(
        reassembled[0]["dns_qname"],
        "txtpadding_3230.n1.netalyzr.icsi.berkeley.edu"
    );
    assert_eq!(reassembled[0]["dns_answers"], 1);

    let mut silent = Vec::new();
    let mut explained = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            continue;
        }
        let o = netql(
            &[
                "run",
                "-q",
                "--format",
                "json",
                "-e",
                r#"packets().filter(col("app").is_in(["dns", "mdns", "llmnr", "nbns"]) & col("payload_len") > 0 & col("dns_qname").is_null())
                   .select(["frame", "dns_response", "dns_answers", "error"])"#,
                path.to_str().unwrap(),
            ],
            tmp.path(),
        );
        if !o.status.success() {
            continue; // unreadable captures are the conformance tests' business
        }
        for r in serde_json::from_str::<Value>(&stdout(&o)).unwrap().as_array().unwrap() {
            let announcement = r["dns_response"] == true && r["dns_answers"].as_u64().unwrap_or(0) > 0;
            if !r["error"].is_null() {
                explained += 1;
            } else if !announcement {
                silent.push(format!("{}: {r}", path.display()));
            }
        }
    }
    assert!(
        silent.is_empty(),
        "DNS messages with no name and no reason: {silent:#?}"
    );
    assert!(explained >= 1, "udp_0_1000's malformed query carries its error");
}
