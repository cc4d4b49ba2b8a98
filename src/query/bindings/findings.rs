//! findings: what makes a script a detection or a CI check: `finding(...)` and `findings(...)`
//! with a severity, a title and the evidence rows that cite the packets, and `assert` /
//! `expect_empty` whose failures make `netql check` exit 1.

use std::sync::{Arc, Mutex};

use rhai::{ImmutableString, Map as RMap};

use crate::query::bindings::convert::row_count;
use crate::query::bindings::lang::{Lang, RhaiResult, Topic, err, perr};
use crate::query::bindings::types::{Finding, Findings, Severity, Table};

/// Failed `assert(...)` calls of one run.
pub type Failures = Arc<Mutex<Vec<String>>>;

fn severity_of(s: &str) -> RhaiResult<Severity> {
    Severity::parse(s).map_or_else(
        || {
            err(format!(
                "unknown severity '{s}': use info, low, medium, high or critical"
            ))
        },
        Ok,
    )
}

/// The finding functions, recording failed checks in `failures`.
pub fn register(lang: &mut Lang, failures: Failures) {
    lang.def(
        Topic::Findings,
        "finding(\"severity\", \"title\")",
        "a finding: severity info, low, medium, high or critical",
    )
    .with(|sev: ImmutableString, title: ImmutableString| -> RhaiResult<Finding> {
        Ok(Finding {
            severity: severity_of(&sev)?,
            title: title.to_string(),
            facts: RMap::new(),
            evidence: None,
        })
    });
    lang.def(
        Topic::Findings,
        "finding(\"severity\", \"title\", evidence)",
        "a finding citing the rows of a table (their file and frame columns)",
    )
    .with(
        |sev: ImmutableString, title: ImmutableString, ev: Table| -> RhaiResult<Finding> {
            Ok(Finding {
                severity: severity_of(&sev)?,
                title: title.to_string(),
                facts: RMap::new(),
                evidence: Some(ev.0),
            })
        },
    );
    lang.def(
        Topic::Findings,
        "finding(\"severity\", \"title\", evidence, #{facts})",
        "a finding with named facts (addresses, counts) shown and exported with it",
    )
    .with(
        |sev: ImmutableString, title: ImmutableString, ev: Table, facts: RMap| -> RhaiResult<Finding> {
            Ok(Finding {
                severity: severity_of(&sev)?,
                title: title.to_string(),
                facts,
                evidence: Some(ev.0),
            })
        },
    );
    lang.def(
        Topic::Findings,
        "findings(table, \"severity\", \"title with {column}\")",
        "one finding per row; {column} in the title is that row's value, a severity column overrides the severity",
    )
    .with(
        |table: Table, sev: ImmutableString, title: ImmutableString| -> RhaiResult<Findings> {
            Ok(Findings {
                table: table.0,
                severity: severity_of(&sev)?,
                title: title.to_string(),
            })
        },
    );
    let f = failures.clone();
    lang.def(
        Topic::Findings,
        "assert(condition, \"message\")",
        "a check: when false, the message is reported and `netql check` fails",
    )
    .with(move |ok: bool, msg: ImmutableString| {
        if !ok && let Ok(mut v) = f.lock() {
            v.push(msg.to_string());
        }
        ok
    });
    let f = failures;
    lang.def(
        Topic::Findings,
        "expect_empty(table, \"message\")",
        "a check that the table has no rows (else the message and the row count are reported)",
    )
    .with(move |t: Table, msg: ImmutableString| -> RhaiResult<bool> {
        let rows = row_count(t.0).or_else(perr)?;
        if rows > 0
            && let Ok(mut v) = f.lock()
        {
            v.push(format!("{msg} ({rows} rows)"));
        }
        Ok(rows == 0)
    });
}
