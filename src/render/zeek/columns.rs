//! columns: a table's columns read as the log writers need them.

use polars::prelude::*;

use crate::error::Result;
use crate::render::zeek::log::Value;
use crate::render::zeek::uid::uid;
use crate::table::schema::tcol;

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
        let s = self
            .df
            .column(name)?
            .as_materialized_series()
            .cast(&DataType::Float64)?;
        Ok(s.f64()?.iter().collect())
    }

    /// A datetime column as nanoseconds since the epoch.
    pub(crate) fn ns(&self, name: &str) -> Result<Vec<Option<i64>>> {
        let s = self.df.column(name)?.as_materialized_series().to_physical_repr();
        let s = s.cast(&DataType::Int64)?;
        Ok(s.i64()?.iter().collect())
    }

    pub(crate) fn bool(&self, name: &str) -> Result<Vec<Option<bool>>> {
        let s = self
            .df
            .column(name)?
            .as_materialized_series()
            .cast(&DataType::Boolean)?;
        Ok(s.bool()?.iter().collect())
    }

    /// A list column of text, row by row.
    pub(crate) fn text_lists(&self, name: &str) -> Result<Vec<Option<Vec<String>>>> {
        let s = self
            .df
            .column(name)?
            .as_materialized_series()
            .cast(&DataType::List(Box::new(DataType::String)))?;
        let mut out = Vec::with_capacity(s.len());
        for v in s.list()?.amortized_iter() {
            out.push(match v {
                Some(inner) => Some(
                    inner
                        .as_ref()
                        .str()?
                        .iter()
                        .map(|x| x.unwrap_or("").to_string())
                        .collect(),
                ),
                None => None,
            });
        }
        Ok(out)
    }

    /// A list column of numbers, row by row.
    pub(crate) fn f64_lists(&self, name: &str) -> Result<Vec<Option<Vec<f64>>>> {
        let s = self
            .df
            .column(name)?
            .as_materialized_series()
            .cast(&DataType::List(Box::new(DataType::Float64)))?;
        let mut out = Vec::with_capacity(s.len());
        for v in s.list()?.amortized_iter() {
            out.push(match v {
                Some(inner) => Some(inner.as_ref().f64()?.iter().map(|x| x.unwrap_or(0.0)).collect()),
                None => None,
            });
        }
        Ok(out)
    }
}

/// The fields every log but notice.log starts with, `ts`, `uid` and the connection's
/// `id.orig_h`, `id.orig_p`, `id.resp_h`, `id.resp_p`, read from a table's columns (the flow
/// and the transaction tables name them alike).
pub(crate) struct ConnIds {
    ts: Vec<Option<i64>>,
    file: Vec<Option<String>>,
    flow_id: Vec<Option<u64>>,
    pub(crate) src: Vec<Option<String>>,
    sport: Vec<Option<u64>>,
    pub(crate) dst: Vec<Option<String>>,
    dport: Vec<Option<u64>>,
    /// Written for a port the row has none of (conn.log writes 0, as Zeek does for a flow
    /// without ports).
    no_port: Option<u64>,
}

impl ConnIds {
    /// `ts` names the time column; `no_port` is written where a row has no port.
    pub(crate) fn read(c: &Columns<'_>, ts: &str, no_port: Option<u64>) -> Result<ConnIds> {
        Ok(ConnIds {
            ts: c.ns(ts)?,
            file: c.text(tcol::FILE)?,
            flow_id: c.u64(tcol::FLOW_ID)?,
            src: c.text(tcol::SRC_IP)?,
            sport: c.u64(tcol::SRC_PORT)?,
            dst: c.text(tcol::DST_IP)?,
            dport: c.u64(tcol::DST_PORT)?,
            no_port,
        })
    }

    /// Row `i`'s six values.
    pub(crate) fn values(&self, i: usize) -> [Value; 6] {
        [
            self.ts[i].map_or(Value::Unset, Value::Time),
            Value::Text(uid(self.file[i].as_deref().unwrap_or(""), self.flow_id[i].unwrap_or(0))),
            Value::text(self.src[i].clone()),
            Value::count(self.sport[i].or(self.no_port)),
            Value::text(self.dst[i].clone()),
            Value::count(self.dport[i].or(self.no_port)),
        ]
    }
}
