//! `netql check`: the CI gate. Runs queries over captures and exits 1 when a finding at or above
//! `--fail-on` (or a failed `assert`) turns up, 2 on errors; `--junit FILE` writes the results as
//! JUnit XML (quick-junit) for CI dashboards.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use netql::error::Exit;
use netql::query::analyze::{self, Reported};
use netql::query::bindings::Severity;
use netql::query::bindings::data::DataSource;
use netql::query::canned;
use netql::query::engine::{Captures, Output};
use netql::render::Format;
use netql::safe_text;

use crate::cli::context::{Ctx, keep_for_queries, lake_data, load_many};

pub struct CheckArgs {
    pub items: Vec<String>,
    pub fail_on: Severity,
    pub junit: Option<std::path::PathBuf>,
    pub format: Format,
    pub params: Vec<String>,
    pub lake: crate::cli::context::LakeArgs,
}

struct CheckResult {
    query: String,
    capture: String,
    status: &'static str,
    failing: Vec<Reported>,
    other: Vec<Reported>,
    failures: Vec<String>,
    error: Option<String>,
    elapsed_ms: u128,
}

pub fn check(ctx: &Ctx, a: CheckArgs) -> Result<Exit> {
    // Positional items are queries (names or .rhai files) or captures.
    let known: Vec<String> = canned::list(&ctx.cfg.queries_dir).into_iter().map(|q| q.name).collect();
    let (mut qs, mut caps) = (Vec::new(), Vec::new());
    for item in &a.items {
        if item.ends_with(".rhai") || known.contains(item) {
            qs.push(item.clone());
        } else {
            caps.push(item.clone());
        }
    }
    if qs.is_empty() {
        qs = canned::SECURITY_SUITE.iter().map(|s| s.to_string()).collect();
    }
    let given = canned::parse_params(&a.params)?;
    let engine = ctx.engine();
    // Each capture is checked on its own; a lake as one.
    let mut sets: Vec<(String, Arc<dyn DataSource>)> = Vec::new();
    let mut any_error = false;
    if let Some(lake) = lake_data(&a.lake, &caps)? {
        let dir = a.lake.lake.as_deref().unwrap_or(std::path::Path::new(""));
        sets.push((format!("lake {}", dir.display()), lake));
    } else {
        let (loaded, failed) = load_many(ctx, &caps, keep_for_queries(ctx, qs.iter().map(String::as_str)));
        any_error = failed;
        for l in loaded {
            sets.push((l.capture.name.clone(), Arc::new(Captures::new(vec![l]))));
        }
    }
    let mut results = Vec::new();
    for (capture, data) in sets {
        for name in &qs {
            let started = std::time::Instant::now();
            let mut r = CheckResult {
                query: name.clone(),
                capture: capture.clone(),
                status: "pass",
                failing: Vec::new(),
                other: Vec::new(),
                failures: Vec::new(),
                error: None,
                elapsed_ms: 0,
            };
            let outcome = canned::find(&ctx.cfg.queries_dir, name)
                .map_err(|e| e.to_string())
                .and_then(|q| {
                    // Only parameters the query declares are passed on.
                    let mine: Vec<(String, String)> = given
                        .iter()
                        .filter(|(k, _)| q.params.iter().any(|p| &p.name == k))
                        .cloned()
                        .collect();
                    let p = q.bind(&mine).map_err(|e| e.to_string())?;
                    engine.run(&q.source, data.clone(), &p).map_err(|e| e.to_string())
                });
            match outcome {
                Ok(res) => {
                    if let Output::Findings(fs) = res.output {
                        for f in fs {
                            let rep = Reported {
                                query: name.clone(),
                                finding: f,
                            };
                            if rep.finding.severity >= a.fail_on {
                                r.failing.push(rep);
                            } else {
                                r.other.push(rep);
                            }
                        }
                    }
                    r.failures = res.failures;
                    if !r.failing.is_empty() || !r.failures.is_empty() {
                        r.status = "fail";
                    }
                }
                Err(e) => {
                    r.status = "error";
                    r.error = Some(e);
                    any_error = true;
                }
            }
            r.elapsed_ms = started.elapsed().as_millis();
            results.push(r);
        }
    }
    let failed = results.iter().any(|r| r.status == "fail");
    match a.format {
        Format::Json => {
            let v = serde_json::json!({
                "passed": !failed && !any_error,
                "fail_on": a.fail_on.name(),
                "results": results.iter().map(|r| serde_json::json!({
                    "query": r.query, "capture": r.capture, "status": r.status,
                    "findings": r.failing.iter().chain(&r.other).map(analyze::finding_json).collect::<Vec<_>>(),
                    "failing_findings": r.failing.len(),
                    "failures": r.failures, "error": r.error, "elapsed_ms": r.elapsed_ms as u64,
                })).collect::<Vec<_>>(),
            });
            println!("{}", netql::safe_text::json(serde_json::to_string_pretty(&v)?));
        }
        _ => {
            let rows: Vec<Vec<String>> = results
                .iter()
                .map(|r| {
                    let detail = if let Some(e) = &r.error {
                        e.lines().next().unwrap_or("").to_string()
                    } else if r.status == "fail" {
                        let mut parts: Vec<String> = r
                            .failing
                            .iter()
                            .map(|f| format!("[{}] {}", f.finding.severity.name(), f.finding.title))
                            .collect();
                        parts.extend(r.failures.iter().map(|f| format!("assert: {f}")));
                        parts.join("; ")
                    } else {
                        format!("{} finding(s) below {}", r.other.len(), a.fail_on.name())
                    };
                    // Titles and errors carry packet text: one escaped line each.
                    vec![
                        r.status.to_uppercase(),
                        safe_text::line(&r.query).into_owned(),
                        safe_text::line(&r.capture).into_owned(),
                        safe_text::line(&detail).into_owned(),
                    ]
                })
                .collect();
            println!(
                "{}",
                netql::render::text_table(&["status", "query", "capture", "detail"], &rows, &[])
            );
            println!(
                "{} passed, {} failed, {} errors (failing at {} and above)",
                results.iter().filter(|r| r.status == "pass").count(),
                results.iter().filter(|r| r.status == "fail").count(),
                results.iter().filter(|r| r.status == "error").count(),
                a.fail_on.name()
            );
        }
    }
    if let Some(path) = &a.junit {
        std::fs::write(path, junit_xml(&results, a.fail_on)?)?;
    }
    Ok(if any_error {
        Exit::Error
    } else if failed {
        Exit::Failure
    } else {
        Exit::Success
    })
}

/// The results as a JUnit report: one test case per query and capture (class: the capture), a
/// failure for findings at or above `fail_on` and failed asserts, an error for a query that could
/// not run. quick-junit escapes XML's markup characters; every text is escaped first
/// ([`safe_text`]), since it wrote control characters XML 1.0 cannot carry as character
/// references, which made the file not well-formed.
fn junit_xml(results: &[CheckResult], fail_on: Severity) -> Result<String> {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut suite = TestSuite::new("netql");
    for r in results {
        let status = match r.status {
            "fail" => {
                let mut body: Vec<String> = r
                    .failing
                    .iter()
                    .map(|f| format!("[{}] {}", f.finding.severity.name(), safe_text::line(&f.finding.title)))
                    .collect();
                body.extend(
                    r.failures
                        .iter()
                        .map(|f| format!("assertion failed: {}", safe_text::line(f))),
                );
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(format!(
                    "{} finding(s) at {} or above",
                    r.failing.len() + r.failures.len(),
                    fail_on.name()
                ))
                .set_type("finding")
                .set_description(body.join("\n"));
                s
            }
            "error" => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                s.set_message("query failed")
                    .set_type("error")
                    .set_description(safe_text::text(r.error.as_deref().unwrap_or("")).into_owned());
                s
            }
            _ => TestCaseStatus::success(),
        };
        let mut case = TestCase::new(safe_text::line(&r.query).into_owned(), status);
        case.set_classname(safe_text::line(&r.capture).into_owned())
            .set_time(Duration::from_millis(r.elapsed_ms as u64));
        suite.add_test_case(case);
    }
    let total: u128 = results.iter().map(|r| r.elapsed_ms).sum();
    suite.set_time(Duration::from_millis(total as u64));
    let mut report = Report::new("netql check");
    report
        .set_time(Duration::from_millis(total as u64))
        .add_test_suite(suite);
    Ok(report.to_string()?)
}
