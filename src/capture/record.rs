//! record: one packet record as a capture file stores it, handed from the readers to the decoder.

/// One packet record as stored in the file.
#[derive(Debug, Clone, Copy)]
pub struct RawRecord<'a> {
    /// Nanoseconds since the Unix epoch, UTC.
    pub ts_ns: i64,
    /// Length of the packet on the wire.
    pub wire_len: u32,
    /// LINKTYPE_* of the interface the packet was captured on.
    pub link: u16,
    /// The captured bytes (`data.len()` is the captured length).
    pub data: &'a [u8],
}
