//! run: the `run_query` and `run_script` tools: run in the sandbox, cancel on request, page the
//! result.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use rmcp::RoleServer;
use rmcp::model::CallToolResult;
use rmcp::service::RequestContext;
use serde_json::Value;

use crate::mcp::paging::{
    BYTE_BUDGET, Call, Cursor, cut, fit, json_to_dynamic, objects, script_error_text, table_text, valid_ident,
};
use crate::mcp::server::blocking;
use crate::mcp::server::{EVIDENCE_ROWS, NetqlServer, RESULT_CACHE, Ran, cancel_flag, lock, ms, tool_error, tool_ok};
use crate::mcp::types::{QueryOutput, ResultKind};
use crate::query::analyze::{Reported, finding_json};
use crate::query::canned;
use crate::query::engine::{Output, Params};
use crate::render::{self, Format};

impl NetqlServer {
    pub(crate) fn do_run(&self, call: Call, cancel: Arc<AtomicBool>) -> CallToolResult {
        let started = Instant::now();
        let scoped = match self.scoped(&call.captures, &call.range) {
            Ok(s) => s,
            Err(e) => return tool_error(e),
        };
        let fp = scoped.fp;
        if call.fp.is_some_and(|want| want != fp) {
            return tool_error(
                "the captures changed since the first page of this result; run the query again without cursor",
            );
        }
        let names = scoped.names.clone();
        let (source, params): (String, Params) = if call.tool == "run_query" {
            let all = canned::list(&self.inner.cfg.queries_dir);
            // By name only: a path would let a caller run any .rhai file on the machine.
            let Some(q) = all.iter().find(|q| q.name == call.text) else {
                let known: Vec<&str> = all.iter().map(|q| q.name.as_str()).collect();
                return tool_error(format!(
                    "no query named '{}'. Queries: {}. (list_queries describes them; run_script runs your own.)",
                    call.text,
                    known.join(", ")
                ));
            };
            let given: Vec<(String, String)> = call
                .params
                .iter()
                .map(|(k, v)| {
                    let text = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), text)
                })
                .collect();
            match q.bind(&given) {
                Ok(p) => (q.source.clone(), p),
                Err(e) => return tool_error(e.to_string()),
            }
        } else {
            let mut p: Params = Vec::new();
            for (k, v) in &call.params {
                if !valid_ident(k) {
                    return tool_error(format!(
                        "parameter name '{k}' is not a valid variable name (letters, digits and _, not starting with a digit)"
                    ));
                }
                p.push((k.clone(), json_to_dynamic(v)));
            }
            (call.text.clone(), p)
        };
        let key = call.key(fp);
        let cached = if call.fp.is_some() {
            lock(&self.inner.results)
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, r)| r.clone())
        } else {
            None
        };
        let ran = match cached {
            Some(r) => r,
            None => {
                let engine = self.engine();
                match engine.run_cancellable(&source, scoped.data.clone(), &params, Some(cancel)) {
                    Ok(r) => Arc::new(Ran {
                        output: r.output,
                        failures: r.failures,
                        script_ms: ms(r.elapsed),
                    }),
                    Err(e) => {
                        let what = if call.tool == "run_query" {
                            format!("query {} failed: ", call.text)
                        } else {
                            String::new()
                        };
                        return tool_error(format!("{what}{}", script_error_text(&e)));
                    }
                }
            }
        };
        let query = if call.tool == "run_query" {
            call.text.clone()
        } else {
            "script".to_string()
        };
        let mut out = QueryOutput {
            query: query.clone(),
            captures: names.clone(),
            packets_covered: scoped.packets,
            elapsed_ms: 0,
            script_ms: ran.script_ms,
            kind: ResultKind::Nothing,
            columns: Vec::new(),
            rows: Vec::new(),
            findings: Vec::new(),
            value: None,
            offset: 0,
            returned_rows: 0,
            total_rows: 0,
            truncated: false,
            next_cursor: None,
            failures: ran.failures.clone(),
            warnings: scoped.warnings.clone(),
        };
        let start = call.offset;
        let body = match &ran.output {
            Output::Table(df) => {
                out.kind = ResultKind::Table;
                out.columns = df.get_column_names().iter().map(|s| s.to_string()).collect();
                let total = df.height();
                let start = start.min(total);
                let page = df.slice(start as i64, call.max_rows);
                let rows = crate::table::values::rows_json(&page);
                let mut n = fit(&rows, BYTE_BUDGET);
                let mut text = table_text(&page.head(Some(n)));
                while text.len() > BYTE_BUDGET && n > 1 {
                    n = (n * BYTE_BUDGET / text.len()).clamp(1, n - 1);
                    text = table_text(&page.head(Some(n)));
                }
                out.rows = objects(rows.into_iter().take(n).collect());
                out.offset = start as u64;
                out.returned_rows = n as u64;
                out.total_rows = total as u64;
                cut(text, BYTE_BUDGET)
            }
            Output::Findings(fs) => {
                out.kind = ResultKind::Findings;
                let total = fs.len();
                let start = start.min(total);
                let page: Vec<Reported> = fs
                    .iter()
                    .skip(start)
                    .take(call.max_rows)
                    .map(|f| Reported {
                        query: if call.tool == "run_query" {
                            call.text.clone()
                        } else {
                            String::new()
                        },
                        finding: f.clone(),
                    })
                    .collect();
                let items: Vec<Value> = page.iter().map(finding_out).collect();
                let n = fit(&items, BYTE_BUDGET);
                let shown: Vec<Reported> = page.into_iter().take(n).map(trim_evidence).collect();
                out.findings = objects(items.into_iter().take(n).collect());
                out.offset = start as u64;
                out.returned_rows = n as u64;
                out.total_rows = total as u64;
                cut(render::findings(&shown, Format::Table, EVIDENCE_ROWS), BYTE_BUDGET)
            }
            Output::Value(Value::Array(items)) => {
                out.kind = ResultKind::Value;
                let total = items.len();
                let start = start.min(total);
                let page: Vec<Value> = items.iter().skip(start).take(call.max_rows).cloned().collect();
                let n = fit(&page, BYTE_BUDGET);
                let page: Vec<Value> = page.into_iter().take(n).collect();
                let text = serde_json::to_string_pretty(&page).unwrap_or_default();
                out.value = Some(Value::Array(page));
                out.offset = start as u64;
                out.returned_rows = n as u64;
                out.total_rows = total as u64;
                cut(text, BYTE_BUDGET)
            }
            Output::Value(v) => {
                let text = match v {
                    Value::String(s) => s.clone(),
                    other => serde_json::to_string_pretty(other).unwrap_or_default(),
                };
                if text.len() > BYTE_BUDGET {
                    return tool_error(format!(
                        "the result is {} KB, over the {} KB budget; return a smaller value or a table \
                         (aggregate with group_by/agg, select fewer columns, head(n))",
                        text.len() / 1000,
                        BYTE_BUDGET / 1000
                    ));
                }
                out.kind = ResultKind::Value;
                out.value = Some(v.clone());
                out.returned_rows = 1;
                out.total_rows = 1;
                text
            }
            Output::Nothing => "The script returned nothing: end it with an expression, e.g. a table.".to_string(),
        };
        let next = out.offset as usize + out.returned_rows as usize;
        if next < out.total_rows as usize {
            out.truncated = true;
            out.next_cursor = Some(
                Cursor {
                    v: 1,
                    tool: call.tool.to_string(),
                    text: call.text.clone(),
                    captures: scoped.specs.clone(),
                    params: call.params.clone(),
                    offset: next,
                    max_rows: call.max_rows,
                    fp,
                    range: scoped.range.clone(),
                }
                .encode(),
            );
            let mut results = lock(&self.inner.results);
            if !results.iter().any(|(k, _)| *k == key) {
                results.push_back((key, ran.clone()));
                while results.len() > RESULT_CACHE {
                    results.pop_front();
                }
            }
        }
        out.elapsed_ms = ms(started.elapsed());
        let mut header = format!(
            "{query} over {} ({} packets): {} ms",
            names.join(", "),
            out.packets_covered,
            out.elapsed_ms
        );
        if out.kind != ResultKind::Nothing && out.total_rows > 0 {
            let what = match out.kind {
                ResultKind::Findings => "findings",
                ResultKind::Value => "items",
                _ => "rows",
            };
            header.push_str(&format!(
                ", {what} {}-{} of {}",
                out.offset + 1,
                out.offset + out.returned_rows,
                out.total_rows
            ));
        } else if out.kind == ResultKind::Table {
            header.push_str(", no rows");
        } else if out.kind == ResultKind::Findings {
            header.push_str(", no findings");
        }
        let mut text = format!("{header}\n{body}");
        for f in &out.failures {
            text.push_str(&format!("\nFAILED: {f}"));
        }
        for w in &out.warnings {
            text.push_str(&format!("\nwarning: {w}"));
        }
        if let Some(c) = &out.next_cursor {
            text.push_str(&format!(
                "\nTruncated: call {} with cursor=\"{c}\" for the next page, or narrow the query (filter, group_by/agg, head).",
                call.tool
            ));
        }
        tool_ok(&out, text)
    }
}

pub(crate) fn finding_out(r: &Reported) -> Value {
    let mut v = finding_json(r);
    if let Value::Object(o) = &mut v {
        if !o.contains_key("file")
            && let Some(Value::Array(ev)) = o.get("evidence")
        {
            let mut files: Vec<Value> = Vec::new();
            for row in ev {
                if let Some(f) = row.get("file")
                    && !files.contains(f)
                {
                    files.push(f.clone());
                }
            }
            match files.len() {
                0 => {}
                1 => {
                    o.insert("file".into(), files.remove(0));
                }
                _ => {
                    o.insert("file".into(), Value::Array(files));
                }
            }
        }
        if let Some(Value::Array(ev)) = o.get_mut("evidence") {
            ev.truncate(EVIDENCE_ROWS);
        }
    }
    v
}

pub(crate) fn trim_evidence(mut r: Reported) -> Reported {
    if let Some(ev) = &r.finding.evidence {
        r.finding.evidence = Some(ev.head(Some(EVIDENCE_ROWS)));
    }
    r
}

impl NetqlServer {
    pub(crate) async fn run_call(&self, call: Call, ctx: &RequestContext<RoleServer>) -> CallToolResult {
        let (cancel, watcher) = cancel_flag(ctx);
        let this = self.clone();
        let r = blocking(move || this.do_run(call, cancel)).await;
        watcher.abort();
        r
    }
}
