//! manifest: which captures a lake holds, and the only door through which parts become part of
//! it. A capture is known by its sensor and the SHA-256 of its bytes; its entry lists every part
//! file written from it. netql reads only parts an entry lists, so a part is in the lake exactly
//! when the manifest says so: written under `_netql/staging/` first, renamed into its partition
//! and recorded in one step under the lake's lock ([`commit`]), the manifest itself replaced
//! whole (temporary file, then rename). Two ingests at once take turns at the lock; the second
//! to commit the same capture finds it there and drops its copy. A crash leaves at most parts no
//! entry lists, which the next ingest removes ([`sweep`]) or writes again.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::table::lake::layout::{self, LakeTable};

/// The lake's file layout and column types (see the README's lake section). Raised whenever a
/// table's columns or types change; parts written under an older version are read with the
/// columns they have (missing ones are null).
pub const SCHEMA_VERSION: u32 = 1;

/// The lake's record of what it holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Manifest {
    /// [`SCHEMA_VERSION`] of the newest netql that wrote here.
    pub schema_version: u32,
    pub captures: Vec<Entry>,
}

/// One ingested capture.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// SHA-256 of the capture file's bytes, hex.
    pub hash: String,
    pub sensor: String,
    /// The capture's file name (the `file` column of its rows).
    pub file: String,
    /// Where it was read from (carving its packets needs it).
    pub path: String,
    pub size: u64,
    /// Modification time when ingested (ns since the epoch): an unchanged size and time skip
    /// hashing the file again.
    pub modified_ns: i64,
    pub packets: u64,
    pub bytes: u64,
    pub first_ns: Option<i64>,
    pub last_ns: Option<i64>,
    /// Rows written per table.
    pub rows: BTreeMap<String, u64>,
    /// Its part files, relative to the lake.
    pub parts: Vec<String>,
    pub schema_version: u32,
    /// When it was ingested (RFC 3339).
    pub ingested: String,
}

impl Entry {
    /// The name its parts carry: `part-<this>.parquet`.
    pub fn part_name(&self) -> &str {
        part_name(&self.hash)
    }
}

/// The start of a content hash that names a capture's parts (128 bits).
pub fn part_name(hash: &str) -> &str {
    &hash[..hash.len().min(32)]
}

fn manifest_path(lake: &Path) -> PathBuf {
    layout::meta_dir(lake).join("manifest.json")
}

impl Manifest {
    /// The manifest as last committed (empty for a new lake).
    pub fn read(lake: &Path) -> Result<Manifest> {
        let path = manifest_path(lake);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::lake(&path, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest::default()),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    fn write(&self, lake: &Path) -> Result<()> {
        let path = manifest_path(lake);
        let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
        let text = serde_json::to_vec_pretty(self).map_err(|e| Error::lake(&path, e))?;
        let mut f = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        f.write_all(&text)
            .and_then(|_| f.sync_all())
            .map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))
    }

    pub fn find(&self, sensor: &str, hash: &str) -> Option<&Entry> {
        self.captures.iter().find(|e| e.sensor == sensor && e.hash == hash)
    }

    /// The entry last ingested from this path for this sensor.
    pub fn at_path(&self, sensor: &str, path: &str) -> Option<&Entry> {
        self.captures.iter().find(|e| e.sensor == sensor && e.path == path)
    }

    /// Every part some entry lists.
    pub fn listed(&self) -> BTreeSet<&str> {
        self.captures
            .iter()
            .flat_map(|e| e.parts.iter().map(String::as_str))
            .collect()
    }
}

/// The lake's lock, held while committing (and sweeping). Released when dropped.
pub struct Lock {
    _file: File,
}

impl Lock {
    pub fn take(lake: &Path) -> Result<Lock> {
        let dir = layout::meta_dir(lake);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let path = dir.join("lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        file.lock().map_err(|e| Error::io(&path, e))?;
        Ok(Lock { _file: file })
    }
}

/// A part written to the staging folder, waiting to be committed.
#[derive(Debug, Clone)]
pub struct Staged {
    pub tmp: PathBuf,
    /// Where it goes, relative to the lake.
    pub rel: String,
    pub table: LakeTable,
    pub rows: u64,
}

/// What [`commit`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Committed {
    /// Added; `replaced` names the entry of the same path it took the place of, if any.
    Added { replaced: Option<String> },
    /// Another ingest committed the same capture first; this copy was dropped.
    AlreadyThere,
}

/// Make a capture's staged parts part of the lake, all at once (see the module's comment). The
/// entry comes with its row counts; its parts are the staged ones.
pub fn commit(lake: &Path, mut entry: Entry, staged: Vec<Staged>) -> Result<Committed> {
    let _lock = Lock::take(lake)?;
    let mut manifest = Manifest::read(lake)?;
    if manifest.find(&entry.sensor, &entry.hash).is_some() {
        for s in &staged {
            let _ = std::fs::remove_file(&s.tmp);
        }
        return Ok(Committed::AlreadyThere);
    }
    for s in &staged {
        let dest = lake.join(&s.rel);
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        std::fs::rename(&s.tmp, &dest).map_err(|e| Error::io(&dest, e))?;
    }
    entry.parts = staged.into_iter().map(|s| s.rel).collect();
    entry.parts.sort();
    // The same path (and sensor) ingested before with other bytes: this capture replaces it.
    let old = manifest.take_path(&entry.sensor, &entry.path, &entry.hash);
    let replaced = old.first().map(|e| e.hash.clone());
    manifest.captures.push(entry);
    manifest.schema_version = manifest.schema_version.max(SCHEMA_VERSION);
    write_dropping(lake, &manifest, &old)?;
    Ok(Committed::Added { replaced })
}

/// The bytes at `path` changed into bytes the lake already holds (from another path): drop what
/// was ingested from `path` before, so its old content is no longer counted.
pub fn forget_path(lake: &Path, sensor: &str, path: &str, hash: &str) -> Result<bool> {
    let _lock = Lock::take(lake)?;
    let mut manifest = Manifest::read(lake)?;
    let old = manifest.take_path(sensor, path, hash);
    if old.is_empty() {
        return Ok(false);
    }
    write_dropping(lake, &manifest, &old)?;
    Ok(true)
}

impl Manifest {
    /// Take out the entries ingested from this sensor and path with bytes other than `hash`.
    fn take_path(&mut self, sensor: &str, path: &str, hash: &str) -> Vec<Entry> {
        let (old, kept) = std::mem::take(&mut self.captures)
            .into_iter()
            .partition(|e| e.sensor == sensor && e.path == path && e.hash != hash);
        self.captures = kept;
        old
    }
}

/// Write the manifest, then remove the parts of the `old` entries it took out: only now, when
/// no entry lists them, may they go (a part another entry still lists stays).
fn write_dropping(lake: &Path, manifest: &Manifest, old: &[Entry]) -> Result<()> {
    manifest.write(lake)?;
    let listed = manifest.listed();
    for part in old.iter().flat_map(|e| e.parts.iter()) {
        if !listed.contains(part.as_str()) {
            remove_part(lake, part);
        }
    }
    Ok(())
}

/// Remove a part file and the partition folders it leaves empty.
fn remove_part(lake: &Path, rel: &str) {
    let path = lake.join(rel);
    let _ = std::fs::remove_file(&path);
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d == lake || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

/// Remove what crashed ingests left: parts no entry lists and staging folders whose ingest is
/// gone. Runs under the lock, where no commit is half done.
pub fn sweep(lake: &Path) -> Result<usize> {
    let _lock = Lock::take(lake)?;
    let manifest = Manifest::read(lake)?;
    let listed = manifest.listed();
    let mut removed = 0;
    for table in LakeTable::ALL {
        let mut stack = vec![lake.join(table.name())];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for e in entries.flatten() {
                let path = e.path();
                if path.is_dir() {
                    stack.push(path);
                } else if let Ok(rel) = path.strip_prefix(lake)
                    && let Some(rel) = rel.to_str()
                    && rel.ends_with(".parquet")
                    && !listed.contains(rel)
                {
                    remove_part(lake, rel);
                    removed += 1;
                }
            }
        }
    }
    // Staging folders: each ingest holds its folder's lock file while it runs.
    if let Ok(entries) = std::fs::read_dir(layout::staging_dir(lake)) {
        for e in entries.flatten() {
            let owner = e.path().join("owner.lock");
            let gone = match File::options().write(true).open(&owner) {
                Ok(f) => f.try_lock().is_ok(),
                Err(_) => true,
            };
            if gone {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    Ok(removed)
}

/// This ingest's staging folder, locked as long as the value lives (so [`sweep`] leaves it).
pub struct Staging {
    pub dir: PathBuf,
    _owner: File,
}

impl Staging {
    pub fn create(lake: &Path) -> Result<Staging> {
        // Made and locked under the lake's lock: another ingest's sweep must never see the
        // folder before its owner holds it (it would take it for a dead one and remove it).
        let _lock = Lock::take(lake)?;
        let dir = layout::staging_dir(lake).join(format!(
            "{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let path = dir.join("owner.lock");
        let owner = File::create(&path).map_err(|e| Error::io(&path, e))?;
        owner.lock().map_err(|e| Error::io(&path, e))?;
        Ok(Staging { dir, _owner: owner })
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A file's modification time as the manifest records it (ns since the epoch; 0 if unknown).
pub fn modified_ns(modified: std::time::SystemTime) -> i64 {
    modified
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos().min(i64::MAX as u128) as i64)
}

/// SHA-256 of a file's bytes, hex.
pub fn content_hash(path: &Path) -> Result<String> {
    use std::io::Read;
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
    }
    Ok(ctx.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect())
}
