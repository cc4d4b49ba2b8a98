//! `netql schema`: every column of every table, with its type, meaning and (for coded columns)
//! the values it can take.

use anyhow::Result;
use netql::error::Exit;
use netql::render::{self, Format};
use netql::table::schema::{TABLES, vocabulary};
use serde_json::json;

pub fn schema(format: Format, lake: bool) -> Result<Exit> {
    if lake {
        return lake_schema(format);
    }
    match format {
        Format::Json => {
            let mut v = serde_json::Map::new();
            for t in TABLES {
                let cols: Vec<_> = t
                    .columns
                    .iter()
                    .map(|d| {
                        let mut c = json!({"name": d.name, "type": d.kind, "meaning": d.meaning});
                        if let Some(values) = vocabulary(t.name, d.name) {
                            c["values"] = json!(values);
                        }
                        c
                    })
                    .collect();
                v.insert(t.name.to_string(), json!(cols));
            }
            v.insert("events".into(), json!(netql::table::events::EVENTS_DOC));
            println!("{}", serde_json::to_string_pretty(&serde_json::Value::Object(v))?);
        }
        _ => {
            for t in TABLES {
                let rows: Vec<Vec<String>> = t
                    .columns
                    .iter()
                    .map(|d| {
                        let meaning = match vocabulary(t.name, d.name) {
                            Some(values) => format!("{} (values: {})", d.meaning, values.join(", ")),
                            None => d.meaning.to_string(),
                        };
                        vec![d.name.to_string(), d.kind.to_string(), meaning]
                    })
                    .collect();
                println!("{}(): {}; {} columns", t.name, t.about, t.columns.len());
                println!(
                    "{}",
                    render::text_table_wrapped(&["column", "type", "meaning"], &rows, 2, 72)
                );
            }
            println!("events(): {}", netql::table::events::EVENTS_DOC);
        }
    }
    Ok(Exit::Success)
}

/// `netql schema --lake`: the lake's tables as other engines read them (the stable contract).
fn lake_schema(format: Format) -> Result<Exit> {
    let tables = netql::table::lake::scan::lake_columns()?;
    let version = netql::table::lake::manifest::SCHEMA_VERSION;
    match format {
        Format::Json => {
            let mut v = serde_json::Map::new();
            v.insert("schema_version".into(), json!(version));
            for (t, cols) in &tables {
                v.insert(t.name().to_string(), json!(cols));
            }
            println!("{}", serde_json::to_string_pretty(&serde_json::Value::Object(v))?);
        }
        _ => {
            println!(
                "lake schema version {version}: DIR/<table>/sensor=<name>/date=<YYYY-MM-DD>/hour=<HH>/part-<capture hash>.parquet (zstd)"
            );
            for (t, cols) in &tables {
                let rows: Vec<Vec<String>> = cols
                    .iter()
                    .map(|c| vec![c.name.clone(), c.spark_type.clone(), c.meaning.clone()])
                    .collect();
                println!("{}: {} columns", t.name(), cols.len());
                println!(
                    "{}",
                    render::text_table_wrapped(&["column", "type (Spark SQL)", "meaning"], &rows, 2, 72)
                );
            }
        }
    }
    Ok(Exit::Success)
}
