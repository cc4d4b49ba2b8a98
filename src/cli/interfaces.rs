//! `netql interfaces`: the interfaces live capture can use, with addresses and flags.

use anyhow::Result;
use netql::error::Exit;
use netql::render::{self, Format};

pub fn interfaces(format: Format) -> Result<Exit> {
    let list = netql::capture::live::list_interfaces()?;
    match format {
        Format::Json => println!("{}", netql::safe_text::json(serde_json::to_string_pretty(&list)?)),
        _ => {
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|i| {
                    vec![
                        i.name.clone(),
                        i.addresses.join("\n"),
                        i.flags.join(", "),
                        i.description.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            println!(
                "{}",
                render::text_table(&["interface", "addresses", "flags", "description"], &rows, &[])
            );
        }
    }
    Ok(Exit::Success)
}
