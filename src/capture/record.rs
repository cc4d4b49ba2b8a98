//! record: one packet record as a capture file stores it, handed from the readers to the decoder.

/// One packet record as stored in the file.
#[derive(Debug, Clone, Copy)]
pub struct RawRecord<'a> {
    /// Nanoseconds since the Unix epoch, UTC.
    pub ts_ns: i64,
    /// The file's timestamp does not fit in 64-bit nanoseconds (past 2262-04-11 or before
    /// 1677): `ts_ns` then holds the previous record's time and the row is marked as damaged.
    pub ts_out_of_range: bool,
    /// Length of the packet on the wire.
    pub wire_len: u32,
    /// LINKTYPE_* of the interface the packet was captured on.
    pub link: u16,
    /// The captured bytes (`data.len()` is the captured length).
    pub data: &'a [u8],
}

/// Turns a record's seconds and nanoseconds into [`RawRecord::ts_ns`] with checked arithmetic
/// (a damaged or forged file can hold any 64-bit time): a time that does not fit gives the
/// previous record's time, flagged as out of range, so the row is kept and marked as tshark
/// marks damaged records, and times never go backwards because of it.
#[derive(Debug, Default, Clone, Copy)]
pub struct RecordTime {
    last: i64,
}

impl RecordTime {
    /// `(ts_ns, out_of_range)` for `secs` seconds and `ns` nanoseconds since the epoch.
    pub fn at(&mut self, secs: i64, ns: i64) -> (i64, bool) {
        match secs.checked_mul(1_000_000_000).and_then(|s| s.checked_add(ns)) {
            Some(t) => {
                self.last = t;
                (t, false)
            }
            None => (self.last, true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_past_2262_keep_the_previous_time_and_say_so() {
        let mut t = RecordTime::default();
        assert_eq!(t.at(1_700_000_000, 5), (1_700_000_000_000_000_005, false));
        // 2262-04-11T23:47:16.854775807Z is the last representable nanosecond.
        assert_eq!(t.at(9_223_372_036, 854_775_807), (i64::MAX, false));
        assert_eq!(t.at(9_223_372_036, 854_775_808), (i64::MAX, true));
        assert_eq!(t.at(1_700_000_001, 0), (1_700_000_001_000_000_000, false));
        assert_eq!(t.at(i64::MAX, 0), (1_700_000_001_000_000_000, true));
        assert_eq!(t.at(i64::MIN, -1), (1_700_000_001_000_000_000, true));
    }
}
