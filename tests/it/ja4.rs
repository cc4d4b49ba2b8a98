//! TLS fingerprints against their reference implementations' own outputs
//! (`../shared/truth-ja4`, see its README and INDEX.md): every JA4 FoxIO's Rust and Python tools
//! computed for the pcaps kept here (TLS 1.2 and 1.3, IPv6, QUIC, HelloRetryRequest, hellos split
//! over segments and CRYPTO frames), and the JA3 and certificate facts of Salesforce's JA3 test
//! (their Bro ssl.log). Run end to end: `netql run` over each pcap, as a user would.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use crate::common::{netql, stdout};

fn truth(rel: &str) -> Option<std::path::PathBuf> {
    let p = netql::testdata::shared(&format!("truth-ja4/{rel}"));
    if p.is_none() {
        netql::testdata::missing(&format!("truth-ja4/{rel}"));
    }
    p
}

/// The tls table of a pcap, one JSON object per row.
fn tls_rows(pcap: &Path, cols: &str) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let script = format!("tls().select([{cols}])");
    let o = netql(
        &["run", "-e", &script, "--format", "ndjson", pcap.to_str().unwrap()],
        dir.path(),
    );
    assert!(
        o.status.success(),
        "{}: {}",
        pcap.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    stdout(&o).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn every_ja4_equals_foxios() {
    let Some(tsv) = truth("ja4-consolidated.tsv") else {
        return;
    };
    let text = std::fs::read_to_string(tsv).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let at = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let mut by_pcap: HashMap<String, Vec<Vec<String>>> = HashMap::new();
    for l in lines {
        let f: Vec<String> = l.split('\t').map(str::to_string).collect();
        by_pcap.entry(f[at("pcap")].clone()).or_default().push(f);
    }
    let (mut checked, mut quic) = (0, 0);
    for (pcap, rows) in &by_pcap {
        // Half the pcaps INDEX.md lists are kept out of this folder.
        let Some(path) = netql::testdata::shared(&format!("truth-ja4/pcap/{pcap}")) else {
            continue;
        };
        let ours: HashMap<(String, String, String, String), String> =
            tls_rows(&path, r#""src_ip", "src_port", "dst_ip", "dst_port", "ja4", "ja4_r""#)
                .into_iter()
                .map(|r| {
                    let key = (
                        r["src_ip"].as_str().unwrap().to_string(),
                        r["src_port"].to_string(),
                        r["dst_ip"].as_str().unwrap().to_string(),
                        r["dst_port"].to_string(),
                    );
                    (key, r["ja4"].as_str().unwrap_or("").to_string())
                })
                .collect();
        for f in rows {
            // The first ClientHello's JA4 (Rust's value; Python's first when Rust has none).
            let expected = match f[at("ja4_rust")].as_str() {
                "" => f[at("ja4_python")].split('|').next().unwrap_or("").to_string(),
                v => v.to_string(),
            };
            if expected.is_empty() {
                continue;
            }
            let key = (
                f[at("src")].clone(),
                f[at("src_port")].clone(),
                f[at("dst")].clone(),
                f[at("dst_port")].clone(),
            );
            assert_eq!(ours.get(&key), Some(&expected), "{pcap} {key:?}");
            checked += 1;
            quic += usize::from(expected.starts_with('q'));
        }
    }
    assert!(
        checked >= 160 && quic >= 40,
        "{checked} JA4 compared, {quic} of them QUIC"
    );
}

#[test]
fn ja3_and_certificate_equal_salesforces_test() {
    let (Some(pcap), Some(log)) = (
        truth("ja3-salesforce/pcap/ssl-chrome.pcap"),
        truth("ja3-salesforce/expected/ja3-tests.chrome_test1/ssl.log"),
    ) else {
        return;
    };
    let log = crate::zeek::read_zeek_log(&log).records().remove(0);
    let row = tls_rows(
        &pcap,
        r#""ja3", "version", "cipher", "curve", "server_name", "next_protocol", "established", "resumed", "cert_subject", "cert_issuer""#,
    )
    .remove(0);
    assert_eq!(row["ja3"], log["ja3"].as_str());
    for col in ["version", "cipher", "curve", "server_name", "next_protocol"] {
        assert_eq!(row[col], log[col].as_str(), "{col}");
    }
    assert_eq!(row["established"], log["established"] == "T");
    assert_eq!(row["resumed"], log["resumed"] == "T");
    // Bro 2.5 logged the certificate's subject and issuer in ssl.log itself.
    assert_eq!(row["cert_subject"], log["subject"].as_str());
    assert_eq!(row["cert_issuer"], log["issuer"].as_str());
}
