//! Every link type and malformed input, on captures this test writes itself.

use etherparse::PacketBuilder;
use netql::capture::write::write_file;
use serde_json::Value;

use crate::common::{netql, stderr, stdout};

/// One UDP/DNS-port packet and one TCP SYN, as bare IPv4 / IPv6 packets.
fn ip_packets(v6: bool) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for tcp in [false, true] {
        let mut v = Vec::new();
        let b = if v6 {
            PacketBuilder::ipv6(
                [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
                64,
            )
        } else {
            PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        };
        if tcp {
            b.tcp(40000, 22, 1, 1000).syn().write(&mut v, &[]).unwrap();
        } else {
            b.udp(40001, 9999).write(&mut v, b"hello").unwrap();
        }
        out.push(v);
    }
    out
}

fn summary(path: &std::path::Path, dir: &std::path::Path) -> (Value, std::process::Output) {
    let o = netql(
        &["--no-cache", "summary", path.to_str().unwrap(), "--format", "json"],
        dir,
    );
    let v = stdout(&o)
        .lines()
        .next()
        .map(|l| serde_json::from_str(l).unwrap())
        .unwrap_or(Value::Null);
    (v, o)
}

#[test]
fn every_link_type_decodes() {
    let dir = tempfile::tempdir().unwrap();
    // (linktype, header to put before each IP packet, expected first protocol)
    let sll = |proto: u16| {
        let mut h = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0];
        h.extend_from_slice(&proto.to_be_bytes());
        h
    };
    let sll2 = |proto: u16| {
        let mut h = proto.to_be_bytes().to_vec();
        h.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0]);
        h
    };
    type Header = Box<dyn Fn(bool) -> Vec<u8>>;
    let cases: Vec<(u32, Header, &str)> = vec![
        (
            1,
            Box::new(|v6| {
                let mut h = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
                h.extend_from_slice(if v6 { &[0x86, 0xdd] } else { &[0x08, 0x00] });
                h
            }),
            "eth",
        ),
        (113, Box::new(move |v6| sll(if v6 { 0x86dd } else { 0x0800 })), "sll"),
        (276, Box::new(move |v6| sll2(if v6 { 0x86dd } else { 0x0800 })), "sll"),
        (101, Box::new(|_| vec![]), "raw"),
        (
            0,
            Box::new(|v6| (if v6 { 30u32 } else { 2u32 }).to_le_bytes().to_vec()),
            "null",
        ),
        (
            108,
            Box::new(|v6| (if v6 { 24u32 } else { 2u32 }).to_be_bytes().to_vec()),
            "null",
        ),
    ];
    for (lt, header, first) in cases {
        for v6 in [false, true] {
            let recs: Vec<(i64, Vec<u8>)> = ip_packets(v6)
                .into_iter()
                .enumerate()
                .map(|(i, p)| {
                    let mut d = header(v6);
                    d.extend_from_slice(&p);
                    (1_700_000_000_000_000_000 + i as i64 * 1000, d)
                })
                .collect();
            let path = dir.path().join(format!("lt{lt}-{v6}.pcap"));
            write_file(&path, lt, &recs).unwrap();
            let (s, o) = summary(&path, dir.path());
            assert!(o.status.success(), "linktype {lt}: {}", stderr(&o));
            let ip = if v6 { "ipv6" } else { "ip" };
            assert_eq!(s["packets"], 2, "linktype {lt}");
            assert_eq!(s["protocols"][first], 2, "linktype {lt} v6={v6}: {s}");
            assert_eq!(s["protocols"][ip], 2, "linktype {lt} v6={v6}: {s}");
            assert_eq!(s["protocols"]["udp"], 1, "linktype {lt}: {s}");
            assert_eq!(s["protocols"]["tcp"], 1, "linktype {lt}: {s}");
            assert_eq!(s["errors"], 0, "linktype {lt}: {s}");
        }
    }
    // Raw IPv4 (228) and IPv6 (229) link types carry no header at all.
    for (lt, v6) in [(228u32, false), (229, true)] {
        let recs: Vec<(i64, Vec<u8>)> = ip_packets(v6).into_iter().map(|p| (0, p)).collect();
        let path = dir.path().join(format!("lt{lt}.pcap"));
        write_file(&path, lt, &recs).unwrap();
        let (s, _) = summary(&path, dir.path());
        assert_eq!(s["protocols"][if v6 { "ipv6" } else { "ip" }], 2, "linktype {lt}: {s}");
    }
}

#[test]
fn unknown_link_type_gives_error_rows_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ieee802_11.pcap");
    write_file(&path, 105, &[(0, vec![0u8; 40]), (1000, vec![1u8; 60])]).unwrap();
    let (s, o) = summary(&path, dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(s["packets"], 2);
    assert_eq!(s["errors"], 2, "{s}");
}

#[test]
fn malformed_files_fail_clearly_and_others_still_run() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.pcap");
    write_file(
        &good,
        101,
        &ip_packets(false).into_iter().map(|p| (0, p)).collect::<Vec<_>>(),
    )
    .unwrap();
    let garbage = dir.path().join("garbage.pcap");
    std::fs::write(&garbage, b"this is not a capture file at all").unwrap();
    let o = netql(
        &[
            "--no-cache",
            "summary",
            garbage.to_str().unwrap(),
            good.to_str().unwrap(),
            "missing.pcap",
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2), "an unreadable file makes the run fail");
    let err = stderr(&o);
    assert!(err.contains("garbage.pcap"), "{err}");
    assert!(err.contains("missing.pcap"), "{err}");
    assert!(!err.contains("panick"), "{err}");
    let out = stdout(&o);
    let rows: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 1, "the good file is still summarised: {out}");
    assert_eq!(rows[0]["file"], "good.pcap");
    assert_eq!(rows[0]["packets"], 2);
}

#[test]
fn a_file_cut_inside_a_record_keeps_the_packets_before_the_cut() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole.pcap");
    let recs: Vec<(i64, Vec<u8>)> = (0..10).flat_map(|_| ip_packets(false)).map(|p| (0, p)).collect();
    write_file(&whole, 101, &recs).unwrap();
    let bytes = std::fs::read(&whole).unwrap();
    let cut = dir.path().join("cut.pcap");
    std::fs::write(&cut, &bytes[..bytes.len() - 10]).unwrap();
    let (s, o) = summary(&cut, dir.path());
    assert_eq!(o.status.code(), Some(2), "a damaged file is reported as an error");
    assert_eq!(s["packets"], 19, "the 19 whole records are kept: {s}");
    let err = stderr(&o);
    assert!(err.contains("cut.pcap") && err.contains("kept the 19 packets"), "{err}");

    // With the cache on, the packets are streamed into a cache file while decoding; a capture
    // read only in part must leave no cache file (finished or half-written) behind.
    let cache = dir.path().join("cache");
    let o = netql(
        &[
            "--cache-dir",
            cache.to_str().unwrap(),
            "summary",
            cut.to_str().unwrap(),
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let left: Vec<String> = std::fs::read_dir(&cache)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(left.iter().all(|n| !n.contains("packets")), "{left:?}");
}

#[test]
fn empty_and_header_only_files() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    let (_, o) = summary(&empty, dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("empty.pcap"), "{}", stderr(&o));

    let header_only = dir.path().join("header.pcap");
    write_file(&header_only, 1, &[]).unwrap();
    let (s, o) = summary(&header_only, dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(s["packets"], 0);
    assert_eq!(s["first_ts"], Value::Null);
}

// pcapng blocks, written by hand (little-endian).
fn block(kind: u32, body: &[u8]) -> Vec<u8> {
    let mut body = body.to_vec();
    while !body.len().is_multiple_of(4) {
        body.push(0);
    }
    let len = (body.len() + 12) as u32;
    let mut b = kind.to_le_bytes().to_vec();
    b.extend_from_slice(&len.to_le_bytes());
    b.extend_from_slice(&body);
    b.extend_from_slice(&len.to_le_bytes());
    b
}

fn idb(link: u16, snaplen: u32, tsresol: u8) -> Vec<u8> {
    let mut body = link.to_le_bytes().to_vec();
    body.extend_from_slice(&[0, 0]);
    body.extend_from_slice(&snaplen.to_le_bytes());
    body.extend_from_slice(&[9, 0, 1, 0, tsresol, 0, 0, 0]); // if_tsresol
    body.extend_from_slice(&[0, 0, 0, 0]); // opt_endofopt
    block(1, &body)
}

fn epb(iface: u32, ts: u64, data: &[u8]) -> Vec<u8> {
    let mut body = iface.to_le_bytes().to_vec();
    body.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
    body.extend_from_slice(&(ts as u32).to_le_bytes());
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(data);
    block(6, &body)
}

/// A pcapng section header block (little-endian, version 1.0, unknown length).
fn pcapng_header() -> Vec<u8> {
    let mut shb = 0x1A2B_3C4Du32.to_le_bytes().to_vec();
    shb.extend_from_slice(&[1, 0, 0, 0]);
    shb.extend_from_slice(&u64::MAX.to_le_bytes());
    block(0x0A0D_0D0A, &shb)
}

/// A pcapng with two interfaces of different link types and snap lengths: libpcap 1.10 refuses
/// to mix them, so netql's own block reader takes over and gives each packet its interface's
/// link type and time resolution.
#[test]
fn pcapng_with_mixed_interfaces() {
    let mut file = pcapng_header();
    file.extend(idb(1, 65535, 6)); // Ethernet, microseconds
    file.extend(idb(101, 2048, 9)); // raw IP, nanoseconds, another snap length
    let ip = ip_packets(false);
    let mut eth = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00];
    eth.extend_from_slice(&ip[0]);
    file.extend(epb(0, 1_700_000_000_000_000, &eth)); // µs
    file.extend(epb(1, 1_700_000_001_000_000_000, &ip[1])); // ns
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.pcapng");
    std::fs::write(&path, &file).unwrap();
    let (s, o) = summary(&path, dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(s["packets"], 2, "{s}");
    assert_eq!(s["protocols"]["eth"], 1, "{s}");
    assert_eq!(s["protocols"]["raw"], 1, "{s}");
    assert_eq!(s["protocols"]["udp"], 1, "{s}");
    assert_eq!(s["protocols"]["tcp"], 1, "{s}");
    assert_eq!(s["first_ts"], "2023-11-14T22:13:20.000000000Z");
    assert_eq!(s["last_ts"], "2023-11-14T22:13:21.000000000Z");
}

/// Timestamps no 64-bit nanosecond count holds (a damaged or forged pcapng: here 2^64-1 µs,
/// year ~586,000) used to overflow (an abort in debug builds, a silently wrong time in release).
/// The row is kept with the previous packet's time and an error, as tshark marks a damaged
/// record, and the packets after it read normally — through libpcap (one interface) and through
/// netql's own block reader (two).
#[test]
fn timestamps_past_2262_become_a_row_error() {
    let ip = ip_packets(false);
    for interfaces in [1, 2] {
        let mut file = pcapng_header();
        file.extend(idb(101, 65535, 6));
        if interfaces == 2 {
            file.extend(idb(1, 65535, 6));
        }
        file.extend(epb(0, 1_700_000_000_000_000, &ip[0]));
        file.extend(epb(0, u64::MAX, &ip[1]));
        file.extend(epb(0, 1_700_000_002_000_000, &ip[0]));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("far-future-{interfaces}.pcapng"));
        std::fs::write(&path, &file).unwrap();
        let o = netql(
            &[
                "--no-cache",
                "run",
                "-e",
                r#"packets().select(["frame", "ts", "error"])"#,
                "--format",
                "json",
                path.to_str().unwrap(),
            ],
            dir.path(),
        );
        assert!(o.status.success(), "{interfaces} interfaces: {}", stderr(&o));
        let rows: Value = serde_json::from_str(&stdout(&o)).unwrap();
        let ts: Vec<&str> = (0..3).map(|i| rows[i]["ts"].as_str().unwrap()).collect();
        assert_eq!(
            ts,
            [
                "2023-11-14T22:13:20.000000000Z",
                "2023-11-14T22:13:20.000000000Z",
                "2023-11-14T22:13:22.000000000Z"
            ],
            "{interfaces} interfaces: {rows}"
        );
        assert_eq!(rows[0]["error"], Value::Null, "{rows}");
        assert!(
            rows[1]["error"]
                .as_str()
                .unwrap_or("")
                .contains("timestamp out of range"),
            "{interfaces} interfaces: {rows}"
        );
        assert_eq!(rows[2]["error"], Value::Null, "{rows}");
    }
}
