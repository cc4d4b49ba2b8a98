//! `netql diff A B`: a capture against itself has no changes (exit 0); two generated captures
//! (seed 1 and seed 2 of ../shared/bench/gen_pcap.py) differ by exactly the names and hosts
//! tshark reads in them; a baseline without scans against one with them fails the gate.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::common::{netql, sample, stderr, stdout};

/// The distinct values tshark prints for `fields` over `file` (display filter `filter`).
fn tshark_set(tshark: &Path, file: &Path, filter: &str, fields: &[&str]) -> BTreeSet<String> {
    let mut c = Command::new(tshark);
    c.args(["-n", "-r"])
        .arg(file)
        .args(["-Y", filter, "-T", "fields", "-E", "separator=,", "-E", "occurrence=a"]);
    for f in fields {
        c.args(["-e", f]);
    }
    let o = c.output().expect("tshark runs");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .flat_map(|l| l.split(',').map(|s| s.trim().to_lowercase()).collect::<Vec<_>>())
        .filter(|s| !s.is_empty())
        .collect()
}

fn generate(dir: &Path, seed: u32) -> Option<std::path::PathBuf> {
    let script = netql::testdata::shared("bench/gen_pcap.py")?;
    let out = dir.join(format!("gen{seed}.pcap"));
    let st = Command::new("python3")
        .arg(&script)
        .args(["--packets", "30000", "--seed", &seed.to_string(), "--out"])
        .arg(&out)
        .status()
        .expect("python3 runs the generator");
    assert!(st.success());
    Some(out)
}

#[test]
fn a_capture_against_itself_has_no_changes() {
    let dir = tempfile::tempdir().unwrap();
    let s = sample();
    let s = s.to_str().unwrap();
    let o = netql(&["--no-cache", "diff", s, s, "--fail-on-new", "low"], dir.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("no changes"), "{}", stdout(&o));
    let o = netql(&["--no-cache", "diff", s, s, "--format", "json"], dir.path());
    let d: Value = serde_json::from_str(&stdout(&o)).unwrap();
    for (name, c) in d["sets"].as_object().unwrap() {
        assert_eq!(
            (
                c["added"].as_array().unwrap().len(),
                c["removed"].as_array().unwrap().len()
            ),
            (0, 0),
            "{name}"
        );
    }
    assert_eq!(d["new_findings"], serde_json::json!([]));
}

#[test]
fn two_generated_captures_differ_as_tshark_reads_them() {
    let Some(tshark) = netql::testdata::tshark() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (Some(a), Some(b)) = (generate(dir.path(), 1), generate(dir.path(), 2)) else {
        return;
    };
    let o = netql(
        &[
            "--no-cache",
            "diff",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let d: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let set = |name: &str, key: &str| -> BTreeSet<String> {
        d["sets"][name][key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_lowercase())
            .collect()
    };
    for (name, filter, fields) in [
        (
            "tls_server_names",
            "tls.handshake.type == 1",
            &["tls.handshake.extensions_server_name"][..],
        ),
        ("dns_names", "dns.flags.response == 0", &["dns.qry.name"][..]),
        ("hosts", "ip or ipv6", &["ip.src", "ip.dst", "ipv6.src", "ipv6.dst"][..]),
    ] {
        let (ta, tb) = (
            tshark_set(&tshark, &a, filter, fields),
            tshark_set(&tshark, &b, filter, fields),
        );
        let added: BTreeSet<String> = tb.difference(&ta).cloned().collect();
        let removed: BTreeSet<String> = ta.difference(&tb).cloned().collect();
        // The seeds draw TLS servers and hosts differently (and DNS names from one list).
        if name != "dns_names" {
            assert!(!added.is_empty() || !removed.is_empty(), "{name}: the seeds differ");
        }
        assert_eq!(set(name, "added"), added, "{name} added");
        assert_eq!(set(name, "removed"), removed, "{name} removed");
    }
    // The same scanners in both: no finding appeared or went away.
    assert_eq!(d["new_findings"], serde_json::json!([]), "{}", d["new_findings"]);
}

/// The gate: a baseline with no scan against a capture with them exits 1 at --fail-on-new medium,
/// and says which findings are new.
#[test]
fn a_new_finding_fails_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    let Some(b) = generate(dir.path(), 1) else { return };
    let o = netql(
        &[
            "--no-cache",
            "diff",
            sample().to_str().unwrap(),
            b.to_str().unwrap(),
            "--fail-on-new",
            "medium",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("new findings") && out.contains("UDP port scan from 198.51.100.23"),
        "{out}"
    );
}
