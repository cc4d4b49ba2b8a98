//! offline: without an API key, the common asks ("analyze latest", "list captures", "analyze
//! all", "top talkers", "any scans?") answered by a rule-based router over the same MCP tools,
//! with a deterministic summary.

use std::time::Instant;

use serde_json::{Value, json};

use crate::agent::conversation::{Event, brief};
use crate::agent::session::{McpSession, ToolOutput};

/// What works without an API key.
pub const OFFLINE_HELP: &str = "Running offline (no ANTHROPIC_API_KEY): netql answers these without Claude:\n\
  - analyze latest            the newest capture: protocols, top devices, security findings\n\
  - analyze all               every capture, one by one and together\n\
  - analyze FILE              one capture by name\n\
  - list captures             what is in the captures folder\n\
  - top talkers               the busiest addresses\n\
  - any scans?                port scans and sweeps\n\
  - protocols / dns           protocol share, DNS overview\n\
To let Claude answer anything, put ANTHROPIC_API_KEY=... in config/.env (or the environment).";

/// The offline intents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    ListCaptures,
    AnalyzeLatest,
    AnalyzeAll,
    AnalyzeFile(String),
    Query(&'static str),
    Help,
}

/// Map a question to an intent by its words.
pub fn route(question: &str, capture_names: &[String]) -> Intent {
    let q = question.to_lowercase();
    let has = |w: &[&str]| w.iter().any(|x| q.contains(x));
    if let Some(name) = capture_names.iter().find(|n| q.contains(&n.to_lowercase()))
        && (has(&["analy", "summar", "look", "check", "what"]) || q.trim() == name.to_lowercase())
    {
        return Intent::AnalyzeFile(name.clone());
    }
    if has(&["scan", "sweep", "probe"]) {
        return Intent::Query("port_scan");
    }
    if has(&[
        "talker",
        "busiest",
        "top device",
        "top host",
        "who talks",
        "most active",
        "chattiest",
    ]) {
        return Intent::Query("top_talkers");
    }
    if has(&[
        "list capture",
        "which capture",
        "what capture",
        "show capture",
        "captures?",
        "list the capture",
        "available capture",
    ]) || q.trim() == "captures"
    {
        return Intent::ListCaptures;
    }
    if has(&["analy", "summar", "overview", "what happened", "report"]) {
        return if has(&[" all", "every", "each"]) {
            Intent::AnalyzeAll
        } else {
            Intent::AnalyzeLatest
        };
    }
    if has(&["protocol"]) {
        return Intent::Query("protocol_share");
    }
    if has(&["dns", "domain"]) {
        return Intent::Query("dns_summary");
    }
    if has(&["conversation"]) {
        return Intent::Query("conversations");
    }
    Intent::Help
}

/// Answer without Claude: route the ask to MCP tools and summarise the structured results.
pub async fn offline_answer(session: &McpSession, question: &str, on: &mut (dyn FnMut(Event) + Send)) -> String {
    let captures = session.call("list_captures", &json!({})).await;
    let names: Vec<String> = capture_names(captures.structured.as_ref());
    let intent = route(question, &names);
    let mut call = async |name: &str, args: Value| {
        on(Event::Tool(name.to_string(), brief(&args)));
        let started = Instant::now();
        let out = session.call(name, &args).await;
        on(Event::ToolDone(name.to_string(), out.is_error, started.elapsed()));
        out
    };
    match intent {
        Intent::Help => OFFLINE_HELP.to_string(),
        Intent::ListCaptures => {
            let out = call("list_captures", json!({})).await;
            summarize_captures(&out)
        }
        Intent::AnalyzeLatest => summarize_analysis(&call("analyze", json!({"mode": "latest"})).await),
        Intent::AnalyzeAll => summarize_analysis(&call("analyze", json!({"mode": "all"})).await),
        Intent::AnalyzeFile(f) => summarize_analysis(&call("analyze", json!({"mode": "file", "file": f})).await),
        Intent::Query(q) => {
            let out = call("run_query", json!({"name": q, "captures": ["latest"]})).await;
            summarize_query(q, &out)
        }
    }
}

fn capture_names(v: Option<&Value>) -> Vec<String> {
    let list = v
        .and_then(|v| v.get("captures").or(Some(v)))
        .and_then(|v| v.as_array())
        .cloned()
        .unwrap_or_default();
    list.iter()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect()
}

fn summarize_captures(out: &ToolOutput) -> String {
    if out.is_error {
        return format!("Could not list the captures: {}", out.text);
    }
    let list = out
        .structured
        .as_ref()
        .and_then(|v| v.get("captures").or(Some(v)))
        .and_then(|v| v.as_array())
        .cloned()
        .unwrap_or_default();
    if list.is_empty() {
        return "There are no captures in the captures folder yet. Record one with `netql capture -i IFACE` or copy a .pcap file there.".into();
    }
    // Over a lake the list holds the newest captures; `count` says how many there are.
    let st = out.structured.clone().unwrap_or_default();
    let total = st.get("count").and_then(Value::as_u64).unwrap_or(list.len() as u64);
    let mut s = match st.get("lake").and_then(Value::as_str) {
        Some(lake) => format!("{total} capture(s) in the lake {lake}, newest first:\n"),
        None => format!("{} capture(s), newest first:\n", list.len()),
    };
    for c in &list {
        s.push_str(&format!(
            "  - {}{} ({} packets, {} bytes{})\n",
            c["name"].as_str().unwrap_or("?"),
            c["sensor"]
                .as_str()
                .map(|v| format!(" [sensor {v}]"))
                .unwrap_or_default(),
            c["packets"].as_u64().map_or("?".into(), |n| n.to_string()),
            c["size"].as_u64().map_or("?".into(), |n| n.to_string()),
            c["first_ts"]
                .as_str()
                .map(|t| format!(", from {t}"))
                .unwrap_or_default()
        ));
    }
    s
}

/// A readable summary of an `analyze` result (one capture or a set).
pub fn summarize_analysis(out: &ToolOutput) -> String {
    if out.is_error {
        return format!("The analysis failed: {}", out.text);
    }
    let Some(v) = out.structured.as_ref() else {
        return out.text.clone();
    };
    let a = v.get("analysis").unwrap_or(v);
    let mut s = String::new();
    let files: Vec<&str> = a["files"]
        .as_array()
        .map(|f| f.iter().filter_map(|x| x.as_str()).collect())
        .unwrap_or_default();
    s.push_str(&format!(
        "Capture: {} — {} packets, {} bytes{}.\n",
        if files.is_empty() {
            "?".to_string()
        } else {
            files.join(", ")
        },
        a["packets"].as_u64().unwrap_or(0),
        a["bytes"].as_u64().unwrap_or(0),
        match (a["first_ts"].as_str(), a["last_ts"].as_str()) {
            (Some(x), Some(y)) => format!(", {x} to {y}"),
            _ => String::new(),
        }
    ));
    if let Some(p) = a["protocols"].as_array() {
        let shares: Vec<String> = p
            .iter()
            .filter(|r| !matches!(r["protocol"].as_str(), Some("eth" | "sll" | "null" | "raw")))
            .take(6)
            .map(|r| format!("{} {}%", r["protocol"].as_str().unwrap_or("?"), r["frames_pct"]))
            .collect();
        s.push_str(&format!("Protocols (share of frames): {}.\n", shares.join(", ")));
    }
    if let Some(t) = a["top_talkers"].as_array() {
        let top: Vec<String> = t
            .iter()
            .take(3)
            .map(|r| {
                format!(
                    "{} ({} packets, {} bytes)",
                    r["address"].as_str().unwrap_or("?"),
                    r["packets"],
                    r["bytes"]
                )
            })
            .collect();
        s.push_str(&format!("Top active devices: {}.\n", top.join("; ")));
    }
    let findings: Vec<&Value> = a["findings"]
        .as_array()
        .map(|f| f.iter().filter(|x| x["severity"] != "info").collect())
        .unwrap_or_default();
    if findings.is_empty() {
        s.push_str("Security status: no scans, spoofing, clear-text logins, beaconing or odd ports found.\n");
    } else {
        s.push_str(&format!("Security status: {} finding(s):\n", findings.len()));
        for f in findings.iter().take(10) {
            let frames: Vec<String> = f["frames"]
                .as_array()
                .map(|a| a.iter().take(6).map(|x| x.to_string()).collect())
                .unwrap_or_default();
            s.push_str(&format!(
                "  - [{}] {}{}\n",
                f["severity"].as_str().unwrap_or("?").to_uppercase(),
                f["title"].as_str().unwrap_or(""),
                if frames.is_empty() {
                    String::new()
                } else {
                    format!(" (frames {}…)", frames.join(", "))
                }
            ));
        }
    }
    if let Some(verdict) = a["verdict"].as_str() {
        s.push_str(&format!("Verdict: {verdict}\n"));
    }
    s.push_str(&recommendations(&findings));
    s
}

fn recommendations(findings: &[&Value]) -> String {
    let mut r: Vec<&str> = Vec::new();
    for f in findings {
        match f["query"].as_str().unwrap_or("") {
            "port_scan" => r.push("Find out who owns the scanning address and whether the scan was authorised; block it at the firewall if not."),
            "cleartext_credentials" => r.push("Change the exposed passwords and move those services to encrypted protocols (SFTP/FTPS, HTTPS, IMAPS)."),
            "arp_spoof" => r.push("Check the switch for the MAC addresses claiming the same IP; enable dynamic ARP inspection."),
            "dns_summary" => r.push("Look at the hosts sending random-looking or failing DNS names for malware (tunnelling or DGA)."),
            "beaconing" => r.push("Inspect the host with regular check-ins for malware; block the destination if it is unknown."),
            "long_connections" => r.push("Confirm the long-lived connections are expected (VPNs, backups) and not tunnels."),
            "unusual_ports" => r.push("Identify the services on unusual ports; close them if nobody needs them."),
            "rare_ja4" => r.push("Find the program behind the rare TLS fingerprint on that host (a tool or malware rather than the usual browsers)."),
            "bad_certificates" => r.push("Renew the expired certificates and replace self-signed ones with certificates from your CA; check nobody is intercepting TLS."),
            "rare_user_agent" => r.push("Find out which program on that host sends the rare User-Agent; scripts and malware often give themselves away there."),
            "dns_private_answers" => r.push("Check the public names that resolve to private addresses: DNS rebinding against internal services, or internal hosts leaking into public zones."),
            _ => {}
        }
    }
    r.dedup();
    if r.is_empty() {
        return "Recommendations: none needed; keep capturing and re-run the analysis regularly.\n".into();
    }
    let mut s = String::from("Recommendations:\n");
    for x in r {
        s.push_str(&format!("  - {x}\n"));
    }
    s
}

fn summarize_query(name: &str, out: &ToolOutput) -> String {
    if out.is_error {
        return format!("The {name} query failed: {}", out.text);
    }
    let head = match name {
        "port_scan" => {
            let n = out
                .structured
                .as_ref()
                .and_then(|v| v["findings"].as_array())
                .map_or(0, |f| f.len());
            if n == 0 {
                "No port scans or sweeps found in the latest capture.\n".to_string()
            } else {
                format!("{n} scan finding(s) in the latest capture:\n")
            }
        }
        "top_talkers" => {
            "The busiest addresses in the latest capture (packets and bytes sent + received):\n".to_string()
        }
        other => format!("{other} on the latest capture:\n"),
    };
    format!("{head}{}", out.text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_the_common_asks() {
        let names = vec!["sample.pcap".to_string()];
        assert_eq!(route("analyze latest capture", &names), Intent::AnalyzeLatest);
        assert_eq!(route("Analyse all captures please", &names), Intent::AnalyzeAll);
        assert_eq!(route("list captures", &names), Intent::ListCaptures);
        assert_eq!(route("who are the top talkers?", &names), Intent::Query("top_talkers"));
        assert_eq!(route("any scans?", &names), Intent::Query("port_scan"));
        assert_eq!(
            route("analyze sample.pcap", &names),
            Intent::AnalyzeFile("sample.pcap".into())
        );
        assert_eq!(route("write me a poem", &names), Intent::Help);
    }
}
