//! kept_scan: a table as a Polars scan source with projection pushdown, whose columns are made
//! once and kept. A query asks for (and makes) only the columns it names; the queries of a suite
//! start side by side and share each column made. Serves a capture's event rows (gathered from
//! the packed table in memory, or read from the cache) and a cached flow table.

use std::sync::{Arc, Mutex};

use polars::prelude::*;

use crate::table::cache::ColumnReader;
use crate::table::schema::{col, text_dtype, unavailable};

/// Where a [`KeptScan`]'s columns come from.
pub trait ColumnSource: Send + Sync {
    /// Make the named columns, in that order (each of the scan's rows).
    fn make(&self, names: &[PlSmallStr], rows: usize) -> PolarsResult<Vec<Column>>;
}

/// A table as a Polars scan source with projection pushdown: a query asks for (and makes) only
/// the columns it names, and each column is made once and kept, so the queries of a suite share
/// them. Serves a table's event rows (gathered from memory or read from the cache) and a cached
/// flow table.
pub struct KeptScan {
    source: Box<dyn ColumnSource>,
    name: &'static str,
    rows: usize,
    schema: SchemaRef,
    /// Columns made so far, or being made by one query for all.
    kept: Mutex<PlHashMap<PlSmallStr, Slot>>,
    /// Signalled when columns being made are done (or failed).
    made: std::sync::Condvar,
}

/// A column of a [`KeptScan`]: kept, or being made by one of the queries that asked for it (the
/// suite's queries start side by side and ask for many of the same columns at once).
enum Slot {
    Making,
    Made(Column),
}

/// A cached table of one capture (read column by column from its cache file).
struct Cached {
    reader: ColumnReader,
    file: PlSmallStr,
}

impl ColumnSource for Cached {
    fn make(&self, names: &[PlSmallStr], rows: usize) -> PolarsResult<Vec<Column>> {
        // The file column holds the capture's name on every row: made, not read.
        let stored: Vec<PlSmallStr> = names.iter().filter(|n| n.as_str() != col::FILE).cloned().collect();
        let mut read = self
            .reader
            .read(&stored)
            .map_err(|e| polars_err!(ComputeError: "{e}"))?
            .into_iter();
        names
            .iter()
            .map(|n| match n.as_str() {
                col::FILE => file_column(&self.file, rows),
                _ => read.next().ok_or_else(|| polars_err!(ColumnNotFound: "{n}")),
            })
            .collect()
    }
}

impl KeptScan {
    /// A scan called `name` in plans and errors ("events", "flows") of `rows` rows with
    /// `schema`, whose columns `source` makes.
    pub fn new(source: Box<dyn ColumnSource>, name: &'static str, schema: SchemaRef, rows: usize) -> Arc<KeptScan> {
        Arc::new(KeptScan {
            source,
            name,
            rows,
            schema,
            kept: Mutex::new(PlHashMap::default()),
            made: std::sync::Condvar::new(),
        })
    }

    /// A cached table of capture `file`; `name` says what it is in plans and errors ("events",
    /// "flows").
    pub fn cached(name: &'static str, file: &str, reader: ColumnReader) -> Arc<KeptScan> {
        let (schema, rows) = (reader.template().schema().clone(), reader.rows());
        let source = Cached {
            reader,
            file: file.into(),
        };
        Self::new(Box::new(source), name, schema, rows)
    }

    /// The scan as a lazy frame.
    pub fn lazy(self: &Arc<Self>) -> LazyFrame {
        let args = ScanArgsAnonymous {
            schema: Some(self.schema.clone()),
            name: self.name,
            ..Default::default()
        };
        let scan: Arc<dyn AnonymousScan> = self.clone();
        LazyFrame::anonymous_scan(scan, args).unwrap_or_else(|e| unavailable(format!("{} unavailable: {e}", self.name)))
    }

    /// The named columns: those nobody has made yet are made here (all at once), those another
    /// query is making are waited for.
    fn columns(&self, names: &[PlSmallStr]) -> PolarsResult<Vec<Column>> {
        let poisoned = || polars_err!(ComputeError: "{} lock poisoned", self.name);
        let mut kept = self.kept.lock().map_err(|_| poisoned())?;
        loop {
            let mut mine: Vec<PlSmallStr> = Vec::new();
            for n in names {
                if !kept.contains_key(n) {
                    kept.insert(n.clone(), Slot::Making);
                    mine.push(n.clone());
                }
            }
            if !mine.is_empty() {
                drop(kept);
                // Should making them panic, the claims are given up so no query waits forever.
                let claims = Claims {
                    scan: self,
                    names: &mine,
                };
                let made = self.make(&mine);
                std::mem::forget(claims);
                kept = self.kept.lock().map_err(|_| poisoned())?;
                match made {
                    Ok(columns) if columns.len() == mine.len() => {
                        for (n, c) in mine.into_iter().zip(columns) {
                            kept.insert(n, Slot::Made(c));
                        }
                        self.made.notify_all();
                    }
                    made => {
                        let e = made
                            .err()
                            .unwrap_or_else(|| polars_err!(ComputeError: "{}: columns missing", self.name));
                        // Whoever waits for these tries (and fails) on its own.
                        for n in &mine {
                            kept.remove(n);
                        }
                        self.made.notify_all();
                        return Err(e);
                    }
                }
            }
            let columns: Option<Vec<Column>> = names
                .iter()
                .map(|n| match kept.get(n) {
                    Some(Slot::Made(c)) => Some(c.clone()),
                    _ => None,
                })
                .collect();
            if let Some(columns) = columns {
                return Ok(columns);
            }
            if names.iter().any(|n| matches!(kept.get(n), Some(Slot::Making))) {
                kept = self.made.wait(kept).map_err(|_| poisoned())?;
            }
        }
    }

    fn make(&self, names: &[PlSmallStr]) -> PolarsResult<Vec<Column>> {
        self.source.make(names, self.rows)
    }
}

/// Columns a query claimed to make; dropped only when making them panicked.
struct Claims<'a> {
    scan: &'a KeptScan,
    names: &'a [PlSmallStr],
}

impl Drop for Claims<'_> {
    fn drop(&mut self) {
        if let Ok(mut kept) = self.scan.kept.lock() {
            for n in self.names {
                kept.remove(n);
            }
        }
        self.scan.made.notify_all();
    }
}

/// The `file` column of a table of one capture: its name on every row (one value, not `rows`).
pub(crate) fn file_column(file: &str, rows: usize) -> PolarsResult<Column> {
    Column::new_scalar(
        PlSmallStr::from_static(col::FILE),
        Scalar::new(DataType::String, AnyValue::StringOwned(file.into())),
        rows,
    )
    .cast(&text_dtype())
}

impl AnonymousScan for KeptScan {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn schema(&self, _infer_schema_length: Option<usize>) -> PolarsResult<SchemaRef> {
        Ok(self.schema.clone())
    }

    fn allows_projection_pushdown(&self) -> bool {
        true
    }

    fn scan(&self, args: AnonymousScanArgs) -> PolarsResult<DataFrame> {
        let names: Vec<PlSmallStr> = match &args.with_columns {
            Some(names) => names.to_vec(),
            None => self.schema.iter_names().cloned().collect(),
        };
        let df = DataFrame::new(self.rows, self.columns(&names)?)?;
        Ok(match args.n_rows {
            Some(n) => df.head(Some(n)),
            None => df,
        })
    }
}
