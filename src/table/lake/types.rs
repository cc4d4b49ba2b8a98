//! types: the lake's column types, which other engines read as they are, and the way back to
//! netql's own.
//!
//! netql keeps its tables in the narrowest types that hold them (u8 flags, u16 ports, u64
//! counters, text as codes into one process-wide dictionary, nanosecond times). Spark 3.2+ reads
//! Parquet's unsigned 8/16/32-bit integers as wider signed ones but unsigned 64-bit as
//! decimal(20,0), older Spark and some engines refuse them, and Spark refuses nanosecond
//! timestamps. So the lake stores:
//!
//! | netql                     | lake (Parquet)                    | Spark SQL         |
//! |---------------------------|-----------------------------------|-------------------|
//! | u8, u16, i8, i16          | INT32                             | int               |
//! | u32                       | INT64                             | bigint            |
//! | u64                       | INT64 (the same 64 bits)          | bigint            |
//! | text, enum                | UTF8 string (dictionary pages)    | string            |
//! | datetime[ns, UTC]         | TIMESTAMP(MICROS, UTC)            | timestamp         |
//! | list of any of these      | a Parquet LIST of the same        | array<...>        |
//!
//! Counters never reach 2^63; `flow_id` is a 64-bit hash, so values at or past 2^63 read as
//! negative numbers elsewhere (joins on it work the same). Times lose what is below a
//! microsecond (libpcap files keep microseconds anyway). Reading back, netql casts each column
//! to its own type again, so a query gives the same answer from the lake as from the capture.

use polars::prelude::*;

use crate::error::Result;

/// The lake's type for a column of netql type `dt`.
pub fn lake_dtype(dt: &DataType) -> DataType {
    match dt {
        DataType::UInt8 | DataType::UInt16 | DataType::Int8 | DataType::Int16 => DataType::Int32,
        DataType::UInt32 | DataType::UInt64 => DataType::Int64,
        DataType::Categorical(..) | DataType::Enum(..) => DataType::String,
        DataType::Datetime(_, tz) => DataType::Datetime(TimeUnit::Microseconds, tz.clone()),
        DataType::List(inner) => DataType::List(Box::new(lake_dtype(inner))),
        other => other.clone(),
    }
}

/// How Spark SQL names a lake type (for `netql schema --lake` and the README).
pub fn spark_name(dt: &DataType) -> String {
    match dt {
        DataType::Int32 => "int".into(),
        DataType::Int64 => "bigint".into(),
        DataType::Float64 => "double".into(),
        DataType::Float32 => "float".into(),
        DataType::Boolean => "boolean".into(),
        DataType::String => "string".into(),
        DataType::Datetime(..) => "timestamp".into(),
        DataType::Date => "date".into(),
        DataType::List(inner) => format!("array<{}>", spark_name(inner)),
        other => other.to_string(),
    }
}

/// u64 values as i64 with the same bits (a plain cast would refuse values past i64::MAX).
fn u64_bits_as_i64(c: &Column) -> PolarsResult<Column> {
    let ca = c.as_materialized_series().u64()?;
    let out: Int64Chunked = ca.apply_nonnull_values_generic(DataType::Int64, |v| v as i64);
    Ok(out.with_name(c.name().clone()).into_series().into_column())
}

/// The reverse of [`u64_bits_as_i64`].
fn i64_bits_as_u64(c: &Column) -> PolarsResult<Column> {
    let s = c.as_materialized_series().cast(&DataType::Int64)?;
    let ca = s.i64()?;
    let out: UInt64Chunked = ca.apply_nonnull_values_generic(DataType::UInt64, |v| v as u64);
    Ok(out.with_name(c.name().clone()).into_series().into_column())
}

/// A column in the lake's type.
fn to_lake_column(c: &Column) -> PolarsResult<Column> {
    match c.dtype() {
        DataType::UInt64 => u64_bits_as_i64(c),
        DataType::List(inner) if **inner == DataType::UInt64 => {
            // No u64 lists today; a plain cast keeps them correct below 2^63.
            c.cast(&lake_dtype(c.dtype()))
        }
        dt => {
            let want = lake_dtype(dt);
            if &want == dt { Ok(c.clone()) } else { c.cast(&want) }
        }
    }
}

/// A table in the lake's types (same columns, same order).
pub fn to_lake(df: &DataFrame) -> Result<DataFrame> {
    let cols = df
        .columns()
        .iter()
        .map(to_lake_column)
        .collect::<PolarsResult<Vec<Column>>>()?;
    Ok(DataFrame::new(df.height(), cols)?)
}

/// The lake schema of a netql table (its empty template).
pub fn lake_schema(template: &DataFrame) -> Schema {
    template
        .columns()
        .iter()
        .map(|c| Field::new(c.name().clone(), lake_dtype(c.dtype())))
        .collect()
}

/// Expressions that turn a lake scan's columns back into netql's types, in the template's order.
/// A column the files lack (a table written by an older netql) is null.
pub fn from_lake(template: &DataFrame, have: &Schema) -> Vec<Expr> {
    template
        .columns()
        .iter()
        .map(|c| {
            let name = c.name().clone();
            let dt = c.dtype().clone();
            if have.get(&name).is_none() {
                return lit(Null {}).cast(dt).alias(name);
            }
            match &dt {
                DataType::UInt64 => col(name.clone())
                    .map(
                        |c: Column| i64_bits_as_u64(&c),
                        |_, f| Ok(Field::new(f.name().clone(), DataType::UInt64)),
                    )
                    .alias(name),
                _ => col(name.clone()).strict_cast(dt).alias(name),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every netql type goes to one Spark reads, and back to itself with the same values.
    #[test]
    fn lake_types_go_there_and_back() {
        let text = crate::table::schema::text_dtype();
        let df = DataFrame::new(
            2,
            vec![
                Column::new("id".into(), [u64::MAX, 7]),
                Column::new("port".into(), [443u16, 53]),
                Column::new("frame".into(), [1u32, 4_000_000_000]),
                Column::new("addr".into(), ["10.0.0.1", "::1"]).cast(&text).unwrap(),
                Column::new("l4".into(), ["tcp", "udp"])
                    .cast(&crate::table::schema::L4_DTYPE)
                    .unwrap(),
                Column::new("ts".into(), [1_700_000_000_123_456_000i64, 0])
                    .cast(&DataType::Datetime(TimeUnit::Nanoseconds, Some(TimeZone::UTC)))
                    .unwrap(),
            ],
        )
        .unwrap();
        let lake = to_lake(&df).unwrap();
        let types: Vec<String> = lake.dtypes().iter().map(spark_name).collect();
        assert_eq!(types, ["bigint", "int", "bigint", "string", "string", "timestamp"]);
        // The hash past i64::MAX keeps its bits.
        assert_eq!(lake.column("id").unwrap().i64().unwrap().get(0), Some(-1));
        let back = lake
            .lazy()
            .select(from_lake(&df.clear(), &lake_schema(&df.clear())))
            .collect()
            .unwrap();
        assert!(back.equals_missing(&df), "{back}\n{df}");
    }
}
