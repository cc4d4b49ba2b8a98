//! sample: the bundled sample capture, written by netql itself (`netql sample FILE`). It is a
//! minute of a small LAN: DNS look-ups (one NXDOMAIN), an HTTP page fetch, a TLS session with
//! SNI, ARP, pings, and a small TCP SYN port scan of one host. Deterministic: the same bytes on
//! every run, so a test can prove the committed file came from this code.

use std::path::Path;

use std::str::FromStr;

use domain::base::iana::{Rcode, Rtype};
use domain::base::{MessageBuilder, Name};
use domain::rdata::A;
use etherparse::PacketBuilder;

use crate::capture::linktype;
use crate::capture::write;
use crate::error::Result;

const T0: i64 = 1_714_557_600_000_000_000; // 2024-05-01T10:00:00Z

type Mac = [u8; 6];
type Ip = [u8; 4];

const GW_MAC: Mac = [0x52, 0x54, 0x00, 0x12, 0x35, 0x02];
const PC_MAC: Mac = [0x08, 0x00, 0x27, 0x4e, 0x61, 0x10];
const SCAN_MAC: Mac = [0x08, 0x00, 0x27, 0xba, 0xd0, 0x66];
const GW: Ip = [192, 168, 56, 1];
const PC: Ip = [192, 168, 56, 10];
const SCANNER: Ip = [192, 168, 56, 66];
const WEB: Ip = [203, 0, 113, 80];
const API: Ip = [198, 51, 100, 44];

struct Out {
    recs: Vec<(i64, Vec<u8>)>,
}

impl Out {
    fn push(&mut self, ts: i64, packet: Vec<u8>) {
        self.recs.push((ts, packet));
    }
}

fn udp(src_mac: Mac, dst_mac: Mac, src: Ip, dst: Ip, sp: u16, dp: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = PacketBuilder::ethernet2(src_mac, dst_mac)
        .ipv4(src, dst, 64)
        .udp(sp, dp)
        .write(&mut v, payload);
    v
}

#[derive(Clone, Copy)]
struct Seg {
    syn: bool,
    ack: bool,
    fin: bool,
    rst: bool,
    psh: bool,
}

const SYN: Seg = Seg {
    syn: true,
    ack: false,
    fin: false,
    rst: false,
    psh: false,
};
const SYNACK: Seg = Seg {
    syn: true,
    ack: true,
    fin: false,
    rst: false,
    psh: false,
};
const ACK: Seg = Seg {
    syn: false,
    ack: true,
    fin: false,
    rst: false,
    psh: false,
};
const PSHACK: Seg = Seg {
    syn: false,
    ack: true,
    fin: false,
    rst: false,
    psh: true,
};
const FINACK: Seg = Seg {
    syn: false,
    ack: true,
    fin: true,
    rst: false,
    psh: false,
};
const RST: Seg = Seg {
    syn: false,
    ack: false,
    fin: false,
    rst: true,
    psh: false,
};
const RSTACK: Seg = Seg {
    syn: false,
    ack: true,
    fin: false,
    rst: true,
    psh: false,
};

/// A TCP segment between two endpoints (MAC, IP, port).
fn tcp(from: (Mac, Ip, u16), to: (Mac, Ip, u16), seq: u32, ack: u32, s: Seg, payload: &[u8]) -> Vec<u8> {
    let mut b = PacketBuilder::ethernet2(from.0, to.0)
        .ipv4(from.1, to.1, 64)
        .tcp(from.2, to.2, seq, 64240);
    if s.syn {
        b = b.syn();
    }
    if s.ack {
        b = b.ack(ack);
    }
    if s.fin {
        b = b.fin();
    }
    if s.rst {
        b = b.rst();
    }
    if s.psh {
        b = b.psh();
    }
    let mut v = Vec::new();
    let _ = b.write(&mut v, payload);
    v
}

/// One TCP connection between the PC and a server behind the gateway.
struct Conn {
    client: (Mac, Ip, u16),
    server: (Mac, Ip, u16),
    cseq: u32,
    sseq: u32,
}

impl Conn {
    fn new(client: (Mac, Ip, u16), server: (Mac, Ip, u16), iss: u32) -> Conn {
        Conn {
            client,
            server,
            cseq: iss,
            sseq: iss.wrapping_mul(7).wrapping_add(12345),
        }
    }
    fn c2s(&mut self, out: &mut Out, ts: i64, s: Seg, data: &[u8]) {
        out.push(ts, tcp(self.client, self.server, self.cseq, self.sseq, s, data));
        self.cseq = self.cseq.wrapping_add(data.len() as u32 + (s.syn || s.fin) as u32);
    }
    fn s2c(&mut self, out: &mut Out, ts: i64, s: Seg, data: &[u8]) {
        out.push(ts, tcp(self.server, self.client, self.sseq, self.cseq, s, data));
        self.sseq = self.sseq.wrapping_add(data.len() as u32 + (s.syn || s.fin) as u32);
    }
    fn handshake(&mut self, out: &mut Out, ts: i64, rtt: i64) {
        self.c2s(out, ts, SYN, &[]);
        self.s2c(out, ts + rtt, SYNACK, &[]);
        self.c2s(out, ts + rtt + 50_000, ACK, &[]);
    }
    fn close(&mut self, out: &mut Out, ts: i64, rtt: i64) {
        self.c2s(out, ts, FINACK, &[]);
        self.s2c(out, ts + rtt, FINACK, &[]);
        self.c2s(out, ts + rtt + 40_000, ACK, &[]);
    }
}

fn dns_query(id: u16, name: &str, qtype: Rtype) -> Vec<u8> {
    let mut m = MessageBuilder::new_vec();
    m.header_mut().set_id(id);
    m.header_mut().set_rd(true);
    let mut q = m.question();
    let Ok(name) = Name::<Vec<u8>>::from_str(name) else {
        return Vec::new();
    };
    if q.push((&name, qtype)).is_err() {
        return Vec::new();
    }
    q.finish()
}

fn dns_answer(id: u16, name: &str, addr: Option<Ip>) -> Vec<u8> {
    let mut m = MessageBuilder::new_vec();
    let h = m.header_mut();
    h.set_id(id);
    h.set_qr(true);
    h.set_rd(true);
    h.set_ra(true);
    if addr.is_none() {
        h.set_rcode(Rcode::NXDOMAIN);
    }
    let Ok(qname) = Name::<Vec<u8>>::from_str(name) else {
        return Vec::new();
    };
    let mut q = m.question();
    if q.push((&qname, Rtype::A)).is_err() {
        return Vec::new();
    }
    let mut ans = q.answer();
    if let Some(a) = addr
        && ans
            .push((&qname, 300u32, A::from_octets(a[0], a[1], a[2], a[3])))
            .is_err()
    {
        return Vec::new();
    }
    ans.finish()
}

/// A TLS 1.3-style ClientHello record carrying `sni`.
fn client_hello(sni: &str) -> Vec<u8> {
    let mut ext = Vec::new();
    // server_name
    let name = sni.as_bytes();
    let mut sn = Vec::new();
    sn.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes());
    sn.push(0);
    sn.extend_from_slice(&(name.len() as u16).to_be_bytes());
    sn.extend_from_slice(name);
    ext.extend_from_slice(&0u16.to_be_bytes());
    ext.extend_from_slice(&(sn.len() as u16).to_be_bytes());
    ext.extend_from_slice(&sn);
    // supported_versions: TLS 1.3, TLS 1.2
    ext.extend_from_slice(&43u16.to_be_bytes());
    ext.extend_from_slice(&5u16.to_be_bytes());
    ext.extend_from_slice(&[4, 0x03, 0x04, 0x03, 0x03]);
    let mut body = Vec::new();
    body.extend_from_slice(&[0x03, 0x03]);
    body.extend((0..32u8).map(|i| i.wrapping_mul(37)));
    body.push(0); // session id
    body.extend_from_slice(&[0, 4, 0x13, 0x01, 0x13, 0x02]);
    body.extend_from_slice(&[1, 0]);
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    tls_record(22, &handshake(1, &body))
}

fn server_hello() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&[0x03, 0x03]);
    body.extend((0..32u8).map(|i| i.wrapping_mul(11)));
    body.push(0);
    body.extend_from_slice(&[0x13, 0x01, 0]);
    let ext = [0u8, 43, 0, 2, 0x03, 0x04];
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    tls_record(22, &handshake(2, &body))
}

fn handshake(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut h = vec![kind];
    h.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    h.extend_from_slice(body);
    h
}

fn tls_record(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut r = vec![kind, 0x03, 0x03];
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(body);
    r
}

/// Bytes that look like encrypted application data (deterministic).
fn noise(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// The sample's packets, in time order.
pub fn packets() -> Vec<(i64, Vec<u8>)> {
    let ms = 1_000_000i64;
    let mut out = Out { recs: Vec::new() };

    // ARP: the PC looks up its gateway.
    let arp = |op: u16, smac: Mac, sip: Ip, tmac: Mac, tip: Ip| {
        let mut v = Vec::new();
        v.extend_from_slice(&if op == 1 { [0xff; 6] } else { tmac });
        v.extend_from_slice(&smac);
        v.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4]);
        v.extend_from_slice(&op.to_be_bytes());
        v.extend_from_slice(&smac);
        v.extend_from_slice(&sip);
        v.extend_from_slice(&if op == 1 { [0; 6] } else { tmac });
        v.extend_from_slice(&tip);
        v.resize(60, 0);
        v
    };
    out.recs.push((T0, arp(1, PC_MAC, PC, [0; 6], GW)));
    out.recs.push((T0 + ms, arp(2, GW_MAC, GW, PC_MAC, PC)));

    // DNS look-ups, one of them for a name that does not exist.
    let lookups: [(u16, &str, Option<Ip>); 3] = [
        (0x1a2b, "www.example.com", Some(WEB)),
        (0x1a2c, "api.example.net", Some(API)),
        (0x1a2d, "nosuchhost.example.org", None),
    ];
    for (i, (id, name, addr)) in lookups.iter().enumerate() {
        let t = T0 + 100 * ms + i as i64 * 700 * ms;
        let sp = 53000 + i as u16;
        let query = dns_query(*id, name, Rtype::A);
        out.push(t, udp(PC_MAC, GW_MAC, PC, GW, sp, 53, &query));
        let answer = dns_answer(*id, name, *addr);
        out.push(t + 12 * ms, udp(GW_MAC, PC_MAC, GW, PC, 53, sp, &answer));
    }

    // HTTP: fetch a page from www.example.com.
    let mut web = Conn::new((PC_MAC, PC, 49152), (GW_MAC, WEB, 80), 1_000_000);
    let t = T0 + 2_500 * ms;
    web.handshake(&mut out, t, 20 * ms);
    let req =
        b"GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: netql-sample/1.0\r\nAccept: */*\r\n\r\n";
    web.c2s(&mut out, t + 21 * ms, PSHACK, req);
    let body = format!("<html><body>{}</body></html>", "netql sample page. ".repeat(60));
    let resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{}",
        body.len(),
        body
    );
    web.s2c(&mut out, t + 45 * ms, PSHACK, resp.as_bytes());
    web.c2s(&mut out, t + 46 * ms, ACK, &[]);
    web.close(&mut out, t + 3_000 * ms, 20 * ms);

    // TLS to api.example.net, a few application records each way.
    let mut api = Conn::new((PC_MAC, PC, 49153), (GW_MAC, API, 443), 7_000_000);
    let t = T0 + 4_000 * ms;
    api.handshake(&mut out, t, 30 * ms);
    api.c2s(&mut out, t + 31 * ms, PSHACK, &client_hello("api.example.net"));
    let mut sh = server_hello();
    sh.extend_from_slice(&tls_record(20, &[1]));
    sh.extend_from_slice(&tls_record(23, &noise(900, 1)));
    api.s2c(&mut out, t + 62 * ms, PSHACK, &sh);
    for k in 0..6u32 {
        let tk = t + 100 * ms + k as i64 * 5_000 * ms;
        api.c2s(&mut out, tk, PSHACK, &tls_record(23, &noise(180, 10 + k)));
        api.s2c(&mut out, tk + 31 * ms, PSHACK, &tls_record(23, &noise(1200, 20 + k)));
        api.c2s(&mut out, tk + 32 * ms, ACK, &[]);
    }
    api.close(&mut out, t + 31_000 * ms, 30 * ms);

    // Pings to the gateway.
    for k in 0..4u16 {
        let t = T0 + 10_000 * ms + k as i64 * 1_000 * ms;
        let echo = |from_mac: Mac, to_mac: Mac, from: Ip, to: Ip, reply: bool| {
            let b = PacketBuilder::ethernet2(from_mac, to_mac).ipv4(from, to, 64);
            let b = if reply {
                b.icmpv4_echo_reply(0x4242, k)
            } else {
                b.icmpv4_echo_request(0x4242, k)
            };
            let mut v = Vec::new();
            let _ = b.write(&mut v, &noise(56, k as u32));
            v
        };
        out.recs.push((t, echo(PC_MAC, GW_MAC, PC, GW, false)));
        out.recs.push((t + 2 * ms, echo(GW_MAC, PC_MAC, GW, PC, true)));
    }

    // A SYN scan of the PC from 192.168.56.66: ports 1-100 in about a second. 22 and 80 answer
    // with SYN-ACK (and the scanner resets them), the rest with RST-ACK.
    let t = T0 + 20_000 * ms;
    for (k, port) in (1u16..=100).enumerate() {
        let tk = t + k as i64 * 9 * ms;
        let sp = 61000;
        let seq = 0x5ca0_0000 + port as u32;
        let scanner = (SCAN_MAC, SCANNER, sp);
        let target = (PC_MAC, PC, port);
        out.push(tk, tcp(scanner, target, seq, 0, SYN, &[]));
        if port == 22 || port == 80 {
            out.push(tk + ms / 5, tcp(target, scanner, 0x77_0000, seq + 1, SYNACK, &[]));
            out.push(tk + ms / 2, tcp(scanner, target, seq + 1, 0, RST, &[]));
        } else {
            out.push(tk + ms / 5, tcp(target, scanner, 0, seq + 1, RSTACK, &[]));
        }
    }

    out.recs.sort_by_key(|r| r.0);
    out.recs
}

/// Write the sample capture to `path`.
pub fn write(path: &Path) -> Result<()> {
    write::write_file(path, linktype::ETHERNET as u32, &packets())
}
