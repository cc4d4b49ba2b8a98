//! `netql schema`: every column of the tables, with its type and meaning.

use anyhow::Result;
use netql::error::Exit;
use netql::render::{self, Format};
use netql::table::schema::{FLOW_SCHEMA, PACKET_SCHEMA, STACK_SCHEMA};
use serde_json::json;

pub fn schema(format: Format) -> Result<Exit> {
    match format {
        Format::Json => {
            let cols = |s: &[netql::table::schema::ColumnDef]| {
                s.iter()
                    .map(|d| json!({"name": d.name, "type": d.kind, "meaning": d.meaning}))
                    .collect::<Vec<_>>()
            };
            let v = json!({
                "packets": cols(PACKET_SCHEMA),
                "flows": cols(FLOW_SCHEMA),
                "stacks": cols(STACK_SCHEMA),
                "events": netql::table::events::EVENTS_DOC,
            });
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        _ => {
            for (title, s) in [
                ("packets()", PACKET_SCHEMA),
                ("flows()", FLOW_SCHEMA),
                ("stacks()", STACK_SCHEMA),
            ] {
                let rows: Vec<Vec<String>> = s
                    .iter()
                    .map(|d| vec![d.name.to_string(), d.kind.to_string(), d.meaning.to_string()])
                    .collect();
                println!("{title}: {} columns", s.len());
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
