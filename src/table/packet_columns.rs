//! packet_columns: decoded packets -> one chunk of the packet table. Decoder threads append
//! packets ([`PacketColumns::push_at`]); the loader then runs the in-order pass over the chunk
//! ([`PacketColumns::finish_in_order`]) and makes it a `DataFrame` in schema order.

use polars::prelude::*;

use crate::capture::record::RawRecord;
use crate::decode::dns_names::decode_netbios_name;
use crate::decode::order::{Fix, InOrder, Pending, QuicRow, StreamRow};
use crate::decode::reassembly::FragmentRow;
use crate::decode::service::Service;
use crate::decode::stream::Segment;
use crate::decode::stream::StreamEvent;
use crate::decode::{self, Addr, App, L4, Packet, Proto};
use crate::error::Result;
use crate::table::column::{Col, boolean, cat32, enum8, prim};
use crate::table::dns_coded::DnsCoded;
use crate::table::interner::Interner;
use crate::table::messages::{Messages, Seen};
use crate::table::schema::{APP_DTYPE, FRAG_DTYPE, L4_DTYPE, LINK_DTYPE, cat_dtype, col, flags_text_of};

/// Packets decoded so far, one vector per column.
pub struct PacketColumns {
    frame: Vec<u32>,
    ts: Vec<i64>,
    wire_len: Vec<u32>,
    cap_len: Vec<u32>,
    link_type: Col<u8>,
    protocols: Col<u32>,
    src_mac: Col<u32>,
    dst_mac: Col<u32>,
    vlan: Col<u16>,
    vlan_inner: Col<u16>,
    ether_type: Col<u16>,
    ip_version: Col<u8>,
    src_ip: Col<u32>,
    dst_ip: Col<u32>,
    ttl: Col<u8>,
    ip_proto: Col<u8>,
    ip_len: Col<u32>,
    frag: Col<u8>,
    l4: Col<u8>,
    src_port: Col<u16>,
    dst_port: Col<u16>,
    tcp_flags: Col<u8>,
    tcp_seq: Col<u32>,
    tcp_ack: Col<u32>,
    tcp_window: Col<u16>,
    icmp_type: Col<u8>,
    icmp_code: Col<u8>,
    quoted_l4: Col<u8>,
    quoted_src_ip: Col<u32>,
    quoted_dst_ip: Col<u32>,
    quoted_src_port: Col<u16>,
    quoted_dst_port: Col<u16>,
    payload_len: Col<u32>,
    app: Col<u8>,
    dns_qname: Col<u32>,
    dns_qtype: Col<u32>,
    dns_rcode: Col<u32>,
    dns_response: Col<bool>,
    dns_answers: Col<u16>,
    http_method: Col<u32>,
    http_host: Col<u32>,
    http_path: Col<u32>,
    http_status: Col<u16>,
    tls_sni: Col<u32>,
    tls_version: Col<u32>,
    arp_op: Col<u8>,
    arp_sender_ip: Col<u32>,
    arp_target_ip: Col<u32>,
    credential: Col<u32>,
    flow_id: Col<u64>,
    error: Col<u32>,
    /// Rows of this batch for the in-order pass (see [`PacketColumns::finish_in_order`]).
    pending: Pending,
    /// Rows that confirm their flow speaks a protocol, in row order (the flow table's
    /// `service`; see [`crate::decode::service`]).
    services: Vec<(u32, Service)>,
    /// This batch's DNS messages, for the dns table, with where they were seen (made where the
    /// row is pushed: read back from the columns, each of the 10M capture's 876k messages cost
    /// the collector ten lookups).
    dns: Vec<(Seen, DnsCoded)>,
    /// HTTP and TLS messages the in-order pass read, by row, for the http and tls tables.
    stream_events: Vec<(Seen, StreamEvent)>,
}

impl PacketColumns {
    pub fn with_capacity(n: usize) -> Self {
        PacketColumns {
            frame: Vec::with_capacity(n),
            ts: Vec::with_capacity(n),
            wire_len: Vec::with_capacity(n),
            cap_len: Vec::with_capacity(n),
            link_type: Col::with_capacity(n),
            protocols: Col::with_capacity(n),
            src_mac: Col::with_capacity(n),
            dst_mac: Col::with_capacity(n),
            vlan: Col::with_capacity(n),
            vlan_inner: Col::with_capacity(n),
            ether_type: Col::with_capacity(n),
            ip_version: Col::with_capacity(n),
            src_ip: Col::with_capacity(n),
            dst_ip: Col::with_capacity(n),
            ttl: Col::with_capacity(n),
            ip_proto: Col::with_capacity(n),
            ip_len: Col::with_capacity(n),
            frag: Col::with_capacity(n),
            l4: Col::with_capacity(n),
            src_port: Col::with_capacity(n),
            dst_port: Col::with_capacity(n),
            tcp_flags: Col::with_capacity(n),
            tcp_seq: Col::with_capacity(n),
            tcp_ack: Col::with_capacity(n),
            tcp_window: Col::with_capacity(n),
            icmp_type: Col::with_capacity(n),
            icmp_code: Col::with_capacity(n),
            quoted_l4: Col::with_capacity(n),
            quoted_src_ip: Col::with_capacity(n),
            quoted_dst_ip: Col::with_capacity(n),
            quoted_src_port: Col::with_capacity(n),
            quoted_dst_port: Col::with_capacity(n),
            payload_len: Col::with_capacity(n),
            app: Col::with_capacity(n),
            dns_qname: Col::with_capacity(n),
            dns_qtype: Col::with_capacity(n),
            dns_rcode: Col::with_capacity(n),
            dns_response: Col::with_capacity(n),
            dns_answers: Col::with_capacity(n),
            http_method: Col::with_capacity(n),
            http_host: Col::with_capacity(n),
            http_path: Col::with_capacity(n),
            http_status: Col::with_capacity(n),
            tls_sni: Col::with_capacity(n),
            tls_version: Col::with_capacity(n),
            arp_op: Col::with_capacity(n),
            arp_sender_ip: Col::with_capacity(n),
            arp_target_ip: Col::with_capacity(n),
            credential: Col::with_capacity(n),
            flow_id: Col::with_capacity(n),
            error: Col::with_capacity(n),
            pending: Pending::default(),
            services: Vec::new(),
            dns: Vec::new(),
            stream_events: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.frame.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frame.is_empty()
    }

    /// Append one decoded packet (payload bytes the trackers need are copied into the batch).
    pub fn push(&mut self, rec: &RawRecord<'_>, frame: u32, p: &mut Packet, it: &mut Interner) {
        self.push_impl(rec, frame, p, it, None);
    }

    /// Append one decoded packet whose bytes sit at `offset` in a batch buffer the caller keeps
    /// and later hands to [`PacketColumns::finish_in_order`] (no copy of payloads).
    pub fn push_at(&mut self, rec: &RawRecord<'_>, frame: u32, p: &mut Packet, it: &mut Interner, offset: usize) {
        self.push_impl(rec, frame, p, it, Some(offset));
    }

    /// Where a slice of the record's payload is (for the trackers): in the caller's batch
    /// buffer, or copied into our own.
    fn keep_bytes(&mut self, rec: &RawRecord<'_>, at: Option<usize>, addr: usize, n: usize) -> Option<(usize, usize)> {
        let base = rec.data.as_ptr() as usize;
        if n == 0 || addr < base || addr + n > base + rec.data.len() {
            return None;
        }
        let rel = addr - base;
        Some(match at {
            Some(offset) => (offset + rel, offset + rel + n),
            None => {
                let kept = &mut self.pending.bytes;
                let start = kept.len();
                kept.extend_from_slice(&rec.data[rel..rel + n]);
                (start, kept.len())
            }
        })
    }

    fn push_impl(&mut self, rec: &RawRecord<'_>, frame: u32, p: &mut Packet, it: &mut Interner, at: Option<usize>) {
        let row = self.frame.len();
        let flow = p.flow();
        // IPv6 fragments belong to no flow until one completes a datagram (the reassembly pass
        // then gives that frame its flow), as tshark's conversation and endpoint tables count
        // them; IPv4 fragments all count there.
        let v6_fragment = p.fragment.is_some() && p.ip_version == Some(6);
        let flow_id = flow.filter(|_| !v6_fragment).map(|(id, _)| id);
        self.frame.push(frame);
        self.ts.push(rec.ts_ns);
        self.wire_len.push(rec.wire_len);
        self.cap_len.push(rec.data.len() as u32);
        self.link_type.put(row, Some(crate::capture::linktype::index(rec.link)));
        // HTTP and TLS are named in the stack only where a message/record completes; the stream
        // tracker decides that later, so such segments start without the application.
        let stream_app = matches!(p.app, Some(App::Http | App::Tls)) && p.l4 == Some(L4::Tcp);
        let tcp_dns = p.app.is_some_and(App::is_dns_like) && p.l4 == Some(L4::Tcp);
        if stream_app {
            self.protocols.put(row, it.stack(&p.stack.without_app()));
        } else {
            self.protocols.put(row, it.stack(&p.stack));
        }
        self.src_mac.put(row, p.src_mac.map(|m| it.mac(m)));
        self.dst_mac.put(row, p.dst_mac.map(|m| it.mac(m)));
        self.vlan.put(row, p.vlan);
        self.vlan_inner.put(row, p.vlan_inner);
        self.ether_type.put(row, p.ether_type);
        self.ip_version.put(row, p.ip_version);
        let (src_ip, dst_ip) = (p.src_ip.map(|a| it.addr(a)), p.dst_ip.map(|a| it.addr(a)));
        self.src_ip.put(row, src_ip);
        self.dst_ip.put(row, dst_ip);
        self.ttl.put(row, p.ttl);
        self.ip_proto.put(row, p.ip_proto);
        self.ip_len.put(row, p.ip_len);
        self.frag.put(row, p.fragment.map(|_| 0));
        self.l4.put(row, p.l4.map(|l| l as u8));
        self.src_port.put(row, p.src_port);
        self.dst_port.put(row, p.dst_port);
        self.tcp_flags.put(row, p.tcp_flags);
        self.tcp_seq.put(row, p.tcp_seq);
        self.tcp_ack.put(row, p.tcp_ack);
        self.tcp_window.put(row, p.tcp_window);
        self.icmp_type.put(row, p.icmp_type);
        self.icmp_code.put(row, p.icmp_code);
        if let Some(q) = p.quoted {
            self.quoted_l4.put(row, q.l4.map(|l| l as u8));
            self.quoted_src_ip.put(row, Some(it.addr(q.src_ip)));
            self.quoted_dst_ip.put(row, Some(it.addr(q.dst_ip)));
            self.quoted_src_port.put(row, q.src_port);
            self.quoted_dst_port.put(row, q.dst_port);
        }
        self.payload_len.put(row, p.payload_len);
        self.app.put(row, p.app.map(|a| a as u8));
        let nbns = p.app == Some(App::Nbns);
        let mut qname = None;
        if let Some(d) = p.dns.as_ref() {
            let netbios = nbns.then(|| d.query.as_deref().and_then(decode_netbios_name)).flatten();
            qname = netbios.as_deref().or(d.query.as_deref()).map(|s| it.text(s));
            self.dns_qname.put(row, qname);
            self.dns_qtype.put(row, d.qtype.map(|t| it.dns_type(t)));
            self.dns_rcode
                .put(row, d.head.response.then(|| it.dns_rcode(d.head.rcode)));
            self.dns_response.put(row, Some(d.head.response));
            self.dns_answers.put(row, Some(d.head.ancount));
        }
        // DNS over TCP is read from the stream (a segment may hold part of a message or
        // several); the decoder's reading of one segment only fills the columns above.
        if let Some(m) = p.dns.take().filter(|_| p.l4 != Some(L4::Tcp)) {
            let multicast = p.dst_ip.is_some_and(Addr::is_multicast);
            let seen = Seen {
                ts: rec.ts_ns,
                frame,
                row: row as u32,
                flow_id: flow_id.unwrap_or(0),
                flow_row: None,
                src_ip,
                src_port: p.src_port,
                dst_ip,
                dst_port: p.dst_port,
                l4: p.l4.map(|l| l as u8),
                app: p.app.map(|a| a as u8),
                multicast,
                netbios: nbns,
            };
            self.dns.push((seen, DnsCoded::of(m, nbns, qname, it)));
        }
        self.http_method.put(row, p.http_method.as_deref().map(|s| it.text(s)));
        self.http_host.put(row, p.http_host.as_deref().map(|s| it.text(s)));
        self.http_path.put(row, p.http_path.as_deref().map(|s| it.text(s)));
        self.http_status.put(row, p.http_status);
        self.tls_sni.put(row, p.tls_sni.as_deref().map(|s| it.text(s)));
        self.tls_version.put(row, p.tls_version.map(|v| it.tls_version(v)));
        self.arp_op.put(row, p.arp_op.map(|o| o.min(255) as u8));
        self.arp_sender_ip.put(row, p.arp_sender_ip.map(|a| it.addr(a)));
        self.arp_target_ip.put(row, p.arp_target_ip.map(|a| it.addr(a)));
        self.credential.put(row, p.credential.as_deref().map(|s| it.text(s)));
        self.flow_id.put(row, flow_id);
        if let Some(service) = p.service {
            self.services.push((row as u32, service));
        }
        self.error.put(row, p.error.as_deref().map(|s| it.text(s)));
        let syn = p.tcp_flags.is_some_and(|f| f & decode::tcp::SYN != 0);
        let fin = p.tcp_flags.is_some_and(|f| f & decode::tcp::FIN != 0);
        let rst = p.tcp_flags.is_some_and(|f| f & decode::tcp::RST != 0);
        let wire_payload = p.payload_len.unwrap_or(0);
        if (stream_app || tcp_dns)
            && (wire_payload > 0 || syn || fin || rst)
            && let (Some((flow, from_lo)), Some(seq), Some(app)) = (flow, p.tcp_seq, p.app)
        {
            let (addr, n) = p.tcp_payload.unwrap_or((0, 0));
            let bytes = self.keep_bytes(rec, at, addr, n).unwrap_or((0, 0));
            self.pending.streams.push(StreamRow {
                row,
                seg: Segment {
                    flow,
                    from_lo,
                    seq,
                    syn,
                    fin,
                    rst,
                    app,
                    wire_len: wire_payload,
                },
                bytes,
                stack: p.stack,
            });
        }
        if let (Some((addr, n)), Some((flow, from_lo))) = (p.quic_initial, flow)
            && let Some(bytes) = self.keep_bytes(rec, at, addr, n)
        {
            let mut stack = p.stack;
            stack.push(Proto::App(App::Tls));
            self.pending.quic.push(QuicRow {
                row,
                flow,
                from_lo,
                bytes,
                stack,
            });
        }
        if let (Some(frag), Some(src), Some(dst), Some(proto)) = (p.fragment, p.src_ip, p.dst_ip, p.ip_proto) {
            let (addr, n) = p.fragment_data.unwrap_or((0, 0));
            let bytes = self.keep_bytes(rec, at, addr, n).unwrap_or((0, 0));
            self.pending.fragments.push(FragmentRow {
                row,
                proto,
                src,
                dst,
                frag,
                bytes,
            });
        }
    }

    /// Run the in-order pass over this batch (batches in file order) and apply what it finds:
    /// fragments that complete a datagram get its upper layers and flow, segments and QUIC
    /// Initials that complete a message get the application in their stack (and a hello's SNI
    /// and version). `batch` is the buffer given to [`push_at`](Self::push_at), or None after
    /// [`push`](Self::push).
    pub fn finish_in_order(&mut self, order: &mut InOrder, it: &mut Interner, batch: Option<&[u8]>) {
        let mut pending = std::mem::take(&mut self.pending);
        // Most stream segments make an event (a TLS record, an HTTP head): room for one each
        // up front, not grown (and copied) step by step as events come.
        self.stream_events.reserve(pending.streams.len());
        order.run(&mut pending, batch, |fix| self.apply(fix, it));
        self.pending = pending;
    }

    fn apply(&mut self, fix: Fix, it: &mut Interner) {
        match fix {
            Fix::Reassembled { row, first, flow_id } => {
                self.frag.set(row, Some(1));
                if let Some(first) = first {
                    self.protocols.set(row, it.stack(&first.stack));
                    self.l4.set(row, Some(first.l4 as u8));
                    self.src_port.set(row, first.src_port);
                    self.dst_port.set(row, first.dst_port);
                    self.app.set(row, first.app.map(|a| a as u8));
                    self.flow_id.set(row, Some(flow_id));
                } else if self.flow_id.get(row).is_none() {
                    self.flow_id.set(row, Some(flow_id));
                }
            }
            Fix::Completes { row, stack } => self.protocols.set(row, it.stack(&stack)),
            Fix::Confirms { row, service } => self.services.push((row as u32, service)),
            Fix::Stream { row, event } => {
                // Where it was seen, read now (the row's own fixes came first): made later, it
                // was a second walk over the chunk's columns and a new list per chunk.
                let seen = self.seen(row, false);
                self.stream_events.push((seen, event));
            }
            Fix::Dns { row, multicast, msg } => {
                // A DNS message the packet's own decode could not see (in a reassembled
                // datagram): its frame shows it as the others do.
                let qname = msg.query.as_deref().map(|q| it.text(q));
                self.dns_qname.set(row, qname);
                self.dns_qtype.set(row, msg.qtype.map(|t| it.dns_type(t)));
                self.dns_rcode
                    .set(row, msg.head.response.then(|| it.dns_rcode(msg.head.rcode)));
                self.dns_response.set(row, Some(msg.head.response));
                self.dns_answers.set(row, Some(msg.head.ancount));
                if msg.error.is_none() {
                    self.services.push((row as u32, Service::Dns));
                }
                let nbns = self.app.get(row) == Some(App::Nbns as u8);
                // After the row's own fixes (a reassembled datagram's ports and flow come first).
                let seen = self.seen(row, multicast);
                self.dns.push((seen, DnsCoded::of(*msg, nbns, qname, it)));
            }
            Fix::Hello {
                row,
                stack,
                sni,
                version,
            } => {
                self.protocols.set(row, it.stack(&stack));
                if let Some(sni) = sni {
                    self.tls_sni.set(row, Some(it.text(&sni)));
                }
                if let Some(v) = version {
                    self.tls_version.set(row, Some(it.tls_version(v)));
                }
            }
        }
    }

    /// The rows that confirm a protocol on their flow, in row order (taken: call before
    /// [`PacketColumns::into_dataframe`]).
    pub fn take_services(&mut self) -> Vec<(u32, Service)> {
        let mut v = std::mem::take(&mut self.services);
        // The in-order pass adds its confirmations after the decoders' own.
        v.sort_by_key(|(row, _)| *row);
        v
    }

    /// Where row `r` was seen.
    fn seen(&self, r: usize, multicast: bool) -> Seen {
        let app = self.app.get(r);
        Seen {
            ts: self.ts.get(r).copied().unwrap_or(0),
            frame: self.frame.get(r).copied().unwrap_or(0),
            row: r as u32,
            flow_id: self.flow_id.get(r).unwrap_or(0),
            flow_row: None,
            src_ip: self.src_ip.get(r),
            src_port: self.src_port.get(r),
            dst_ip: self.dst_ip.get(r),
            dst_port: self.dst_port.get(r),
            l4: self.l4.get(r),
            app,
            multicast,
            netbios: app == Some(App::Nbns as u8),
        }
    }

    /// This batch's messages for the transaction tables, in row order (taken: call after the
    /// in-order pass, before [`PacketColumns::into_dataframe`]).
    pub fn take_messages(&mut self) -> Messages {
        // Mostly in order already (the decoders' DNS, then the in-order pass's few; the TCP
        // streams' events, then QUIC's): a stable sort only when needed.
        fn in_row_order<T>(mut v: Vec<(Seen, T)>) -> Vec<(Seen, T)> {
            if !v.is_sorted_by_key(|(seen, _)| seen.row) {
                v.sort_by_key(|(seen, _)| seen.row);
            }
            v
        }
        Messages {
            dns: in_row_order(std::mem::take(&mut self.dns)),
            stream: in_row_order(std::mem::take(&mut self.stream_events)),
        }
    }

    /// Correct the captured length of the last packet (the loader hands decoders only the first
    /// bytes of very long frames).
    pub fn set_cap_len_last(&mut self, cap_len: u32) {
        if let Some(last) = self.cap_len.last_mut() {
            *last = cap_len;
        }
    }

    /// Build the `DataFrame` for one batch of a capture file.
    pub fn into_dataframe(self, file_code: u32) -> Result<DataFrame> {
        let n = self.frame.len();
        let truncated: BooleanChunked = self
            .wire_len
            .iter()
            .zip(&self.cap_len)
            .map(|(w, c)| c < w)
            .collect_ca(col::TRUNCATED.into());
        let file = Col::filled(file_code, n);
        let ts = Int64Chunked::from_vec(col::TS.into(), self.ts)
            .into_datetime(TimeUnit::Nanoseconds, Some(TimeZone::UTC))
            .into_column();
        let tcp_flags = prim::<UInt8Type>(col::TCP_FLAGS, self.tcp_flags.rows(n));
        // The letters are the flag byte seen through an enum: made from it, not kept apart.
        let tcp_flags_str = flags_text_of(&tcp_flags)?;
        let columns = vec![
            cat32(col::FILE, file, cat_dtype()),
            UInt32Chunked::from_vec(col::FRAME.into(), self.frame).into_column(),
            ts,
            UInt32Chunked::from_vec(col::WIRE_LEN.into(), self.wire_len).into_column(),
            UInt32Chunked::from_vec(col::CAP_LEN.into(), self.cap_len).into_column(),
            truncated.into_column(),
            enum8(col::LINK_TYPE, self.link_type.rows(n), &LINK_DTYPE),
            cat32(col::PROTOCOLS, self.protocols.rows(n), cat_dtype()),
            cat32(col::SRC_MAC, self.src_mac.rows(n), cat_dtype()),
            cat32(col::DST_MAC, self.dst_mac.rows(n), cat_dtype()),
            prim::<UInt16Type>(col::VLAN, self.vlan.rows(n)),
            prim::<UInt16Type>(col::VLAN_INNER, self.vlan_inner.rows(n)),
            prim::<UInt16Type>(col::ETHER_TYPE, self.ether_type.rows(n)),
            prim::<UInt8Type>(col::IP_VERSION, self.ip_version.rows(n)),
            cat32(col::SRC_IP, self.src_ip.rows(n), cat_dtype()),
            cat32(col::DST_IP, self.dst_ip.rows(n), cat_dtype()),
            prim::<UInt8Type>(col::TTL, self.ttl.rows(n)),
            prim::<UInt8Type>(col::IP_PROTO, self.ip_proto.rows(n)),
            prim::<UInt32Type>(col::IP_LEN, self.ip_len.rows(n)),
            enum8(col::FRAG, self.frag.rows(n), &FRAG_DTYPE),
            enum8(col::L4, self.l4.rows(n), &L4_DTYPE),
            prim::<UInt16Type>(col::SRC_PORT, self.src_port.rows(n)),
            prim::<UInt16Type>(col::DST_PORT, self.dst_port.rows(n)),
            tcp_flags,
            tcp_flags_str,
            prim::<UInt32Type>(col::TCP_SEQ, self.tcp_seq.rows(n)),
            prim::<UInt32Type>(col::TCP_ACK, self.tcp_ack.rows(n)),
            prim::<UInt16Type>(col::TCP_WINDOW, self.tcp_window.rows(n)),
            prim::<UInt8Type>(col::ICMP_TYPE, self.icmp_type.rows(n)),
            prim::<UInt8Type>(col::ICMP_CODE, self.icmp_code.rows(n)),
            enum8(col::QUOTED_L4, self.quoted_l4.rows(n), &L4_DTYPE),
            cat32(col::QUOTED_SRC_IP, self.quoted_src_ip.rows(n), cat_dtype()),
            cat32(col::QUOTED_DST_IP, self.quoted_dst_ip.rows(n), cat_dtype()),
            prim::<UInt16Type>(col::QUOTED_SRC_PORT, self.quoted_src_port.rows(n)),
            prim::<UInt16Type>(col::QUOTED_DST_PORT, self.quoted_dst_port.rows(n)),
            prim::<UInt32Type>(col::PAYLOAD_LEN, self.payload_len.rows(n)),
            enum8(col::APP, self.app.rows(n), &APP_DTYPE),
            cat32(col::DNS_QNAME, self.dns_qname.rows(n), cat_dtype()),
            cat32(col::DNS_QTYPE, self.dns_qtype.rows(n), cat_dtype()),
            cat32(col::DNS_RCODE, self.dns_rcode.rows(n), cat_dtype()),
            boolean(col::DNS_RESPONSE, self.dns_response.rows(n)),
            prim::<UInt16Type>(col::DNS_ANSWERS, self.dns_answers.rows(n)),
            cat32(col::HTTP_METHOD, self.http_method.rows(n), cat_dtype()),
            cat32(col::HTTP_HOST, self.http_host.rows(n), cat_dtype()),
            cat32(col::HTTP_PATH, self.http_path.rows(n), cat_dtype()),
            prim::<UInt16Type>(col::HTTP_STATUS, self.http_status.rows(n)),
            cat32(col::TLS_SNI, self.tls_sni.rows(n), cat_dtype()),
            cat32(col::TLS_VERSION, self.tls_version.rows(n), cat_dtype()),
            prim::<UInt8Type>(col::ARP_OP, self.arp_op.rows(n)),
            cat32(col::ARP_SENDER_IP, self.arp_sender_ip.rows(n), cat_dtype()),
            cat32(col::ARP_TARGET_IP, self.arp_target_ip.rows(n), cat_dtype()),
            cat32(col::CREDENTIAL, self.credential.rows(n), cat_dtype()),
            prim::<UInt64Type>(col::FLOW_ID, self.flow_id.rows(n)),
            cat32(col::ERROR, self.error.rows(n), cat_dtype()),
        ];
        Ok(DataFrame::new(n, columns)?)
    }
}

/// A frame with every packet column and no rows (an empty capture).
pub fn empty_packets() -> Result<DataFrame> {
    PacketColumns::with_capacity(0).into_dataframe(0)
}

/// A capture decoded on one thread straight into one chunk with every column, unsplit and
/// unpacked (the in-order pass included): what tests of the later steps compare against. A
/// capture that breaks part way gives the packets before the break.
#[cfg(test)]
pub(crate) fn decode_whole(path: &std::path::Path) -> Result<(String, DataFrame)> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut reader = crate::capture::CaptureReader::open(path)?;
    let mut decoder = crate::decode::Decoder::default();
    let mut it = Interner::default();
    let mut pc = PacketColumns::with_capacity(300);
    let mut n = 0u32;
    let _ = reader.for_each(|rec| {
        n += 1;
        let p = decoder.decode(&rec);
        pc.push(&rec, n, p, &mut it);
        true
    });
    pc.finish_in_order(&mut InOrder::default(), &mut it, None);
    let file_code = it.text(&name);
    Ok((name, pc.into_dataframe(file_code)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::schema::PACKET_SCHEMA;

    #[test]
    fn empty_frame_has_every_schema_column_in_order() {
        let df = empty_packets().unwrap();
        let names: Vec<_> = df.get_column_names().iter().map(|s| s.to_string()).collect();
        let want: Vec<_> = PACKET_SCHEMA.iter().map(|d| d.name.to_string()).collect();
        assert_eq!(names, want);
    }

    #[test]
    fn schema_kinds_match_dtypes() {
        let df = empty_packets().unwrap();
        for d in PACKET_SCHEMA {
            let dt = df.column(d.name).unwrap().dtype().clone();
            let ok = match d.kind {
                "text" => matches!(dt, DataType::Categorical(..)),
                "enum" => matches!(dt, DataType::Enum(..)),
                "bool" => dt == DataType::Boolean,
                "u8" => dt == DataType::UInt8,
                "u16" => dt == DataType::UInt16,
                "u32" => dt == DataType::UInt32,
                "u64" => dt == DataType::UInt64,
                k if k.starts_with("datetime") => matches!(dt, DataType::Datetime(..)),
                _ => false,
            };
            assert!(ok, "{}: schema says {}, frame has {dt:?}", d.name, d.kind);
        }
    }
}
