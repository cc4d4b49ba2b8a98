//! community_id: the Community ID v1 of a flow (corelight/community-id-spec), the hash Zeek,
//! Suricata, Arkime and Malcolm log so one connection can be found in each of them:
//! `"1:" + base64(sha1(seed, addresses, protocol, 0, ports))` with the two endpoints in a fixed
//! order, so both directions give the same value. ICMP uses the type and the answering type (or
//! the code) as ports, and a message nothing answers keeps its own direction.

use base64::Engine as _;

use crate::decode::Addr;

/// A Community ID as text ("1:" and the base64 of a SHA-1: always 30 ASCII bytes), kept
/// inline: a capture makes one per flow.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CommunityId([u8; 30]);

impl CommunityId {
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever written (see `community_id`).
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl std::fmt::Display for CommunityId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for CommunityId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Debug for CommunityId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

/// The Community ID of a flow from `src` to `dst`. `sport` / `dport` are the ports (for ICMP,
/// [`crate::decode::packet::icmp_ports`]'s type and counterpart); `one_way` says an ICMP message
/// has no counterpart. Protocols without ports (anything but TCP, UDP, SCTP, ICMP) hash none.
pub fn community_id(seed: u16, proto: u8, src: Addr, sport: u16, dst: Addr, dport: u16, one_way: bool) -> CommunityId {
    fn bytes(a: &Addr) -> &[u8] {
        if a.v6 { &a.bytes[..] } else { &a.bytes[..4] }
    }
    let (mut a, mut ap, mut b, mut bp) = (bytes(&src), sport, bytes(&dst), dport);
    if !one_way && (b, bp) < (a, ap) {
        std::mem::swap(&mut a, &mut b);
        std::mem::swap(&mut ap, &mut bp);
    }
    let mut input = [0u8; 40];
    let mut n = 0;
    let mut put = |x: &[u8]| {
        input[n..n + x.len()].copy_from_slice(x);
        n += x.len();
    };
    put(&seed.to_be_bytes());
    put(a);
    put(b);
    put(&[proto, 0]);
    if matches!(proto, 1 | 6 | 17 | 58 | 132) {
        put(&ap.to_be_bytes());
        put(&bp.to_be_bytes());
    }
    // RustCrypto's SHA-1 uses the CPU's SHA instructions where there are some (ring's is plain
    // Rust: 190 ms of the 10M load's 531k flows, after decoding).
    let digest = <sha1::Sha1 as sha1::Digest>::digest(&input[..n]);
    let mut out = [0u8; 30];
    out[..2].copy_from_slice(b"1:");
    // 20 bytes are 28 base64 characters (with one '='), which is exactly the room left.
    let _ = base64::engine::general_purpose::STANDARD.encode_slice(digest.as_slice(), &mut out[2..]);
    CommunityId(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::packet::icmp_ports;

    fn v4(s: &str) -> Addr {
        s.parse::<std::net::IpAddr>().unwrap().into()
    }

    /// The specification's test vectors, as Zeek's `bifs.community_id.v1` baseline lists them
    /// (read from ../shared, so the expected values are Zeek's, not ours).
    #[test]
    fn zeeks_test_vectors() {
        let Some(path) = crate::testdata::shared("truth-zeek/community-id/bifs.community_id.v1/out") else {
            crate::testdata::missing("truth-zeek/community-id");
            return;
        };
        let text = std::fs::read_to_string(path).unwrap();
        let re = regex::Regex::new(
            r"expected '([^']*)'.*orig_h=([^,]+), orig_p=(\d+)/(\w+), resp_h=([^,]+), resp_p=(\d+)/\w+, proto=(\d+).*seed=(\d+)",
        )
        .unwrap();
        let mut checked = 0;
        for caps in re.captures_iter(&text) {
            let expected = &caps[1];
            let proto: u32 = caps[7].parse().unwrap();
            if proto == 65535 {
                // Zeek's "unknown transport" case has no Community ID at all.
                assert_eq!(expected, "");
                continue;
            }
            let (src, dst) = (v4(&caps[2]), v4(&caps[5]));
            let (sp, dp): (u16, u16) = (caps[3].parse().unwrap(), caps[6].parse().unwrap());
            let seed: u16 = caps[8].parse().unwrap();
            // Zeek writes proto=1 for ICMP over IPv6 too; the hash uses 58 there.
            let proto = match (&caps[4], src.v6) {
                ("icmp", true) => 58,
                _ => proto as u8,
            };
            let one_way = matches!(proto, 1 | 58) && icmp_ports(proto == 58, sp as u8, dp as u8).2;
            assert_eq!(
                community_id(seed, proto, src, sp, dst, dp, one_way),
                expected,
                "{}",
                &caps[0]
            );
            checked += 1;
        }
        assert_eq!(checked, 10, "vectors read");
    }

    #[test]
    fn both_directions_give_the_same_id() {
        let (a, b) = (v4("10.0.0.1"), v4("10.0.0.2"));
        assert_eq!(
            community_id(0, 6, a, 1234, b, 80, false),
            community_id(0, 6, b, 80, a, 1234, false)
        );
    }
}
