//! app: which application protocol a payload carries (the payload first, well-known ports
//! second) and the parser that reads its facts.

use crate::decode::dns::parse_dns;
use crate::decode::http::parse_http;
use crate::decode::login::login_command;
use crate::decode::packet::Packet;
use crate::decode::protocol::{App, L4, Proto};
use crate::decode::service::confirmed_by_packet;
use crate::decode::tls::parse_tls;

/// Well-known ports, checked for both ends (the lower port number wins when both match).
fn app_by_port(l4: L4, port: u16) -> Option<App> {
    let tcp = l4 == L4::Tcp;
    Some(match port {
        53 => App::Dns,
        5353 if !tcp => App::Mdns,
        5355 => App::Llmnr,
        137 if !tcp => App::Nbns,
        67 | 68 if !tcp => App::Dhcp,
        546 | 547 if !tcp => App::Dhcpv6,
        123 if !tcp => App::Ntp,
        161 | 162 if !tcp => App::Snmp,
        514 => App::Syslog,
        1900 if !tcp => App::Ssdp,
        5060 => App::Sip,
        443 if !tcp => App::Quic,
        80 | 8080 | 8000 | 3128 if tcp => App::Http,
        443 | 8443 | 993 | 995 | 465 | 636 | 853 if tcp => App::Tls,
        22 if tcp => App::Ssh,
        21 if tcp => App::Ftp,
        20 if tcp => App::FtpData,
        23 if tcp => App::Telnet,
        25 | 587 if tcp => App::Smtp,
        110 if tcp => App::Pop,
        143 if tcp => App::Imap,
        139 | 445 if tcp => App::Smb,
        389 => App::Ldap,
        88 => App::Kerberos,
        3389 if tcp => App::Rdp,
        3306 if tcp => App::Mysql,
        5432 if tcp => App::Pgsql,
        _ => return None,
    })
}

/// The request methods an HTTP/1.x request line starts with (and a space).
pub(crate) const HTTP_METHODS: [&[u8]; 9] = [
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"DELETE ",
    b"OPTIONS ",
    b"CONNECT ",
    b"PATCH ",
    b"TRACE ",
];

/// What the payload itself says it is, before any port is consulted.
fn app_by_payload(l4: L4, b: &[u8]) -> Option<App> {
    if b.is_empty() {
        return None;
    }
    match l4 {
        L4::Tcp => {
            if b.len() >= 5 && (20..=23).contains(&b[0]) && b[1] == 3 && b[2] <= 4 {
                return Some(App::Tls);
            }
            if HTTP_METHODS.iter().any(|m| b.starts_with(m)) || b.starts_with(b"HTTP/1.") {
                return Some(App::Http);
            }
            if b.starts_with(b"SSH-") {
                return Some(App::Ssh);
            }
            if b.len() >= 8 && b[0] == 0 && (&b[4..8] == b"\xffSMB" || &b[4..8] == b"\xfeSMB") {
                return Some(App::Smb);
            }
            None
        }
        L4::Udp => {
            // QUIC long header: form bit + fixed bit, then a known version.
            if b.len() >= 7 && b[0] & 0xc0 == 0xc0 {
                let v = u32::from_be_bytes([b[1], b[2], b[3], b[4]]);
                if v == 1 || v == 0x6b33_43cf || v & 0xffff_ff00 == 0xff00_0000 {
                    return Some(App::Quic);
                }
            }
            // BOOTP/DHCP magic cookie.
            if b.len() >= 240 && b[236..240] == [0x63, 0x82, 0x53, 0x63] && b[0] <= 2 {
                return Some(App::Dhcp);
            }
            None
        }
        _ => None,
    }
}

/// Name the application protocol and read its facts. `payload` is what was captured,
/// `payload_len` what was on the wire.
pub(crate) fn app_layer(p: &mut Packet, l4: L4, payload: &[u8], payload_len: u32) {
    let (sp, dp) = (p.src_port.unwrap_or(0), p.dst_port.unwrap_or(0));
    let by_port = {
        let (lo, hi) = if sp <= dp { (sp, dp) } else { (dp, sp) };
        app_by_port(l4, lo).or_else(|| app_by_port(l4, hi))
    };
    let app = app_by_payload(l4, payload).or(by_port).unwrap_or(App::Unknown);
    p.app = Some(app);
    // Like tshark, the stack names an application layer only when there are bytes for it.
    if payload_len == 0 || payload.is_empty() || app == App::Unknown {
        return;
    }
    p.stack.push(Proto::App(app));
    match app {
        a if a.is_dns_like() => {
            let msg = if l4 == L4::Tcp && payload.len() > 2 {
                &payload[2..]
            } else {
                payload
            };
            p.dns = parse_dns(msg, app == App::Nbns);
            if let Some(e) = p.dns.as_ref().and_then(|d| d.error.clone())
                && !p.cut
            {
                p.set_error(e);
            }
        }
        App::Http => parse_http(p, payload),
        App::Tls => parse_tls(p, payload),
        App::Ftp | App::Pop | App::Imap | App::Smtp | App::Telnet => p.credential = login_command(app, payload),
        _ => {}
    }
    let parsed = p.dns.as_ref().is_some_and(|d| d.error.is_none());
    p.service = confirmed_by_packet(app, l4, payload, parsed);
}
