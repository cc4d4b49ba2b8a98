//! dns_names: the names Zeek's dns.log gives to DNS numbers (query types, classes, response
//! codes, opcodes), copied from Zeek 9.1's `base/protocols/dns/consts.zeek`, so netql's tables
//! and Zeek's logs name the same values alike.

/// Query type name (`A`, `AAAA`, `NIMLOC`, `*` for ANY; `query-N` for an unlisted one).
pub fn qtype_name(t: u16) -> String {
    let s = match t {
        1 => "A",
        2 => "NS",
        3 => "MD",
        4 => "MF",
        5 => "CNAME",
        6 => "SOA",
        7 => "MB",
        8 => "MG",
        9 => "MR",
        10 => "NULL",
        11 => "WKS",
        12 => "PTR",
        13 => "HINFO",
        14 => "MINFO",
        15 => "MX",
        16 => "TXT",
        17 => "RP",
        18 => "AFSDB",
        19 => "X25",
        20 => "ISDN",
        21 => "RT",
        22 => "NSAP",
        23 => "NSAP-PTR",
        24 => "SIG",
        25 => "KEY",
        26 => "PX",
        27 => "GPOS",
        28 => "AAAA",
        29 => "LOC",
        30 => "NXT",
        31 => "EID",
        32 => "NIMLOC",
        33 => "SRV",
        34 => "ATMA",
        35 => "NAPTR",
        36 => "KX",
        37 => "CERT",
        38 => "A6",
        39 => "DNAME",
        40 => "SINK",
        41 => "OPT",
        42 => "APL",
        43 => "DS",
        44 => "SSHFP",
        45 => "IPSECKEY",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        49 => "DHCID",
        50 => "NSEC3",
        51 => "NSEC3PARAM",
        52 => "TLSA",
        53 => "SMIMEA",
        55 => "HIP",
        56 => "NINFO",
        57 => "RKEY",
        58 => "TALINK",
        59 => "CDS",
        60 => "CDNSKEY",
        61 => "OPENPGPKEY",
        62 => "CSYNC",
        63 => "ZONEMD",
        64 => "SVCB",
        65 => "HTTPS",
        99 => "SPF",
        100 => "UINFO",
        101 => "UID",
        102 => "GID",
        103 => "UNSPEC",
        104 => "NID",
        105 => "L32",
        106 => "L64",
        107 => "LP",
        108 => "EUI48",
        109 => "EUI64",
        249 => "TKEY",
        250 => "TSIG",
        251 => "IXFR",
        252 => "AXFR",
        253 => "MAILB",
        254 => "MAILA",
        255 => "*",
        256 => "URI",
        257 => "CAA",
        32768 => "TA",
        32769 => "DLV",
        65281 => "WINS",
        65282 => "WINS-R",
        65422 => "XPF",
        65521 => "INTEGRITY",
        t => return format!("query-{t}"),
    };
    s.to_string()
}

/// Response code name (`NOERROR`, `NXDOMAIN`, ...; `rcode-N` for an unlisted one).
pub fn rcode_name(r: u16) -> String {
    let s = match r {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSet",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        11 => "unassigned-11",
        12 => "unassigned-12",
        13 => "unassigned-13",
        14 => "unassigned-14",
        15 => "unassigned-15",
        16 => "BADVERS",
        17 => "BADKEY",
        18 => "BADTIME",
        19 => "BADMODE",
        20 => "BADNAME",
        21 => "BADALG",
        22 => "BADTRUNC",
        23 => "BADCOOKIE",
        3842 => "BADSIG",
        r => return format!("rcode-{r}"),
    };
    s.to_string()
}

/// Class name (`C_INTERNET`, ...; `qclass-N` for an unlisted one).
pub fn qclass_name(c: u16) -> String {
    let s = match c {
        1 => "C_INTERNET",
        2 => "C_CSNET",
        3 => "C_CHAOS",
        4 => "C_HESIOD",
        254 => "C_NONE",
        255 => "C_ANY",
        c => return format!("qclass-{c}"),
    };
    s.to_string()
}

/// Opcode name; NetBIOS name service messages have their own (`netbios-query`, ...).
pub fn opcode_name(op: u8, netbios: bool) -> String {
    let s = if netbios {
        match op {
            0 => "netbios-query",
            5 => "netbios-registration",
            6 => "netbios-release",
            7 => "netbios-wack",
            8 => "netbios-refresh",
            op => return format!("netbios-opcode-{op}"),
        }
    } else {
        match op {
            0 => "query",
            1 => "iquery",
            2 => "server-status",
            4 => "notify",
            5 => "dynamic-update",
            6 => "dso",
            op => return format!("opcode-{op}"),
        }
    };
    s.to_string()
}

/// A NetBIOS name in its first-level encoding (32 letters A-P) decoded, as Zeek's
/// `decode_netbios_name` does: the 16th byte (the name's type) dropped, trailing spaces and
/// NULs trimmed; None when it is not such an encoding.
pub fn decode_netbios_name(name: &str) -> Option<String> {
    let b = name.as_bytes();
    if b.len() != 32 {
        return None;
    }
    let mut buf = Vec::with_capacity(16);
    for pair in b.chunks(2) {
        let (c0, c1) = (pair[0].to_ascii_uppercase(), pair[1].to_ascii_uppercase());
        if !(b'A'..=b'P').contains(&c0) || !(b'A'..=b'P').contains(&c1) {
            return None;
        }
        let v = ((c0 - b'A') << 4) + (c1 - b'A');
        if v.is_ascii_alphanumeric() || v.is_ascii_punctuation() || v == b' ' || v < 3 {
            buf.push(v);
        } else {
            break;
        }
    }
    if buf.len() == 16 {
        buf.truncate(15);
    }
    while buf.last().is_some_and(|&c| c == b' ' || c == 0) {
        buf.pop();
    }
    (!buf.is_empty()).then(|| String::from_utf8_lossy(&buf).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_zeek_gives_them() {
        assert_eq!(qtype_name(32), "NIMLOC");
        assert_eq!(qtype_name(255), "*");
        assert_eq!(qtype_name(1234), "query-1234");
        assert_eq!(rcode_name(3), "NXDOMAIN");
        assert_eq!(opcode_name(0, true), "netbios-query");
        assert_eq!(
            decode_netbios_name("ECFCFHEDDAEDECDDDIDDEEDBEGDEDCAA").as_deref(),
            Some("BRWC0CB383D1F42")
        );
        assert_eq!(decode_netbios_name("not netbios"), None);
    }
}
