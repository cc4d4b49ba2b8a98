//! flow: the flow table, built in one streaming pass over packet-table chunks. The loader feeds
//! each decoded chunk as it is made, so a capture's flows are ready when its packets are; the
//! cache and `watch` feed whole tables the same way. A hash map keyed by flow id holds each
//! flow's two directions; a Polars group-by over 10M packets cost 4 s and 1.6 GB here, this pass
//! well under a second.
//!
//! Rules: a direction is (flow id, sender address, sender port). The direction seen first is the
//! originator, unless its first packet is a SYN-ACK and the other direction was seen too: then
//! the capture began after the SYN and the other side is. `state`/`conn_state` follow from the
//! per-direction SYN, SYN-ACK, RST and FIN counts (see [`crate::table::schema::FLOW_SCHEMA`]).

use polars::prelude::*;
use polars_arrow::array::{Array, PrimitiveArray};
use polars_arrow::types::NativeType;

use crate::decode::tcp::{ACK, FIN, RST, SYN};
use crate::decode::{App, L4};
use crate::error::Result;
use crate::table::column::Col;
use crate::table::schema::{col, fcol};

/// One direction of a flow. Held for every flow until the table is made (500k flows in the
/// 10M-packet capture), so optional codes are stored with a "none" value rather than as
/// `Option`s (112 -> 88 bytes).
#[derive(Clone)]
struct Dir {
    /// Text codes; [`NONE32`] for none.
    src_ip: u32,
    dst_ip: u32,
    file: u32,
    src_port: Option<u16>,
    dst_port: Option<u16>,
    /// Enum codes and the IP version; [`NONE8`] for none.
    l4: u8,
    ip_version: u8,
    /// Application of the first packet with a payload and a recognised application.
    app_payload: u8,
    /// Application of the first packet.
    app_first: u8,
    starts_synack: bool,
    t0: i64,
    t1: i64,
    f0: u32,
    f1: u32,
    /// Saturates (at 4G packets one way).
    packets: u32,
    bytes: u64,
    payload: u64,
    syn: u32,
    synack: u32,
    rst: u32,
    fin: u32,
}

/// A flow's directions in the order first seen (more than two only when flow ids collide). The
/// second is held inline: reached through a heap pointer, it cost reply packets a second cache
/// miss.
struct Acc {
    id: u64,
    first: Dir,
    second: Option<Dir>,
    /// Further directions: only when flow ids collide. Boxed: 8 bytes in every flow, not 24.
    #[allow(clippy::box_collection)]
    more: Option<Box<Vec<Dir>>>,
}

/// No text code is this large.
const NONE32: u32 = u32::MAX;
/// No enum code or IP version is this large.
const NONE8: u8 = u8::MAX;

fn pack32(v: Option<u32>) -> u32 {
    v.unwrap_or(NONE32)
}

fn opt32(v: u32) -> Option<u32> {
    (v != NONE32).then_some(v)
}

fn pack8(v: Option<u8>) -> u8 {
    v.unwrap_or(NONE8)
}

fn opt8(v: u8) -> Option<u8> {
    (v != NONE8).then_some(v)
}

impl Acc {
    /// The direction sent from `src`, if seen before.
    #[inline]
    fn dir(&mut self, src: (Option<u32>, Option<u16>)) -> Option<&mut Dir> {
        let from = |d: &Dir| (opt32(d.src_ip), d.src_port) == src;
        if from(&self.first) {
            return Some(&mut self.first);
        }
        match &mut self.second {
            Some(d) if from(d) => Some(d),
            Some(_) => self.more.as_mut()?.iter_mut().find(|d| from(d)),
            None => None,
        }
    }

    /// Add a direction not seen before.
    fn add_dir(&mut self, d: Dir) -> &mut Dir {
        if self.second.is_none() {
            return self.second.insert(d);
        }
        let more = self.more.get_or_insert_with(Box::default);
        more.push(d);
        more.last_mut().expect("just pushed")
    }

    /// Ask for the cache lines a packet of this flow will touch.
    #[inline]
    fn prefetch(flows: &Blocks<Acc>, k: usize) {
        if let Some(acc) = flows.get(k) {
            let base: *const u8 = (acc as *const Acc).cast();
            for line in 0..size_of::<Acc>().div_ceil(64) {
                crate::capture::prefetch::prefetch_ptr(base.wrapping_add(line * 64));
            }
        }
    }
}

/// Items in blocks of a fixed size, so growing never moves the ones already there: a Vec of
/// flows doubling at ~500k flows reserved ~270 MB and copied half of it (heaptrack's largest
/// allocation of a 10M load; the peak RSS moved by only a few MB, as untouched capacity costs
/// nothing).
struct Blocks<T> {
    blocks: Vec<Vec<T>>,
    len: usize,
}

/// 2^BLOCK_BITS items per block.
const BLOCK_BITS: usize = 14;

impl<T> Default for Blocks<T> {
    fn default() -> Self {
        Blocks {
            blocks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Blocks<T> {
    fn len(&self) -> usize {
        self.len
    }

    fn push(&mut self, v: T) -> &mut T {
        if self.len.trailing_zeros() as usize >= BLOCK_BITS || self.blocks.is_empty() {
            self.blocks.push(Vec::with_capacity(1 << BLOCK_BITS));
        }
        self.len += 1;
        let block = self.blocks.last_mut().expect("a block with room");
        block.push(v);
        block.last_mut().expect("just pushed")
    }

    #[inline]
    fn get(&self, k: usize) -> Option<&T> {
        self.blocks.get(k >> BLOCK_BITS)?.get(k & ((1 << BLOCK_BITS) - 1))
    }

    #[inline]
    fn get_mut(&mut self, k: usize) -> Option<&mut T> {
        self.blocks
            .get_mut(k >> BLOCK_BITS)?
            .get_mut(k & ((1 << BLOCK_BITS) - 1))
    }
}

/// Builds a flow table from packet-table chunks fed in file order.
#[derive(Default)]
pub struct FlowBuilder {
    index: FlowIndex,
    flows: Blocks<Acc>,
}

/// Flow id -> position in `FlowBuilder::flows`. Open addressing on the id's low bits (ids are
/// hashes already), so the slot a packet a few rows ahead needs can be asked for ahead of time:
/// with hundreds of thousands of flows, each lookup was a cache miss.
#[derive(Default)]
struct FlowIndex {
    /// (id, position); `FREE` ids mark empty slots. Length is zero or a power of two.
    slots: Vec<(u64, u32)>,
    len: usize,
}

/// No flow id is this large (ids are below 2^63).
const FREE: u64 = u64::MAX;

impl FlowIndex {
    #[inline]
    fn home(&self, id: u64) -> usize {
        id as usize & (self.slots.len() - 1)
    }

    #[inline]
    fn get(&self, id: u64) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let mut i = self.home(id);
        loop {
            let (k, v) = self.slots[i];
            if k == id {
                return Some(v);
            }
            if k == FREE {
                return None;
            }
            i = (i + 1) & (self.slots.len() - 1);
        }
    }

    /// Add an id that is not in the index. Grows at three quarters full: a hit still finds its
    /// slot within a cache line or two, and the table (16 bytes a slot) is half what growing at
    /// half full kept (~33 -> ~17 MB at 500k flows).
    fn insert(&mut self, id: u64, v: u32) {
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            let size = (self.slots.len() * 2).max(1024);
            let old = std::mem::replace(&mut self.slots, vec![(FREE, 0); size]);
            for (k, v) in old.into_iter().filter(|(k, _)| *k != FREE) {
                self.place(k, v);
            }
        }
        self.place(id, v);
        self.len += 1;
    }

    fn place(&mut self, id: u64, v: u32) {
        let mut i = self.home(id);
        while self.slots[i].0 != FREE {
            i = (i + 1) & (self.slots.len() - 1);
        }
        self.slots[i] = (id, v);
    }

    #[inline]
    fn prefetch(&self, id: u64) {
        if !self.slots.is_empty() {
            let i = self.home(id);
            crate::capture::prefetch::prefetch(&self.slots, i);
        }
    }

    #[cfg(test)]
    fn iter(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.slots.iter().copied().filter(|(k, _)| *k != FREE)
    }
}

/// One column of a chunk as a single Arrow array of its physical type.
fn physical<T>(df: &DataFrame, name: &str) -> Result<PrimitiveArray<T::Native>>
where
    T: PolarsNumericType,
    T::Native: NativeType,
{
    let c = df.column(name)?.to_physical_repr();
    let s = c.as_materialized_series().rechunk();
    let ca = s.unpack::<T>()?;
    Ok(ca.downcast_as_array().clone())
}

/// Row `i` of a column, None when null or past its end. Bounds-checked (it had been an unchecked
/// read behind a safe signature): every column of a chunk has the chunk's rows, so the check
/// always passes and the branch is predicted; the 10M load measured the same either way.
#[inline]
fn get<T: NativeType>(a: &PrimitiveArray<T>, i: usize) -> Option<T> {
    use polars_arrow::array::StaticArray;
    a.get(i)
}

/// The packet columns [`FlowBuilder::add`] reads: all a table needs to make its flows.
pub const INPUTS: [&str; 14] = [
    col::FILE,
    col::FRAME,
    col::TS,
    col::WIRE_LEN,
    col::IP_VERSION,
    col::SRC_IP,
    col::DST_IP,
    col::L4,
    col::SRC_PORT,
    col::DST_PORT,
    col::TCP_FLAGS,
    col::PAYLOAD_LEN,
    col::APP,
    col::FLOW_ID,
];

impl FlowBuilder {
    /// Add the packets of one chunk of a packet table (any subset of rows, in file order).
    pub fn add(&mut self, df: &DataFrame) -> Result<()> {
        let n = df.height();
        if n == 0 {
            return Ok(());
        }
        let flow_id = physical::<UInt64Type>(df, col::FLOW_ID)?;
        if flow_id.null_count() == n {
            return Ok(());
        }
        let file = physical::<UInt32Type>(df, col::FILE)?;
        let frame_no = physical::<UInt32Type>(df, col::FRAME)?;
        let ts = physical::<Int64Type>(df, col::TS)?;
        let wire_len = physical::<UInt32Type>(df, col::WIRE_LEN)?;
        let ip_version = physical::<UInt8Type>(df, col::IP_VERSION)?;
        let src_ip = physical::<UInt32Type>(df, col::SRC_IP)?;
        let dst_ip = physical::<UInt32Type>(df, col::DST_IP)?;
        let l4 = physical::<UInt8Type>(df, col::L4)?;
        let src_port = physical::<UInt16Type>(df, col::SRC_PORT)?;
        let dst_port = physical::<UInt16Type>(df, col::DST_PORT)?;
        let flags = physical::<UInt8Type>(df, col::TCP_FLAGS)?;
        let payload_len = physical::<UInt32Type>(df, col::PAYLOAD_LEN)?;
        let app = physical::<UInt8Type>(df, col::APP)?;
        let unknown = App::Unknown as u8;
        // The flow slot of packet i + AHEAD, found when it is prefetched; a flow's slot never
        // changes once given, so a found one is used as is (a miss is looked up again: the flow
        // may have been added since).
        let ahead = crate::capture::prefetch::PREFETCH_AHEAD;
        let mut found: [Option<u32>; 16] = [None; 16];
        const _: () = assert!(crate::capture::prefetch::PREFETCH_AHEAD < 16);
        for i in 0..n {
            let Some(id) = get(&flow_id, i) else { continue };
            let (sip, sport) = (get(&src_ip, i), get(&src_port, i));
            let f = get(&flags, i).unwrap_or(0);
            let pl = get(&payload_len, i).unwrap_or(0);
            let a = get(&app, i);
            let t = get(&ts, i).unwrap_or(0);
            let fr = get(&frame_no, i).unwrap_or(0);
            let synack = f & SYN != 0 && f & ACK != 0;
            let with_app = if pl > 0 && a.is_some_and(|a| a != unknown) {
                a
            } else {
                None
            };
            // Two steps ahead: the index slot of the packet 2×AHEAD rows on, then the flow itself
            // of the packet AHEAD rows on (its slot is in cache by then). With hundreds of
            // thousands of flows both are cache misses otherwise.
            if let Some(id2) = (i + 2 * ahead < n).then(|| get(&flow_id, i + 2 * ahead)).flatten() {
                self.index.prefetch(id2);
            }
            let next = (i + ahead < n)
                .then(|| get(&flow_id, i + ahead))
                .flatten()
                .and_then(|id1| self.index.get(id1));
            if let Some(k) = next {
                Acc::prefetch(&self.flows, k as usize);
            }
            found[(i + ahead) % 16] = next;
            let slot = found[i % 16].take().or_else(|| self.index.get(id));
            let dir = match slot {
                Some(k) => self.flows.get_mut(k as usize).and_then(|acc| acc.dir((sip, sport))),
                None => None,
            };
            let dir = match dir {
                Some(d) => d,
                None => {
                    let d = Dir {
                        src_ip: pack32(sip),
                        src_port: sport,
                        dst_ip: pack32(get(&dst_ip, i)),
                        dst_port: get(&dst_port, i),
                        file: pack32(get(&file, i)),
                        l4: pack8(get(&l4, i)),
                        ip_version: pack8(get(&ip_version, i)),
                        app_payload: NONE8,
                        app_first: pack8(a),
                        starts_synack: synack,
                        t0: t,
                        t1: t,
                        f0: fr,
                        f1: fr,
                        packets: 0,
                        bytes: 0,
                        payload: 0,
                        syn: 0,
                        synack: 0,
                        rst: 0,
                        fin: 0,
                    };
                    match self.index.get(id).and_then(|k| self.flows.get_mut(k as usize)) {
                        Some(acc) => acc.add_dir(d),
                        None => {
                            self.index.insert(id, self.flows.len() as u32);
                            &mut self
                                .flows
                                .push(Acc {
                                    id,
                                    first: d,
                                    second: None,
                                    more: None,
                                })
                                .first
                        }
                    }
                }
            };
            if dir.app_payload == NONE8 {
                dir.app_payload = pack8(with_app);
            }
            dir.t0 = dir.t0.min(t);
            dir.t1 = dir.t1.max(t);
            dir.f0 = dir.f0.min(fr);
            dir.f1 = dir.f1.max(fr);
            dir.packets = dir.packets.saturating_add(1);
            dir.bytes += u64::from(get(&wire_len, i).unwrap_or(0));
            dir.payload += u64::from(pl);
            dir.syn += u32::from(f & SYN != 0 && f & ACK == 0);
            dir.synack += u32::from(synack);
            dir.rst += u32::from(f & RST != 0);
            dir.fin += u32::from(f & FIN != 0);
        }
        Ok(())
    }

    /// Add a whole table, chunk by chunk.
    pub fn add_table(&mut self, df: &DataFrame) -> Result<()> {
        let step = 1 << 16;
        let mut off = 0;
        while off < df.height() {
            self.add(&df.slice(off as i64, step))?;
            off += step;
        }
        Ok(())
    }

    /// The flow table, one row per flow in order of first packet.
    pub fn finish(self) -> Result<DataFrame> {
        self.finish_in_parts(1 << BLOCK_BITS)
    }

    /// [`FlowBuilder::finish`] with the flows made `part` at a time. Runs when decoding is over,
    /// on every core (0.17 s on one at 500k flows); each thread frees its blocks of flows as it
    /// turns them into rows, so the flows and their table are never both held whole. (The 10M
    /// load's peak did not move: it is reached while decoding, before this.)
    fn finish_in_parts(self, part: usize) -> Result<DataFrame> {
        let FlowBuilder { index, flows } = self;
        drop(index);
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let mut blocks = flows.blocks;
        let per_thread = blocks.len().div_ceil(cores).max(1);
        let mut shares = Vec::new();
        while !blocks.is_empty() {
            let rest = blocks.split_off(per_thread.min(blocks.len()));
            shares.push(std::mem::replace(&mut blocks, rest));
        }
        let parts: Vec<Result<Vec<DataFrame>>> = std::thread::scope(|s| {
            let handles: Vec<_> = shares
                .into_iter()
                .map(|share| {
                    s.spawn(move || {
                        let mut out = Vec::new();
                        for block in share {
                            for flows in block.chunks(part.max(1)) {
                                out.push(table_of(flows)?);
                            }
                        }
                        Ok(out)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(crate::error::Error::Internal("a flow table thread panicked")))
                })
                .collect()
        });
        let mut df = table_of(&[])?;
        for p in parts {
            for chunk in p? {
                df.vstack_mut_owned(chunk)?;
            }
        }
        Ok(df)
    }
}

/// The flow table rows of `flows`, in that order.
fn table_of(flows: &[Acc]) -> Result<DataFrame> {
    let n = flows.len();
    let flow_id: Vec<u64> = flows.iter().map(|acc| acc.id).collect();
    let mut file = Col::<u32>::with_capacity(n);
    let mut l4 = Col::<u8>::with_capacity(n);
    let mut ip_version = Col::<u8>::with_capacity(n);
    let mut src_ip = Col::<u32>::with_capacity(n);
    let mut src_port = Col::<u16>::with_capacity(n);
    let mut dst_ip = Col::<u32>::with_capacity(n);
    let mut dst_port = Col::<u16>::with_capacity(n);
    let mut app = Col::<u8>::with_capacity(n);
    let (mut first_ts, mut last_ts) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut duration = Vec::with_capacity(n);
    let (mut first_frame, mut last_frame) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let [
        mut packets,
        mut bytes,
        mut pkts_fwd,
        mut pkts_rev,
        mut bytes_fwd,
        mut bytes_rev,
        mut pl_fwd,
        mut pl_rev,
    ] = std::array::from_fn::<Vec<u64>, 8, _>(|_| Vec::with_capacity(n));
    let [mut syn, mut syn_ack, mut rst_fwd, mut rst_rev, mut fin_fwd, mut fin_rev] =
        std::array::from_fn::<Vec<u32>, 6, _>(|_| Vec::with_capacity(n));
    let mut state = Col::<u32>::with_capacity(n);
    let mut conn_state = Col::<u32>::with_capacity(n);
    let mapping = crate::table::schema::text_mapping();
    let code = |s: &str| mapping.insert_cat(s).unwrap_or(0);
    let states: Vec<u32> = STATES.iter().map(|s| code(s)).collect();
    let conn_states: Vec<u32> = CONN_STATES.iter().map(|s| code(s)).collect();

    let mut many: Vec<&Dir> = Vec::new();
    for acc in flows {
        // Nearly every flow has one or two directions: no allocation for those.
        let one = [&acc.first];
        let pair;
        let dirs: &[&Dir] = match (&acc.second, acc.more.as_deref().map_or(&[][..], Vec::as_slice)) {
            (None, _) => &one,
            (Some(other), []) => {
                pair = if other.f0 < acc.first.f0 {
                    [other, &acc.first]
                } else {
                    [&acc.first, other]
                };
                &pair
            }
            (Some(second), more) => {
                many.clear();
                many.push(&acc.first);
                many.push(second);
                many.extend(more);
                many.sort_by_key(|d| d.f0);
                &many
            }
        };
        let two = dirs.len() == 2;
        let swap = two && dirs[0].starts_synack;
        let (o, r) = match (two, swap) {
            (true, true) => (dirs[1], Some(dirs[0])),
            (true, false) => (dirs[0], Some(dirs[1])),
            _ => (dirs[0], None),
        };
        let first = dirs[0];
        file.push(opt32(first.file));
        l4.push(opt8(first.l4));
        ip_version.push(opt8(first.ip_version));
        src_ip.push(opt32(o.src_ip));
        src_port.push(o.src_port);
        dst_ip.push(opt32(o.dst_ip));
        dst_port.push(o.dst_port);
        app.push(dirs.iter().find_map(|d| opt8(d.app_payload)).or(opt8(first.app_first)));
        let t0 = dirs.iter().map(|d| d.t0).min().unwrap_or(0);
        let t1 = dirs.iter().map(|d| d.t1).max().unwrap_or(0);
        first_ts.push(t0);
        last_ts.push(t1);
        duration.push((t1 - t0) as f64 / 1e9);
        first_frame.push(dirs.iter().map(|d| d.f0).min().unwrap_or(0));
        last_frame.push(dirs.iter().map(|d| d.f1).max().unwrap_or(0));
        packets.push(dirs.iter().map(|d| u64::from(d.packets)).sum());
        bytes.push(dirs.iter().map(|d| d.bytes).sum());
        let rv = |f: fn(&Dir) -> u64| r.map_or(0, f);
        pkts_fwd.push(u64::from(o.packets));
        pkts_rev.push(rv(|d| u64::from(d.packets)));
        bytes_fwd.push(o.bytes);
        bytes_rev.push(rv(|d| d.bytes));
        pl_fwd.push(o.payload);
        pl_rev.push(rv(|d| d.payload));
        let counts = Counts {
            tcp: first.l4 == L4::Tcp as u8,
            syn: o.syn > 0,
            synack: r.is_some_and(|d| d.synack > 0),
            rst_o: o.rst > 0,
            rst_r: r.is_some_and(|d| d.rst > 0),
            fin_o: o.fin > 0,
            fin_r: r.is_some_and(|d| d.fin > 0),
            reply: r.is_some_and(|d| d.packets > 0),
        };
        syn.push(o.syn);
        syn_ack.push(r.map_or(0, |d| d.synack));
        rst_fwd.push(o.rst);
        rst_rev.push(r.map_or(0, |d| d.rst));
        fin_fwd.push(o.fin);
        fin_rev.push(r.map_or(0, |d| d.fin));
        state.push(Some(states[counts.state()]));
        conn_state.push(Some(conn_states[counts.conn_state()]));
    }

    let ts = |name: &str, v: Vec<i64>| {
        Int64Chunked::from_vec(name.into(), v)
            .into_datetime(TimeUnit::Nanoseconds, Some(TimeZone::UTC))
            .into_column()
    };
    let u64c = |name: &str, v: Vec<u64>| UInt64Chunked::from_vec(name.into(), v).into_column();
    let u32c = |name: &str, v: Vec<u32>| UInt32Chunked::from_vec(name.into(), v).into_column();
    let cat = crate::table::schema::cat_dtype;
    let columns = vec![
        u64c(fcol::FLOW_ID, flow_id),
        crate::table::column::cat32(fcol::FILE, file, cat()),
        crate::table::column::enum8(fcol::L4, l4, &crate::table::schema::L4_DTYPE),
        crate::table::column::prim::<UInt8Type>(fcol::IP_VERSION, ip_version),
        crate::table::column::cat32(fcol::SRC_IP, src_ip, cat()),
        crate::table::column::prim::<UInt16Type>(fcol::SRC_PORT, src_port),
        crate::table::column::cat32(fcol::DST_IP, dst_ip, cat()),
        crate::table::column::prim::<UInt16Type>(fcol::DST_PORT, dst_port),
        crate::table::column::enum8(fcol::APP, app, &crate::table::schema::APP_DTYPE),
        ts(fcol::FIRST_TS, first_ts),
        ts(fcol::LAST_TS, last_ts),
        Float64Chunked::from_vec(fcol::DURATION_S.into(), duration).into_column(),
        u32c(fcol::FIRST_FRAME, first_frame),
        u32c(fcol::LAST_FRAME, last_frame),
        u64c(fcol::PACKETS, packets),
        u64c(fcol::BYTES, bytes),
        u64c(fcol::PKTS_FWD, pkts_fwd),
        u64c(fcol::PKTS_REV, pkts_rev),
        u64c(fcol::BYTES_FWD, bytes_fwd),
        u64c(fcol::BYTES_REV, bytes_rev),
        u64c(fcol::PAYLOAD_FWD, pl_fwd),
        u64c(fcol::PAYLOAD_REV, pl_rev),
        u32c(fcol::SYN, syn),
        u32c(fcol::SYN_ACK, syn_ack),
        u32c(fcol::RST_FWD, rst_fwd),
        u32c(fcol::RST_REV, rst_rev),
        u32c(fcol::FIN_FWD, fin_fwd),
        u32c(fcol::FIN_REV, fin_rev),
        crate::table::column::cat32(fcol::STATE, state, cat()),
        crate::table::column::cat32(fcol::CONN_STATE, conn_state, cat()),
    ];
    Ok(DataFrame::new(n, columns)?)
}

/// The flow table of a whole packet table.
pub fn flows_of(packets: &DataFrame) -> Result<DataFrame> {
    let mut b = FlowBuilder::default();
    b.add_table(packets)?;
    b.finish()
}

/// An empty flow table with every column typed.
pub fn empty_flows() -> Result<DataFrame> {
    FlowBuilder::default().finish()
}

const STATES: [&str; 8] = [
    "one_way",
    "two_way",
    "midstream",
    "rejected",
    "attempted",
    "reset",
    "closed",
    "established",
];
const CONN_STATES: [&str; 9] = ["S0", "SF", "OTH", "REJ", "RSTOS0", "SH", "RSTO", "RSTR", "S1"];

/// What a flow's flag counts say, for its state.
struct Counts {
    tcp: bool,
    syn: bool,
    synack: bool,
    rst_o: bool,
    rst_r: bool,
    fin_o: bool,
    fin_r: bool,
    reply: bool,
}

impl Counts {
    /// Index into [`STATES`].
    fn state(&self) -> usize {
        let attempt = self.syn && !self.synack;
        match () {
            _ if !self.tcp => usize::from(self.reply),
            _ if !self.syn && !self.synack => 2,
            _ if attempt && self.rst_r => 3,
            _ if attempt && !self.reply => 4,
            _ if self.rst_o || self.rst_r => 5,
            _ if self.fin_o && self.fin_r => 6,
            _ => 7,
        }
    }

    /// Index into [`CONN_STATES`], Zeek's names.
    fn conn_state(&self) -> usize {
        let attempt = self.syn && !self.synack;
        match () {
            _ if !self.tcp => usize::from(self.reply),
            _ if !self.syn && !self.synack => 2,
            _ if attempt && self.rst_r => 3,
            _ if attempt && self.rst_o => 4,
            _ if attempt && self.fin_o => 5,
            _ if attempt => 0,
            _ if self.rst_o => 6,
            _ if self.rst_r => 7,
            _ if self.fin_o && self.fin_r => 1,
            _ => 8,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::RawRecord;
    use crate::decode::{Addr, Packet};
    use crate::table::interner::Interner;
    use crate::table::packet_columns::PacketColumns;

    #[test]
    fn flow_index_finds_every_id_through_collisions_and_growth() {
        let mut index = FlowIndex::default();
        // Ids sharing their low bits land on the same home slot and probe past each other;
        // 5000 of them grow the table several times.
        let ids: Vec<u64> = (0..5000u64).map(|i| (i << 20) | 7).chain([0, (1 << 63) - 1]).collect();
        for (k, &id) in ids.iter().enumerate() {
            assert_eq!(index.get(id), None, "{id} before insert");
            index.insert(id, k as u32);
        }
        for (k, &id) in ids.iter().enumerate() {
            assert_eq!(index.get(id), Some(k as u32), "{id}");
        }
        assert_eq!(index.get(8), None);
        let mut all: Vec<(u64, u32)> = index.iter().collect();
        all.sort_by_key(|(_, k)| *k);
        assert_eq!(
            all,
            ids.iter()
                .enumerate()
                .map(|(k, &id)| (id, k as u32))
                .collect::<Vec<_>>()
        );
    }

    /// One TCP packet: (time s, from, to, flags, payload bytes).
    type Tcp = (i64, ([u8; 4], u16), ([u8; 4], u16), u8, u32);

    fn table(packets: &[Tcp]) -> DataFrame {
        let mut cols = PacketColumns::with_capacity(packets.len());
        let mut it = Interner::default();
        for (i, &(t, (src, sport), (dst, dport), flags, payload)) in packets.iter().enumerate() {
            let p = Packet {
                ip_version: Some(4),
                src_ip: Some(Addr::v4(src)),
                dst_ip: Some(Addr::v4(dst)),
                ip_proto: Some(6),
                l4: Some(L4::Tcp),
                src_port: Some(sport),
                dst_port: Some(dport),
                tcp_flags: Some(flags),
                payload_len: Some(payload),
                app: Some(if payload > 0 { App::Http } else { App::Unknown }),
                ..Default::default()
            };
            let rec = RawRecord {
                ts_ns: t * 1_000_000_000,
                wire_len: 54 + payload,
                link: 1,
                data: &[],
            };
            cols.push(&rec, i as u32 + 1, &p, &mut it);
        }
        cols.into_dataframe(0).unwrap()
    }

    fn text(df: &DataFrame, c: &str) -> Vec<String> {
        let s = df
            .column(c)
            .unwrap()
            .as_materialized_series()
            .cast(&DataType::String)
            .unwrap();
        s.str().unwrap().iter().map(|v| v.unwrap_or("").to_string()).collect()
    }

    fn u64s(df: &DataFrame, c: &str) -> Vec<u64> {
        let s = df
            .column(c)
            .unwrap()
            .as_materialized_series()
            .cast(&DataType::UInt64)
            .unwrap();
        s.u64().unwrap().iter().map(|v| v.unwrap_or(0)).collect()
    }

    const C: [u8; 4] = [10, 0, 0, 1];
    const S: [u8; 4] = [10, 0, 0, 2];

    #[test]
    fn handshake_and_close_make_one_closed_flow_from_the_client() {
        let df = table(&[
            (0, (C, 40000), (S, 80), SYN, 0),
            (1, (S, 80), (C, 40000), SYN | ACK, 0),
            (2, (C, 40000), (S, 80), ACK, 0),
            (3, (C, 40000), (S, 80), ACK, 100),
            (4, (S, 80), (C, 40000), ACK, 1000),
            (5, (C, 40000), (S, 80), FIN | ACK, 0),
            (6, (S, 80), (C, 40000), FIN | ACK, 0),
        ]);
        let f = flows_of(&df).unwrap();
        assert_eq!(f.height(), 1);
        assert_eq!(text(&f, fcol::SRC_IP), ["10.0.0.1"]);
        assert_eq!(u64s(&f, fcol::DST_PORT), [80]);
        assert_eq!(u64s(&f, fcol::PKTS_FWD), [4]);
        assert_eq!(u64s(&f, fcol::PKTS_REV), [3]);
        assert_eq!(u64s(&f, fcol::PAYLOAD_FWD), [100]);
        assert_eq!(u64s(&f, fcol::PAYLOAD_REV), [1000]);
        assert_eq!(u64s(&f, fcol::BYTES), [7 * 54 + 1100]);
        assert_eq!(u64s(&f, fcol::LAST_FRAME), [7]);
        assert_eq!(text(&f, fcol::APP), ["http"]);
        assert_eq!(text(&f, fcol::STATE), ["closed"]);
        assert_eq!(text(&f, fcol::CONN_STATE), ["SF"]);
        assert_eq!(
            f.column(fcol::DURATION_S).unwrap().get(0).unwrap(),
            AnyValue::Float64(6.0)
        );
    }

    #[test]
    fn capture_started_after_the_syn_still_names_the_client() {
        // The first packet seen is the server's SYN-ACK.
        let df = table(&[
            (0, (S, 443), (C, 50000), SYN | ACK, 0),
            (1, (C, 50000), (S, 443), ACK, 0),
        ]);
        let f = flows_of(&df).unwrap();
        assert_eq!(text(&f, fcol::SRC_IP), ["10.0.0.1"]);
        assert_eq!(u64s(&f, fcol::SRC_PORT), [50000]);
        assert_eq!(u64s(&f, fcol::SYN_ACK), [1]);
        assert_eq!(text(&f, fcol::CONN_STATE), ["S1"]);
    }

    #[test]
    fn scan_probes_are_attempted_rejected_or_reset() {
        let df = table(&[
            (0, (C, 1000), (S, 22), SYN, 0),
            (0, (C, 1000), (S, 23), SYN, 0),
            (0, (S, 23), (C, 1000), RST | ACK, 0),
            (0, (C, 1000), (S, 80), SYN, 0),
            (0, (S, 80), (C, 1000), SYN | ACK, 0),
            (0, (C, 1000), (S, 80), RST, 0),
        ]);
        let f = flows_of(&df).unwrap();
        assert_eq!(text(&f, fcol::STATE), ["attempted", "rejected", "reset"]);
        assert_eq!(text(&f, fcol::CONN_STATE), ["S0", "REJ", "RSTO"]);
        assert_eq!(u64s(&f, fcol::DST_PORT), [22, 23, 80]);
    }

    #[test]
    fn chunks_give_the_same_table_as_one_pass() {
        let mut packets = Vec::new();
        for i in 0..50u16 {
            packets.push((i as i64, (C, 30000 + i % 7), (S, 80), SYN, 0));
            packets.push((i as i64, (S, 80), (C, 30000 + i % 7), SYN | ACK, 0));
            packets.push((i as i64, (C, 30000 + i % 7), (S, 80), ACK, 10));
        }
        let df = table(&packets);
        let whole = flows_of(&df).unwrap();
        let mut b = FlowBuilder::default();
        for off in (0..df.height()).step_by(11) {
            b.add(&df.slice(off as i64, 11)).unwrap();
        }
        assert!(whole.equals_missing(&b.finish().unwrap()));
        assert_eq!(whole.height(), 7);
    }

    #[test]
    fn flow_table_made_in_parts_is_the_same() {
        // 40 flows (some with both directions, a few answered first) made 3 at a time.
        let mut packets = Vec::new();
        for i in 0..120u16 {
            let client = (C, 20000 + i % 40);
            match i % 3 {
                0 => packets.push((i as i64, client, (S, 443), SYN, 0)),
                1 => packets.push((i as i64, (S, 443), client, SYN | ACK, 0)),
                _ => packets.push((i as i64, client, (S, 443), ACK | FIN, 5)),
            }
        }
        let df = table(&packets);
        let build = || {
            let mut b = FlowBuilder::default();
            b.add(&df).unwrap();
            b
        };
        let whole = build().finish_in_parts(usize::MAX).unwrap();
        let parts = build().finish_in_parts(3).unwrap();
        assert_eq!(whole.height(), 40);
        assert!(whole.equals_missing(&parts));
    }

    #[test]
    fn empty_table_has_every_schema_column() {
        let df = empty_flows().unwrap();
        let names: Vec<_> = df.get_column_names().iter().map(|s| s.to_string()).collect();
        let want: Vec<_> = crate::table::schema::FLOW_SCHEMA
            .iter()
            .map(|d| d.name.to_string())
            .collect();
        assert_eq!(names, want);
        assert_eq!(
            flows_of(&crate::table::packet_columns::empty_packets().unwrap())
                .unwrap()
                .height(),
            0
        );
    }
}
