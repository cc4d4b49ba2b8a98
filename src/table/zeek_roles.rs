//! zeek_roles: which side Zeek makes the originator when a connection's first packet does not
//! say (a capture that began mid-connection, a UDP reply seen first): the ports its analyzers
//! register as servers (`likely_server_ports`) decide, as in `TCPAnalyzer::WantConnection` and
//! `UDPAnalyzer::WantConnection`.

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;

/// The ports Zeek's default configuration treats as likely servers (`likely_server_ports`: every
/// port a protocol analyzer registers as a server port), per transport.
pub fn likely_server_port(tcp: bool, port: u16) -> bool {
    if tcp {
        matches!(
            port,
            21 | 22
                | 25
                | 53
                | 79
                | 80
                | 81
                | 88
                | 135
                | 139
                | 143
                | 389
                | 443
                | 445
                | 465
                | 502
                | 514
                | 563
                | 585
                | 587
                | 614
                | 631
                | 636
                | 989
                | 990
                | 992
                | 993
                | 995
                | 1080
                | 1434
                | 1883
                | 2811
                | 3128
                | 3268
                | 3306
                | 3389
                | 5222
                | 5223
                | 5269
                | 5432
                | 6379
                | 6666..=6669 | 8000 | 8080 | 8888 | 20000
        )
    } else {
        matches!(
            port,
            53 | 67
                | 88
                | 123
                | 137
                | 161
                | 162
                | 389
                | 443
                | 514
                | 1812
                | 2123
                | 2152
                | 3389
                | 3544
                | 4011
                | 4754
                | 4789
                | 5060
                | 5072
                | 5353
                | 5355
                | 6081
                | 20000
        )
    }
}

/// Whether Zeek makes the receiver of a connection's first packet its originator
/// (`TCPAnalyzer::WantConnection` / `UDPAnalyzer::WantConnection`): the sender looks like the
/// server. `flags` is None for UDP.
pub fn flip_at_start(flags: Option<u8>, src_port: u16, dst_port: u16) -> bool {
    match flags {
        Some(f) => {
            if f & SYN != 0 && f & ACK == 0 {
                return false;
            }
            if !likely_server_port(true, src_port) {
                return false;
            }
            if likely_server_port(true, dst_port) {
                f & SYN == 0 && src_port < dst_port
            } else {
                true
            }
        }
        None => likely_server_port(false, src_port) && !likely_server_port(false, dst_port),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn likely_server_ports_decide_the_originator_of_a_midstream_flow() {
        // Data from 80 to a high port: the high port's host is the client.
        assert!(flip_at_start(Some(ACK), 80, 51000));
        assert!(!flip_at_start(Some(SYN), 80, 51000));
        // A SYN-ACK from a likely server is flipped too (not when both ends look like servers).
        assert!(flip_at_start(Some(SYN | ACK), 443, 51000));
        assert!(!flip_at_start(Some(SYN | ACK), 443, 80));
        assert!(flip_at_start(None, 53, 40000));
        assert!(!flip_at_start(None, 5353, 5353));
    }
}
