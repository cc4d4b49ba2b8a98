//! `netql carve`: the packets behind a finding, a flow, a frame list or a query result, read back
//! with tshark: the same packets (count, captured bytes, times) as those frames of the sources;
//! pcapng when the sources' link types differ.

use std::path::Path;
use std::process::Command;

use crate::common::{netql, sample, stderr, stdout};

/// (frames, captured bytes, times) of `file` as tshark reads it, for the frames `filter`
/// selects (a display filter; empty for all).
fn tshark_view(tshark: &Path, file: &Path, filter: &str) -> (usize, u64, Vec<String>) {
    let mut c = Command::new(tshark);
    c.args(["-n", "-r"])
        .arg(file)
        .args(["-T", "fields", "-e", "frame.cap_len", "-e", "frame.time_epoch"]);
    if !filter.is_empty() {
        c.args(["-Y", filter]);
    }
    let o = c.output().expect("tshark runs");
    assert!(o.status.success(), "tshark: {}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let rows: Vec<(u64, String)> = text
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(len, t)| (len.trim().parse().unwrap(), t.trim().to_string()))
        .collect();
    (
        rows.len(),
        rows.iter().map(|r| r.0).sum(),
        rows.into_iter().map(|r| r.1).collect(),
    )
}

fn frames_filter(frames: &[u64]) -> String {
    let list: Vec<String> = frames.iter().map(u64::to_string).collect();
    format!("frame.number in {{{}}}", list.join(", "))
}

/// The synscan capture's port-scan finding: its evidence frames carved into a pcap equal, in
/// tshark, those frames of the original (count, bytes, times).
#[test]
fn a_findings_frames_carved_read_back_in_tshark() {
    let (Some(tshark), Some(shared)) = (netql::testdata::tshark(), netql::testdata::shared_captures()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let src = shared.join("synscan.pcapng");
    let o = netql(
        &[
            "--no-cache",
            "run",
            "port_scan",
            "--format",
            "json",
            src.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let findings: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let frames: Vec<u64> = findings[0]["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert!(frames.len() > 5, "{findings}");
    let out = dir.path().join("scan.pcap");
    let o = netql(
        &[
            "--no-cache",
            "carve",
            src.to_str().unwrap(),
            "--query",
            "port_scan",
            "--finding",
            "1",
            "--out",
            out.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!("wrote {} packets", frames.len())),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        tshark_view(&tshark, &out, ""),
        tshark_view(&tshark, &src, &frames_filter(&frames))
    );
}

/// Every packet of one HTTP flow of a real capture (its flow_id from flows()).
#[test]
fn a_flow_carved_read_back_in_tshark() {
    let (Some(tshark), Some(shared)) = (netql::testdata::tshark(), netql::testdata::shared_captures()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let src = shared.join("http_espn.pcapng");
    let src_s = src.to_str().unwrap();
    let script = r#"flows().filter(col("app") == "http").sort("packets", true).select(["flow_id", "packets", "first_frame"]).limit(1)"#;
    let o = netql(
        &["--no-cache", "run", "-e", script, "--format", "json", src_s],
        dir.path(),
    );
    let flow: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap_or_else(|e| panic!("{e}: {}", stderr(&o)));
    let id = flow[0]["flow_id"].as_u64().unwrap().to_string();
    let packets = flow[0]["packets"].as_u64().unwrap();
    // The flow's frames, as netql lists them: the expected set.
    let o = netql(
        &[
            "--no-cache",
            "run",
            "-e",
            &format!("packets().filter(col(\"flow_id\") == {id}).select([\"frame\"])"),
            "--format",
            "json",
            src_s,
        ],
        dir.path(),
    );
    let rows: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let frames: Vec<u64> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["frame"].as_u64().unwrap())
        .collect();
    assert_eq!(frames.len() as u64, packets);
    let out = dir.path().join("flow.pcap");
    let o = netql(
        &[
            "--no-cache",
            "carve",
            src_s,
            "--flow",
            &id,
            "--out",
            out.to_str().unwrap(),
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let carved: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(carved["packets"], packets, "{carved}");
    assert_eq!(
        tshark_view(&tshark, &out, ""),
        tshark_view(&tshark, &src, &frames_filter(&frames))
    );
}

/// Frames of two captures of different link types (Linux cooked v2 and Ethernet) in one file:
/// pcapng, each packet with its own link type, as tshark reads it.
#[test]
fn mixed_link_types_make_a_pcapng() {
    let (Some(tshark), Some(shared)) = (netql::testdata::tshark(), netql::testdata::shared_captures()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sll2 = shared.join("linux_dlt_sll2.pcap");
    let out = dir.path().join("mixed.pcapng");
    let o = netql(
        &[
            "--no-cache",
            "carve",
            sll2.to_str().unwrap(),
            sample().to_str().unwrap(),
            "-e",
            r#"packets().filter(col("frame") <= 3).select(["file", "frame"])"#,
            "--out",
            out.to_str().unwrap(),
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let carved: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        (carved["format"].as_str(), carved["packets"].as_u64()),
        (Some("pcapng"), Some(6)),
        "{carved}"
    );
    let o = Command::new(&tshark)
        .args(["-n", "-r"])
        .arg(&out)
        .args(["-T", "fields", "-e", "frame.encap_type"])
        .output()
        .unwrap();
    let encaps: Vec<String> = String::from_utf8_lossy(&o.stdout).lines().map(str::to_string).collect();
    assert_eq!(encaps.len(), 6, "{encaps:?}");
    let kinds: std::collections::BTreeSet<&String> = encaps.iter().collect();
    assert_eq!(kinds.len(), 2, "two link types: {encaps:?}");
    let mut expected = tshark_view(&tshark, &sll2, "frame.number <= 3");
    let eth = tshark_view(&tshark, &sample(), "frame.number <= 3");
    expected.0 += eth.0;
    expected.1 += eth.1;
    let got = tshark_view(&tshark, &out, "");
    assert_eq!((got.0, got.1), (expected.0, expected.1));
}

/// Usage errors: nothing to carve, frames of several captures at once.
#[test]
fn carve_says_what_it_needs() {
    let dir = tempfile::tempdir().unwrap();
    let s = sample();
    let s = s.to_str().unwrap();
    let o = netql(&["--no-cache", "carve", s], dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--frames LIST, --flow ID"), "{}", stderr(&o));
    let o = netql(&["--no-cache", "carve", s, s, "--frames", "1"], dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("one capture"), "{}", stderr(&o));
    let o = netql(&["--no-cache", "carve", s, "--frames", "9999"], dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no packet to carve"), "{}", stderr(&o));
}
