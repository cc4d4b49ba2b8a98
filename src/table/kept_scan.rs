//! kept_scan: a table as a Polars scan source with projection pushdown, whose columns are made
//! once and kept. A query asks for (and makes) only the columns it names; the queries of a suite
//! start side by side and share each column made. Serves a capture's event rows (gathered from
//! the packed table in memory, or read from the cache) and a cached flow table.

use std::sync::{Arc, Mutex};

use polars::prelude::*;

use crate::table::cache::ColumnReader;
use crate::table::scan_filter::{columns_read, user_filter};
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
                if rayon::current_thread_index().is_some() {
                    // On a Polars worker thread, waiting can deadlock: rayon runs a stolen job
                    // on the stack of a thread that waits for its own, so the query making
                    // these columns may be suspended beneath this very call (seen: a cached
                    // 10M suite hung with both workers idle or blocked). Make them here too.
                    let have: Vec<Option<Column>> = names
                        .iter()
                        .map(|n| match kept.get(n) {
                            Some(Slot::Made(c)) => Some(c.clone()),
                            _ => None,
                        })
                        .collect();
                    drop(kept);
                    let missing: Vec<PlSmallStr> = names
                        .iter()
                        .zip(&have)
                        .filter(|(_, c)| c.is_none())
                        .map(|(n, _)| n.clone())
                        .collect();
                    let mut made = self.make(&missing)?.into_iter();
                    return have
                        .into_iter()
                        .map(|c| c.or_else(|| made.next()))
                        .collect::<Option<Vec<Column>>>()
                        .ok_or_else(|| polars_err!(ComputeError: "{}: columns missing", self.name));
                }
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

    /// A filter right on the table comes here (Polars hands over only filters that test each
    /// row on its own) and is run on its own columns first: when no row passes, the other
    /// columns are never made. `events().filter(col("credential").is_not_null())` on a capture
    /// without credentials then reads one sparse column, not the join keys and facts of every
    /// event row.
    fn allows_predicate_pushdown(&self) -> bool {
        true
    }

    fn scan(&self, args: AnonymousScanArgs) -> PolarsResult<DataFrame> {
        let names: Vec<PlSmallStr> = match &args.with_columns {
            Some(names) => names.to_vec(),
            None => self.schema.iter_names().cloned().collect(),
        };
        // (A sort + head's "dynamic" predicate is only a hint, and cannot be evaluated.)
        let predicate = match &args.predicate {
            Some(p) => user_filter(p)?,
            None => None,
        };
        let Some(predicate) = &predicate else {
            let df = DataFrame::new(self.rows, self.columns(&names)?)?;
            return Ok(match args.n_rows {
                Some(n) => df.head(Some(n)),
                None => df,
            });
        };
        // As Polars runs a filter it cannot hand over: the first n rows, then the filter.
        let rows = args.n_rows.map_or(self.rows, |n| n.min(self.rows));
        let mask = self.passing(predicate, rows)?;
        if !mask.any() {
            let projected = Schema::from_iter(
                names
                    .iter()
                    .filter_map(|n| self.schema.get(n).map(|dt| Field::new(n.clone(), dt.clone()))),
            );
            return Ok(DataFrame::empty_with_schema(&projected));
        }
        let df = DataFrame::new(self.rows, self.columns(&names)?)?;
        let df = if rows < self.rows { df.head(Some(rows)) } else { df };
        df.filter(&mask)
    }
}

impl KeptScan {
    /// Which of the first `rows` rows pass `predicate`, worked out from the columns it names
    /// alone (made and kept as any other).
    fn passing(&self, predicate: &Expr, rows: usize) -> PolarsResult<BooleanChunked> {
        let frame = DataFrame::new(self.rows, self.columns(&columns_read(predicate))?)?;
        let frame = if rows < self.rows {
            frame.head(Some(rows))
        } else {
            frame
        };
        let out = frame.lazy().select([predicate.clone().alias("passes")]).collect()?;
        let mask = out.column("passes")?.bool()?.clone();
        // A test of no column (a constant) gives one answer for every row.
        Ok(if mask.len() == 1 && rows != 1 {
            mask.new_from_index(0, rows)
        } else {
            mask
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Makes each column as its row numbers.
    struct Rows;

    impl ColumnSource for Rows {
        fn make(&self, names: &[PlSmallStr], rows: usize) -> PolarsResult<Vec<Column>> {
            Ok(names
                .iter()
                .map(|n| Column::new(n.clone(), (0..rows as u32).collect::<Vec<_>>()))
                .collect())
        }
    }

    fn scan() -> Arc<KeptScan> {
        let schema = Schema::from_iter([
            Field::new("a".into(), DataType::UInt32),
            Field::new("b".into(), DataType::UInt32),
        ]);
        KeptScan::new(Box::new(Rows), "test", Arc::new(schema), 3)
    }

    /// A filter on the scan runs on its own columns first: when no row passes, the columns only
    /// shown are never made; when some do, the rows are those Polars' own filter keeps.
    #[test]
    fn a_filter_that_keeps_no_row_makes_no_other_column() {
        let s = scan();
        let none = s
            .lazy()
            .filter(col("a").gt(lit(5u32)))
            .select([col("b")])
            .collect()
            .unwrap();
        assert_eq!(none.height(), 0);
        assert_eq!(none.get_column_names(), ["b"]);
        assert!(s.kept.lock().unwrap().get("b").is_none(), "b was made for no row");
        let some = s
            .lazy()
            .filter(col("a").gt_eq(lit(1u32)))
            .select([col("b")])
            .collect()
            .unwrap();
        let want = Rows.make(&["b".into()], 3).unwrap()[0]
            .filter(&BooleanChunked::from_slice("".into(), &[false, true, true]))
            .unwrap();
        assert_eq!(some.column("b").unwrap(), &want);
        // A sort + head hands the scan a "dynamic" predicate beside (or instead of) the filter:
        // only a hint, so the rows are the sort's own.
        let desc = SortMultipleOptions::default().with_order_descending(true);
        let top = s.lazy().sort(["a"], desc.clone()).limit(2).collect().unwrap();
        assert_eq!(top.column("a").unwrap().u32().unwrap().to_vec(), [Some(2), Some(1)]);
        let top = s
            .lazy()
            .filter(col("b").lt(lit(2u32)))
            .sort(["a"], desc)
            .limit(1)
            .collect()
            .unwrap();
        assert_eq!(top.column("a").unwrap().u32().unwrap().to_vec(), [Some(1)]);
        // The first rows, then the filter (not the first rows that pass).
        let first = s.lazy().limit(2).filter(col("a").gt_eq(lit(1u32))).collect().unwrap();
        assert_eq!(first.column("a").unwrap().u32().unwrap().to_vec(), [Some(1)]);
    }

    /// A query on a Polars worker thread that needs a column another query is making makes it
    /// itself instead of waiting: the maker may be suspended beneath it on the same thread.
    /// (Waiting here hung a cached 10M suite.) Off the workers it still waits and shares.
    #[test]
    fn a_worker_never_waits_for_a_column_being_made() {
        let s = scan();
        s.kept.lock().unwrap().insert("a".into(), Slot::Making);
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let got = pool.install(|| s.columns(&["b".into(), "a".into()])).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].name().as_str(), got[1].name().as_str()), ("b", "a"));
        assert_eq!(got[1].len(), 3);
        // "b" was made by that query and kept; "a" is still the other query's to finish.
        assert!(matches!(s.kept.lock().unwrap().get("b"), Some(Slot::Made(_))));
        assert!(matches!(s.kept.lock().unwrap().get("a"), Some(Slot::Making)));
        // Off the pool, a query waits for the maker and then shares its column.
        let waiter = {
            let s = Arc::clone(&s);
            std::thread::spawn(move || s.columns(&["a".into()]))
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(
            !waiter.is_finished(),
            "a query off the pool waits for the column being made"
        );
        let made = Column::new("a".into(), vec![7u32, 8, 9]);
        s.kept.lock().unwrap().insert("a".into(), Slot::Made(made.clone()));
        s.made.notify_all();
        assert_eq!(waiter.join().unwrap().unwrap()[0], made);
    }
}
