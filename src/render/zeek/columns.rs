//! columns: a table's columns read as the log writers need them.

use polars::prelude::*;

use crate::error::Result;

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
