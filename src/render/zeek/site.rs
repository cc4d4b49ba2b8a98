//! site: which addresses Zeek calls local by default (`Site::private_address_space`, local
//! unless configured otherwise): conn.log's `local_orig` / `local_resp`.

use std::net::IpAddr;

/// Zeek 9.1's `Site::private_address_space`.
const PRIVATE: &[(&str, u8)] = &[
    ("0.0.0.0", 8),
    ("2002::", 24),
    ("10.0.0.0", 8),
    ("2002:a00::", 24),
    ("100.64.0.0", 10),
    ("2002:6440::", 26),
    ("127.0.0.0", 8),
    ("2002:7f00::", 24),
    ("169.254.0.0", 16),
    ("2002:a9fe::", 32),
    ("172.16.0.0", 12),
    ("2002:ac10::", 28),
    ("192.0.0.0", 24),
    ("2002:c000::", 40),
    ("192.0.2.0", 24),
    ("2002:c000:200::", 40),
    ("192.168.0.0", 16),
    ("2002:c0a8::", 32),
    ("198.18.0.0", 15),
    ("2002:c612::", 31),
    ("198.51.100.0", 24),
    ("2002:c633:6400::", 40),
    ("203.0.113.0", 24),
    ("2002:cb00:7100::", 40),
    ("224.0.0.0", 24),
    ("2002:e000::", 40),
    ("239.0.0.0", 8),
    ("2002:ef00::", 24),
    ("240.0.0.0", 4),
    ("2002:f000::", 20),
    ("255.255.255.255", 32),
    ("2002:ffff:ffff::", 48),
    ("::", 128),
    ("::1", 128),
    ("64:ff9b:1::", 48),
    ("100::", 64),
    ("2001::", 23),
    ("2001:2::", 48),
    ("2001:db8::", 32),
    ("fc00::", 7),
    ("fe80::", 10),
    ("fec0::", 10),
];

fn bits(a: IpAddr) -> (u128, u8) {
    match a {
        IpAddr::V4(v) => (u128::from(u32::from(v)), 32),
        IpAddr::V6(v) => (u128::from(v), 128),
    }
}

/// Whether Zeek's default configuration calls `addr` local.
pub fn is_local(addr: &str) -> Option<bool> {
    let a: IpAddr = addr.parse().ok()?;
    let (x, width) = bits(a);
    Some(PRIVATE.iter().any(|(net, len)| {
        let Ok(n) = net.parse::<IpAddr>() else { return false };
        let (y, w) = bits(n);
        if w != width {
            return false;
        }
        let shift = u32::from(width - len);
        shift >= 128 || (x >> shift) == (y >> shift)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeeks_default_local_nets() {
        assert_eq!(is_local("10.1.2.3"), Some(true));
        assert_eq!(is_local("141.142.220.202"), Some(false));
        assert_eq!(is_local("224.0.0.251"), Some(true));
        assert_eq!(is_local("ff02::fb"), Some(false));
        assert_eq!(is_local("fe80::217:f2ff:fed7:cf65"), Some(true));
        assert_eq!(is_local("not an address"), None);
    }
}
