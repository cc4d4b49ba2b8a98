//! ingest: captures into a lake. Each capture is hashed, skipped when the lake already holds its
//! bytes for this sensor, else decoded (as a load with no cache: the lake is the cache), its
//! tables written as staged parts and committed in one step. Several captures are decoded at
//! once, `jobs` at a time, and a capture of more than `segment_packets` frames a segment at a
//! time (its parts `part-<hash>-<k>`), so memory is bounded by `jobs` segments whatever the
//! captures' number and size.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::table::catalog::CaptureFile;
use crate::table::catalog::CaptureMeta;
use crate::table::lake::findings::{FindingRow, findings_table};
use crate::table::lake::layout::{LakeTable, check_sensor};
use crate::table::lake::manifest::{self, Committed, Entry, Manifest, Staging, content_hash, part_name};
use crate::table::lake::write::{PartTarget, stage, stage_table};
use crate::table::load::{Keep, LoadOptions, Loaded, load_segment};
use crate::table::pipeline::Segment;

/// How to ingest.
#[derive(Clone)]
pub struct IngestOptions {
    pub sensor: String,
    /// Also write the packet table (one row per packet; by far the biggest).
    pub with_packets: bool,
    /// Captures decoded at once.
    pub jobs: usize,
    /// A capture of more frames is decoded (and held in memory) this many at a time; 0: whole.
    /// A flow or scan that crosses a segment's end is cut there (one row per segment).
    pub segment_packets: u64,
    /// Decoder threads per capture, Community ID seed (the cache settings are not used).
    pub load: LoadOptions,
}

/// What happened to one capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Written; `replaced` when it took the place of other bytes at the same path.
    Added {
        replaced: bool,
    },
    /// The lake already holds these bytes for this sensor.
    Unchanged,
    Failed(String),
}

/// One capture's ingest.
#[derive(Debug, Clone)]
pub struct CaptureResult {
    pub capture: CaptureFile,
    pub outcome: Outcome,
    pub packets: u64,
    pub rows: BTreeMap<String, u64>,
    pub elapsed: Duration,
}

impl CaptureResult {
    /// What the lake already holds of this capture.
    fn known(&mut self, e: &Entry) {
        self.packets = e.packets;
        self.rows = e.rows.clone();
    }
}

/// The suite's findings for a loaded capture (the query layer supplies it).
pub type FindingsOf<'a> = dyn Fn(&Loaded) -> Result<Vec<FindingRow>> + Sync + 'a;

fn absolute(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .to_string_lossy()
        .into_owned()
}

/// Ingest `captures` into the lake at `lake`; `done` is called as each one ends (for progress).
pub fn ingest(
    lake: &Path,
    captures: &[CaptureFile],
    opts: &IngestOptions,
    findings: &FindingsOf<'_>,
    done: &(dyn Fn(&CaptureResult) + Sync),
) -> Result<Vec<CaptureResult>> {
    check_sensor(&opts.sensor)?;
    std::fs::create_dir_all(lake).map_err(|e| Error::io(lake, e))?;
    // What crashed ingests left goes first (under the lock, so no commit is half done).
    manifest::sweep(lake)?;
    let staging = Staging::create(lake)?;
    let next = AtomicUsize::new(0);
    let results: std::sync::Mutex<Vec<(usize, CaptureResult)>> = Default::default();
    let workers = opts.jobs.max(1).min(captures.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(cap) = captures.get(i) else { break };
                    let r = one(lake, &staging.dir, cap, opts, findings);
                    done(&r);
                    if let Ok(mut v) = results.lock() {
                        v.push((i, r));
                    }
                }
            });
        }
    });
    let mut out = results
        .into_inner()
        .map_err(|_| Error::Internal("ingest results lock poisoned"))?;
    out.sort_by_key(|(i, _)| *i);
    Ok(out.into_iter().map(|(_, r)| r).collect())
}

fn one(
    lake: &Path,
    staging: &Path,
    cap: &CaptureFile,
    opts: &IngestOptions,
    findings: &FindingsOf<'_>,
) -> CaptureResult {
    let started = Instant::now();
    let mut r = CaptureResult {
        capture: cap.clone(),
        outcome: Outcome::Unchanged,
        packets: 0,
        rows: BTreeMap::new(),
        elapsed: Duration::ZERO,
    };
    match ingest_one(lake, staging, cap, opts, findings, &mut r) {
        Ok(o) => r.outcome = o,
        Err(e) => r.outcome = Outcome::Failed(e.to_string()),
    }
    r.elapsed = started.elapsed();
    r
}

fn ingest_one(
    lake: &Path,
    staging: &Path,
    cap: &CaptureFile,
    opts: &IngestOptions,
    findings: &FindingsOf<'_>,
    r: &mut CaptureResult,
) -> Result<Outcome> {
    let path = absolute(&cap.path);
    let known = Manifest::read(lake)?;
    // Same path, size and time as when ingested: the same bytes, without reading them again.
    if let Some(e) = known.at_path(&opts.sensor, &path)
        && e.size == cap.size
        && e.modified_ns == manifest::modified_ns(cap.modified)
    {
        r.known(e);
        return Ok(Outcome::Unchanged);
    }
    let debug = std::env::var_os("NETQL_DEBUG").is_some();
    let t0 = Instant::now();
    let step = |what: &str| {
        if debug {
            eprintln!("ingest {}: {what} after {:?}", cap.name, t0.elapsed());
        }
    };
    let load = LoadOptions {
        use_cache: false,
        progress: false,
        ..opts.load.clone()
    };
    let keep = if opts.with_packets { Keep::All } else { Keep::Events };
    // A capture of more than `segment_packets` frames is decoded a segment at a time.
    let per_segment = if opts.segment_packets == 0 {
        u64::MAX
    } else {
        opts.segment_packets
    };
    let segment = |first_frame: u64| Segment {
        first_frame,
        frames: per_segment,
    };
    // Hashing reads the whole file (a 10M-packet capture: ~5 s), as decoding does: side by side
    // they share the page cache and the cores. A capture whose bytes the lake already holds (a
    // copy, a touched file) is then decoded for nothing, which is rare.
    let (hash, first) = std::thread::scope(|s| {
        let hashing = s.spawn(|| content_hash(&cap.path));
        let loaded = load_segment(cap, &load, keep, segment(1));
        let hash = hashing
            .join()
            .unwrap_or(Err(Error::Internal("the hashing thread panicked")));
        (hash, loaded)
    });
    let hash = hash?;
    step("hashed and decoded");
    if let Some(e) = known.find(&opts.sensor, &hash) {
        r.known(e);
        // Its bytes came from another path; what this path held before is gone.
        if manifest::forget_path(lake, &opts.sensor, &path, &hash)? {
            return Ok(Outcome::Added { replaced: true });
        }
        return Ok(Outcome::Unchanged);
    }
    let name = part_name(&hash).to_string();
    let mut staged = Vec::new();
    let mut meta = CaptureMeta::default();
    let mut next = Some(first?);
    let mut k = 0u64;
    while let Some((loaded, ended)) = next.take() {
        if let Some(w) = &loaded.warning {
            // A capture read only in part (still being written, or cut short) waits for next time.
            return Err(Error::Capture {
                path: cap.path.clone(),
                reason: format!("not ingested: {w}"),
            });
        }
        let m = loaded.meta.clone().unwrap_or_default();
        // One segment keeps the capture's part name; several are told apart by their number.
        let part_name = if k == 0 && ended {
            name.clone()
        } else {
            format!("{name}-{k}")
        };
        staged.extend(stage_loaded(&loaded, &part_name, staging, opts, findings, &step)?);
        drop(loaded);
        meta.packets += m.packets;
        meta.bytes += m.bytes;
        meta.first_ts = meta.first_ts.into_iter().chain(m.first_ts).min();
        meta.last_ts = meta.last_ts.into_iter().chain(m.last_ts).max();
        if !ended && m.packets > 0 {
            k += 1;
            next = Some(load_segment(cap, &load, keep, segment(meta.packets + 1))?);
            step("next segment decoded");
        }
    }
    r.packets = meta.packets;
    for s in &staged {
        *r.rows.entry(s.table.name().to_string()).or_default() += s.rows;
    }
    let entry = Entry {
        hash,
        sensor: opts.sensor.clone(),
        file: cap.name.clone(),
        path,
        size: cap.size,
        modified_ns: manifest::modified_ns(cap.modified),
        packets: meta.packets,
        bytes: meta.bytes,
        first_ns: meta.first_ts,
        last_ns: meta.last_ts,
        rows: r.rows.clone(),
        parts: Vec::new(),
        schema_version: manifest::SCHEMA_VERSION,
        ingested: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    Ok(match manifest::commit(lake, entry, staged)? {
        Committed::Added { replaced } => Outcome::Added {
            replaced: replaced.is_some(),
        },
        Committed::AlreadyThere => Outcome::Unchanged,
    })
}

/// One loaded capture (or segment of one) as staged parts named `part_name`: its tables and the
/// suite's findings.
fn stage_loaded(
    loaded: &Loaded,
    part_name: &str,
    staging: &Path,
    opts: &IngestOptions,
    findings: &FindingsOf<'_>,
    step: &dyn Fn(&str),
) -> Result<Vec<crate::table::lake::manifest::Staged>> {
    let first_ns = loaded.meta.as_ref().and_then(|m| m.first_ts).unwrap_or(0);
    let target = PartTarget {
        staging,
        sensor: &opts.sensor,
        part_name,
        first_ns,
    };
    let mut staged = Vec::new();
    staged.extend(stage_table(loaded.flows()?, LakeTable::Flows, &target)?);
    step("flows written");
    staged.extend(stage_table(loaded.dns(), LakeTable::Dns, &target)?);
    staged.extend(stage_table(loaded.http(), LakeTable::Http, &target)?);
    staged.extend(stage_table(loaded.tls(), LakeTable::Tls, &target)?);
    step("transactions written");
    staged.extend(stage_table(loaded.packets.events(), LakeTable::Events, &target)?);
    step("events written");
    staged.extend(stage_table(loaded.stacks()?, LakeTable::Stacks, &target)?);
    step("tables written");
    let mut found = findings(loaded)?;
    step("suite run");
    for f in &mut found {
        f.ts_ns = first_ns;
    }
    staged.extend(stage(&findings_table(&found)?, LakeTable::Findings, &target)?);
    if opts.with_packets {
        staged.extend(stage_table(loaded.packets.lazy(), LakeTable::Packets, &target)?);
    }
    Ok(staged)
}

/// The capture files under `dir` (and its folders), by name: what `ingest DIR` and `--watch` read.
pub fn captures_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| Error::io(&d, e))?;
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name.starts_with('_') {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else if crate::table::catalog::is_capture(&p) {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}
