//! diff: what changed between two captures (or two sets): hosts, services (the address, port and
//! transport that answered), DNS names asked, TLS server names and client fingerprints (JA4),
//! protocol share, volume per host past a threshold, and the security findings that appeared or
//! went away. Each side's facts come from queries in the query language over its own tables; the
//! findings from the analysis suite.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use polars::prelude::*;
use serde::Serialize;
use serde_json::Value;

use crate::query::analyze::{Reported, analyze, finding_json};
use crate::query::engine::{Captures, ScriptEngine};

/// The sets compared, each with the script that makes it (one text column `v`).
const SETS: [(&str, &str); 5] = [
    (
        "hosts",
        r#"let f = flows(); concat(f.select([col("src_ip").to_text().alias("v")]), f.select([col("dst_ip").to_text().alias("v")])).filter(col("v").is_not_null()).unique()"#,
    ),
    (
        "services",
        // A service accepted: a TCP handshake answered (a RST to a probe is not a service), or
        // UDP payload coming back.
        r#"flows().filter((col("l4") == "tcp" && col("syn_ack") > 0) || (col("l4") == "udp" && col("payload_rev") > 0)).select([concat_text([col("dst_ip"), ":", col("dst_port"), "/", col("l4")]).alias("v")]).unique()"#,
    ),
    (
        "dns_names",
        r#"dns().filter(col("query").is_not_null()).select([col("query").to_text().to_lower().alias("v")]).unique()"#,
    ),
    (
        "tls_server_names",
        r#"tls().filter(col("server_name").is_not_null()).select([col("server_name").to_text().alias("v")]).unique()"#,
    ),
    (
        "tls_client_ja4",
        r#"tls().filter(col("ja4").is_not_null()).select([col("ja4").to_text().alias("v")]).unique()"#,
    ),
];

/// Bytes per host (sent and received).
const VOLUME: &str = r#"let f = flows();
concat(f.select([col("src_ip").to_text().alias("h"), col("bytes").alias("b")]),
       f.select([col("dst_ip").to_text().alias("h"), col("bytes").alias("b")]))
    .filter(col("h").is_not_null()).group_by(["h"]).agg([sum("b").alias("bytes")])"#;

/// Share of frames per application protocol.
const PROTOCOLS: &str = r#"packets().with_column(col("app").to_text().fill_null("other").alias("p")).group_by(["p"]).agg([count().alias("n")])"#;

/// What counts as a change of volume: at least this many bytes on one side, and a factor.
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    pub min_bytes: u64,
    pub factor: f64,
    /// Points of frame share a protocol must move by.
    pub share_points: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            min_bytes: 100_000,
            factor: 2.0,
            share_points: 1.0,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SetChange {
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Volume {
    pub host: String,
    pub bytes_a: u64,
    pub bytes_b: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Share {
    pub protocol: String,
    pub pct_a: f64,
    pub pct_b: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    pub a: Vec<String>,
    pub b: Vec<String>,
    /// hosts, services, dns_names, tls_server_names, tls_client_ja4.
    pub sets: BTreeMap<String, SetChange>,
    pub protocols: Vec<Share>,
    pub volume: Vec<Volume>,
    /// Findings of B not in A (by query, kind and the parties), and of A not in B.
    pub new_findings: Vec<Value>,
    pub gone_findings: Vec<Value>,
    #[serde(skip)]
    pub new_reported: Vec<Reported>,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.sets.values().all(|s| s.added.is_empty() && s.removed.is_empty())
            && self.protocols.is_empty()
            && self.volume.is_empty()
            && self.new_findings.is_empty()
            && self.gone_findings.is_empty()
    }
}

fn texts(df: &DataFrame, col: &str) -> Result<BTreeSet<String>, String> {
    let c = df
        .column(col)
        .map_err(|e| e.to_string())?
        .cast(&DataType::String)
        .map_err(|e| e.to_string())?;
    Ok(c.str()
        .map_err(|e| e.to_string())?
        .iter()
        .flatten()
        .map(str::to_string)
        .collect())
}

fn numbers(df: &DataFrame, key: &str, val: &str) -> Result<BTreeMap<String, u64>, String> {
    let k = df
        .column(key)
        .map_err(|e| e.to_string())?
        .cast(&DataType::String)
        .map_err(|e| e.to_string())?;
    let v = df
        .column(val)
        .map_err(|e| e.to_string())?
        .cast(&DataType::UInt64)
        .map_err(|e| e.to_string())?;
    let (k, v) = (k.str().map_err(|e| e.to_string())?, v.u64().map_err(|e| e.to_string())?);
    Ok((0..df.height())
        .filter_map(|i| Some((k.get(i)?.to_string(), v.get(i).unwrap_or(0))))
        .collect())
}

/// A finding's identity across captures: its query, kind and parties (counts and times differ).
fn identity(r: &Reported) -> String {
    let f = &r.finding.facts;
    let part = |k: &str| f.get(k).map(|v| v.to_string()).unwrap_or_default();
    format!(
        "{}|{}|{}|{}|{}",
        r.query,
        part("kind"),
        part("src"),
        part("dst"),
        part("port")
    )
}

/// Compare `a` with `b`.
pub fn diff(
    a: Arc<Captures>,
    b: Arc<Captures>,
    engine: &ScriptEngine,
    queries_dir: &std::path::Path,
    t: Thresholds,
) -> Result<Diff, String> {
    let names = |d: &Captures| d.loaded.iter().map(|l| l.capture.name.clone()).collect::<Vec<_>>();
    let mut sets = BTreeMap::new();
    for (name, script) in SETS {
        let (sa, sb) = (
            texts(&engine.run_table(script, a.clone())?, "v")?,
            texts(&engine.run_table(script, b.clone())?, "v")?,
        );
        sets.insert(
            name.to_string(),
            SetChange {
                added: sb.difference(&sa).cloned().collect(),
                removed: sa.difference(&sb).cloned().collect(),
            },
        );
    }
    let share = |d: &Arc<Captures>| -> Result<BTreeMap<String, f64>, String> {
        let n = numbers(&engine.run_table(PROTOCOLS, d.clone())?, "p", "n")?;
        let total: u64 = n.values().sum();
        Ok(n.into_iter()
            .map(|(k, v)| (k, v as f64 * 100.0 / total.max(1) as f64))
            .collect())
    };
    let (pa, pb) = (share(&a)?, share(&b)?);
    let protocols: Vec<Share> = pa
        .keys()
        .chain(pb.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(|p| Share {
            protocol: p.clone(),
            pct_a: (pa.get(p).copied().unwrap_or(0.0) * 10.0).round() / 10.0,
            pct_b: (pb.get(p).copied().unwrap_or(0.0) * 10.0).round() / 10.0,
        })
        .filter(|s| (s.pct_a - s.pct_b).abs() >= t.share_points)
        .collect();
    let (va, vb) = (
        numbers(&engine.run_table(VOLUME, a.clone())?, "h", "bytes")?,
        numbers(&engine.run_table(VOLUME, b.clone())?, "h", "bytes")?,
    );
    let mut volume: Vec<Volume> = va
        .keys()
        .chain(vb.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(|h| Volume {
            host: h.clone(),
            bytes_a: va.get(h).copied().unwrap_or(0),
            bytes_b: vb.get(h).copied().unwrap_or(0),
        })
        .filter(|v| {
            let (lo, hi) = (v.bytes_a.min(v.bytes_b) as f64, v.bytes_a.max(v.bytes_b) as f64);
            hi >= t.min_bytes as f64 && hi >= lo * t.factor
        })
        .collect();
    volume.sort_by_key(|v| std::cmp::Reverse(v.bytes_a.abs_diff(v.bytes_b)));
    let (fa, fb) = (
        analyze(a.clone(), engine, queries_dir),
        analyze(b.clone(), engine, queries_dir),
    );
    let ids_a: BTreeSet<String> = fa.findings.iter().map(identity).collect();
    let ids_b: BTreeSet<String> = fb.findings.iter().map(identity).collect();
    let new_reported: Vec<Reported> = fb
        .findings
        .iter()
        .filter(|r| !ids_a.contains(&identity(r)))
        .cloned()
        .collect();
    let gone: Vec<&Reported> = fa.findings.iter().filter(|r| !ids_b.contains(&identity(r))).collect();
    Ok(Diff {
        a: names(&a),
        b: names(&b),
        sets,
        protocols,
        volume,
        new_findings: new_reported.iter().map(finding_json).collect(),
        gone_findings: gone.into_iter().map(finding_json).collect(),
        new_reported,
    })
}
