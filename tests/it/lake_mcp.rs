//! The MCP server and the agent pointed at a lake (`netql mcp --lake`, `netql ask --lake`): a
//! real MCP client (the Python SDK) lists the lake's captures and runs queries, ranges, paging
//! and the suite over it; every answer equals what `netql run/analyze --lake` gives for the
//! same lake and scope, and the offline agent answers its common asks from the lake.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Value, json};

use crate::common::{stderr, stdout};
use crate::lake::{Fixture, manifest};
use crate::mcp::python_client;

/// The calls through the Python SDK against `netql mcp --lake LAKE MCP_ARGS...`.
fn over_mcp(fx: &Fixture, lake: &Path, mcp_args: &[&str], calls: &Value) -> Value {
    let cache = fx.work.join("mcp-cache");
    std::fs::create_dir_all(&cache).unwrap();
    let file = fx.work.join("calls.json");
    std::fs::write(&file, calls.to_string()).unwrap();
    let mut args: Vec<String> = vec![
        "--netql".into(),
        env!("CARGO_BIN_EXE_netql").into(),
        "--captures".into(),
        fx.caps.display().to_string(),
        "--cache".into(),
        cache.display().to_string(),
        "--calls".into(),
        file.display().to_string(),
        format!("--mcp-arg=--lake"),
        format!("--mcp-arg={}", lake.display()),
    ];
    args.extend(mcp_args.iter().map(|a| format!("--mcp-arg={a}")));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    python_client(&refs)
}

fn iso(s: i64) -> String {
    chrono::DateTime::from_timestamp(s, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Findings as (query, severity, title), which identify them whatever their order.
fn finding_set(findings: &Value) -> BTreeSet<(String, String, String)> {
    findings
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_string();
            (s("query"), s("severity"), s("title"))
        })
        .collect()
}

#[test]
fn mcp_and_agent_answer_over_a_lake_as_the_cli_does() {
    let Some(fx) = Fixture::new() else { return };
    let (lake, other) = fx.two_sensors();
    // A range of 20 minutes inside the generated capture of sensor a.
    let start = fx.gen1_start();
    let (from, to) = (iso(start + 1200), iso(start + 2400));
    let per_src = "flows().group_by([\"src_ip\"]).agg([count().alias(\"flows\"), sum(\"bytes\").alias(\"bytes\")]).with_column(col(\"src_ip\").to_text().alias(\"src_ip\")).sort([\"src_ip\"], [false])";
    let count = "flows().select([count().alias(\"n\")])";

    let calls = json!([
        {"tool": "list_captures"},
        {"tool": "run_query", "args": {"name": "top_talkers"}, "pages": true},
        {"tool": "run_script", "args": {"script": per_src, "from": from, "to": to, "sensor": "a", "max_rows": 3}, "pages": true},
        {"tool": "run_script", "args": {"script": count, "captures": ["gen2.pcap"]}},
        {"tool": "analyze", "args": {}},
        {"tool": "analyze", "args": {"mode": "latest"}},
        {"tool": "describe_schema", "args": {"table": "flows"}},
        {"tool": "run_script", "args": {"script": count, "sensor": "nope"}},
        {"tool": "run_script", "args": {"script": count, "from": "yesterday"}},
        {"tool": "run_script", "args": {"script": count, "captures": ["missing.pcap"]}},
        {"tool": "export_packets", "args": {"query": "port_scan"}},
        {"tool": "diff", "args": {"a": "all", "b": "latest"}},
    ]);
    let s = over_mcp(&fx, &lake, &[], &calls);
    let r = |i: usize| &s["results"][i];
    for i in 0..7 {
        assert_eq!(r(i)["is_error"], false, "call {i}: {}", r(i)["text"]);
    }
    assert!(
        s["instructions"].as_str().unwrap().contains("netql ingest"),
        "{}",
        s["instructions"]
    );

    // list_captures: the manifest's captures, with their sensors and packet counts.
    let m = manifest(&lake);
    let listed = &r(0)["structured"];
    let triples = |rows: &Value, name: &str| -> BTreeSet<(String, String, u64)> {
        let text = |v: &Value| v.as_str().unwrap().to_string();
        rows.as_array()
            .unwrap()
            .iter()
            .map(|e| (text(&e[name]), text(&e["sensor"]), e["packets"].as_u64().unwrap()))
            .collect()
    };
    let (want, got) = (triples(&m["captures"], "file"), triples(&listed["captures"], "name"));
    assert_eq!(got, want);
    assert_eq!(want.len(), 8, "{want:?}");
    assert_eq!(listed["lake"], lake.display().to_string());

    // run_query over the whole lake = `netql run top_talkers --lake`, every page together.
    let cli = fx.over_lake(&lake, &["top_talkers"], &[]);
    assert_eq!(r(1)["all_rows"], cli);
    assert!(r(1)["text"].as_str().unwrap().contains("lake"), "{}", r(1)["text"]);

    // A range and a sensor, paged 3 rows at a time: the cursors keep the range.
    let cli = fx.over_lake(
        &lake,
        &["-e", per_src],
        &["--sensor", "a", "--from", &from, "--to", &to],
    );
    assert!(cli.as_array().unwrap().len() > 5, "{cli}");
    assert!(r(2)["pages"].as_u64().unwrap() > 1, "{}", r(2));
    assert!(r(2).get("page_error").is_none(), "{}", r(2));
    assert_eq!(r(2)["all_rows"], cli);

    // One capture by name = that capture loaded directly.
    let gen2 = fx.script_on(count, &other.join("gen2.pcap"));
    assert_eq!(r(3)["structured"]["rows"], gen2);

    // analyze: the whole lake by default, as `netql analyze --lake`; "latest" is the capture
    // list_captures puts first.
    let cli = fx.json(&["analyze", "--lake", lake.to_str().unwrap(), "--format", "json"]);
    let whole = &r(4)["structured"];
    assert_eq!(whole["mode"], "all");
    assert_eq!(whole["files_total"], 8);
    assert_eq!(whole["packets"], cli["packets"]);
    assert_eq!(
        whole["findings_total"].as_u64().unwrap() as usize,
        cli["findings"].as_array().unwrap().len()
    );
    // Every finding shown is one of the CLI's; all of them when none was cut at the size budget.
    let (shown, all) = (finding_set(&whole["findings"]), finding_set(&cli["findings"]));
    assert!(!shown.is_empty() && shown.is_subset(&all), "{shown:?}");
    if whole["findings_truncated"] == false {
        assert_eq!(shown, all);
    }
    assert!(
        finding_set(&cli["findings"]).iter().any(|f| f.0 == "port_scan"),
        "{cli}"
    );
    let newest = listed["captures"][0]["name"].as_str().unwrap();
    assert_eq!(r(5)["structured"]["files"], json!([newest]));
    assert_eq!(r(6)["is_error"], false);

    // Mistakes are tool errors a model can act on.
    for (i, says) in [
        (7, "no sensor \"nope\""),
        (8, "is not a time"),
        (9, "no capture named 'missing.pcap'"),
        (10, "reads a lake"),
        (11, "reads a lake"),
    ] {
        assert_eq!(r(i)["is_error"], true, "call {i}: {}", r(i));
        assert!(
            r(i)["text"].as_str().unwrap().contains(says),
            "call {i}: {}",
            r(i)["text"]
        );
    }

    // A server scoped to sensor b: it sees b's capture only, and a call cannot widen it.
    let calls = json!([
        {"tool": "list_captures"},
        {"tool": "run_script", "args": {"script": count}},
        {"tool": "run_script", "args": {"script": count, "sensor": "a"}},
    ]);
    let s = over_mcp(&fx, &lake, &["--sensor", "b"], &calls);
    let names: Vec<&str> = s["results"][0]["structured"]["captures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["gen2.pcap"]);
    assert_eq!(s["results"][1]["structured"]["rows"], gen2);
    assert_eq!(s["results"][2]["is_error"], true);
    assert!(
        s["results"][2]["text"]
            .as_str()
            .unwrap()
            .contains("outside this server's lake scope"),
        "{}",
        s["results"][2]["text"]
    );

    // The shell over the lake: `.captures` lists the lake's, scripts read it.
    let mut shell = std::process::Command::new(env!("CARGO_BIN_EXE_netql"))
        .args(["shell", "--lake", lake.to_str().unwrap()])
        .current_dir(&fx.work)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = shell.stdin.take().unwrap();
        writeln!(stdin, ".captures\n.format json\n{count}").unwrap();
    }
    let o = shell.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("8 capture(s) in the lake"), "{out}");
    let n = fx.over_lake(&lake, &["-e", count], &[])[0]["n"].clone();
    assert!(out.contains(&format!("\"n\": {n}")), "{n} in {out}");

    // The offline agent over the lake: its captures and the suite over all of them.
    let ask = |q: &str| {
        let o = fx.run(&["ask", "--offline", "--lake", lake.to_str().unwrap(), q]);
        assert!(o.status.success(), "{q}: {}", stderr(&o));
        stdout(&o)
    };
    let list = ask("list captures");
    assert!(list.contains("8 capture(s) in the lake"), "{list}");
    assert!(
        list.contains("gen2.pcap [sensor b]") && list.contains("synscan.pcapng [sensor a]"),
        "{list}"
    );
    let all = ask("analyze all");
    assert!(all.to_lowercase().contains("scan"), "{all}");
}
