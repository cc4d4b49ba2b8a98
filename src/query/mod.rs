//! query: the Rhai query language over Polars lazy plans, the sandboxed engine, the canned
//! queries, findings, the analyze suite and capture summaries.

pub mod analyze;
pub mod bindings;
pub mod canned;
pub mod cited;
pub mod deadline;
pub mod diff;
pub mod engine;
pub mod lake;
pub mod panic_guard;
pub mod report_data;
pub mod script_error;
pub mod script_output;
pub mod summary;
pub mod watch;
