//! uid: the `uid` column of the logs netql writes.

/// A uid for a flow in the style of Zeek's (`C` + base62): made from the capture file and the
/// flow id, so the same flow has the same uid in every log netql writes (Zeek's own are random).
pub fn uid(file: &str, flow_id: u64) -> String {
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    // FNV-1a of the file name, folded into the id: flows of different captures stay apart.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in file.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    // Two words of the mixed id give 17 base62 digits with no fixed tail (Zeek's are 17 too).
    let x = flow_id ^ h.rotate_left(17);
    let mut v = u128::from(x) << 64 | u128::from(x.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ h);
    let mut out = vec![b'C'];
    for _ in 0..17 {
        out.push(DIGITS[(v % 62) as usize]);
        v /= 62;
    }
    String::from_utf8(out).unwrap_or_default()
}
