//! The binary as a user runs it: summary, captures, schema, cache, the bundled sample.

use netql::table::catalog::CaptureFile;
use netql::table::load::{LoadOptions, load};
use polars::prelude::{AnyValue, col, len};
use serde_json::Value;

use crate::common::{netql, sample, shared_captures, stderr, stdout};

#[test]
fn bundled_sample_is_made_by_netql() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("again.pcap");
    let o = netql(&["sample", out.to_str().unwrap()], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(sample()).unwrap(),
        "captures/sample.pcap is `netql sample` output"
    );
}

#[test]
fn summary_json_of_the_sample() {
    let dir = tempfile::tempdir().unwrap();
    let o = netql(&["summary", sample().to_str().unwrap(), "--format", "json"], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    for key in ["file", "packets", "bytes", "first_ts", "last_ts", "protocols"] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    assert_eq!(v["file"], "sample.pcap");
    assert_eq!(v["packets"], 253);
    assert_eq!(v["protocols"]["dns"], 6);
    assert_eq!(v["protocols"]["arp"], 2);
    assert_eq!(v["first_ts"], "2024-05-01T10:00:00.000000000Z");
}

#[test]
fn summary_table_reads_like_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let o = netql(&["summary", sample().to_str().unwrap()], dir.path());
    assert!(o.status.success());
    let out = stdout(&o);
    assert!(out.contains("sample.pcap"), "{out}");
    assert!(out.contains("packets 253"), "{out}");
    assert!(out.contains("│ tcp"), "{out}");
}

#[test]
fn captures_lists_newest_first_and_latest_resolves_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let caps = dir.path().join("caps");
    std::fs::create_dir(&caps).unwrap();
    std::fs::copy(sample(), caps.join("older.pcap")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    netql::capture::sample::write(&caps.join("newer.pcap")).unwrap();
    std::fs::write(caps.join("notes.txt"), "not a capture").unwrap();
    let o = netql(
        &["--captures", caps.to_str().unwrap(), "captures", "--format", "json"],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["newer.pcap", "older.pcap"]);
    assert_eq!(v[0]["packets"], 253);
    assert_eq!(v[0]["link_types"][0], "ethernet");

    let o = netql(
        &[
            "--captures",
            caps.to_str().unwrap(),
            "summary",
            "latest",
            "--format",
            "json",
        ],
        dir.path(),
    );
    let s: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(s["file"], "newer.pcap");

    let o = netql(&["--captures", caps.to_str().unwrap(), "captures"], dir.path());
    assert!(stdout(&o).contains("newer.pcap"));
}

#[test]
fn schema_lists_every_column_with_a_meaning() {
    let dir = tempfile::tempdir().unwrap();
    let o = netql(&["schema", "--format", "json"], dir.path());
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let packets = v["packets"].as_array().unwrap();
    assert_eq!(packets.len(), netql::table::schema::PACKET_SCHEMA.len());
    for c in packets.iter().chain(v["flows"].as_array().unwrap()) {
        assert!(!c["meaning"].as_str().unwrap().is_empty(), "{c}");
    }
    let names: Vec<&str> = packets.iter().map(|c| c["name"].as_str().unwrap()).collect();
    for must in [
        "frame",
        "ts",
        "src_ip",
        "dst_port",
        "tcp_flags_str",
        "app",
        "dns_qname",
        "http_host",
        "tls_sni",
        "error",
    ] {
        assert!(names.contains(&must), "{must} missing");
    }
}

#[test]
fn second_load_comes_from_the_parquet_cache() {
    let dir = tempfile::tempdir().unwrap();
    let opts = LoadOptions {
        cache_dir: dir.path().join("cache"),
        use_cache: true,
        progress: false,
        threads: 2,
        community_id_seed: 0,
    };
    let cap = CaptureFile::stat(&sample()).unwrap();
    let first = load(&cap, &opts).unwrap();
    assert!(!first.from_cache);
    let second = load(&cap, &opts).unwrap();
    assert!(second.from_cache, "unchanged capture must not be decoded again");
    assert!(
        first
            .packets
            .to_dataframe()
            .unwrap()
            .equals_missing(&second.packets.to_dataframe().unwrap()),
        "cache round trip changes nothing"
    );
    // Cached flows are read column by column as queries ask, and kept: a query naming two
    // columns, then the whole table, read back as the fresh flow table.
    let fresh = first.flows().unwrap().collect().unwrap();
    let two = second
        .flows()
        .unwrap()
        .select([col("src_ip"), col("packets")])
        .collect()
        .unwrap();
    assert!(two.equals_missing(&fresh.select(["src_ip", "packets"]).unwrap()));
    let all = second.flows().unwrap().collect().unwrap();
    assert!(fresh.height() > 10 && all.equals_missing(&fresh), "{all:?}\n{fresh:?}");
    let counted = second.flows().unwrap().select([len()]).collect().unwrap();
    assert_eq!(
        counted.column("len").unwrap().get(0).unwrap(),
        AnyValue::UInt32(fresh.height() as u32)
    );

    // A damaged flows file is not trusted: the capture is decoded again (the flows hold what only
    // a decode knows, the services confirmed from payloads) and the file rewritten; so is a
    // damaged events file.
    let entry = second.cache.clone().unwrap();
    std::fs::write(&entry.flows, b"PAR1 not a parquet file").unwrap();
    let third = load(&cap, &opts).unwrap();
    assert!(!third.from_cache);
    let rebuilt = third.flows().unwrap().collect().unwrap();
    assert!(rebuilt.equals_missing(&fresh), "{rebuilt:?}");
    assert!(
        std::fs::metadata(&entry.flows).unwrap().len() > 100,
        "flows file written again"
    );
    std::fs::write(&entry.events, b"PAR1 not a parquet file").unwrap();
    let fourth = load(&cap, &opts).unwrap();
    assert!(
        !fourth.from_cache,
        "a capture whose cached events are unreadable is decoded again"
    );
    assert!(
        fourth
            .packets
            .to_dataframe()
            .unwrap()
            .equals_missing(&first.packets.to_dataframe().unwrap())
    );

    // A changed capture is decoded again.
    let copy = dir.path().join("copy.pcap");
    std::fs::copy(sample(), &copy).unwrap();
    let c1 = load(&CaptureFile::stat(&copy).unwrap(), &opts).unwrap();
    assert!(!c1.from_cache);
    let mut bytes = std::fs::read(&copy).unwrap();
    bytes.truncate(bytes.len() - 60);
    std::fs::write(&copy, &bytes).unwrap();
    let c2 = load(&CaptureFile::stat(&copy).unwrap(), &opts).unwrap();
    assert!(!c2.from_cache, "a modified capture is decoded again");
}

#[test]
fn flows_summarise_tcp_state() {
    let Some(dir) = shared_captures() else { return };
    let opts = LoadOptions::uncached(2);
    // synscan: 1000 probed ports on one host; open 22, 53, 80.
    let l = load(&CaptureFile::stat(&dir.join("synscan.pcapng")).unwrap(), &opts).unwrap();
    let flows = l.flows().unwrap().collect().unwrap();
    let state = flows
        .column("state")
        .unwrap()
        .as_materialized_series()
        .cast(&polars::prelude::DataType::String)
        .unwrap();
    let count = |s: &str| state.str().unwrap().iter().filter(|v| *v == Some(s)).count();
    eprintln!(
        "synscan states: attempted {} rejected {} reset {} established {}",
        count("attempted"),
        count("rejected"),
        count("reset"),
        count("established")
    );
    assert!(
        count("attempted") >= 900,
        "most probes get no answer: {}",
        count("attempted")
    );
    assert_eq!(count("rejected"), 5, "five closed ports answered RST-ACK");
    let total: u64 = flows
        .column("packets")
        .unwrap()
        .as_materialized_series()
        .u64()
        .unwrap()
        .iter()
        .flatten()
        .sum();
    assert_eq!(total, 2011, "every TCP packet belongs to one flow");

    // echo-connections: 500 complete connections to port 7000.
    let l = load(&CaptureFile::stat(&dir.join("echo-connections.pcap")).unwrap(), &opts).unwrap();
    let flows = l.flows().unwrap().collect().unwrap();
    assert_eq!(flows.height(), 500);
    let dport = flows
        .column("dst_port")
        .unwrap()
        .as_materialized_series()
        .u16()
        .unwrap()
        .clone();
    assert!(dport.iter().all(|p| p == Some(7000)), "the originator is the client");
    let state = flows
        .column("state")
        .unwrap()
        .as_materialized_series()
        .cast(&polars::prelude::DataType::String)
        .unwrap();
    assert!(state.str().unwrap().iter().all(|s| s == Some("closed")), "{state:?}");
}

/// `queries/REFERENCE.md` is what `netql functions --format markdown` prints today (regenerate it
/// with that command when a function is added or its description changes).
#[test]
fn the_reference_page_is_current() {
    let dir = tempfile::tempdir().unwrap();
    let o = netql(&["functions", "--format", "markdown"], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let page = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("queries/REFERENCE.md");
    let kept = std::fs::read_to_string(&page).unwrap();
    assert!(
        kept == stdout(&o),
        "queries/REFERENCE.md is out of date: run `cargo run -q -- functions --format markdown > queries/REFERENCE.md`"
    );
    // The other formats list the same functions.
    let o = netql(&["functions", "--format", "json"], dir.path());
    let forms: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let forms = forms.as_array().unwrap();
    assert!(forms.len() > 100, "{}", forms.len());
    for f in forms {
        let sig = f["signature"].as_str().unwrap().replace('|', "\\|");
        assert!(kept.contains(&format!("`{sig}`")), "{sig} missing from the page");
    }
    let o = netql(&["functions", "--format", "csv"], dir.path());
    assert_eq!(o.status.code(), Some(2), "csv is not a format of this command");
}
