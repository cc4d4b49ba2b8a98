//! diff: the `diff` tool — what changed between two captures or sets (see
//! [`crate::query::diff`]).

use rmcp::model::CallToolResult;

use crate::mcp::server::{NetqlServer, tool_error, tool_ok};
use crate::mcp::types::{DiffArgs, DiffOutput};
use crate::query::diff::{Thresholds, diff};

impl NetqlServer {
    pub(crate) fn do_diff(&self, a: DiffArgs) -> CallToolResult {
        if self.inner.lake.is_some() {
            return crate::mcp::lake::not_over_a_lake("diff");
        }
        let (Some(left), Some(right)) = (a.a, a.b) else {
            return tool_error(
                "give `a` (the baseline) and `b`: capture names from list_captures, \"latest\" or \"all\"",
            );
        };
        let load = |names: Vec<String>| self.resolve(&names).and_then(|files| self.captures(&files));
        let (left, right) = match (load(left.list()), load(right.list())) {
            (Ok(l), Ok(r)) => (l, r),
            (Err(e), _) | (_, Err(e)) => return tool_error(e),
        };
        match diff(
            left,
            right,
            &self.engine(),
            &self.inner.cfg.queries_dir,
            Thresholds::default(),
        ) {
            Ok(d) => {
                let v = serde_json::to_value(&d).unwrap_or_default();
                let list = |k: &str| v[k].as_array().cloned().unwrap_or_default();
                let out = DiffOutput {
                    a: d.a.clone(),
                    b: d.b.clone(),
                    sets: v["sets"].as_object().cloned().unwrap_or_default(),
                    protocols: list("protocols"),
                    volume: list("volume"),
                    new_findings: list("new_findings"),
                    gone_findings: list("gone_findings"),
                };
                let text = crate::mcp::paging::cut(crate::render::diff::report(&d), crate::mcp::paging::BYTE_BUDGET);
                tool_ok(&out, text)
            }
            Err(e) => tool_error(e),
        }
    }
}
