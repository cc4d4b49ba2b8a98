//! analyze: the canned suite over a set of captures — totals, protocol share, top devices, every
//! security query's findings, and a plain-language verdict. Front-ends render the result.

use std::sync::Arc;
use std::time::Duration;

use polars::prelude::*;
use serde_json::{Map, Value, json};

use crate::query::bindings::Severity;
use crate::query::bindings::data::DataSource;
use crate::query::canned::{self, Query};
use crate::query::engine::{FindingOut, Output, ScriptEngine, cited_frames};
use crate::query::summary;
use crate::units;

/// One finding with the query that produced it.
#[derive(Debug, Clone)]
pub struct Reported {
    pub query: String,
    pub finding: FindingOut,
}

/// The analysis of one capture or a set of captures.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// File names covered.
    pub files: Vec<String>,
    pub packets: u64,
    pub bytes: u64,
    pub first_ns: Option<i64>,
    pub last_ns: Option<i64>,
    pub protocols: Option<DataFrame>,
    pub talkers: Option<DataFrame>,
    pub findings: Vec<Reported>,
    /// Queries that failed to run: (query, message).
    pub errors: Vec<(String, String)>,
    pub elapsed: Duration,
}

impl Analysis {
    /// The highest severity among findings above `info`.
    pub fn worst(&self) -> Option<Severity> {
        self.findings
            .iter()
            .map(|r| r.finding.severity)
            .filter(|s| *s > Severity::Info)
            .max()
    }

    pub fn count(&self, sev: Severity) -> usize {
        self.findings.iter().filter(|r| r.finding.severity == sev).count()
    }

    /// A sentence a person can act on.
    pub fn verdict(&self) -> String {
        let issues: Vec<&Reported> = self
            .findings
            .iter()
            .filter(|r| r.finding.severity > Severity::Info)
            .collect();
        if self.packets == 0 {
            return "The capture holds no packets, so there is nothing to judge.".into();
        }
        match self.worst() {
            None => format!(
                "No signs of scanning, spoofing, clear-text logins or beaconing in {} packets. The traffic looks normal.",
                self.packets
            ),
            Some(worst) => {
                let mut kinds: Vec<String> = Vec::new();
                for r in &issues {
                    let k = r.query.replace('_', " ");
                    if !kinds.contains(&k) {
                        kinds.push(k);
                    }
                }
                let lead = match worst {
                    Severity::Critical | Severity::High => "Attention needed",
                    Severity::Medium => "Suspicious activity",
                    _ => "Minor observations only",
                };
                format!(
                    "{lead}: {} finding(s) ({} high or critical, {} medium, {} low) from {}. Review the evidence frames above.",
                    issues.len(),
                    self.count(Severity::High) + self.count(Severity::Critical),
                    self.count(Severity::Medium),
                    self.count(Severity::Low),
                    kinds.join(", ")
                )
            }
        }
    }

    /// What `analyze --format json` prints for this analysis.
    pub fn to_json(&self) -> Value {
        let findings: Vec<Value> = self.findings.iter().map(finding_json).collect();
        let table = |df: &Option<DataFrame>| {
            df.as_ref()
                .map(|d| Value::Array(crate::table::values::rows_json(d)))
                .unwrap_or(Value::Null)
        };
        json!({
            "files": self.files,
            "packets": self.packets,
            "bytes": self.bytes,
            "first_ts": self.first_ns.map(units::rfc3339_ns),
            "last_ts": self.last_ns.map(units::rfc3339_ns),
            "protocols": table(&self.protocols),
            "top_talkers": table(&self.talkers),
            "findings": findings,
            "errors": self.errors.iter().map(|(q, m)| json!({"query": q, "error": m})).collect::<Vec<_>>(),
            "verdict": self.verdict(),
            "worst_severity": self.worst().map(|s| s.name()),
            "elapsed_ms": self.elapsed.as_millis() as u64,
        })
    }
}

/// A finding as JSON: query, severity, title, the scanner/source address (`src`) where the
/// query names one, the facts, the evidence rows and the frames they cite.
pub fn finding_json(r: &Reported) -> Value {
    let f = &r.finding;
    let mut o = Map::new();
    o.insert("query".into(), json!(r.query));
    o.insert("severity".into(), json!(f.severity.name()));
    o.insert("title".into(), json!(f.title));
    o.insert("src".into(), f.facts.get("src").cloned().unwrap_or(Value::Null));
    if let Some(file) = f.facts.get("file") {
        o.insert("file".into(), file.clone());
    }
    o.insert("facts".into(), Value::Object(f.facts.clone()));
    if let Some(ev) = &f.evidence {
        let frames = cited_frames(ev);
        // How to take these packets to Wireshark.
        if let Some(file) = f.facts.get("file").and_then(Value::as_str)
            && !frames.is_empty()
        {
            o.insert("carve".into(), json!(carve_command(file, &frames)));
        }
        o.insert("frames".into(), json!(frames));
        o.insert("evidence".into(), Value::Array(crate::table::values::rows_json(ev)));
        o.insert("evidence_rows".into(), json!(f.evidence_total));
    }
    Value::Object(o)
}

/// Packets, bytes and time span of the data: from what the loads (or the lake's manifest)
/// already know (no pass over 10M rows), else computed.
fn span(data: &dyn DataSource) -> (u64, u64, Option<i64>, Option<i64>) {
    if let Some(t) = data.totals() {
        return (t.packets, t.bytes, t.first_ns, t.last_ns);
    }
    match data.packets().and_then(summary::totals) {
        Ok(t) => (t.packets, t.bytes, t.first_ns, t.last_ns),
        Err(_) => (0, 0, None, None),
    }
}

/// Every query the suite runs: the report's two overview tables, then the security queries.
pub fn suite() -> impl Iterator<Item = &'static str> {
    ["protocol_share", "top_talkers"]
        .into_iter()
        .chain(canned::SECURITY_SUITE.iter().copied())
}

/// Run the suite over `data`.
pub fn analyze(data: Arc<dyn DataSource>, engine: &ScriptEngine, queries_dir: &std::path::Path) -> Analysis {
    let started = std::time::Instant::now();
    let files = data.files();
    let (packets, bytes, first_ns, last_ns) = span(data.as_ref());
    let mut a = Analysis {
        files,
        packets,
        bytes,
        first_ns,
        last_ns,
        protocols: None,
        talkers: None,
        findings: Vec::new(),
        errors: Vec::new(),
        elapsed: Duration::ZERO,
    };
    let debug = std::env::var_os("NETQL_DEBUG").is_some();
    if debug {
        eprintln!("analyze: tables ready after {:?}", started.elapsed());
    }
    let run = |name: &str, params: &[(String, String)]| -> Result<Output, String> {
        let t = std::time::Instant::now();
        let q: Query = canned::find(queries_dir, name).map_err(|e| e.to_string())?;
        let p = q.bind(params).map_err(|e| e.to_string())?;
        let r = engine
            .run(&q.source, data.clone(), &p)
            .map(|r| r.output)
            .map_err(|e| e.to_string());
        if debug {
            eprintln!("analyze: {name} took {:?}", t.elapsed());
        }
        r
    };
    // The queries are independent: run them side by side, one per core (most are small, and a
    // single small query leaves a core waiting; more at once would only add memory).
    let limits = |n: &str| vec![("limit".to_string(), n.to_string())];
    let jobs: Vec<(&str, Vec<(String, String)>)> = suite()
        .map(|n| match n {
            "protocol_share" => (n, limits("12")),
            "top_talkers" => (n, limits("5")),
            _ => (n, Vec::new()),
        })
        .collect();
    // Start order: the longest first, and the first two on different tables (port_scan waits for
    // flows, cleartext_credentials reads events), so neither worker waits for the other's first
    // read. The transaction queries read small tables and fill the gaps.
    let first = ["port_scan", "cleartext_credentials", "beaconing"];
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by_key(|&i| first.iter().position(|n| *n == jobs[i].0).unwrap_or(first.len()));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done: std::sync::Mutex<Vec<(usize, Result<Output, String>)>> = std::sync::Mutex::new(Vec::new());
    // With NETQL_DEBUG the queries run one at a time, so the timings printed are each query's own.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = if debug { 1 } else { cores.min(jobs.len()) };
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&i) = order.get(k) else { break };
                    let (name, params) = &jobs[i];
                    let r = run(name, params);
                    if let Ok(mut d) = done.lock() {
                        d.push((i, r));
                    }
                }
            });
        }
    });
    let mut results: Vec<Result<Output, String>> = jobs.iter().map(|_| Err("query did not run".into())).collect();
    for (i, r) in done.into_inner().unwrap_or_default() {
        results[i] = r;
    }
    for ((name, _), result) in jobs.iter().zip(results) {
        match (*name, result) {
            ("protocol_share", Ok(Output::Table(t))) => a.protocols = Some(t),
            ("top_talkers", Ok(Output::Table(t))) => a.talkers = Some(t),
            (_, Ok(Output::Findings(fs))) => {
                a.findings.extend(fs.into_iter().map(|f| Reported {
                    query: name.to_string(),
                    finding: f,
                }));
            }
            (_, Ok(_)) => {}
            (_, Err(e)) => a.errors.push((name.to_string(), e)),
        }
    }
    // Worst first, then in suite order.
    a.findings.sort_by_key(|r| std::cmp::Reverse(r.finding.severity));
    a.elapsed = started.elapsed();
    a
}

/// `netql carve FILE --frames 1-5,9`: the command that writes `frames` of `file` to a new capture.
pub fn carve_command(file: &str, frames: &[u64]) -> String {
    let mut sorted = frames.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j + 1 < sorted.len() && sorted[j + 1] == sorted[j] + 1 {
            j += 1;
        }
        parts.push(if j > i {
            format!("{}-{}", sorted[i], sorted[j])
        } else {
            sorted[i].to_string()
        });
        i = j + 1;
    }
    format!("netql carve {} --frames {}", shell_quoted(file), parts.join(","))
}

/// `text` as one word of a POSIX shell command line.
pub fn shell_quoted(text: &str) -> String {
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c)) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod carve_tests {
    #[test]
    fn carve_commands_list_frames_as_ranges() {
        assert_eq!(
            super::carve_command("a.pcap", &[5, 1, 2, 3, 9, 10]),
            "netql carve a.pcap --frames 1-3,5,9-10"
        );
        assert_eq!(
            super::carve_command("my file.pcap", &[7]),
            "netql carve 'my file.pcap' --frames 7"
        );
    }
}
