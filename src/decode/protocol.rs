//! protocol: the names of what a frame carries: link/network/transport protocols and the
//! application protocols ([`App`], tshark's dissector names), the transport of the `l4` column
//! ([`L4`]) and a frame's whole stack ([`Stack`], tshark's `frame.protocols`).

/// Protocol names that can appear in a frame's stack, outermost first (tshark's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Proto {
    Eth,
    Vlan,
    Ieee8021ad,
    Sll,
    Null,
    Raw,
    Arp,
    Ip,
    Ipv6,
    Tcp,
    Udp,
    Icmp,
    Icmpv6,
    Igmp,
    Gre,
    Esp,
    Sctp,
    App(App),
}

impl Proto {
    pub fn name(self) -> &'static str {
        match self {
            Proto::Eth => "eth",
            Proto::Vlan => "vlan",
            Proto::Ieee8021ad => "ieee8021ad",
            Proto::Sll => "sll",
            Proto::Null => "null",
            Proto::Raw => "raw",
            Proto::Arp => "arp",
            Proto::Ip => "ip",
            Proto::Ipv6 => "ipv6",
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Icmp => "icmp",
            Proto::Icmpv6 => "icmpv6",
            Proto::Igmp => "igmp",
            Proto::Gre => "gre",
            Proto::Esp => "esp",
            Proto::Sctp => "sctp",
            Proto::App(a) => a.name(),
        }
    }

    /// A small number per protocol (apps from 32 on); [`proto_from_code`] is its inverse.
    fn code(self) -> u8 {
        match self {
            Proto::Eth => 1,
            Proto::Vlan => 2,
            Proto::Ieee8021ad => 3,
            Proto::Sll => 4,
            Proto::Null => 5,
            Proto::Raw => 6,
            Proto::Arp => 7,
            Proto::Ip => 8,
            Proto::Ipv6 => 9,
            Proto::Tcp => 10,
            Proto::Udp => 11,
            Proto::Icmp => 12,
            Proto::Icmpv6 => 13,
            Proto::Igmp => 14,
            Proto::Gre => 15,
            Proto::Esp => 16,
            Proto::Sctp => 17,
            Proto::App(a) => 32 + a as u8,
        }
    }
}

/// Application protocols, named as tshark names their dissectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum App {
    Dns,
    Mdns,
    Llmnr,
    Nbns,
    Dhcp,
    Dhcpv6,
    Ntp,
    Snmp,
    Syslog,
    Ssdp,
    Sip,
    Quic,
    Http,
    Tls,
    Ssh,
    Ftp,
    FtpData,
    Telnet,
    Smtp,
    Pop,
    Imap,
    Smb,
    Ldap,
    Kerberos,
    Rdp,
    Mysql,
    Pgsql,
    Unknown,
}

impl App {
    pub const ALL: [App; 28] = [
        App::Dns,
        App::Mdns,
        App::Llmnr,
        App::Nbns,
        App::Dhcp,
        App::Dhcpv6,
        App::Ntp,
        App::Snmp,
        App::Syslog,
        App::Ssdp,
        App::Sip,
        App::Quic,
        App::Http,
        App::Tls,
        App::Ssh,
        App::Ftp,
        App::FtpData,
        App::Telnet,
        App::Smtp,
        App::Pop,
        App::Imap,
        App::Smb,
        App::Ldap,
        App::Kerberos,
        App::Rdp,
        App::Mysql,
        App::Pgsql,
        App::Unknown,
    ];

    pub fn name(self) -> &'static str {
        match self {
            App::Dns => "dns",
            App::Mdns => "mdns",
            App::Llmnr => "llmnr",
            App::Nbns => "nbns",
            App::Dhcp => "dhcp",
            App::Dhcpv6 => "dhcpv6",
            App::Ntp => "ntp",
            App::Snmp => "snmp",
            App::Syslog => "syslog",
            App::Ssdp => "ssdp",
            App::Sip => "sip",
            App::Quic => "quic",
            App::Http => "http",
            App::Tls => "tls",
            App::Ssh => "ssh",
            App::Ftp => "ftp",
            App::FtpData => "ftp-data",
            App::Telnet => "telnet",
            App::Smtp => "smtp",
            App::Pop => "pop",
            App::Imap => "imap",
            App::Smb => "smb",
            App::Ldap => "ldap",
            App::Kerberos => "kerberos",
            App::Rdp => "rdp",
            App::Mysql => "mysql",
            App::Pgsql => "pgsql",
            App::Unknown => "unknown",
        }
    }

    pub fn is_dns_like(self) -> bool {
        matches!(self, App::Dns | App::Mdns | App::Llmnr | App::Nbns)
    }
}

/// Transport protocol of a packet, as the `l4` column names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum L4 {
    Tcp,
    Udp,
    Icmp,
    Icmpv6,
    Igmp,
    Gre,
    Esp,
    Sctp,
    Other,
}

impl L4 {
    pub const ALL: [L4; 9] = [
        L4::Tcp,
        L4::Udp,
        L4::Icmp,
        L4::Icmpv6,
        L4::Igmp,
        L4::Gre,
        L4::Esp,
        L4::Sctp,
        L4::Other,
    ];

    pub fn name(self) -> &'static str {
        match self {
            L4::Tcp => "tcp",
            L4::Udp => "udp",
            L4::Icmp => "icmp",
            L4::Icmpv6 => "icmpv6",
            L4::Igmp => "igmp",
            L4::Gre => "gre",
            L4::Esp => "esp",
            L4::Sctp => "sctp",
            L4::Other => "other",
        }
    }

    pub(crate) fn from_ip_number(n: u8) -> L4 {
        match n {
            6 => L4::Tcp,
            17 => L4::Udp,
            1 => L4::Icmp,
            58 => L4::Icmpv6,
            2 => L4::Igmp,
            47 => L4::Gre,
            50 => L4::Esp,
            132 => L4::Sctp,
            _ => L4::Other,
        }
    }

    pub(crate) fn proto(self) -> Option<Proto> {
        Some(match self {
            L4::Tcp => Proto::Tcp,
            L4::Udp => Proto::Udp,
            L4::Icmp => Proto::Icmp,
            L4::Icmpv6 => Proto::Icmpv6,
            L4::Igmp => Proto::Igmp,
            L4::Gre => Proto::Gre,
            L4::Esp => Proto::Esp,
            L4::Sctp => Proto::Sctp,
            L4::Other => return None,
        })
    }
}

/// The protocol stack of one frame, outermost first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stack {
    items: [u8; 12],
    len: u8,
}

impl Stack {
    pub fn push(&mut self, p: Proto) {
        if (self.len as usize) < self.items.len() {
            self.items[self.len as usize] = p.code();
            self.len += 1;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The same stack without a trailing application protocol.
    pub fn without_app(&self) -> Stack {
        let mut s = *self;
        if s.len > 0 && s.items[s.len as usize - 1] >= 32 {
            s.len -= 1;
            // Slots past the end stay zero, so `key` can read them all.
            s.items[s.len as usize] = 0;
        }
        s
    }

    /// A number that identifies the stack (used to intern its text once): its bytes as they
    /// are, no loop (every packet asks for it).
    #[inline]
    pub fn key(&self) -> u128 {
        let mut b = [0u8; 16];
        b[..12].copy_from_slice(&self.items);
        b[12] = self.len;
        u128::from_le_bytes(b)
    }

    pub fn protos(&self) -> impl Iterator<Item = Proto> + '_ {
        self.items[..self.len as usize].iter().map(|&c| proto_from_code(c))
    }

    /// `eth:vlan:ip:udp:dns`, the form of tshark's `frame.protocols` (without its helper layers).
    pub fn text(&self) -> String {
        let mut s = String::new();
        for p in self.protos() {
            if !s.is_empty() {
                s.push(':');
            }
            s.push_str(p.name());
        }
        s
    }
}

fn proto_from_code(c: u8) -> Proto {
    match c {
        1 => Proto::Eth,
        2 => Proto::Vlan,
        3 => Proto::Ieee8021ad,
        4 => Proto::Sll,
        5 => Proto::Null,
        6 => Proto::Raw,
        7 => Proto::Arp,
        8 => Proto::Ip,
        9 => Proto::Ipv6,
        10 => Proto::Tcp,
        11 => Proto::Udp,
        12 => Proto::Icmp,
        13 => Proto::Icmpv6,
        14 => Proto::Igmp,
        15 => Proto::Gre,
        16 => Proto::Esp,
        17 => Proto::Sctp,
        c => Proto::App(App::ALL[(c - 32) as usize]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stack_without_its_application_has_the_key_of_the_stack_without_it() {
        let mut base = Stack::default();
        for p in [Proto::Eth, Proto::Ip, Proto::Tcp] {
            base.push(p);
        }
        let mut with_tls = base;
        with_tls.push(Proto::App(App::Tls));
        assert_ne!(with_tls.key(), base.key());
        assert_eq!(with_tls.without_app().key(), base.key());
        assert_eq!(with_tls.without_app().text(), "eth:ip:tcp");
        // Distinct stacks, distinct keys (also when one is a prefix of the other).
        let mut longer = base;
        longer.push(Proto::Udp);
        assert_ne!(longer.key(), base.key());
        assert_ne!(Stack::default().key(), base.key());
    }
}
