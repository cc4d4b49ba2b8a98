//! bench_lake: `netql bench --lake`: the lake's figures. Ingest throughput of the biggest
//! generated file and of 20 × 1M files (seeds 1-20) at once, each into an empty lake; then a
//! lake of 10 sensors, each holding the biggest file shifted by k hours (so the sensors' rows
//! fall in different hour partitions, as a fleet's would), and top talkers over the whole lake
//! and over one hour of one sensor. Each measured command is its own process (wall time and
//! peak RSS from wait4), as in the rest of `netql bench`.

use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::process::Command;

use anyhow::{Result, anyhow, bail};
use serde_json::{Value, json};

use netql::table::lake::manifest::Manifest;

use crate::cli::bench::{BenchOptions, Sample, generated, generated_as, measure};

/// Files ingested at once, sensors of the big lake.
const FILES: u32 = 20;
const SENSORS: u32 = 10;
const NS_PER_HOUR: i64 = 3_600_000_000_000;

pub fn run(o: &BenchOptions, me: &Path) -> Result<Value> {
    let big_n = o.sizes.iter().copied().max().unwrap_or(10_000_000);
    let big = generated(o, big_n)?;
    let twenty = o.dir.join("twenty");
    std::fs::create_dir_all(&twenty)?;
    for seed in 1..=FILES {
        generated_as(o, 1_000_000, seed, &twenty.join(format!("1m-seed{seed}.pcap")))?;
    }
    let netql = |args: &[&str]| {
        let mut c = Command::new(me);
        c.arg("--quiet").arg("--no-cache").args(args);
        c
    };
    let mut entries = Vec::new();
    let mut record = |what: String, packets: Option<u64>, s: Sample| {
        eprintln!(
            "  {what:<52} {:>8.2} s  {:>8} MiB",
            s.wall.as_secs_f64(),
            s.max_rss_kib / 1024
        );
        let mut e = json!({
            "what": what,
            "wall_s": (s.wall.as_secs_f64() * 1000.0).round() / 1000.0,
            "peak_rss_mib": s.max_rss_kib / 1024,
        });
        if let Some(n) = packets {
            e["packets"] = json!(n);
            e["packets_per_s"] = json!((n as f64 / s.wall.as_secs_f64()).round());
        }
        entries.push(e);
    };

    // Ingest throughput, each into an empty lake.
    let lake = o.dir.join("lake-ingest");
    let fresh = |dir: &Path| {
        let _ = std::fs::remove_dir_all(dir);
    };
    fresh(&lake);
    let s = measure(&mut netql(&["ingest", p(&big), "--lake", p(&lake), "--sensor", "s0"]))?;
    record(format!("netql ingest {} packets", big_n), Some(big_n), s);
    fresh(&lake);
    let s = measure(&mut netql(&["ingest", p(&twenty), "--lake", p(&lake), "--jobs", "2"]))?;
    record(
        format!("netql ingest {FILES} × 1M packets at once (--jobs 2)"),
        Some(u64::from(FILES) * 1_000_000),
        s,
    );
    fresh(&lake);

    // The fleet: SENSORS copies of the big file, sensor k shifted by k hours (made once; each
    // copy is removed once ingested).
    let fleet = o.dir.join("lake-fleet");
    if fleet_size(&fleet)? != u64::from(SENSORS) * big_n {
        fresh(&fleet);
        eprintln!("building the {SENSORS}-sensor lake in {} ...", fleet.display());
        for k in 0..SENSORS {
            let copy = o.dir.join("shifted.pcap");
            shifted_copy(&big, &copy, i64::from(k) * 3600)?;
            let st = netql(&["ingest", p(&copy), "--lake", p(&fleet), "--sensor", &format!("s{k}")])
                .status()
                .map_err(|e| anyhow!("netql ingest: {e}"))?;
            std::fs::remove_file(&copy)?;
            if !st.success() {
                bail!("ingest of sensor s{k} failed");
            }
        }
    }
    let total = fleet_size(&fleet)?;
    let first = fleet_first_ns(&fleet, "s0")?;
    let hour = first - first.rem_euclid(NS_PER_HOUR);
    let iso = |ns: i64| netql::units::rfc3339_ns(ns);
    let (from, to) = (iso(hour), iso(hour + NS_PER_HOUR));
    let runs = o.runs.max(1);
    let queries: [(String, Vec<&str>); 2] = [
        (
            format!("top_talkers over the whole lake ({total} packets)"),
            vec!["run", "top_talkers", "--format", "json", "--lake", p(&fleet)],
        ),
        (
            "top_talkers over one hour of one sensor".to_string(),
            vec![
                "run",
                "top_talkers",
                "--format",
                "json",
                "--lake",
                p(&fleet),
                "--sensor",
                "s0",
                "--from",
                &from,
                "--to",
                &to,
            ],
        ),
    ];
    for (what, args) in queries {
        let mut samples = Vec::new();
        for _ in 0..runs {
            samples.push(measure(&mut netql(&args))?);
        }
        samples.sort_by_key(|s| s.wall);
        let mut m = samples[samples.len() / 2];
        m.max_rss_kib = samples.iter().map(|s| s.max_rss_kib).max().unwrap_or(0);
        record(what, None, m);
    }
    Ok(json!({
        "big_file": big,
        "fleet": {"dir": fleet, "sensors": SENSORS, "packets": total, "hour": [from, to]},
        "results": entries,
    }))
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap_or_default()
}

/// Packets the lake's manifest holds (0 when there is no lake).
fn fleet_size(lake: &Path) -> Result<u64> {
    Ok(Manifest::read(lake)?.captures.iter().map(|e| e.packets).sum())
}

/// The first packet's time of `sensor`'s captures in the lake.
fn fleet_first_ns(lake: &Path, sensor: &str) -> Result<i64> {
    Manifest::read(lake)?
        .captures
        .iter()
        .filter(|e| e.sensor == sensor)
        .filter_map(|e| e.first_ns)
        .min()
        .ok_or_else(|| anyhow!("no capture of sensor {sensor} in {}", lake.display()))
}

/// A copy of the classic pcap `src` with every packet `seconds` later (the generator writes
/// classic pcap; the bench only shifts its own files).
fn shifted_copy(src: &Path, dst: &Path, seconds: i64) -> Result<()> {
    let mut r = BufReader::with_capacity(1 << 20, std::fs::File::open(src)?);
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(dst)?);
    let mut header = [0u8; 24];
    r.read_exact(&mut header)?;
    let big_endian = match header[..4] {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => false,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => true,
        _ => bail!("{} is not a classic pcap file", src.display()),
    };
    let u32_of = |b: &[u8]| {
        let a = [b[0], b[1], b[2], b[3]];
        if big_endian {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }
    };
    let bytes_of = |v: u32| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
    w.write_all(&header)?;
    let mut rec = [0u8; 16];
    let mut data = Vec::new();
    loop {
        match r.read_exact(&mut rec) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e.into()),
        }
        let ts = i64::from(u32_of(&rec[..4])) + seconds;
        let ts = u32::try_from(ts).map_err(|_| anyhow!("shifted time out of the pcap range"))?;
        rec[..4].copy_from_slice(&bytes_of(ts));
        let len = u32_of(&rec[8..12]) as usize;
        data.resize(len, 0);
        r.read_exact(&mut data)?;
        w.write_all(&rec)?;
        w.write_all(&data)?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_shifted_copy_moves_every_packet_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let (src, dst) = (dir.path().join("a.pcap"), dir.path().join("b.pcap"));
        netql::capture::sample::write(&src).unwrap();
        super::shifted_copy(&src, &dst, 7200).unwrap();
        let (a, b) = (std::fs::read(&src).unwrap(), std::fs::read(&dst).unwrap());
        assert_eq!(a.len(), b.len());
        let opts = netql::table::pipeline::LoadOptions::uncached(0);
        let meta = |p: &std::path::Path| {
            let f = netql::table::catalog::CaptureFile::stat(p).unwrap();
            netql::table::load::capture_meta(&f, &opts).unwrap()
        };
        let (ma, mb) = (meta(&src), meta(&dst));
        assert_eq!(ma.packets, mb.packets);
        assert_eq!(mb.first_ts.unwrap() - ma.first_ts.unwrap(), 7200 * 1_000_000_000);
        assert_eq!(mb.last_ts.unwrap() - ma.last_ts.unwrap(), 7200 * 1_000_000_000);
    }
}
