//! scan: a lake's tables as lazy Polars frames, in netql's types, for the queries. Only the parts
//! the manifest lists are read, and of those only the ones whose sensor and hour can hold rows in
//! the asked range (partition pruning); rows are then filtered to the exact range on the table's
//! time column, which Polars pushes into the Parquet reader (row groups outside it are skipped by
//! their statistics). Nothing is read until a query runs, and then only the columns it uses.

use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::error::{Error, Result};
use crate::table::lake::findings::empty_findings;
use crate::table::lake::layout::{self, LakeTable, NS_PER_HOUR};
use crate::table::lake::manifest::{Entry, Manifest};
use crate::table::lake::types::{from_lake, lake_schema};

/// The netql table a lake table holds (its empty template, every column's real type).
pub fn template(table: LakeTable) -> Result<DataFrame> {
    match table {
        LakeTable::Flows => crate::table::flow::empty_flows(),
        LakeTable::Dns => crate::table::dns_table::empty_dns(),
        LakeTable::Http => crate::table::http_table::empty_http(),
        LakeTable::Tls => crate::table::tls_table::empty_tls(),
        LakeTable::Events | LakeTable::Packets => crate::table::packet_columns::empty_packets(),
        LakeTable::Stacks => crate::table::stacks::stacks_table("", &[]),
        LakeTable::Findings => empty_findings(),
    }
}

/// One column of a lake table as other engines see it: name, Spark SQL type, meaning.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LakeColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub spark_type: String,
    pub meaning: String,
}

/// The lake's tables and their columns as Spark SQL, Trino and DuckDB read them: each file's
/// columns, then the partition columns that engines add from the folder names.
pub fn lake_columns() -> Result<Vec<(LakeTable, Vec<LakeColumn>)>> {
    use crate::table::lake::types::{lake_dtype, spark_name};
    let mut out = Vec::new();
    for table in LakeTable::ALL {
        let doc_name = match table {
            LakeTable::Events => "packets",
            t => t.name(),
        };
        let docs = crate::table::schema::TABLES.iter().find(|t| t.name == doc_name);
        let meaning = |col: &str| -> String {
            if table == LakeTable::Findings {
                return crate::table::lake::findings::FINDINGS_COLUMNS
                    .iter()
                    .find(|(n, _)| *n == col)
                    .map_or("", |(_, m)| m)
                    .to_string();
            }
            docs.and_then(|d| d.columns.iter().find(|c| c.name == col))
                .map_or("", |c| c.meaning)
                .to_string()
        };
        let mut cols: Vec<LakeColumn> = template(table)?
            .columns()
            .iter()
            .map(|c| LakeColumn {
                name: c.name().to_string(),
                spark_type: spark_name(&lake_dtype(c.dtype())),
                meaning: meaning(c.name()),
            })
            .collect();
        for (name, ty, m) in [
            (
                "sensor",
                "string",
                "partition: the sensor that captured it (netql ingest --sensor)",
            ),
            ("date", "date", "partition: the UTC day of the row's time"),
            ("hour", "int", "partition: the UTC hour of the row's time (0-23)"),
        ] {
            cols.push(LakeColumn {
                name: name.into(),
                spark_type: ty.into(),
                meaning: m.into(),
            });
        }
        out.push((table, cols));
    }
    Ok(out)
}

/// Which part of a lake queries see: some sensors (all when empty), a time range, and some
/// captures by file name (all when empty).
#[derive(Debug, Clone, Default)]
pub struct LakeScope {
    pub sensors: Vec<String>,
    /// From this time on (ns, inclusive).
    pub from_ns: Option<i64>,
    /// Before this time (ns, exclusive).
    pub to_ns: Option<i64>,
    /// Only the captures of these file names (the `file` column).
    pub files: Vec<String>,
}

impl LakeScope {
    /// A scope as a user writes it: sensor names and times in the forms of
    /// [`crate::units::parse_time`] (relative ones, such as `7d`, are taken back from `now_ns`).
    pub fn from_text(sensors: &[String], from: Option<&str>, to: Option<&str>, now_ns: i64) -> Result<LakeScope> {
        let time = |t: Option<&str>| -> Result<Option<i64>> {
            t.map(|t| crate::units::parse_time(t, now_ns).map_err(Error::Usage))
                .transpose()
        };
        let scope = LakeScope {
            sensors: sensors.to_vec(),
            from_ns: time(from)?,
            to_ns: time(to)?,
            files: Vec::new(),
        };
        scope.check()?;
        Ok(scope)
    }

    /// An empty time range is a mistake, not an empty answer.
    pub fn check(&self) -> Result<()> {
        if let (Some(f), Some(t)) = (self.from_ns, self.to_ns)
            && f >= t
        {
            return Err(Error::Usage(
                "the range's start (from) must be before its end (to)".into(),
            ));
        }
        Ok(())
    }

    /// This scope narrowed by `other`: the later start, the earlier end, and `other`'s sensors,
    /// which must be among this scope's (when it names any).
    pub fn narrowed(&self, other: &LakeScope) -> Result<LakeScope> {
        if let Some(s) = other
            .sensors
            .iter()
            .find(|s| !self.sensors.is_empty() && !self.sensors.contains(s))
        {
            return Err(Error::Usage(format!(
                "sensor {s:?} is outside this server's lake scope (sensors: {})",
                self.sensors.join(", ")
            )));
        }
        let scope = LakeScope {
            sensors: if other.sensors.is_empty() {
                self.sensors.clone()
            } else {
                other.sensors.clone()
            },
            from_ns: self.from_ns.max(other.from_ns),
            to_ns: match (self.to_ns, other.to_ns) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            files: if other.files.is_empty() {
                self.files.clone()
            } else {
                other.files.clone()
            },
        };
        scope.check()?;
        Ok(scope)
    }
}

/// A lake opened for queries: the manifest as it was when opened (later commits are not seen,
/// so one analysis reads one consistent set of parts).
pub struct LakeView {
    pub dir: PathBuf,
    pub scope: LakeScope,
    pub manifest: Manifest,
}

impl LakeView {
    pub fn open(dir: &Path, scope: LakeScope) -> Result<LakeView> {
        if !layout::meta_dir(dir).join("manifest.json").is_file() {
            return Err(Error::lake(
                dir,
                "not a lake (no _netql/manifest.json): make one with `netql ingest CAPTURES --lake DIR`",
            ));
        }
        for s in &scope.sensors {
            layout::check_sensor(s)?;
        }
        let manifest = Manifest::read(dir)?;
        if let Some(s) = scope
            .sensors
            .iter()
            .find(|s| !manifest.captures.iter().any(|e| &e.sensor == *s))
        {
            let known: std::collections::BTreeSet<&str> = manifest.captures.iter().map(|e| e.sensor.as_str()).collect();
            return Err(Error::lake(
                dir,
                format!(
                    "no sensor {s:?} in this lake (sensors: {})",
                    known.into_iter().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        Ok(LakeView {
            dir: dir.to_path_buf(),
            scope,
            manifest,
        })
    }

    fn sensor_in_scope(&self, sensor: &str) -> bool {
        self.scope.sensors.is_empty() || self.scope.sensors.iter().any(|s| s == sensor)
    }

    /// Can an hour starting at `start` hold rows in the range?
    fn hour_in_scope(&self, start: i64) -> bool {
        self.scope.to_ns.is_none_or(|to| start < to) && self.scope.from_ns.is_none_or(|from| start + NS_PER_HOUR > from)
    }

    /// The captures with rows in scope.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.manifest.captures.iter().filter(|e| {
            self.sensor_in_scope(&e.sensor)
                && (self.scope.files.is_empty() || self.scope.files.contains(&e.file))
                && self.scope.to_ns.is_none_or(|to| e.first_ns.is_none_or(|f| f < to))
                && self
                    .scope
                    .from_ns
                    .is_none_or(|from| e.last_ns.is_none_or(|l| l >= from))
        })
    }

    /// The original capture behind the rows whose `file` is `file`, for carving its frames:
    /// the path it was ingested from, if it is still there with the bytes the lake holds
    /// (otherwise its frame numbers could point at other packets).
    pub fn source_of(&self, file: &str) -> Result<PathBuf> {
        let mut found = self.entries().filter(|e| e.file == file);
        let Some(e) = found.next() else {
            return Err(Error::lake(
                &self.dir,
                format!("no capture named {file:?} in this lake (in scope)"),
            ));
        };
        if let Some(other) = found.find(|o| o.hash != e.hash) {
            return Err(Error::lake(
                &self.dir,
                format!(
                    "two captures named {file:?} (sensors {} and {}): name the sensor with --sensor",
                    e.sensor, other.sensor
                ),
            ));
        }
        let path = PathBuf::from(&e.path);
        let meta = std::fs::metadata(&path).map_err(|err| {
            Error::lake(
                &self.dir,
                format!(
                    "{file:?} was ingested from {}, which cannot be read now ({err})",
                    e.path
                ),
            )
        })?;
        let modified_ns = meta.modified().map_or(0, crate::table::lake::manifest::modified_ns);
        let same = meta.len() == e.size
            && (modified_ns == e.modified_ns || crate::table::lake::manifest::content_hash(&path)? == e.hash);
        if !same {
            return Err(Error::lake(
                &self.dir,
                format!(
                    "{} has changed since it was ingested as {file:?}: its frame numbers may no longer match (ingest it again)",
                    e.path
                ),
            ));
        }
        Ok(path)
    }

    /// Whether any capture in scope was ingested with its packets.
    pub fn has(&self, table: LakeTable) -> bool {
        self.entries()
            .any(|e| e.parts.iter().any(|p| layout::table_of(p) == Some(table)))
    }

    /// The part files of `table` that can hold rows in scope, by sensor.
    fn parts(&self, table: LakeTable) -> Vec<(String, Vec<PathBuf>)> {
        let mut by_sensor: std::collections::BTreeMap<String, Vec<PathBuf>> = Default::default();
        for e in self.entries() {
            for rel in e.parts.iter().filter(|p| layout::table_of(p) == Some(table)) {
                let Some(p) = layout::partition_of(rel) else { continue };
                // The stack counts sit in the capture's first hour whatever the range.
                if table.time_column().is_some() && !self.hour_in_scope(p.start_ns()) {
                    continue;
                }
                by_sensor.entry(p.sensor).or_default().push(self.dir.join(rel));
            }
        }
        by_sensor.into_iter().collect()
    }

    /// A table of the lake in scope, as netql's table of that name plus a `sensor` column.
    pub fn scan(&self, table: LakeTable) -> Result<LazyFrame> {
        let template = template(table)?;
        let schema = Arc::new(lake_schema(&template));
        let mut frames = Vec::new();
        for (sensor, paths) in self.parts(table) {
            let args = ScanArgsParquet {
                schema: Some(schema.clone()),
                allow_missing_columns: true,
                ..Default::default()
            };
            let paths: polars_buffer::Buffer<PlRefPath> = paths
                .iter()
                .map(|p| PlRefPath::new(p.to_string_lossy().as_ref()))
                .collect();
            let lf = LazyFrame::scan_parquet_files(paths, args)?.with_column(lit(sensor).alias("sensor"));
            frames.push(lf);
        }
        let mut lf = match frames.len() {
            0 => DataFrame::empty_with_schema(&schema)
                .lazy()
                .with_column(lit(Null {}).cast(DataType::String).alias("sensor")),
            1 => frames.remove(0),
            _ => concat(frames, UnionArgs::default())?,
        };
        if let Some(t) = table.time_column() {
            let at =
                |ns: i64| lit(ns / 1000).strict_cast(DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC)));
            if let Some(from) = self.scope.from_ns {
                lf = lf.filter(col(t).gt_eq(at(from)));
            }
            if let Some(to) = self.scope.to_ns {
                lf = lf.filter(col(t).lt(at(to)));
            }
        }
        let mut cols = from_lake(&template, &schema);
        cols.push(col("sensor").strict_cast(crate::table::schema::text_dtype()));
        Ok(lf.select(cols))
    }
}
