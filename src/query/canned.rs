//! queries: the canned query scripts. They live in `queries/*.rhai` (users add their own there)
//! and are also built into the binary, so an installed netql has them without the repository.
//! Each script starts with `//!` header lines:
//!
//! ```text
//! //! name: port_scan
//! //! description: One line saying what it finds
//! //! param: min_ports = 15 -- distinct ports one scanner must probe on one host
//! ```

use std::path::{Path, PathBuf};

use rhai::Dynamic;

use crate::error::{Error, Result};
use crate::query::engine::{Params, param_value};

/// The scripts shipped with netql (same text as the files in `queries/`).
pub const BUILTIN: &[(&str, &str)] = &[
    ("protocol_share", include_str!("../../queries/protocol_share.rhai")),
    ("top_talkers", include_str!("../../queries/top_talkers.rhai")),
    ("conversations", include_str!("../../queries/conversations.rhai")),
    ("bandwidth", include_str!("../../queries/bandwidth.rhai")),
    ("port_scan", include_str!("../../queries/port_scan.rhai")),
    ("dns_summary", include_str!("../../queries/dns_summary.rhai")),
    ("arp_spoof", include_str!("../../queries/arp_spoof.rhai")),
    (
        "cleartext_credentials",
        include_str!("../../queries/cleartext_credentials.rhai"),
    ),
    ("beaconing", include_str!("../../queries/beaconing.rhai")),
    ("long_connections", include_str!("../../queries/long_connections.rhai")),
    ("unusual_ports", include_str!("../../queries/unusual_ports.rhai")),
    ("rare_ja4", include_str!("../../queries/rare_ja4.rhai")),
    ("bad_certificates", include_str!("../../queries/bad_certificates.rhai")),
    ("rare_user_agent", include_str!("../../queries/rare_user_agent.rhai")),
    (
        "dns_private_answers",
        include_str!("../../queries/dns_private_answers.rhai"),
    ),
];

/// The security checks `analyze` runs, in report order.
pub const SECURITY_SUITE: &[&str] = &[
    "port_scan",
    "arp_spoof",
    "cleartext_credentials",
    "dns_summary",
    "beaconing",
    "long_connections",
    "unusual_ports",
    "rare_ja4",
    "bad_certificates",
    "rare_user_agent",
    "dns_private_answers",
];

/// A declared parameter and its default.
#[derive(Debug, Clone)]
pub struct ParamInfo {
    pub name: String,
    pub default: String,
    pub description: String,
}

/// A query script and what its header says.
#[derive(Debug, Clone)]
pub struct Query {
    pub name: String,
    pub description: String,
    pub params: Vec<ParamInfo>,
    pub source: String,
    /// Where it came from: a file, or built in.
    pub origin: Option<PathBuf>,
}

impl Query {
    /// Read a script's `//!` header.
    pub fn parse(fallback_name: &str, source: &str, origin: Option<PathBuf>) -> Query {
        let mut q = Query {
            name: fallback_name.to_string(),
            description: String::new(),
            params: Vec::new(),
            source: source.to_string(),
            origin,
        };
        for line in source.lines() {
            let Some(rest) = line.trim_start().strip_prefix("//!") else {
                if line.trim().is_empty() {
                    continue;
                }
                break;
            };
            let rest = rest.trim();
            if let Some(v) = rest.strip_prefix("name:") {
                q.name = v.trim().to_string();
            } else if let Some(v) = rest.strip_prefix("description:") {
                q.description = v.trim().to_string();
            } else if let Some(v) = rest.strip_prefix("param:") {
                let (decl, description) = match v.split_once("--") {
                    Some((d, text)) => (d, text.trim().to_string()),
                    None => (v, String::new()),
                };
                if let Some((name, default)) = decl.split_once('=') {
                    q.params.push(ParamInfo {
                        name: name.trim().to_string(),
                        default: default.trim().to_string(),
                        description,
                    });
                }
            }
        }
        q
    }

    /// Defaults overridden by `given` (`name=value` pairs). Unknown names are an error.
    pub fn bind(&self, given: &[(String, String)]) -> Result<Params> {
        let mut out: Params = self
            .params
            .iter()
            .map(|p| (p.name.clone(), param_value(&p.default)))
            .collect();
        for (k, v) in given {
            match out.iter_mut().find(|(n, _)| n == k) {
                Some(slot) => slot.1 = param_value(v),
                None => {
                    let known: Vec<&str> = self.params.iter().map(|p| p.name.as_str()).collect();
                    return Err(Error::Query(format!(
                        "query {} has no parameter '{k}' (parameters: {})",
                        self.name,
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    )));
                }
            }
        }
        Ok(out)
    }
}

/// Parse `k=v` parameter arguments.
pub fn parse_params(args: &[String]) -> Result<Vec<(String, String)>> {
    args.iter()
        .map(|a| {
            a.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| Error::Query(format!("bad parameter '{a}': write name=value")))
        })
        .collect()
}

/// All queries: the built-in ones, replaced or extended by files in `dir`.
pub fn list(dir: &Path) -> Vec<Query> {
    let mut out: Vec<Query> = BUILTIN.iter().map(|(n, s)| Query::parse(n, s, None)).collect();
    if let Ok(rd) = std::fs::read_dir(dir) {
        let mut files: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "rhai"))
            .collect();
        files.sort();
        for path in files {
            let Ok(source) = std::fs::read_to_string(&path) else {
                continue;
            };
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let q = Query::parse(&stem, &source, Some(path.clone()));
            match out.iter_mut().find(|x| x.name == q.name) {
                Some(slot) => *slot = q,
                None => out.push(q),
            }
        }
    }
    out
}

/// A query by name (from `dir` or built in), or a script file by path.
pub fn find(dir: &Path, name: &str) -> Result<Query> {
    let as_path = Path::new(name);
    if name.ends_with(".rhai") && as_path.is_file() {
        let source = std::fs::read_to_string(as_path).map_err(|e| Error::io(as_path, e))?;
        let stem = as_path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        return Ok(Query::parse(&stem, &source, Some(as_path.to_path_buf())));
    }
    let all = list(dir);
    if let Some(q) = all.iter().find(|q| q.name == name) {
        return Ok(q.clone());
    }
    let names: Vec<&str> = all.iter().map(|q| q.name.as_str()).collect();
    Err(Error::NotFound(format!(
        "no query named '{name}' (known: {})",
        names.join(", ")
    )))
}

/// The text of a parameter value for display.
pub fn show_value(d: &Dynamic) -> String {
    d.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_read() {
        let q = Query::parse(
            "x",
            "//! name: demo\n//! description: Says hi\n//! param: limit = 10 -- rows\n//! param: who = \"me\"\nlet a = 1;\n",
            None,
        );
        assert_eq!(q.name, "demo");
        assert_eq!(q.description, "Says hi");
        assert_eq!(q.params.len(), 2);
        assert_eq!(q.params[0].default, "10");
        assert_eq!(q.params[0].description, "rows");
        let p = q.bind(&[("limit".into(), "3".into())]).unwrap();
        assert_eq!(p[0].1.as_int().unwrap(), 3);
        assert!(q.bind(&[("nope".into(), "1".into())]).is_err());
    }

    #[test]
    fn every_builtin_has_a_header() {
        for (name, src) in BUILTIN {
            let q = Query::parse("?", src, None);
            assert_eq!(&q.name, name, "header name of {name}");
            assert!(!q.description.is_empty(), "{name} needs a description");
        }
    }
}
