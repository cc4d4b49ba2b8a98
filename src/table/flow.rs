//! flow: the flow table, built in one streaming pass over packet-table chunks. The loader feeds
//! each decoded chunk as it is made, so a capture's flows are ready when its packets are; the
//! cache and `watch` feed whole tables the same way. A hash map keyed by flow id holds each
//! flow's two directions; a Polars group-by over 10M packets cost 4 s and 1.6 GB here, this pass
//! well under a second.
//!
//! A direction is (flow id, sender address, sender port). Which side is the originator follows
//! Zeek: the sender of the first packet, unless ports say it is the server (a first packet from
//! 80 to a high port) or a TCP connection seen from its SYN-ACK turns out productive; each TCP
//! flow runs Zeek's connection model ([`crate::table::zeek_tcp`]) for its history, sizes and
//! gaps. [`crate::table::flow_table`] turns the flows into rows.

use polars::prelude::*;
use polars_arrow::array::{Array, PrimitiveArray};
use polars_arrow::types::NativeType;

use crate::decode::service::Service;
use crate::decode::tcp::{ACK, FIN, RST, SYN};
use crate::decode::{App, L4, icmp_ports};
use crate::error::Result;
use crate::table::flow_acc::{Acc, Dir, NONE8, NONE32, Zeek};
use crate::table::flow_table::table_of;
use crate::table::messages::NO_ROW;
use crate::table::schema::col;
use crate::table::zeek_roles::flip_at_start;
use crate::table::zeek_tcp::{Segment, TcpConn};

/// Ask for the cache lines a packet of flow `k` will touch.
#[inline]
fn prefetch_flow(flows: &Blocks<Acc>, k: usize) {
    if let Some(acc) = flows.get(k) {
        let base: *const u8 = (acc as *const Acc).cast();
        for line in 0..size_of::<Acc>().div_ceil(64) {
            crate::capture::prefetch::prefetch_ptr(base.wrapping_add(line * 64));
        }
    }
}

/// Ask for a TCP flow's Zeek state (its flow was asked for earlier, so is read from cache).
#[inline]
fn prefetch_tcp(flows: &Blocks<Acc>, k: usize) {
    if let Some(Acc { zeek: Zeek::Tcp(m), .. }) = flows.get(k) {
        let base: *const u8 = (&**m as *const TcpConn).cast();
        for line in 0..size_of::<TcpConn>().div_ceil(64) {
            crate::capture::prefetch::prefetch_ptr(base.wrapping_add(line * 64));
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
    /// Community ID seed.
    seed: u16,
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
pub const INPUTS: [&str; 22] = [
    col::FILE,
    col::FRAME,
    col::TS,
    col::WIRE_LEN,
    col::CAP_LEN,
    col::IP_VERSION,
    col::SRC_IP,
    col::DST_IP,
    col::IP_PROTO,
    col::IP_LEN,
    col::L4,
    col::SRC_PORT,
    col::DST_PORT,
    col::TCP_FLAGS,
    col::TCP_SEQ,
    col::TCP_ACK,
    col::TCP_WINDOW,
    col::ICMP_TYPE,
    col::ICMP_CODE,
    col::PAYLOAD_LEN,
    col::APP,
    col::FLOW_ID,
];

/// A chunk's columns as the builder reads them.
struct Inputs {
    flow_id: PrimitiveArray<u64>,
    file: PrimitiveArray<u32>,
    frame: PrimitiveArray<u32>,
    ts: PrimitiveArray<i64>,
    wire_len: PrimitiveArray<u32>,
    cap_len: PrimitiveArray<u32>,
    ip_version: PrimitiveArray<u8>,
    src_ip: PrimitiveArray<u32>,
    dst_ip: PrimitiveArray<u32>,
    ip_proto: PrimitiveArray<u8>,
    ip_len: PrimitiveArray<u32>,
    l4: PrimitiveArray<u8>,
    src_port: PrimitiveArray<u16>,
    dst_port: PrimitiveArray<u16>,
    flags: PrimitiveArray<u8>,
    seq: PrimitiveArray<u32>,
    ack: PrimitiveArray<u32>,
    window: PrimitiveArray<u16>,
    icmp_type: PrimitiveArray<u8>,
    icmp_code: PrimitiveArray<u8>,
    payload_len: PrimitiveArray<u32>,
    app: PrimitiveArray<u8>,
}

impl Inputs {
    fn of(df: &DataFrame) -> Result<Inputs> {
        Ok(Inputs {
            flow_id: physical::<UInt64Type>(df, col::FLOW_ID)?,
            file: physical::<UInt32Type>(df, col::FILE)?,
            frame: physical::<UInt32Type>(df, col::FRAME)?,
            ts: physical::<Int64Type>(df, col::TS)?,
            wire_len: physical::<UInt32Type>(df, col::WIRE_LEN)?,
            cap_len: physical::<UInt32Type>(df, col::CAP_LEN)?,
            ip_version: physical::<UInt8Type>(df, col::IP_VERSION)?,
            src_ip: physical::<UInt32Type>(df, col::SRC_IP)?,
            dst_ip: physical::<UInt32Type>(df, col::DST_IP)?,
            ip_proto: physical::<UInt8Type>(df, col::IP_PROTO)?,
            ip_len: physical::<UInt32Type>(df, col::IP_LEN)?,
            l4: physical::<UInt8Type>(df, col::L4)?,
            src_port: physical::<UInt16Type>(df, col::SRC_PORT)?,
            dst_port: physical::<UInt16Type>(df, col::DST_PORT)?,
            flags: physical::<UInt8Type>(df, col::TCP_FLAGS)?,
            seq: physical::<UInt32Type>(df, col::TCP_SEQ)?,
            ack: physical::<UInt32Type>(df, col::TCP_ACK)?,
            window: physical::<UInt16Type>(df, col::TCP_WINDOW)?,
            icmp_type: physical::<UInt8Type>(df, col::ICMP_TYPE)?,
            icmp_code: physical::<UInt8Type>(df, col::ICMP_CODE)?,
            payload_len: physical::<UInt32Type>(df, col::PAYLOAD_LEN)?,
            app: physical::<UInt8Type>(df, col::APP)?,
        })
    }

    /// Row `i`'s ports: TCP/UDP ports, or an ICMP message's type and counterpart.
    #[inline]
    fn ports(&self, i: usize, l4: Option<u8>) -> (Option<u16>, Option<u16>) {
        let icmp = l4 == Some(L4::Icmp as u8) || l4 == Some(L4::Icmpv6 as u8);
        match (icmp, get(&self.icmp_type, i)) {
            (true, Some(t)) => {
                let (s, d, _) = icmp_ports(l4 == Some(L4::Icmpv6 as u8), t, get(&self.icmp_code, i).unwrap_or(0));
                (Some(s), Some(d))
            }
            _ => (get(&self.src_port, i), get(&self.dst_port, i)),
        }
    }
}

impl FlowBuilder {
    /// A builder whose flows carry Community IDs made with `seed`.
    pub fn new(community_id_seed: u16) -> FlowBuilder {
        FlowBuilder {
            seed: community_id_seed,
            ..Default::default()
        }
    }

    /// Add the packets of one chunk of a packet table (any subset of rows, in file order).
    pub fn add(&mut self, df: &DataFrame) -> Result<()> {
        self.add_confirmed(df, &[], &mut Vec::new()).map(|_| ())
    }

    /// [`FlowBuilder::add`] with the rows of the chunk that confirm a protocol on their flow
    /// (in row order): a TCP flow takes one only while Zeek would analyse its payload (not a
    /// connection whose start was missed). Returns the rows of such TCP connections, in order.
    /// `rows` becomes each packet's flow row in the flow table [`FlowBuilder::finish`] makes
    /// ([`NO_ROW`] for a packet of no flow): the transaction rows take their flow's view by it.
    pub fn add_confirmed(
        &mut self,
        df: &DataFrame,
        confirmed: &[(u32, Service)],
        rows: &mut Vec<u32>,
    ) -> Result<Vec<u32>> {
        let mut partial = Vec::new();
        let n = df.height();
        rows.clear();
        rows.resize(n, NO_ROW);
        if n == 0 {
            return Ok(partial);
        }
        let c = Inputs::of(df)?;
        if c.flow_id.null_count() == n {
            return Ok(partial);
        }
        let unknown = App::Unknown as u8;
        let (tcp, udp) = (L4::Tcp as u8, L4::Udp as u8);
        let mut confirmed = confirmed.iter().peekable();
        // The flow slot of packet i + AHEAD, found when it is prefetched; a flow's slot never
        // changes once given, so a found one is used as is (a miss is looked up again: the flow
        // may have been added since).
        let ahead = crate::capture::prefetch::PREFETCH_AHEAD;
        let mut found: [Option<u32>; 16] = [None; 16];
        const _: () = assert!(crate::capture::prefetch::PREFETCH_AHEAD < 16);
        for i in 0..n {
            let Some(id) = get(&c.flow_id, i) else { continue };
            let sip = get(&c.src_ip, i).unwrap_or(NONE32);
            let l4 = get(&c.l4, i);
            let (sport, dport) = c.ports(i, l4);
            let f = get(&c.flags, i).unwrap_or(0);
            let pl = get(&c.payload_len, i).unwrap_or(0);
            let a = get(&c.app, i);
            let t = get(&c.ts, i).unwrap_or(0);
            let fr = get(&c.frame, i).unwrap_or(0);
            let synack = f & SYN != 0 && f & ACK != 0;
            let with_app = if pl > 0 && a.is_some_and(|a| a != unknown) {
                a
            } else {
                None
            };
            // Two steps ahead: the index slot of the packet 2×AHEAD rows on, then the flow itself
            // of the packet AHEAD rows on (its slot is in cache by then). With hundreds of
            // thousands of flows both are cache misses otherwise.
            if let Some(id2) = (i + 2 * ahead < n).then(|| get(&c.flow_id, i + 2 * ahead)).flatten() {
                self.index.prefetch(id2);
            }
            let next = (i + ahead < n)
                .then(|| get(&c.flow_id, i + ahead))
                .flatten()
                .and_then(|id1| self.index.get(id1));
            if let Some(k) = next {
                prefetch_flow(&self.flows, k as usize);
            }
            found[(i + ahead) % 16] = next;
            // Halfway there, that flow's Zeek TCP state (a box of its own: the third miss).
            if let Some(k) = found[(i + ahead / 2) % 16] {
                prefetch_tcp(&self.flows, k as usize);
            }
            let slot = found[i % 16].take().or_else(|| self.index.get(id));
            let new_dir = |c: &Inputs| Dir {
                src_ip: sip,
                src_port: sport,
                dst_ip: get(&c.dst_ip, i).unwrap_or(NONE32),
                dst_port: dport,
                file: get(&c.file, i).unwrap_or(NONE32),
                l4: l4.unwrap_or(NONE8),
                ip_version: get(&c.ip_version, i).unwrap_or(NONE8),
                app_payload: NONE8,
                app_first: a.unwrap_or(NONE8),
                t0: t,
                t1: t,
                f0: fr,
                f1: fr,
                packets: 0,
                bytes: 0,
                ip_bytes: 0,
                payload: 0,
                syn: 0,
                synack: 0,
                rst: 0,
                fin: 0,
            };
            let k = match slot {
                Some(k) => k,
                None => {
                    let k = self.flows.len() as u32;
                    self.index.insert(id, k);
                    let zeek = match l4 {
                        Some(x) if x == tcp => Zeek::Tcp(Box::new(TcpConn::new(flip_at_start(
                            Some(f),
                            sport.unwrap_or(0),
                            dport.unwrap_or(0),
                        )))),
                        Some(x) if x == udp => Zeek::Udp {
                            flipped: flip_at_start(None, sport.unwrap_or(0), dport.unwrap_or(0)),
                        },
                        _ => Zeek::Other,
                    };
                    self.flows.push(Acc {
                        id,
                        first: new_dir(&c),
                        second: None,
                        more: None,
                        ip_proto: get(&c.ip_proto, i).unwrap_or(0),
                        zeek,
                        services: [NONE8; 4],
                    });
                    k
                }
            };
            // Flows become rows in the order they were first seen (see `finish`).
            rows[i] = k;
            let Some(acc) = self.flows.get_mut(k as usize) else {
                continue;
            };
            let which = match acc.find((sip, sport)) {
                Some(w) => w,
                None => acc.add_dir(new_dir(&c)),
            };
            let Some(dir) = acc.at(which) else {
                continue;
            };
            if dir.app_payload == NONE8 {
                dir.app_payload = with_app.unwrap_or(NONE8);
            }
            dir.t0 = dir.t0.min(t);
            dir.t1 = dir.t1.max(t);
            dir.f0 = dir.f0.min(fr);
            dir.f1 = dir.f1.max(fr);
            dir.packets = dir.packets.saturating_add(1);
            let wire = get(&c.wire_len, i).unwrap_or(0);
            dir.bytes += u64::from(wire);
            dir.ip_bytes += u64::from(get(&c.ip_len, i).unwrap_or(0));
            dir.payload += u64::from(pl);
            dir.syn += u32::from(f & SYN != 0 && f & ACK == 0);
            dir.synack += u32::from(synack);
            dir.rst += u32::from(f & RST != 0);
            dir.fin += u32::from(f & FIN != 0);
            let mut analysed = true;
            if let Zeek::Tcp(model) = &mut acc.zeek
                && which < 2
                && let (Some(seq), Some(ack)) = (get(&c.seq, i), get(&c.ack, i))
            {
                let captured = get(&c.cap_len, i).unwrap_or(0) >= wire;
                model.packet(
                    which == 0,
                    t,
                    &Segment {
                        flags: f,
                        seq,
                        ack,
                        window: get(&c.window, i).unwrap_or(1),
                        len: pl,
                        captured,
                    },
                );
                analysed = !model.is_partial();
                if !analysed {
                    partial.push(i as u32);
                }
            }
            while let Some(&&(row, service)) = confirmed.peek() {
                if row as usize > i {
                    break;
                }
                confirmed.next();
                if row as usize == i && analysed {
                    acc.confirm(service);
                }
            }
        }
        Ok(partial)
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
        let FlowBuilder { index, flows, seed } = self;
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
                                out.push(table_of(flows, seed)?);
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
        let mut df = table_of(&[], seed)?;
        for p in parts {
            for chunk in p? {
                df.vstack_mut_owned(chunk)?;
            }
        }
        Ok(df)
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::RawRecord;
    use crate::decode::{Addr, Packet};
    use crate::table::interner::Interner;
    use crate::table::packet_columns::PacketColumns;
    use crate::table::schema::fcol;

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
        // Each side's next sequence number, as a TCP stack would number its bytes.
        let mut next: std::collections::HashMap<([u8; 4], u16), u32> = Default::default();
        for (i, &(t, (src, sport), (dst, dport), flags, payload)) in packets.iter().enumerate() {
            let seq = *next.entry((src, sport)).or_insert(1000 * u32::from(sport));
            let ack = if flags & ACK != 0 {
                next.get(&(dst, dport)).copied()
            } else {
                Some(0)
            };
            let used = payload + u32::from(flags & SYN != 0) + u32::from(flags & FIN != 0);
            next.insert((src, sport), seq.wrapping_add(used));
            let mut p = Packet {
                tcp_seq: Some(seq),
                tcp_ack: Some(ack.unwrap_or(0)),
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
                ts_out_of_range: false,
                wire_len: 54 + payload,
                link: 1,
                data: &[],
            };
            cols.push(&rec, i as u32 + 1, &mut p, &mut it);
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

    /// Found by `netql fuzz`: a flow whose packets are ~570 years apart (a damaged capture's
    /// times can be anything) overflowed its duration. Now it is that long.
    #[test]
    fn a_flow_spanning_the_whole_time_range_has_its_duration() {
        let far = 9_000_000_000; // seconds: ±285 years around 1970
        let flows = flows_of(&table(&[
            (-far, (C, 40000), (S, 80), SYN, 0),
            (far, (S, 80), (C, 40000), RST | ACK, 0),
        ]))
        .unwrap();
        let d = flows.column(fcol::DURATION_S).unwrap().f64().unwrap().get(0).unwrap();
        assert!((d - 2.0 * far as f64).abs() < 1.0, "{d}");
    }

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
