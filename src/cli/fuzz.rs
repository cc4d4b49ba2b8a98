//! `netql fuzz` (hidden): the capture readers and the decoders under mutated input. Records of
//! real captures (the bundled sample and, when they are there, the shared test captures and the
//! JA4 truth set) are mutated — bits flipped, bytes set to edge values, lengths and counts in
//! headers bent, cut short, extended, spliced with another record, given another link type or a
//! time past 2262 — and run through everything a capture's bytes reach: the decoder of every
//! link type, IP reassembly, the in-order pass (TCP streams, HTTP, TLS, QUIC, DNS), the
//! transaction pairing (DNS, HTTP, TLS with JA4/JA3 and certificates), the packet and
//! transaction tables and the flow table (Zeek's TCP model, Community IDs). One record in 256
//! goes with a whole file instead, its header mutated, through the pcap and pcapng readers.
//!
//! Deterministic for a seed, so a CI slice is the same every run. A panic is caught, its input
//! cut down to the one record (or file) that causes it and saved in `--crashes DIR`, and the run
//! ends with exit code 1; those inputs become regression tests.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use netql::capture::{CaptureReader, RawRecord};
use netql::error::Exit;
use netql::table::live::LiveDecoder;

/// Options of `netql fuzz`.
pub struct FuzzArgs {
    pub cases: u64,
    pub seed: u64,
    pub crashes: PathBuf,
}

/// xorshift64*: small, fast, and the same sequence everywhere for a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A record to mutate: its link type, time and bytes.
#[derive(Clone)]
struct Seed {
    link: u16,
    ts: i64,
    data: Vec<u8>,
}

/// Link types the decoder reads (and one it does not).
const LINKS: [u16; 8] = [1, 101, 113, 276, 0, 228, 229, 147];

/// Values that sit at the edges of fields.
const EDGES: [u32; 12] = [
    0,
    1,
    2,
    0x7f,
    0x80,
    0xff,
    0x100,
    0x7fff,
    0x8000,
    0xffff,
    0x7fff_ffff,
    0xffff_ffff,
];

fn mutate(rng: &mut Rng, seeds: &[Seed], base: &Seed) -> Seed {
    let mut s = base.clone();
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        let len = s.data.len();
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                s.data[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                s.data[i] = EDGES[rng.below(EDGES.len())] as u8;
            }
            2 if len > 1 => {
                // A 16- or 32-bit header field (lengths, counts, offsets) bent to an edge value.
                let v = EDGES[rng.below(EDGES.len())];
                let i = rng.below(len - 1);
                if rng.below(2) == 0 || len < 4 {
                    s.data[i..i + 2].copy_from_slice(&(v as u16).to_be_bytes());
                } else {
                    let i = i.min(len - 4);
                    s.data[i..i + 4].copy_from_slice(&v.to_be_bytes());
                }
            }
            3 => s.data.truncate(rng.below(len + 1)),
            4 => {
                let n = 1 + rng.below(64);
                for _ in 0..n {
                    s.data.push(rng.next() as u8);
                }
            }
            5 if !seeds.is_empty() => {
                // The head of this record and the tail of another.
                let other = &seeds[rng.below(seeds.len())].data;
                let cut = rng.below(len + 1);
                let from = rng.below(other.len() + 1);
                s.data.truncate(cut);
                s.data.extend_from_slice(&other[from..]);
            }
            6 if len > 2 => {
                // A run of bytes repeated (a length field's claim made true).
                let a = rng.below(len);
                let b = (a + 1 + rng.below(32)).min(len);
                let chunk = s.data[a..b].to_vec();
                let at = rng.below(len);
                s.data.splice(at..at, chunk);
            }
            7 => s.link = LINKS[rng.below(LINKS.len())],
            _ => {
                s.ts = match rng.below(4) {
                    0 => i64::MAX,
                    1 => i64::MIN,
                    _ => s.ts.wrapping_add(rng.next() as i64 >> rng.below(64)),
                }
            }
        }
    }
    s.data.truncate(70_000);
    s
}

/// Every record of the seed captures.
fn seeds() -> Result<Vec<Seed>> {
    let mut files = vec![netql::testdata::sample()];
    if let Some(dir) = netql::testdata::shared_dir() {
        for sub in ["captures", "truth-ja4/pcap"] {
            if let Ok(rd) = std::fs::read_dir(dir.join(sub)) {
                let mut found: Vec<PathBuf> = rd
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.extension()
                            .is_some_and(|x| x == "pcap" || x == "pcapng" || x == "cap")
                    })
                    .collect();
                found.sort();
                files.extend(found);
            }
        }
    }
    let mut out = Vec::new();
    for f in &files {
        let Ok(mut r) = CaptureReader::open(f) else { continue };
        let _ = r.for_each(|rec| {
            out.push(Seed {
                link: rec.link,
                ts: rec.ts_ns,
                data: rec.data.to_vec(),
            });
            out.len() < 2_000_000
        });
    }
    anyhow::ensure!(!out.is_empty(), "no seed records");
    eprintln!("netql fuzz: {} seed records from {} captures", out.len(), files.len());
    Ok(out)
}

/// Rows the pipeline made so far (packets, transactions, flows): the run says them, so a harness
/// that decoded nothing cannot pass for one that decoded everything.
static ROWS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Run `records` through the whole decoding pipeline (as a live session of one chunk, then the
/// flow table of its packets).
fn decode_all(records: &[Seed]) {
    let mut d = LiveDecoder::new("fuzz.pcap");
    for r in records {
        d.push(&RawRecord {
            ts_ns: r.ts,
            ts_out_of_range: r.ts == i64::MAX || r.ts == i64::MIN,
            wire_len: (r.data.len() as u32).saturating_add(r.ts as u32 % 3),
            link: r.link,
            data: &r.data,
        });
    }
    if let Ok(Some(chunk)) = d.last_chunk() {
        let tx = &chunk.transactions;
        let mut rows = chunk.packets.height() + tx.dns.height() + tx.http.height() + tx.tls.height();
        if chunk.packets.height() > 0
            && let Ok(flows) = netql::table::flow::flows_of(&chunk.packets)
        {
            rows += flows.height();
        }
        ROWS.fetch_add(rows as u64, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A whole capture file with its header (and a few places after it) mutated.
fn mutate_file(rng: &mut Rng, files: &[Vec<u8>]) -> Vec<u8> {
    let mut bytes = files[rng.below(files.len())].clone();
    let n = 1 + rng.below(8);
    for _ in 0..n {
        if bytes.is_empty() {
            break;
        }
        // Most mutations in the first 256 bytes: the file and first record headers.
        let span = if rng.below(4) == 0 {
            bytes.len()
        } else {
            bytes.len().min(256)
        };
        let i = rng.below(span);
        match rng.below(3) {
            0 => bytes[i] ^= 1 << rng.below(8),
            1 => bytes[i] = EDGES[rng.below(EDGES.len())] as u8,
            _ => bytes.truncate(i),
        }
    }
    bytes
}

fn run_file(bytes: &[u8], scratch: &Path) {
    if std::fs::write(scratch, bytes).is_err() {
        return;
    }
    if let Ok(mut r) = CaptureReader::open(scratch) {
        let mut recs = Vec::new();
        let _ = r.for_each(|rec| {
            recs.push(Seed {
                link: rec.link,
                ts: rec.ts_ns,
                data: rec.data.to_vec(),
            });
            recs.len() < 512
        });
        decode_all(&recs);
    }
}

/// Records (or a file) that panic, kept for a regression test.
fn save(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let _ = std::fs::create_dir_all(dir);
    let path = dir.join(name);
    let _ = std::fs::write(&path, bytes);
    path
}

/// A record saved as `link (2 bytes LE) ts (8 bytes LE) data`.
fn record_bytes(s: &Seed) -> Vec<u8> {
    let mut v = s.link.to_le_bytes().to_vec();
    v.extend_from_slice(&s.ts.to_le_bytes());
    v.extend_from_slice(&s.data);
    v
}

/// Read back what [`record_bytes`] wrote.
pub fn record_of(bytes: &[u8]) -> Option<(u16, i64, Vec<u8>)> {
    let link = u16::from_le_bytes(bytes.get(..2)?.try_into().ok()?);
    let ts = i64::from_le_bytes(bytes.get(2..10)?.try_into().ok()?);
    Some((link, ts, bytes[10..].to_vec()))
}

/// The records of a saved batch (`.recs`: each record length-prefixed).
fn records_of(bytes: &[u8]) -> Vec<Seed> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(n) = bytes
        .get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
    {
        let Some(rec) = bytes.get(at + 4..at + 4 + n as usize).and_then(record_of) else {
            break;
        };
        out.push(Seed {
            link: rec.0,
            ts: rec.1,
            data: rec.2,
        });
        at += 4 + n as usize;
    }
    out
}

/// Decode saved crash inputs again (the regression check): `.rec` files as one record, `.recs`
/// as a batch, anything else as a capture file.
pub fn replay(paths: &[PathBuf]) -> Result<Exit> {
    let scratch = std::env::temp_dir().join(format!("netql-fuzz-replay-{}.pcap", std::process::id()));
    for p in paths {
        let bytes = std::fs::read(p)?;
        let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
        let outcome = std::panic::catch_unwind(|| match ext {
            "rec" => {
                if let Some((link, ts, data)) = record_of(&bytes) {
                    decode_all(&[Seed { link, ts, data }]);
                }
            }
            "recs" => decode_all(&records_of(&bytes)),
            _ => run_file(&bytes, &scratch),
        });
        if outcome.is_err() {
            eprintln!("netql fuzz: {} still panics", p.display());
            return Ok(Exit::Failure);
        }
    }
    let _ = std::fs::remove_file(&scratch);
    println!("{} input(s) decoded without a panic", paths.len());
    Ok(Exit::Success)
}

pub fn run(a: FuzzArgs) -> Result<Exit> {
    let seeds = seeds()?;
    let files: Vec<Vec<u8>> = {
        let mut v = vec![std::fs::read(netql::testdata::sample())?];
        if let Some(dir) = netql::testdata::shared_dir()
            && let Ok(rd) = std::fs::read_dir(dir.join("captures"))
        {
            let mut paths: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
            paths.sort();
            v.extend(
                paths
                    .iter()
                    .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
                    .filter_map(|p| std::fs::read(p).ok())
                    .filter(|b| b.len() < 2 << 20),
            );
        }
        v
    };
    let scratch = std::env::temp_dir().join(format!("netql-fuzz-{}.pcap", std::process::id()));
    // Panics are caught and reported here, not printed by the default hook at every case.
    std::panic::set_hook(Box::new(|_| {}));
    let mut rng = Rng(a.seed.max(1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let started = Instant::now();
    let mut last_note = Instant::now();
    let (mut done, mut panics) = (0u64, 0u64);
    const BATCH: usize = 64;
    while done < a.cases {
        if rng.below(256) == 0 {
            // The readers: a whole file, its header mutated.
            let bytes = mutate_file(&mut rng, &files);
            if std::panic::catch_unwind(|| run_file(&bytes, &scratch)).is_err() {
                panics += 1;
                let p = save(&a.crashes, &format!("file-{done}.pcap"), &bytes);
                eprintln!("netql fuzz: a mutated file panics: saved {}", p.display());
            }
            done += 1;
            continue;
        }
        // A batch of mutated records of neighbouring seeds (so streams and pairs meet), each a
        // case.
        let start = rng.below(seeds.len());
        let n = BATCH.min((a.cases - done) as usize);
        let batch: Vec<Seed> = (0..n)
            .map(|i| {
                let base = &seeds[(start + i) % seeds.len()];
                if rng.below(4) == 0 {
                    base.clone()
                } else {
                    mutate(&mut rng, &seeds, base)
                }
            })
            .collect();
        if std::panic::catch_unwind(|| decode_all(&batch)).is_err() {
            // Cut the batch down to the records that panic on their own.
            let mut alone = 0;
            for (i, r) in batch.iter().enumerate() {
                if std::panic::catch_unwind(|| decode_all(std::slice::from_ref(r))).is_err() {
                    alone += 1;
                    let p = save(&a.crashes, &format!("record-{done}-{i}.rec"), &record_bytes(r));
                    eprintln!("netql fuzz: a record panics: saved {}", p.display());
                }
            }
            if alone == 0 {
                let mut all = Vec::new();
                for r in &batch {
                    let b = record_bytes(r);
                    all.extend_from_slice(&(b.len() as u32).to_le_bytes());
                    all.extend_from_slice(&b);
                }
                let p = save(&a.crashes, &format!("batch-{done}.recs"), &all);
                eprintln!("netql fuzz: a batch panics (no record alone): saved {}", p.display());
            }
            panics += 1;
        }
        done += n as u64;
        if last_note.elapsed().as_secs() >= 30 {
            eprintln!(
                "netql fuzz: {done} cases, {panics} panic(s), {:.0} cases/s",
                done as f64 / started.elapsed().as_secs_f64()
            );
            last_note = Instant::now();
        }
    }
    let _ = std::fs::remove_file(&scratch);
    let _ = std::panic::take_hook();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{done} cases (seed {}), {panics} panic(s), {} table rows made, {secs:.1} s, {:.0} cases/s",
        a.seed,
        ROWS.load(std::sync::atomic::Ordering::Relaxed),
        done as f64 / secs.max(1e-9)
    );
    Ok(if panics == 0 { Exit::Success } else { Exit::Failure })
}
