//! zeek: the tables as Zeek logs (`netql export zeek`): conn.log from the flows, written by
//! [`log`] in Zeek's ASCII or JSON format, with Zeek's field names, types and rules for what is
//! left unset, so tools built on Zeek logs read them and rows join to Zeek's by Community ID.

pub mod conn;
pub mod log;
pub mod site;

use polars::prelude::*;

use crate::error::Result;

/// A uid for a flow in the style of Zeek's (`C` + base62): made from the capture file and the
/// flow id, so the same flow has the same uid in every log netql writes (Zeek's own are random).
pub fn uid(file: &str, flow_id: u64) -> String {
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    // FNV-1a of the file name, folded into the id: flows of different captures stay apart.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in file.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut x = flow_id ^ h.rotate_left(17);
    let mut out = vec![b'C'];
    for _ in 0..17 {
        out.push(DIGITS[(x % 62) as usize]);
        x /= 62;
    }
    String::from_utf8(out).unwrap_or_default()
}

/// A table's columns read as the log writers need them.
pub(crate) struct Columns<'a> {
    df: &'a DataFrame,
}

impl<'a> Columns<'a> {
    pub(crate) fn new(df: &'a DataFrame) -> Columns<'a> {
        Columns { df }
    }

    /// A column as text (categorical and enum columns give their labels).
    pub(crate) fn text(&self, name: &str) -> Result<Vec<Option<String>>> {
        let s = self.df.column(name)?.as_materialized_series().cast(&DataType::String)?;
        Ok(s.str()?.iter().map(|v| v.map(str::to_string)).collect())
    }

    pub(crate) fn u64(&self, name: &str) -> Result<Vec<Option<u64>>> {
        let s = self.df.column(name)?.as_materialized_series().cast(&DataType::UInt64)?;
        Ok(s.u64()?.iter().collect())
    }

    pub(crate) fn f64(&self, name: &str) -> Result<Vec<Option<f64>>> {
        let s = self.df.column(name)?.as_materialized_series().cast(&DataType::Float64)?;
        Ok(s.f64()?.iter().collect())
    }

    /// A datetime column as nanoseconds since the epoch.
    pub(crate) fn ns(&self, name: &str) -> Result<Vec<Option<i64>>> {
        let s = self.df.column(name)?.as_materialized_series().to_physical_repr();
        let s = s.cast(&DataType::Int64)?;
        Ok(s.i64()?.iter().collect())
    }
}
