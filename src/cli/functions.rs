//! `netql functions`: the query language's functions, each form with what it gives, read from
//! their registrations. `--format markdown` is the page kept as `queries/REFERENCE.md`.

use anyhow::Result;
use netql::error::Exit;
use netql::query::bindings::{LANGUAGE_INTRO, reference};
use netql::render::Format;

pub fn functions(format: Format) -> Result<Exit> {
    println!(
        "{}",
        netql::render::reference::functions(reference(), LANGUAGE_INTRO, format)
    );
    Ok(Exit::Success)
}
