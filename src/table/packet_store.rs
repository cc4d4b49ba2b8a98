//! packet_store: one capture's packet table in memory. Most packets carry no application facts, so the
//! eighteen mostly-empty columns (ICMP, DNS, HTTP, TLS, ARP, credential, error) are held apart,
//! only for the table's *events* (see [`event_mask`]: the packets with any of those facts, and
//! ICMP and odd-flag TCP packets), plus a bitmap saying which rows those are. `lazy()` puts them
//! back as columns built on use (a query that never names them never builds them); `events()` is
//! those rows with every column, a gather of a few percent of the rows rather than a scan of all.
//! Columns that follow from others are not stored at all: `file` (the same on every row) is a
//! literal and `tcp_flags_str` is `tcp_flags` seen as letters. Both parts are held narrow
//! ([`crate::table::packed`]) and unpacked per query for the columns it names.
//! Measured on the generated 10M-packet capture (12 % of packets have a fact): 146 bytes per
//! packet as plain columns, 92 split, 36 split and packed. The builder also counts frames and
//! bytes per protocol stack (`stacks()`), which protocol share and the summary read instead of
//! grouping every packet.

use std::sync::Arc;

use polars::prelude::*;

use crate::error::Result;
use crate::table::events::{SPARSE, event_mask, filter_here};
use crate::table::kept_scan::{ColumnSource, KeptScan, file_column};
use crate::table::packed::{PackedScan, PackedTable, PackedTableBuilder};
use crate::table::schema::{PACKET_SCHEMA, col, flags_dtype, flags_text_of, text_dtype, text_mapping, unavailable};
use crate::table::stacks::{StackCount, stacks_table};

/// Columns rebuilt from others, never stored.
const DERIVED: [&str; 2] = [col::FILE, col::TCP_FLAGS_STR];

/// Which rows have an entry in the side table, and where: a bitmap with a running count per
/// 64-row word, so a row's entry is found in constant time.
#[derive(Default)]
struct RowIndex {
    words: Vec<u64>,
    /// Set bits in all earlier words.
    before: Vec<u32>,
}

impl RowIndex {
    fn set(&mut self, row: usize) {
        let w = row / 64;
        if self.words.len() <= w {
            self.words.resize(w + 1, 0);
        }
        self.words[w] |= 1 << (row % 64);
    }

    fn finish(&mut self, rows: usize) {
        self.words.resize(rows.div_ceil(64), 0);
        let mut n = 0u32;
        self.before = self
            .words
            .iter()
            .map(|w| {
                let b = n;
                n += w.count_ones();
                b
            })
            .collect();
    }

    /// The side-table row of table row `row`, if it has one.
    #[inline]
    fn get(&self, row: usize) -> Option<IdxSize> {
        let (w, bit) = (row / 64, row % 64);
        let word = *self.words.get(w)?;
        if word & (1 << bit) == 0 {
            return None;
        }
        let below = (word & ((1u64 << bit) - 1)).count_ones();
        Some((self.before[w] + below) as IdxSize)
    }

    fn bytes(&self) -> usize {
        self.words.len() * 8 + self.before.len() * 4
    }

    /// The rows set, ascending.
    fn rows(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(w, &word)| {
            let mut bits = word;
            std::iter::from_fn(move || {
                (bits != 0).then(|| {
                    let b = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    w * 64 + b
                })
            })
        })
    }
}

/// A capture's packet table (see the module docs). Cheap to clone: columns are shared.
#[derive(Clone)]
pub struct PacketStore {
    file: PlSmallStr,
    rows: usize,
    /// Every column but [`DERIVED`] and [`SPARSE`], in schema order, held narrow. None when
    /// only the event rows were kept (see [`PacketStoreBuilder::events_only`]).
    core: Option<Arc<PackedTable>>,
    /// The [`SPARSE`] columns of the event rows, in row order, held narrow (every stored
    /// column of them when there is no `core`).
    side: Arc<PackedTable>,
    index: Arc<RowIndex>,
    /// The frame number of the first row (1 but for a segment of a capture).
    first_frame: u32,
    /// The event rows, gathered column by column as queries ask for them.
    events: Arc<KeptScan>,
    stacks: Arc<Vec<StackCount>>,
}

impl PacketStore {
    pub fn height(&self) -> usize {
        self.rows
    }

    /// False when only the event rows were kept: `lazy()` then has no rows to give.
    pub fn is_whole(&self) -> bool {
        self.core.is_some()
    }

    /// Bytes held.
    pub fn estimated_size(&self) -> usize {
        self.core.as_ref().map_or(0, |c| c.estimated_size()) + self.side.estimated_size() + self.index.bytes()
    }

    /// The [`DERIVED`] columns as expressions over the stored ones.
    fn derived(&self) -> Vec<Expr> {
        vec![
            lit(self.file.as_str()).cast(text_dtype()).alias(col::FILE),
            col(col::TCP_FLAGS)
                .map(
                    |flags: Column| flags_text_of(&flags),
                    |_, f| Ok(Field::new(f.name().clone(), flags_dtype())),
                )
                .alias(col::TCP_FLAGS_STR),
        ]
    }

    /// The whole table, every column in schema order, as a lazy frame (one that fails with a
    /// clear error when only the event rows were kept; the loader never hands such a table out
    /// bare).
    pub fn lazy(&self) -> LazyFrame {
        let Some(core) = &self.core else {
            return unavailable("the packet table was not kept (only its event rows)");
        };
        let mut rebuilt = self.derived();
        for name in SPARSE {
            let Some(dtype) = self.side.schema().get(name).cloned() else {
                continue;
            };
            if self.side.all_null(name) {
                // Nothing in this capture (no credentials, no errors...): a null literal.
                rebuilt.push(lit(Null {}).cast(dtype).alias(name));
                continue;
            }
            let (index, side, first) = (self.index.clone(), self.side.clone(), self.first_frame);
            rebuilt.push(
                col(col::FRAME)
                    .map(
                        move |frames: Column| gather(&frames, &side.column(name, None)?, &index, first),
                        move |_, f| Ok(Field::new(f.name().clone(), dtype.clone())),
                    )
                    .alias(name),
            );
        }
        let order: Vec<Expr> = PACKET_SCHEMA.iter().map(|c| col(c.name)).collect();
        PackedScan::lazy(core).with_columns(rebuilt).select(order)
    }

    /// The whole table materialised.
    pub fn to_dataframe(&self) -> Result<DataFrame> {
        Ok(self.lazy().collect()?)
    }

    /// The event rows (see [`event_mask`]) with every column in schema order. Polars asks the
    /// scan for just the columns a query uses; each is gathered once and then kept. (Gathering
    /// every column up front cost ~0.2 s at 10M packets before the first query using events
    /// could start; the suite uses about a third of the columns.)
    pub fn events(&self) -> LazyFrame {
        self.events.lazy()
    }

    /// Frames and bytes per protocol stack, counted while the table was built.
    pub fn stack_counts(&self) -> &[StackCount] {
        &self.stacks
    }

    /// The `stacks()` table.
    pub fn stacks(&self) -> Result<DataFrame> {
        stacks_table(&self.file, &self.stacks)
    }
}

/// The parts of an in-memory table that its event columns are gathered from.
struct TableEvents {
    file: PlSmallStr,
    core: Option<Arc<PackedTable>>,
    side: Arc<PackedTable>,
    /// The event rows of each chunk of `core` (made on first use).
    rows: std::sync::OnceLock<Vec<Vec<u32>>>,
    index: Arc<RowIndex>,
}

impl ColumnSource for TableEvents {
    fn make(&self, names: &[PlSmallStr], _rows: usize) -> PolarsResult<Vec<Column>> {
        self.gather(names)
    }
}

impl TableEvents {
    /// Columns of the event rows, read row by row from the packed columns (or straight from
    /// the side table when it holds them all).
    fn gather(&self, names: &[PlSmallStr]) -> PolarsResult<Vec<Column>> {
        let Some(core) = &self.core else {
            return self.gather_each(names, &[]);
        };
        let rows = self.rows.get_or_init(|| core.rows_by_chunk(self.index.rows()));
        // Columns are gathered on two threads (the suite asks for ~14 at once).
        if names.len() > 1 {
            let (a, b) = names.split_at(names.len() / 2);
            let (a, b) = std::thread::scope(|s| {
                let a = s.spawn(|| self.gather_each(a, rows));
                let b = self.gather_each(b, rows);
                (a.join(), b)
            });
            let mut a = a.map_err(|_| polars_err!(ComputeError: "event gather thread panicked"))??;
            a.extend(b?);
            return Ok(a);
        }
        self.gather_each(names, rows)
    }

    fn gather_each(&self, names: &[PlSmallStr], rows: &[Vec<u32>]) -> PolarsResult<Vec<Column>> {
        // The side table holds the sparse columns of the event rows (all their stored columns
        // when only they were kept); the others come from the packed core.
        let take = |name: &str| match &self.core {
            _ if self.side.has(name) => self.side.column(name, None),
            Some(core) => core.gather(name, rows),
            None => Err(polars_err!(ColumnNotFound: "{name}")),
        };
        names
            .iter()
            .map(|name| match name.as_str() {
                col::FILE => file_column(&self.file, self.side.rows()),
                col::TCP_FLAGS_STR => flags_text_of(&take(col::TCP_FLAGS)?),
                _ => take(name),
            })
            .collect()
    }
}

/// A sparse column's values for the rows whose frame numbers are given (frame n is row
/// n - `first`).
fn gather(frames: &Column, values: &Column, index: &RowIndex, first: u32) -> PolarsResult<Column> {
    let frames = frames.as_materialized_series().cast(&DataType::UInt32)?;
    let rows: IdxCa = frames
        .u32()?
        .iter()
        .map(|f| f.and_then(|f| index.get(f.checked_sub(first)? as usize)))
        .collect_ca(PlSmallStr::from_static("row"));
    values.take(&rows)
}

/// Builds a [`PacketStore`] from decoded chunks in file order.
pub struct PacketStoreBuilder {
    file: PlSmallStr,
    events_only: bool,
    core: Option<PackedTableBuilder>,
    side: Option<PackedTableBuilder>,
    index: RowIndex,
    rows: usize,
    /// The frame number of the first row (see [`PacketStoreBuilder::starting_at`]).
    first_frame: u32,
    /// Stack code (None: no stack) -> frames, bytes.
    stacks: PlHashMap<Option<u32>, (u64, u64)>,
}

impl PacketStoreBuilder {
    pub fn new(file: &str) -> PacketStoreBuilder {
        PacketStoreBuilder {
            file: file.into(),
            events_only: false,
            core: None,
            side: None,
            index: RowIndex::default(),
            rows: 0,
            first_frame: 1,
            stacks: PlHashMap::default(),
        }
    }

    /// A builder whose rows start at frame `first_frame` (a segment of a capture).
    pub fn starting_at(self, first_frame: u32) -> PacketStoreBuilder {
        PacketStoreBuilder {
            first_frame: first_frame.max(1),
            ..self
        }
    }

    /// A builder that keeps only the event rows (every column of them) and the stack counts:
    /// all that `events()` and `stacks()` read, for a fraction of the packing work and memory.
    pub fn events_only(file: &str) -> PacketStoreBuilder {
        PacketStoreBuilder {
            events_only: true,
            ..Self::new(file)
        }
    }

    /// Add a chunk with every packet column (as the decoder makes them).
    pub fn push(&mut self, chunk: &DataFrame) -> Result<()> {
        self.push_with_events(chunk, &event_mask(chunk)?)
    }

    /// [`Self::push`] when the chunk's [`event_mask`] is already known.
    pub fn push_with_events(&mut self, chunk: &DataFrame, has: &BooleanChunked) -> Result<()> {
        // Sparse values are found by frame number, so frames must count up with the rows.
        let frames = chunk.column(col::FRAME)?.u32()?;
        let first = if frames.is_empty() { None } else { frames.get(0) };
        if chunk.height() > 0 && first != Some(self.rows as u32 + self.first_frame) {
            // The loader hands chunks over in file order; anything else is a bug.
            return Err(crate::error::Error::Internal("packet table chunks out of order"));
        }
        self.count_stacks(chunk)?;
        if self.events_only {
            let side = filter_here(&chunk.drop_many(DERIVED), has)?;
            self.rows += chunk.height();
            self.side
                .get_or_insert_with(|| PackedTableBuilder::new(side.schema()))
                .push(&side)?;
            return Ok(());
        }
        for (i, v) in has.iter().enumerate() {
            if v == Some(true) {
                self.index.set(self.rows + i);
            }
        }
        let side = filter_here(&chunk.select(SPARSE)?, has)?;
        let core = chunk.drop_many(DERIVED.into_iter().chain(SPARSE));
        self.rows += chunk.height();
        self.side
            .get_or_insert_with(|| PackedTableBuilder::new(side.schema()))
            .push(&side)?;
        self.core
            .get_or_insert_with(|| {
                // IP and payload lengths are a few header sizes below the frame's: stored as
                // that difference they take a byte or less a row (IP lengths on their own took
                // two: ~20 MB of the 10M table).
                // Sequence and acknowledgement numbers are random per connection, 4 bytes a
                // row in any layout of their own; stored after the last segment of the same
                // direction (flow and sending port) in the chunk, they move by about a
                // segment's size.
                PackedTableBuilder::new(core.schema())
                    .below(col::IP_LEN, col::WIRE_LEN)
                    .below(col::PAYLOAD_LEN, col::WIRE_LEN)
                    .after_key(col::TCP_SEQ, col::FLOW_ID, col::SRC_PORT)
                    .after_key(col::TCP_ACK, col::FLOW_ID, col::SRC_PORT)
            })
            .push(&core)?;
        Ok(())
    }

    fn count_stacks(&mut self, chunk: &DataFrame) -> Result<()> {
        let stacks = chunk.column(col::PROTOCOLS)?.to_physical_repr();
        let stacks = stacks.as_materialized_series().u32()?.rechunk();
        let wire = chunk.column(col::WIRE_LEN)?.as_materialized_series().u32()?.rechunk();
        // A capture has few stacks: sum frames and bytes in a small direct-mapped table (one
        // multiply and compare per packet) and touch the map only when a slot changes hands.
        const EMPTY: u64 = u64::MAX;
        const NULL: u64 = 1 << 32;
        let mut slots = [(EMPTY, 0u64, 0u64); 64];
        let mut flush = |(key, frames, bytes): (u64, u64, u64)| {
            if key != EMPTY {
                let e = self.stacks.entry((key != NULL).then_some(key as u32)).or_default();
                e.0 += frames;
                e.1 += bytes;
            }
        };
        for (s, w) in stacks.downcast_iter().zip(wire.downcast_iter()) {
            let valid = s.validity();
            for (i, (&code, &w)) in s.values().iter().zip(w.values().iter()).enumerate() {
                let key = if valid.is_none_or(|v| v.get_bit(i)) {
                    u64::from(code)
                } else {
                    NULL
                };
                let slot = &mut slots[(key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as usize];
                if slot.0 != key {
                    flush(std::mem::replace(slot, (key, 0, 0)));
                }
                slot.1 += 1;
                slot.2 += u64::from(w);
            }
        }
        slots.into_iter().for_each(flush);
        Ok(())
    }

    pub fn finish(mut self) -> Result<PacketStore> {
        if self.side.is_none() {
            // No packets: split an empty table, so both parts still carry their columns.
            self.push(&crate::table::packet_columns::empty_packets()?)?;
        }
        self.index.finish(self.rows);
        let core = self.core.map(PackedTableBuilder::finish);
        let (Some(side), true) = (
            self.side.map(PackedTableBuilder::finish),
            core.is_some() != self.events_only,
        ) else {
            return Err(crate::error::Error::Internal("packet table without its columns"));
        };
        let mapping = text_mapping();
        let mut stacks: Vec<StackCount> = self
            .stacks
            .into_iter()
            .map(|(code, (frames, bytes))| StackCount {
                protocols: code.and_then(|c| mapping.cat_to_str(c)).map(str::to_string),
                frames,
                bytes,
            })
            .collect();
        stacks.sort_by(|a, b| b.frames.cmp(&a.frames).then_with(|| a.protocols.cmp(&b.protocols)));
        let index = Arc::new(self.index);
        let events = KeptScan::new(
            Box::new(TableEvents {
                file: self.file.clone(),
                core: core.clone(),
                side: side.clone(),
                rows: std::sync::OnceLock::new(),
                index: index.clone(),
            }),
            "events",
            crate::table::packet_columns::empty_packets()?.schema().clone(),
            side.rows(),
        );
        Ok(PacketStore {
            file: self.file,
            rows: self.rows,
            core,
            side,
            index,
            first_frame: self.first_frame,
            events,
            stacks: Arc::new(stacks),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_index_finds_each_set_row() {
        let mut ix = RowIndex::default();
        let set = [0usize, 5, 63, 64, 65, 200, 1000];
        for r in set {
            ix.set(r);
        }
        ix.finish(1001);
        for (k, r) in set.iter().enumerate() {
            assert_eq!(ix.get(*r), Some(k as IdxSize), "row {r}");
        }
        for r in [1usize, 62, 66, 199, 999, 5000] {
            assert_eq!(ix.get(r), None, "row {r}");
        }
    }

    /// Split and packed from uneven chunks, a table gives back every column and value, and its
    /// events are exactly the event rows.
    fn reads_back_whole(name: &str, full: &DataFrame, step: usize) -> PacketStore {
        let mut b = PacketStoreBuilder::new(name);
        for off in (0..full.height()).step_by(step) {
            b.push(&full.slice(off as i64, step)).unwrap();
        }
        let pf = b.finish().unwrap();
        assert_eq!(pf.height(), full.height(), "{name}");
        let back = pf.to_dataframe().unwrap();
        assert!(full.equals_missing(&back), "{name}");
        let events = pf.events().collect().unwrap();
        let want = full.filter(&event_mask(full).unwrap()).unwrap();
        assert!(want.equals_missing(&events), "{name}: events");
        // Some columns only: the rest is never unpacked, and the values agree.
        let some = pf
            .lazy()
            .select([
                col(col::TS),
                col(col::SRC_IP),
                col(col::TCP_FLAGS_STR),
                col(col::DNS_QNAME),
            ])
            .collect()
            .unwrap();
        let want = full
            .select([col::TS, col::SRC_IP, col::TCP_FLAGS_STR, col::DNS_QNAME])
            .unwrap();
        assert!(want.equals_missing(&some), "{name}: selected columns");
        pf
    }

    #[test]
    fn every_shared_capture_reads_back_whole() {
        let files = crate::testdata::shared_capture_files();
        if files.is_empty() {
            return;
        }
        let mut seen = 0;
        // Which layouts real captures' times and TCP numbers took (each must read back whole).
        let mut kinds = std::collections::BTreeSet::new();
        for path in files {
            // Unreadable captures (a corrupt header) have their own tests.
            let Ok((name, full)) = crate::table::packet_columns::decode_whole(&path) else {
                continue;
            };
            let pf = reads_back_whole(&name, &full, 1000);
            if let Some(core) = &pf.core {
                for c in [col::TS, col::TCP_SEQ, col::TCP_ACK] {
                    kinds.extend(core.kinds(c).into_iter().map(|k| (c, k)));
                }
            }
            seen += 1;
        }
        assert!(seen >= 30, "only {seen} captures read");
        for want in [
            (col::TS, "steps"),
            (col::TCP_SEQ, "after-key"),
            (col::TCP_ACK, "after-key"),
        ] {
            assert!(kinds.contains(&want), "{want:?} in none of them: {kinds:?}");
        }
    }

    #[test]
    fn split_table_reads_back_as_the_full_table() {
        let (name, full) = crate::table::packet_columns::decode_whole(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/captures/sample.pcap"
        )))
        .unwrap();
        let pf = reads_back_whole(&name, &full, 70);
        assert!(pf.estimated_size() < full.estimated_size());
        // A filtered query still finds its sparse values by frame number.
        let dns = pf
            .lazy()
            .filter(col(col::DNS_QNAME).is_not_null())
            .select([col(col::FRAME), col(col::DNS_QNAME)])
            .collect()
            .unwrap();
        let want = full
            .clone()
            .lazy()
            .filter(col(col::DNS_QNAME).is_not_null())
            .select([col(col::FRAME), col(col::DNS_QNAME)])
            .collect()
            .unwrap();
        assert!(dns.height() > 0);
        assert!(dns.equals_missing(&want));
        // A query that does not name a sparse column never builds one.
        let plan = pf
            .lazy()
            .group_by([col(col::SRC_IP)])
            .agg([len()])
            .describe_optimized_plan()
            .unwrap();
        assert!(!plan.contains(col::DNS_QNAME), "{plan}");
        let plan = pf
            .lazy()
            .select([col(col::DNS_QNAME)])
            .describe_optimized_plan()
            .unwrap();
        assert!(plan.contains(col::DNS_QNAME) && !plan.contains(col::TLS_SNI), "{plan}");
        // Chunks out of order would misplace sparse values: refused.
        let mut wrong = PacketStoreBuilder::new(&name);
        assert!(wrong.push(&full.slice(70, 70)).is_err());
        // No packets: the empty table with the full schema.
        let empty = PacketStoreBuilder::new("x").finish().unwrap().to_dataframe().unwrap();
        assert_eq!(empty.height(), 0);
        assert_eq!(
            empty.schema(),
            crate::table::packet_columns::empty_packets().unwrap().schema()
        );
    }
}
