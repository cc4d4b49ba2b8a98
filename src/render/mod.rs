//! render: results -> text for people (tables, reports) or machines (JSON, NDJSON, CSV,
//! Markdown). Every front-end prints through here, so the same result reads the same everywhere,
//! and text from packets is escaped here ([`crate::safe_text`]) before it reaches a terminal or
//! a file.

pub mod diff;
pub mod format;
pub mod html;
pub mod reference;
pub mod report;
pub mod result;
pub mod table;
pub mod zeek;

pub use crate::safe_text::cell as clean_cell;
pub use format::Format;
pub use report::{analysis, summary};
pub use result::{findings, output};
pub use table::{dataframe, markdown_table, text_table, text_table_wrapped};
