//! order: the in-order pass. A few facts depend on the packets before a packet: whether a
//! fragment completes its datagram ([`crate::decode::reassembly`]), whether a TCP
//! segment completes an HTTP message or TLS record ([`crate::decode::stream`]), whether a
//! QUIC Initial completes a hello ([`crate::decode::quic`]). Decoders run in parallel on
//! batches and note those packets as [`Pending`] rows; this pass, run once per batch in file
//! order (by the loader and by live capture alike), says what each row turned out to be as
//! [`Fix`]es for the table to apply.

use crate::capture::prefetch::{PREFETCH_AHEAD, prefetch};
use crate::decode::dns::{DnsMessage, parse_dns};
use crate::decode::packet::{FirstFragment, flow_hash};
use crate::decode::protocol::Stack;
use crate::decode::protocol::{App, L4};
use crate::decode::quic;
use crate::decode::reassembly::{FragmentRow, Reassembler};
use crate::decode::service::Service;
use crate::decode::stream::{self, Segment, StreamEvent};

/// A TCP segment of an HTTP or TLS flow waiting for the stream tracker.
#[derive(Debug, Clone, Copy)]
pub struct StreamRow {
    pub row: usize,
    pub seg: Segment,
    /// Where its captured payload is: in the caller's batch buffer, or in [`Pending::bytes`].
    pub bytes: (usize, usize),
    /// Its protocol stack with the application named, for when a PDU completes here.
    pub stack: Stack,
}

/// A QUIC Initial waiting for the handshake tracker.
#[derive(Debug, Clone, Copy)]
pub struct QuicRow {
    pub row: usize,
    pub flow: u64,
    pub from_lo: bool,
    pub bytes: (usize, usize),
    /// Its protocol stack with `tls` added, for when a hello completes here.
    pub stack: Stack,
}

/// The rows of one batch that need the in-order pass.
#[derive(Debug, Default)]
pub struct Pending {
    pub fragments: Vec<FragmentRow>,
    pub streams: Vec<StreamRow>,
    pub quic: Vec<QuicRow>,
    /// Payload bytes copied for the trackers when the caller keeps no batch buffer.
    pub bytes: Vec<u8>,
}

impl Pending {
    fn clear(&mut self) {
        self.fragments.clear();
        self.streams.clear();
        self.quic.clear();
        self.bytes.clear();
    }
}

/// What the pass learned about one row.
#[derive(Debug, Clone)]
pub enum Fix {
    /// The fragment completing a datagram: the datagram's upper layers (as its first fragment
    /// said) and its flow id (`flow_id`: none when the first fragment was never seen and the row
    /// has a flow already).
    Reassembled {
        row: usize,
        first: Option<FirstFragment>,
        flow_id: u64,
    },
    /// A TCP segment completing an HTTP message or TLS record: its stack names the application.
    Completes { row: usize, stack: Stack },
    /// A packet that confirms the flow speaks a protocol (an HTTP request head, a TLS hello).
    Confirms { row: usize, service: Service },
    /// A DNS message the in-order pass read (in a reassembled datagram or a TCP stream), for the
    /// row that completed it.
    Dns {
        row: usize,
        multicast: bool,
        /// Boxed: rare, and three times the size of any other fix.
        msg: Box<DnsMessage>,
    },
    /// An HTTP or TLS message a TCP segment completed (see [`crate::decode::stream`]).
    Stream { row: usize, event: StreamEvent },
    /// A QUIC Initial completing a ClientHello or ServerHello.
    Hello {
        row: usize,
        stack: Stack,
        sni: Option<String>,
        version: Option<u16>,
    },
}

/// The state the pass carries from batch to batch over a whole capture (or live session).
#[derive(Default)]
pub struct InOrder {
    fragments: Reassembler,
    streams: stream::Tracker,
    quic: quic::Tracker,
    /// A segment's messages (kept to reuse its room).
    events: Vec<StreamEvent>,
}

impl InOrder {
    /// Run one batch's pending rows (batches in file order), calling `fix` for each row whose
    /// facts change. `batch` holds the bytes the rows point at; None: they are in
    /// `pending.bytes`. Leaves `pending` empty, its buffers kept for the next batch.
    pub fn run(&mut self, pending: &mut Pending, batch: Option<&[u8]>, mut fix: impl FnMut(Fix)) {
        let bytes = batch.unwrap_or(&pending.bytes);
        for f in &pending.fragments {
            let data = bytes.get(f.bytes.0..f.bytes.1).unwrap_or(&[]);
            if let Some(done) = self.fragments.add(f, data) {
                let (sport, dport) = done.first.map_or((0, 0), |first| {
                    (first.src_port.unwrap_or(0), first.dst_port.unwrap_or(0))
                });
                fix(Fix::Reassembled {
                    row: done.row,
                    first: done.first,
                    flow_id: flow_hash(f.proto, f.src, sport, f.dst, dport).0,
                });
                // DNS in a datagram too big for one packet: read it now that it is whole.
                if let (Some(first), Some(payload)) = (done.first, done.payload.as_deref())
                    && first.l4 == L4::Udp
                    && first.app.is_some_and(App::is_dns_like)
                    && let Some(msg) = payload
                        .get(8..)
                        .and_then(|m| parse_dns(m, first.app == Some(App::Nbns)))
                {
                    fix(Fix::Dns {
                        row: done.row,
                        multicast: f.dst.is_multicast(),
                        msg: Box::new(msg),
                    });
                }
            }
        }
        let rows = &pending.streams;
        for (i, r) in rows.iter().enumerate() {
            // The tracker mostly reads a record header at the start of a payload the decoder saw
            // long ago (out of cache by now): ask for upcoming ones ahead of time.
            if let Some(ahead) = rows.get(i + PREFETCH_AHEAD) {
                prefetch(bytes, ahead.bytes.0);
            }
            let done =
                self.streams
                    .segment_into(&r.seg, bytes.get(r.bytes.0..r.bytes.1).unwrap_or(&[]), &mut self.events);
            let dns = r.seg.app.is_dns_like();
            // DNS over TCP keeps the stack the decoder gave it; HTTP and TLS are named where a
            // message completes.
            if done.completes && !dns {
                fix(Fix::Completes {
                    row: r.row,
                    stack: r.stack,
                });
            }
            if let Some(service) = done.confirms.filter(|_| !dns) {
                fix(Fix::Confirms { row: r.row, service });
            }
            for event in self.events.drain(..) {
                match event {
                    StreamEvent::Dns(m) => {
                        if let Some(msg) = parse_dns(&m, r.seg.app == App::Nbns) {
                            fix(Fix::Dns {
                                row: r.row,
                                multicast: false,
                                msg: Box::new(msg),
                            });
                        }
                    }
                    event => fix(Fix::Stream { row: r.row, event }),
                }
            }
        }
        for q in &pending.quic {
            let payload = bytes.get(q.bytes.0..q.bytes.1).unwrap_or(&[]);
            let done = self.quic.packet_messages(q.flow, q.from_lo, payload);
            if let Some(hello) = done.hello {
                for service in [Service::Quic, Service::Ssl] {
                    fix(Fix::Confirms { row: q.row, service });
                }
                fix(Fix::Hello {
                    row: q.row,
                    stack: q.stack,
                    sni: hello.sni,
                    version: hello.version,
                });
            }
            for msg in done.messages {
                fix(Fix::Stream {
                    row: q.row,
                    event: StreamEvent::TlsHandshake(msg),
                });
            }
        }
        pending.clear();
    }
}
