//! tls_sessions: TLS and QUIC handshakes, message by message in capture order -> one row per
//! connection, with Zeek's ssl.log meaning (base/protocols/ssl/main.zeek): the version, cipher and
//! curve the server chose, the client's server name, `resumed` (the session id echoed, a ticket
//! used without a key exchange, or a pre-shared key accepted), `established` (a record after
//! both sides changed cipher), the last alert, and `ssl_history` (a letter per handshake
//! message, upper case from the client). Beside them: what the client offered, the fingerprints
//! (JA4 of the first ClientHello, JA3, JA3S) and, for TLS 1.2 and earlier, the server's
//! certificate.

use crate::decode::certificate::{CertFacts, certificate, certificate_chain};
use crate::decode::fingerprint::{ja3, ja3s, ja4};
use crate::decode::packet::FlowMap;
use crate::decode::stream::StreamEvent;
use crate::decode::tls_hello::{ClientHello, ServerHello, client_hello, server_hello};
use crate::decode::tls_names::is_grease;
use crate::table::messages::Seen;
use crate::table::tx_conn::TxConn;

/// One handshake, as the tls table writes it. Versions, cipher, curve and alert are kept as
/// their numbers and named once per distinct number when the table is made (a string each,
/// per handshake, was made and freed before).
#[derive(Debug, Clone, Default)]
pub struct TlsSession {
    /// When the first message was seen, its flow; client and server as the first hello says.
    pub conn: TxConn,
    pub quic: bool,
    pub version: Option<u16>,
    pub client_versions: Vec<u16>,
    pub cipher: Option<u16>,
    /// A named group (from the ServerHello's key share or the ServerKeyExchange).
    pub curve: Option<u16>,
    pub server_name: Option<String>,
    pub alpn: Vec<String>,
    pub next_protocol: Option<String>,
    pub established: bool,
    pub resumed: bool,
    /// The last alert's description.
    pub last_alert: Option<u8>,
    pub history: String,
    pub ja4: Option<String>,
    pub ja4_r: Option<String>,
    pub ja3: Option<String>,
    pub ja3_string: Option<String>,
    pub ja3s: Option<String>,
    pub ja3s_string: Option<String>,
    pub cert: Option<CertFacts>,
    pub cert_chain_fps: Vec<String>,
    pub client_hello_frame: Option<u32>,
    pub server_hello_frame: Option<u32>,
}

/// A handshake in progress.
#[derive(Default)]
struct State {
    s: TlsSession,
    client: Option<(Option<u32>, Option<u16>)>,
    client_session_id: Option<Vec<u8>>,
    ticket_without_session: bool,
    client_key_exchange: bool,
    client_psk: bool,
    retry_seen: bool,
    /// Which sides changed cipher (client, server).
    changed: [bool; 2],
}

/// Builds the tls table's rows from handshake messages fed in capture order.
#[derive(Default)]
pub struct TlsSessions {
    open: FlowMap<u64, State>,
    /// Flows whose row was written (further messages change nothing, as in Zeek).
    logged: FlowMap<u64, ()>,
    done: Vec<TlsSession>,
}

/// Text of a protocol name or label (other bytes as `\xHH`).
fn text(b: &[u8]) -> String {
    let mut out = String::new();
    for chunk in b.utf8_chunks() {
        out.push_str(chunk.valid());
        for x in chunk.invalid() {
            out.push_str(&format!("\\x{x:02x}"));
        }
    }
    out
}

impl TlsSessions {
    /// Feed one message of a flow (in capture order): a TLS record's kind, a handshake message,
    /// an alert.
    pub fn event(&mut self, seen: &Seen, event: &StreamEvent, quic: bool) {
        if self.logged.contains_key(&seen.flow_id) {
            return;
        }
        let st = self.open.entry(seen.flow_id).or_insert_with(|| State {
            s: TlsSession {
                conn: TxConn {
                    ts: seen.ts,
                    flow_id: seen.flow_id,
                    flow_row: seen.flow_row,
                    ..Default::default()
                },
                quic,
                ..Default::default()
            },
            ..Default::default()
        });
        let from_client = match st.client {
            Some(c) => c == (seen.src_ip, seen.src_port),
            None => true,
        };
        let letter = |st: &mut State, c: char| {
            st.s.history.push(if from_client { c.to_ascii_uppercase() } else { c });
        };
        match event {
            StreamEvent::TlsRecord { content_type, .. } => {
                let side = usize::from(!from_client);
                if *content_type == 20 {
                    letter(st, 'i');
                    if from_client && st.ticket_without_session && !st.client_key_exchange {
                        st.s.resumed = true;
                    }
                    st.changed[side] = true;
                } else if st.changed[0] && st.changed[1] && !st.s.established {
                    // A record after both sides changed cipher: the session is up (Zeek logs
                    // it then).
                    st.s.established = true;
                }
            }
            StreamEvent::TlsAlert { description, .. } => {
                letter(st, 'l');
                st.s.last_alert = Some(*description);
            }
            StreamEvent::TlsHandshake(msg) => handshake(st, seen, msg, from_client),
            _ => {}
        }
        if st.s.established
            && let Some(st) = self.open.remove(&seen.flow_id)
        {
            self.logged.insert(seen.flow_id, ());
            self.done.push(st.s);
        }
    }

    /// Transactions completed so far, drained: the list keeps its room for the next chunk's
    /// (taken whole, every chunk grew a new one, moving the rows at each step).
    pub fn drain_done(&mut self) -> std::vec::Drain<'_, TlsSession> {
        self.done.drain(..)
    }

    /// The connection ended: a handshake still open is logged as it stands (as Zeek logs it
    /// when the connection goes), and later messages of the flow change nothing.
    pub fn close(&mut self, flow_id: u64) {
        if let Some(st) = self.open.remove(&flow_id) {
            self.done.push(st.s);
            self.logged.insert(flow_id, ());
        }
    }

    /// Every handshake still open, as Zeek logs them when the connection ends.
    pub fn finish_all(mut self) -> Vec<TlsSession> {
        let mut out = std::mem::take(&mut self.done);
        out.extend(self.open.drain().map(|(_, st)| st.s));
        out
    }
}

/// A handshake message: its history letter and what it says.
fn handshake(st: &mut State, seen: &Seen, msg: &[u8], from_client: bool) {
    let Some(&kind) = msg.first() else { return };
    let quic = st.s.quic;
    let case = |c: char| if from_client { c.to_ascii_uppercase() } else { c };
    let letter = match kind {
        0 => 'h',
        1 => 'c',
        2 if st.retry_seen => 'j',
        2 => 's',
        3 => 'v',
        4 => 't',
        5 => 'e',
        6 => 'j',
        8 => 'o',
        11 => 'x',
        12 => 'k',
        13 => 'r',
        14 => 'n',
        15 => 'y',
        16 => 'g',
        20 => 'f',
        21 => 'w',
        22 => 'u',
        23 => 'a',
        24 => 'p',
        254 => 'm',
        _ => 'z',
    };
    st.s.history.push(case(letter));
    match kind {
        1 => {
            let Some(ch) = client_hello(msg) else { return };
            if st.client.is_none() {
                st.client = Some((seen.src_ip, seen.src_port));
                st.s.conn.set_ends(seen, true);
            }
            client(st, seen, &ch, quic);
        }
        2 => {
            let Some(sh) = server_hello(msg) else { return };
            if st.client.is_none() {
                st.client = Some((seen.dst_ip, seen.dst_port));
                st.s.conn.set_ends(seen, false);
            }
            server(st, seen, &sh);
        }
        11 if !from_client && st.s.cert.is_none() => {
            let chain = certificate_chain(msg);
            st.s.cert = chain.first().and_then(|der| certificate(der));
            st.s.cert_chain_fps = chain
                .iter()
                .filter_map(|der| certificate(der))
                .map(|c| c.sha256)
                .collect();
        }
        12 => {
            // ServerKeyExchange: ECDHE parameters name their curve (curve type 3, named curve).
            if msg.get(4) == Some(&3)
                && let Some(g) = msg.get(5..7)
            {
                st.s.curve = Some(u16::from_be_bytes([g[0], g[1]]));
            }
        }
        16 if from_client => st.client_key_exchange = true,
        _ => {}
    }
}

fn client(st: &mut State, seen: &Seen, ch: &ClientHello, quic: bool) {
    let first = st.s.client_hello_frame.is_none();
    if first {
        st.s.client_hello_frame = Some(seen.frame);
        let (ja4, ja4_r) = ja4(ch, quic);
        st.s.ja4 = Some(ja4);
        st.s.ja4_r = Some(ja4_r);
        let (s, h) = ja3(ch);
        st.s.ja3 = Some(h);
        st.s.ja3_string = Some(s);
        st.s.client_versions = ch.versions.iter().copied().filter(|v| !is_grease(*v)).collect();
        if st.s.client_versions.is_empty() {
            st.s.client_versions.push(ch.legacy_version);
        }
        st.s.alpn = ch.alpn.iter().map(|a| text(a)).collect();
    }
    if let Some(name) = &ch.sni {
        st.s.server_name = Some(name.clone());
    }
    // Zeek reads the ticket extension before the session id: a ticket offered with no session
    // id may resume a session.
    let sid = &ch.session_id;
    let all_zero = sid.len() == 32 && sid.iter().all(|b| *b == 0);
    let real_sid = !(sid.is_empty() || all_zero);
    st.ticket_without_session = if real_sid {
        false
    } else {
        ch.ticket || st.ticket_without_session
    };
    if real_sid {
        st.client_session_id = Some(sid.clone());
    }
    st.client_psk |= ch.psk;
}

fn server(st: &mut State, seen: &Seen, sh: &ServerHello) {
    if sh.is_retry_request() {
        st.retry_seen = true;
    } else {
        st.retry_seen = false;
        st.s.server_hello_frame.get_or_insert(seen.frame);
    }
    st.s.version = Some(sh.chosen_version());
    st.s.cipher = Some(sh.cipher);
    if let Some(g) = sh.group {
        st.s.curve = Some(g);
    }
    if let Some(a) = &sh.alpn {
        st.s.next_protocol = Some(text(a));
    }
    let v = sh.chosen_version();
    if st.client_session_id.as_deref() == Some(sh.session_id.as_slice()) && v >> 8 != 0x7f && v != 0x0304 {
        st.s.resumed = true;
    }
    if sh.psk && st.client_psk {
        st.s.resumed = true;
    }
    let (s, h) = ja3s(sh);
    st.s.ja3s = Some(h);
    st.s.ja3s_string = Some(s);
}
