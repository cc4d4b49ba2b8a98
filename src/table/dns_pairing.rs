//! dns_pairing: DNS messages in capture order -> DNS transactions, matched as Zeek's dns.log
//! matches them (base/protocols/dns/main.zeek): per flow, a query waits for the reply with its
//! transaction id (several queries with one id wait in order), a reply seen first waits for its
//! query, a message to a multicast group (mDNS, LLMNR) is a transaction of its own, and whatever
//! is left unmatched at the end is a row too. A transaction's fields fill as Zeek fills them:
//! flags, class and type from the query; the response code from the reply; `rtt`, `AA` and `RA`
//! only once an answer record is read (so a reply without answers has no `rtt`).

use std::collections::VecDeque;

use crate::decode::packet::FlowMap;
use crate::table::dns_coded::{Answers, DnsCoded};
use crate::table::messages::Seen;
use crate::table::tx_conn::TxConn;

/// One transaction, as dns.log writes it.
#[derive(Debug, Clone, Default)]
pub struct DnsTransaction {
    /// When the first message was seen, its flow, and the client (the query's sender, or the
    /// reply's receiver when no query was seen) and server.
    pub conn: TxConn,
    pub l4: Option<u8>,
    pub app: Option<u8>,
    pub trans_id: u16,
    /// Nanoseconds from the query to the first answer record.
    pub rtt: Option<i64>,
    /// Text code of the query name (lower case, as dns.log writes it).
    pub query: Option<u32>,
    pub qclass: Option<u16>,
    pub qtype: Option<u16>,
    pub rcode: Option<u8>,
    pub aa: bool,
    pub tc: bool,
    pub rd: bool,
    pub ra: bool,
    pub z: u8,
    /// Text codes of the answers, with their TTLs.
    pub answers: Answers,
    pub rejected: bool,
    pub opcode: Option<u8>,
    pub netbios: bool,
    pub query_frame: Option<u32>,
    pub response_frame: Option<u32>,
    pub error: Option<String>,
    saw_query: bool,
    saw_reply: bool,
}

/// Zeek's `max_pending_query_ids` and `max_pending_msgs`.
const MAX_PENDING_IDS: usize = 50;
const MAX_PENDING_MSGS: usize = 50;

/// Transactions waiting for their other half, by transaction id, in arrival order.
#[derive(Default)]
struct Pending {
    by_id: Vec<(u16, VecDeque<usize>)>,
}

impl Pending {
    fn pop(&mut self, id: u16) -> Option<usize> {
        let at = self.by_id.iter().position(|(i, q)| *i == id && !q.is_empty())?;
        let v = self.by_id[at].1.pop_front();
        if self.by_id[at].1.is_empty() {
            self.by_id.remove(at);
        }
        v
    }

    fn pop_any(&mut self) -> Option<usize> {
        let id = self.by_id.iter().find(|(_, q)| !q.is_empty())?.0;
        self.pop(id)
    }

    /// Queue `t`; returns the transactions given up on to make room (Zeek logs them as they are).
    fn push(&mut self, id: u16, t: usize) -> Vec<usize> {
        let mut dropped = Vec::new();
        match self.by_id.iter_mut().find(|(i, _)| *i == id) {
            Some((_, q)) => {
                if q.len() > MAX_PENDING_MSGS {
                    dropped.extend(q.drain(..));
                }
                q.push_back(t);
            }
            None => {
                if self.by_id.len() > MAX_PENDING_IDS {
                    for (_, q) in self.by_id.drain(..) {
                        dropped.extend(q);
                    }
                }
                self.by_id.push((id, VecDeque::from([t])));
            }
        }
        dropped
    }

    fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    fn drain(&mut self) -> impl Iterator<Item = usize> + '_ {
        self.by_id.drain(..).flat_map(|(_, q)| q)
    }
}

/// A flow's transactions that are not complete yet.
#[derive(Default)]
struct FlowState {
    pending_query: Option<usize>,
    pending_queries: Pending,
    pending_replies: Pending,
}

impl FlowState {
    fn is_empty(&self) -> bool {
        self.pending_query.is_none() && self.pending_queries.is_empty() && self.pending_replies.is_empty()
    }
}

/// Pairs DNS messages fed in capture order into transactions.
#[derive(Default)]
pub struct DnsPairing {
    flows: FlowMap<u64, FlowState>,
    /// Transactions in progress; freed slots are reused.
    slots: Vec<Option<DnsTransaction>>,
    free: Vec<usize>,
    /// Complete transactions, in the order they completed.
    done: Vec<DnsTransaction>,
}

impl DnsPairing {
    fn new_transaction(&mut self, ctx: &Seen, msg: &DnsCoded) -> usize {
        let t = DnsTransaction {
            conn: TxConn::at(ctx, !msg.head.response),
            l4: ctx.l4,
            app: ctx.app,
            trans_id: msg.head.id,
            netbios: ctx.netbios,
            ..Default::default()
        };
        match self.free.pop() {
            Some(i) => {
                self.slots[i] = Some(t);
                i
            }
            None => {
                self.slots.push(Some(t));
                self.slots.len() - 1
            }
        }
    }

    fn finish(&mut self, i: usize) {
        if let Some(t) = self.slots.get_mut(i).and_then(Option::take) {
            self.done.push(t);
            self.free.push(i);
        }
    }

    /// Zeek's `set_session`: the transaction this message belongs to.
    fn session(&mut self, ctx: &Seen, msg: &DnsCoded) -> usize {
        if ctx.multicast {
            let t = self.new_transaction(ctx, msg);
            if let Some(Some(x)) = self.slots.get_mut(t) {
                x.saw_query = true;
                x.saw_reply = true;
            }
            return t;
        }
        let mut st = self.flows.remove(&ctx.flow_id).unwrap_or_default();
        let slots = &self.slots;
        let id_of = |i: usize| slots.get(i).and_then(|s| s.as_ref()).map(|t| t.trans_id);
        let t = if !msg.head.response {
            match st.pending_replies.pop(msg.head.id) {
                Some(t) => t,
                None => {
                    let t = self.new_transaction(ctx, msg);
                    if st.pending_query.is_none() {
                        st.pending_query = Some(t);
                    } else {
                        for d in st.pending_queries.push(msg.head.id, t) {
                            self.finish(d);
                        }
                    }
                    t
                }
            }
        } else if let Some(q) = st.pending_query.filter(|&q| id_of(q) == Some(msg.head.id)) {
            // Refill the fast path, a query with this id first (keeps the queues' order).
            st.pending_query = st
                .pending_queries
                .pop(msg.head.id)
                .or_else(|| st.pending_queries.pop_any());
            q
        } else if let Some(q) = st.pending_queries.pop(msg.head.id) {
            q
        } else {
            let t = self.new_transaction(ctx, msg);
            for d in st.pending_replies.push(msg.head.id, t) {
                self.finish(d);
            }
            t
        };
        if !st.is_empty() {
            self.flows.insert(ctx.flow_id, st);
        }
        t
    }

    /// Feed one message (in capture order).
    pub fn message(&mut self, ctx: &Seen, msg: &mut DnsCoded) {
        // Zeek tracks standard queries, notifies and dynamic updates only.
        if !matches!(msg.head.opcode, 0 | 4 | 5) {
            return;
        }
        let i = self.session(ctx, msg);
        let Some(Some(t)) = self.slots.get_mut(i) else {
            return;
        };
        if msg.head.response {
            t.rcode = Some(msg.head.rcode);
            if msg.head.rcode != 0 && msg.head.qdcount == 0 {
                t.rejected = true;
            }
            t.response_frame.get_or_insert(ctx.frame);
        } else {
            t.query_frame.get_or_insert(ctx.frame);
        }
        t.opcode = Some(msg.head.opcode);
        if let Some(e) = &msg.error {
            t.error.get_or_insert_with(|| e.clone());
        }
        if let Some(q) = msg.query {
            if !msg.head.response {
                // dns_request: the query's flags, class, type and (lower-cased) name.
                t.rd = msg.head.rd;
                t.tc = msg.head.tc;
                t.qclass = msg.qclass;
                t.qtype = msg.qtype;
                t.z = msg.head.z;
                t.query = Some(q);
            } else if msg.head.ancount == 0 && msg.head.nscount == 0 && msg.head.arcount == 0 {
                // dns_rejected: a reply with nothing in it.
                t.rejected = true;
            }
        }
        if msg.head.response
            && let Some(owner) = msg.answered
        {
            // DNS::do_reply, for the answer records Zeek writes.
            if t.query.is_none() {
                t.query = Some(owner);
            }
            t.aa = msg.head.aa;
            t.ra = msg.head.ra;
            if t.rtt.is_none() && ctx.ts > t.conn.ts {
                // Checked: a damaged capture's times can be any 64-bit values (found by fuzzing).
                t.rtt = ctx.ts.checked_sub(t.conn.ts);
            }
            if t.answers.is_empty() {
                t.answers = std::mem::take(&mut msg.answers);
            } else {
                t.answers.extend(msg.answers.drain(..));
            }
        }
        // dns_end: only for a message read whole.
        if msg.error.is_none() {
            if msg.head.response {
                t.saw_reply = true;
            } else {
                t.saw_query = true;
            }
            if t.saw_reply && t.saw_query {
                // The completed transaction may still be a flow's pending query (a reply that
                // matched it took it out already; a multicast one never entered).
                self.finish(i);
            }
        }
    }

    /// Transactions completed so far, drained: the list keeps its room for the next chunk's
    /// (taken whole, every chunk grew a new one, moving the rows at each step).
    pub fn drain_done(&mut self) -> std::vec::Drain<'_, DnsTransaction> {
        self.done.drain(..)
    }

    /// Every transaction still waiting, as Zeek logs them when the connection ends; the
    /// completed ones first.
    pub fn finish_all(mut self) -> Vec<DnsTransaction> {
        let mut out = std::mem::take(&mut self.done);
        let flows: Vec<FlowState> = self.flows.drain().map(|(_, s)| s).collect();
        for mut st in flows {
            let mut left: Vec<usize> = st.pending_query.take().into_iter().collect();
            left.extend(st.pending_queries.drain());
            left.extend(st.pending_replies.drain());
            for i in left {
                if let Some(t) = self.slots.get_mut(i).and_then(Option::take) {
                    out.push(t);
                }
            }
        }
        // Any still held (a message that never completed nor waited) is kept too.
        out.extend(self.slots.into_iter().flatten());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::interner::Interner;

    fn ctx(ts: i64, frame: u32, query: bool) -> Seen {
        Seen {
            ts,
            frame,
            flow_id: 7,
            src_ip: Some(if query { 1 } else { 2 }),
            src_port: Some(if query { 40000 } else { 53 }),
            dst_ip: Some(if query { 2 } else { 1 }),
            dst_port: Some(if query { 53 } else { 40000 }),
            ..Default::default()
        }
    }

    fn msg(id: u16, response: bool, answers: &[&str]) -> DnsCoded {
        let m = crate::decode::DnsMessage {
            head: crate::decode::dns::DnsHeader {
                id,
                response,
                rd: true,
                ra: response,
                qdcount: 1,
                ancount: answers.len() as u16,
                ..Default::default()
            },
            query: Some("Example.COM".into()),
            qtype: Some(1),
            qclass: Some(1),
            answers: answers
                .iter()
                .map(|a| (crate::decode::dns::Answer::from(*a), 60))
                .collect(),
            answered: (!answers.is_empty()).then(|| "example.com".into()),
            ..Default::default()
        };
        DnsCoded::of(m, false, None, &mut Interner::default())
    }

    /// Found by `netql fuzz`: a reply timed 2^64 ns after its query (a damaged capture's times
    /// can be anything) overflowed the round-trip time. Now it has none.
    #[test]
    fn times_at_the_ends_of_the_range_give_no_rtt_and_no_overflow() {
        let mut p = DnsPairing::default();
        p.message(&ctx(i64::MIN, 1, true), &mut msg(9, false, &[]));
        p.message(&ctx(i64::MAX, 2, false), &mut msg(9, true, &["192.0.2.1"]));
        let rows = p.finish_all();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].rtt, None);
    }

    #[test]
    fn a_query_and_its_reply_make_one_transaction() {
        let mut p = DnsPairing::default();
        p.message(&ctx(100, 1, true), &mut msg(9, false, &[]));
        p.message(&ctx(350, 2, false), &mut msg(9, true, &["192.0.2.1"]));
        let rows = p.finish_all();
        assert_eq!(rows.len(), 1);
        let t = &rows[0];
        assert_eq!(t.query, Some(Interner::default().text("example.com")));
        assert_eq!((t.rtt, t.query_frame, t.response_frame), (Some(250), Some(1), Some(2)));
        assert_eq!((t.conn.client_port, t.conn.server_port), (Some(40000), Some(53)));
        assert!(t.ra && t.rd);
    }

    #[test]
    fn a_retransmitted_query_answered_once_leaves_one_unanswered() {
        // As ipv6-fragmented-dns.pcap: the query is sent twice, one reply comes.
        let mut p = DnsPairing::default();
        p.message(&ctx(0, 1, true), &mut msg(5, false, &[]));
        p.message(&ctx(10, 2, true), &mut msg(5, false, &[]));
        p.message(&ctx(50, 3, false), &mut msg(5, true, &["x"]));
        let rows = p.finish_all();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].rtt, Some(50), "the first query is the one answered");
        assert_eq!((rows[1].rtt, rows[1].rcode), (None, None));
    }

    #[test]
    fn a_reply_without_answers_has_no_rtt_and_a_lone_reply_is_kept() {
        let mut p = DnsPairing::default();
        p.message(&ctx(0, 1, true), &mut msg(1, false, &[]));
        p.message(&ctx(5, 2, false), &mut msg(1, true, &[]));
        p.message(&ctx(9, 3, false), &mut msg(2, true, &[]));
        let rows = p.finish_all();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].rtt, rows[0].rcode), (None, Some(0)));
        assert_eq!((rows[1].query_frame, rows[1].response_frame), (None, Some(3)));
    }
}
