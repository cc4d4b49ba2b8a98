//! linktype: link-layer header types (LINKTYPE_* from tcpdump.org): the numbers the decoder
//! understands, and the names the `link_type` column and the captures listing give them.

pub const NULL: u16 = 0;
pub const ETHERNET: u16 = 1;
pub const RAW_OLD12: u16 = 12;
pub const RAW_OLD14: u16 = 14;
pub const LOOP: u16 = 108;
pub const RAW: u16 = 101;
pub const LINUX_SLL: u16 = 113;
pub const IPV4: u16 = 228;
pub const IPV6: u16 = 229;
pub const LINUX_SLL2: u16 = 276;

/// Link types as the `link_type` column names them.
pub const NAMES: [&str; 9] = [
    "ethernet",
    "linux_sll",
    "linux_sll2",
    "raw",
    "ipv4",
    "ipv6",
    "null",
    "loop",
    "unsupported",
];

/// Index into [`NAMES`] for a LINKTYPE_* number.
/// The LINKTYPE_* number to write for a record's link type: libpcap hands raw IP over as DLT_RAW
/// (12, or 14 on some systems), which files must carry as LINKTYPE_RAW (101).
pub fn for_file(link: u16) -> u16 {
    match link {
        RAW_OLD12 | RAW_OLD14 => RAW,
        other => other,
    }
}

pub fn index(link: u16) -> u8 {
    match link {
        ETHERNET => 0,
        LINUX_SLL => 1,
        LINUX_SLL2 => 2,
        RAW | RAW_OLD12 | RAW_OLD14 => 3,
        IPV4 => 4,
        IPV6 => 5,
        NULL => 6,
        LOOP => 7,
        _ => 8,
    }
}

/// `ethernet`, `linux_sll`, ... or `linktype 147` for types the decoder does not know.
pub fn label(link: u16) -> String {
    let i = index(link) as usize;
    let name = NAMES[i];
    if name == "unsupported" {
        format!("linktype {link}")
    } else {
        name.to_string()
    }
}
