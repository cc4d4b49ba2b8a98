//! End-to-end tests: one test binary, one module per theme.

mod cli;
mod common;
mod conformance;
mod linktypes;
