//! `netql queries`: the canned queries and their parameters.

use anyhow::Result;
use netql::error::Exit;
use netql::query::canned;
use netql::render::Format;

use crate::cli::context::Ctx;

pub fn list_queries(ctx: &Ctx, format: Format) -> Result<Exit> {
    let qs = canned::list(&ctx.cfg.queries_dir);
    match format {
        Format::Json => {
            let v: Vec<serde_json::Value> = qs
                .iter()
                .map(|q| {
                    serde_json::json!({
                        "name": q.name, "description": q.description,
                        "params": q.params.iter().map(|p| serde_json::json!({"name": p.name, "default": p.default, "description": p.description})).collect::<Vec<_>>(),
                        "source": q.origin.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "built in".into()),
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        _ => {
            let rows: Vec<Vec<String>> = qs
                .iter()
                .map(|q| {
                    let params = q
                        .params
                        .iter()
                        .map(|p| format!("{}={}", p.name, p.default))
                        .collect::<Vec<_>>()
                        .join(" ");
                    vec![q.name.clone(), q.description.clone(), params]
                })
                .collect();
            println!(
                "{}",
                netql::render::text_table_wrapped(&["query", "description", "parameters"], &rows, 1, 60)
            );
        }
    }
    Ok(Exit::Success)
}
