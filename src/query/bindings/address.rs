//! address: tests of address columns (networks, private ranges, multicast, loopback), run once
//! per distinct address as the text tests are.

use std::net::IpAddr;

use rhai::ImmutableString;

use crate::query::bindings::lang::{Lang, RhaiResult, Topic, err};
use crate::query::bindings::text::text_bool;
use crate::query::bindings::types::Expr;

pub fn register(lang: &mut Lang) {
    lang.def(
        Topic::Addresses,
        "e.in_cidr(\"10.0.0.0/8\")",
        "whether the address is in a network (IPv4 or IPv6; an address alone is /32 or /128)",
    )
    .with(|e: Expr, net: ImmutableString| -> RhaiResult<Expr> {
        let Some(c) = Cidr::parse(&net) else {
            return err(format!("bad network '{net}': use e.g. 10.0.0.0/8 or 2001:db8::/32"));
        };
        Ok(Expr(text_bool(e.0, "in_cidr", move |s| {
            s.parse::<IpAddr>().is_ok_and(|ip| c.contains(ip))
        })))
    });
    lang.def(
        Topic::Addresses,
        "e.is_private()",
        "RFC 1918, CGNAT, loopback, link-local; IPv6 ULA and link-local",
    )
    .with(|e: Expr| {
        Expr(text_bool(e.0, "is_private", |s| {
            s.parse::<IpAddr>().is_ok_and(is_private)
        }))
    });
    lang.def(
        Topic::Addresses,
        "e.is_multicast()",
        "multicast or broadcast (an IPv4 address ending in .255 counts)",
    )
    .with(|e: Expr| {
        Expr(text_bool(e.0, "is_multicast", |s| {
            s.parse::<IpAddr>().is_ok_and(|ip| {
                ip.is_multicast() || matches!(ip, IpAddr::V4(a) if a.is_broadcast() || a.octets()[3] == 255)
            })
        }))
    });
    lang.def(Topic::Addresses, "e.is_loopback()", "127.0.0.0/8 or ::1")
        .with(|e: Expr| {
            Expr(text_bool(e.0, "is_loopback", |s| {
                s.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
            }))
        });
}

/// `10.0.0.0/8` or a single address.
#[derive(Clone, Copy)]
struct Cidr {
    net: IpAddr,
    bits: u8,
}

impl Cidr {
    fn parse(s: &str) -> Option<Cidr> {
        let (a, bits) = match s.split_once('/') {
            Some((a, b)) => (a, Some(b.parse::<u8>().ok()?)),
            None => (s, None),
        };
        let net: IpAddr = a.trim().parse().ok()?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits = bits.unwrap_or(max);
        (bits <= max).then_some(Cidr { net, bits })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = if self.bits == 0 {
                    0
                } else {
                    u32::MAX << (32 - self.bits)
                };
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = if self.bits == 0 {
                    0
                } else {
                    u128::MAX << (128 - self.bits)
                };
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            a.is_private()
                || a.is_loopback()
                || a.is_link_local()
                || a.octets()[0] == 100 && (a.octets()[1] & 0xc0) == 64
        }
        IpAddr::V6(a) => {
            a.is_loopback() || (a.segments()[0] & 0xfe00) == 0xfc00 || (a.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}
