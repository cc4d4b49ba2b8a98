//! MCP round-trip benchmark (being written).
fn main() {}
