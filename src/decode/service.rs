//! service: which application protocols a flow was seen to speak, in the order each was first
//! confirmed: the `service` column of flows, with Zeek's analyzer names (`dns`, `http`, `ssl`,
//! `quic,ssl`, ...). A protocol counts only once a message of it was read (a DNS message that
//! parses, an HTTP request head, a TLS handshake, an SSH banner), not because a port suggests it
//! (Zeek confirms the same way; a port alone gives `-` there too).

use crate::decode::protocol::{App, L4};

/// A confirmed protocol, named as Zeek's analyzer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Service {
    Dns,
    Http,
    Ssl,
    Quic,
    Ssh,
    Ftp,
    FtpData,
    Smtp,
    Pop3,
    Imap,
    Dhcp,
    Ntp,
    Snmp,
    Syslog,
    SyslogTcp,
    Sip,
    Smb,
    LdapTcp,
    LdapUdp,
    Krb,
    KrbTcp,
    Rdp,
    Mysql,
    Postgresql,
}

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Service::Dns => "dns",
            Service::Http => "http",
            Service::Ssl => "ssl",
            Service::Quic => "quic",
            Service::Ssh => "ssh",
            Service::Ftp => "ftp",
            Service::FtpData => "ftp-data",
            Service::Smtp => "smtp",
            Service::Pop3 => "pop3",
            Service::Imap => "imap",
            Service::Dhcp => "dhcp",
            Service::Ntp => "ntp",
            Service::Snmp => "snmp",
            Service::Syslog => "syslog",
            Service::SyslogTcp => "syslog_tcp",
            Service::Sip => "sip",
            Service::Smb => "smb",
            Service::LdapTcp => "ldap_tcp",
            Service::LdapUdp => "ldap_udp",
            Service::Krb => "krb",
            Service::KrbTcp => "krb_tcp",
            Service::Rdp => "rdp",
            Service::Mysql => "mysql",
            Service::Postgresql => "postgresql",
        }
    }

    /// Every service, for the column's documentation.
    pub const ALL: [Service; 24] = [
        Service::Dns,
        Service::Http,
        Service::Ssl,
        Service::Quic,
        Service::Ssh,
        Service::Ftp,
        Service::FtpData,
        Service::Smtp,
        Service::Pop3,
        Service::Imap,
        Service::Dhcp,
        Service::Ntp,
        Service::Snmp,
        Service::Syslog,
        Service::SyslogTcp,
        Service::Sip,
        Service::Smb,
        Service::LdapTcp,
        Service::LdapUdp,
        Service::Krb,
        Service::KrbTcp,
        Service::Rdp,
        Service::Mysql,
        Service::Postgresql,
    ];
}

/// What one packet's payload confirms on its own, without the packets around it: the message
/// was read (DNS, DHCP) or carries the protocol's unmistakable start (an SSH banner, SMB's
/// magic), or, for protocols netql does not parse, the payload fits the protocol on its
/// well-known port. HTTP, TLS and QUIC are confirmed by the in-order pass, which sees whole
/// messages.
pub(crate) fn confirmed_by_packet(app: App, l4: L4, payload: &[u8], parsed: bool) -> Option<Service> {
    let tcp = l4 == L4::Tcp;
    let first = *payload.first()?;
    Some(match app {
        App::Dns | App::Mdns | App::Llmnr | App::Nbns if parsed => Service::Dns,
        App::Dhcp if payload.len() >= 240 && payload[236..240] == [0x63, 0x82, 0x53, 0x63] => Service::Dhcp,
        App::Ssh if payload.starts_with(b"SSH-") => Service::Ssh,
        App::Smb if payload.len() >= 8 && (&payload[4..8] == b"\xffSMB" || &payload[4..8] == b"\xfeSMB") => {
            Service::Smb
        }
        App::Ntp if payload.len() >= 48 => Service::Ntp,
        App::Snmp if first == 0x30 => Service::Snmp,
        App::Syslog if first == b'<' => {
            if tcp {
                Service::SyslogTcp
            } else {
                Service::Syslog
            }
        }
        App::Sip if payload.starts_with(b"SIP/2.0") || payload.iter().take(16).any(|&c| c == b' ') => Service::Sip,
        App::Ldap if first == 0x30 => {
            if tcp {
                Service::LdapTcp
            } else {
                Service::LdapUdp
            }
        }
        App::Kerberos => {
            if tcp {
                Service::KrbTcp
            } else {
                Service::Krb
            }
        }
        App::Ftp if tcp && line_like(payload) => Service::Ftp,
        App::Smtp if tcp && line_like(payload) => Service::Smtp,
        App::Pop if tcp && line_like(payload) => Service::Pop3,
        App::Imap if tcp && line_like(payload) => Service::Imap,
        App::Rdp if tcp && first == 3 => Service::Rdp,
        App::Mysql if tcp => Service::Mysql,
        App::Pgsql if tcp => Service::Postgresql,
        _ => return None,
    })
}

/// Printable text ending in a line break: how line-based protocols talk.
fn line_like(b: &[u8]) -> bool {
    b.iter().take(512).any(|&c| c == b'\n')
        && b.iter()
            .take(64)
            .all(|&c| c == b'\r' || c == b'\n' || c == b'\t' || (0x20..0x7f).contains(&c))
}
