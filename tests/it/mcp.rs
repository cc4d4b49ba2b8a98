//! `netql mcp`: every tool in-process (rmcp client over a duplex pipe), the error cases a model
//! must be able to read, paging with cursors, and real MCP clients (the Python `mcp` SDK) against
//! the built binary over stdio and streamable HTTP.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use netql::config::{Config, Overrides, RawConfig};
use netql::mcp::NetqlServer;
use netql::table::load::LoadOptions;
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::service::{RoleClient, RunningService};
use serde_json::{Value, json};

use crate::common;

/// A temp folder with `caps/` (sample.pcap and, when ../shared is there, synscan.pcapng) and `cache/`.
struct Fixture {
    dir: tempfile::TempDir,
    synscan: bool,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let caps = dir.path().join("caps");
        std::fs::create_dir_all(&caps).unwrap();
        std::fs::create_dir_all(dir.path().join("cache")).unwrap();
        std::fs::copy(common::sample(), caps.join("sample.pcap")).unwrap();
        let synscan = match common::shared_captures() {
            Some(shared) => {
                std::fs::copy(shared.join("synscan.pcapng"), caps.join("synscan.pcapng")).unwrap();
                true
            }
            None => false,
        };
        Fixture { dir, synscan }
    }
    fn caps(&self) -> PathBuf {
        self.dir.path().join("caps")
    }
    fn cache(&self) -> PathBuf {
        self.dir.path().join("cache")
    }
    fn server(&self, toml: &str) -> NetqlServer {
        let raw = RawConfig::parse(toml, Path::new("test.toml")).unwrap();
        let ov = Overrides {
            captures_dir: Some(self.caps()),
            cache_dir: Some(self.cache()),
            ..Default::default()
        };
        let cfg = Config::resolve(raw, &ov);
        let opts = LoadOptions {
            cache_dir: cfg.cache_dir.clone(),
            use_cache: true,
            progress: false,
            threads: 2,
            community_id_seed: 0,
        };
        NetqlServer::new(cfg, opts)
    }
}

type Client = RunningService<RoleClient, ()>;

async fn connect(server: NetqlServer) -> Client {
    let (server_io, client_io) = tokio::io::duplex(1 << 16);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    ().serve(client_io).await.expect("client connects")
}

struct Res {
    is_error: bool,
    text: String,
    structured: Value,
}

async fn call(c: &Client, name: &str, args: Value) -> Res {
    let params =
        CallToolRequestParams::new(name.to_string()).with_arguments(args.as_object().cloned().unwrap_or_default());
    let r = c
        .call_tool(params)
        .await
        .unwrap_or_else(|e| panic!("{name}: protocol error {e}"));
    let text = r
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n");
    Res {
        is_error: r.is_error.unwrap_or(false),
        text,
        structured: r.structured_content.clone().unwrap_or(Value::Null),
    }
}

async fn ok(c: &Client, name: &str, args: Value) -> Res {
    let r = call(c, name, args.clone()).await;
    assert!(!r.is_error, "{name} {args}: {}", r.text);
    r
}

async fn err(c: &Client, name: &str, args: Value) -> String {
    let r = call(c, name, args.clone()).await;
    assert!(r.is_error, "{name} {args} should fail: {}", r.text);
    r.text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tool_in_process() {
    let fx = Fixture::new();
    let c = connect(fx.server("")).await;

    let info = c.peer_info().expect("server info");
    let instructions = info.instructions.clone().unwrap_or_default();
    for needle in ["describe_schema", "group_by", "frame", "untrusted"] {
        assert!(instructions.contains(needle), "instructions lack {needle}");
    }
    let tools = c.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(
        names,
        [
            "analyze",
            "capture_live",
            "describe_schema",
            "diff",
            "export_packets",
            "list_captures",
            "list_queries",
            "run_query",
            "run_script"
        ]
    );
    for t in &tools {
        assert!(t.output_schema.is_some(), "{} has no outputSchema", t.name);
        let ro = t.annotations.as_ref().and_then(|a| a.read_only_hint);
        // The two tools that write a file into the captures folder say so.
        let writes = t.name == "capture_live" || t.name == "export_packets";
        assert_eq!(ro, Some(!writes), "{} readOnlyHint", t.name);
    }

    // list_captures
    let r = ok(&c, "list_captures", json!({})).await;
    let caps = r.structured["captures"].as_array().unwrap();
    let sample = caps.iter().find(|x| x["name"] == "sample.pcap").unwrap();
    assert_eq!(sample["packets"], 253);
    assert!(r.text.contains("sample.pcap"), "{}", r.text);
    assert!(r.structured["elapsed_ms"].is_u64());

    // describe_schema: columns with meanings, sample values, the guide and examples
    let r = ok(&c, "describe_schema", json!({"capture": "sample.pcap"})).await;
    let packets = r.structured["packets"].as_array().unwrap();
    let src = packets.iter().find(|x| x["name"] == "src_ip").unwrap();
    assert_eq!(src["type"], "text");
    assert!(!src["meaning"].as_str().unwrap().is_empty());
    assert_eq!(src["sample_values"][0], "192.168.56.10", "{src}");
    assert!(
        r.structured["flows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["name"] == "state")
    );
    assert!(r.structured["examples"].as_array().unwrap().len() >= 6);
    assert!(
        r.text.contains("group_by") && r.text.contains("flows():"),
        "{}",
        &r.text[..400]
    );
    let r = ok(&c, "describe_schema", json!({"table": "flows", "sample_values": false})).await;
    assert!(r.structured["packets"].as_array().unwrap().is_empty());
    assert!(r.structured["sample_values_from"].is_null());

    // list_queries
    let r = ok(&c, "list_queries", json!({})).await;
    let qs = r.structured["queries"].as_array().unwrap();
    let ps = qs.iter().find(|q| q["name"] == "port_scan").unwrap();
    assert_eq!(ps["in_analyze"], true);
    assert!(
        ps["params"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "min_ports")
    );

    // run_query: a table, then findings that cite file and frames
    let r = ok(
        &c,
        "run_query",
        json!({"name": "top_talkers", "captures": "sample.pcap", "params": {"limit": 3}}),
    )
    .await;
    assert_eq!(r.structured["kind"], "table");
    assert_eq!(r.structured["rows"].as_array().unwrap().len(), 3);
    assert_eq!(r.structured["packets_covered"], 253);
    assert_eq!(r.structured["captures"], json!(["sample.pcap"]));
    assert!(
        r.text.contains("top_talkers over sample.pcap (253 packets)"),
        "{}",
        r.text
    );
    let r = ok(
        &c,
        "run_query",
        json!({"name": "port_scan", "captures": ["sample.pcap"]}),
    )
    .await;
    assert_eq!(r.structured["kind"], "findings");
    let f = &r.structured["findings"][0];
    assert_eq!(f["file"], "sample.pcap", "{f}");
    assert!(!f["frames"].as_array().unwrap().is_empty());
    assert!(f["evidence"].as_array().unwrap().len() <= 5);
    let e = err(&c, "run_query", json!({"name": "port_scan", "params": {"nope": 1}})).await;
    assert!(e.contains("no parameter 'nope'"), "{e}");
    let e = err(&c, "run_query", json!({"name": "no_such_query"})).await;
    assert!(e.contains("top_talkers"), "{e}");
    // A query name is never a path.
    let e = err(&c, "run_query", json!({"name": "/etc/x.rhai"})).await;
    assert!(e.contains("no query named"), "{e}");

    // run_script: a value, a map, a table with params, nothing
    let r = ok(
        &c,
        "run_script",
        json!({"script": "packets().count()", "captures": ["sample.pcap"]}),
    )
    .await;
    assert_eq!(r.structured["kind"], "value");
    assert_eq!(r.structured["value"], 253);
    let r = ok(
        &c,
        "run_script",
        json!({"script": "packets().filter(col(\"src_ip\").in_cidr(net)).count()", "captures": ["sample.pcap"], "params": {"net": "203.0.113.0/24"}}),
    )
    .await;
    assert_eq!(r.structured["value"], 3);
    let r = ok(
        &c,
        "run_script",
        json!({"script": "let x = 1;", "captures": ["sample.pcap"]}),
    )
    .await;
    assert_eq!(r.structured["kind"], "nothing");
    // print goes to stderr, never into the protocol.
    let r = ok(
        &c,
        "run_script",
        json!({"script": "print(\"hello\"); 7", "captures": ["sample.pcap"]}),
    )
    .await;
    assert_eq!(r.structured["value"], 7);

    // analyze: latest, all, file
    let r = ok(&c, "analyze", json!({})).await;
    assert_eq!(r.structured["mode"], "latest");
    assert!(r.structured["verdict"].as_str().unwrap().len() > 10);
    let r = ok(&c, "analyze", json!({"mode": "file", "file": "sample.pcap"})).await;
    assert_eq!(r.structured["files"], json!(["sample.pcap"]));
    assert_eq!(r.structured["packets"], 253);
    assert!(r.structured["findings_total"].as_u64().unwrap() >= 1);
    let scan = r.structured["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["query"] == "port_scan")
        .expect("port scan finding");
    assert!(!scan["frames"].as_array().unwrap().is_empty());
    assert!(r.text.contains("Verdict"), "{}", r.text);
    let r = ok(&c, "analyze", json!({"mode": "all"})).await;
    let expect_files = if fx.synscan { 2 } else { 1 };
    assert_eq!(r.structured["files"].as_array().unwrap().len(), expect_files);
    let e = err(&c, "analyze", json!({"mode": "file"})).await;
    assert!(e.contains("needs `file`"), "{e}");

    // capture_live is off by default and says how to turn it on
    let e = err(&c, "capture_live", json!({"seconds": 1})).await;
    assert!(e.contains("allow_live_capture = true"), "{e}");

    c.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_adds_up_and_respects_the_budget() {
    let fx = Fixture::new();
    let c = connect(fx.server("")).await;
    // Every packet of sample.pcap with a few columns, 40 per page.
    let script = r#"packets().select(["file", "frame", "src_ip", "dst_ip", "protocols"])"#;
    let mut args = json!({"script": script, "captures": ["sample.pcap"], "max_rows": 40});
    let mut frames: Vec<u64> = Vec::new();
    let mut pages = 0;
    loop {
        let r = ok(&c, "run_script", args.clone()).await;
        let s = &r.structured;
        assert_eq!(s["total_rows"], 253);
        assert_eq!(s["offset"].as_u64().unwrap() as usize, frames.len());
        let rows = s["rows"].as_array().unwrap();
        assert_eq!(rows.len() as u64, s["returned_rows"].as_u64().unwrap());
        frames.extend(rows.iter().map(|r| r["frame"].as_u64().unwrap()));
        pages += 1;
        if s["truncated"] == false {
            assert!(s["next_cursor"].is_null());
            break;
        }
        let cursor = s["next_cursor"].as_str().unwrap().to_string();
        assert!(r.text.contains(&cursor), "the text tells how to continue");
        args = json!({"cursor": cursor});
        assert!(pages < 20);
    }
    assert_eq!(pages, 7);
    assert_eq!(frames, (1..=253).collect::<Vec<u64>>(), "every row once, in order");

    // Wide rows: the byte budget cuts the page before max_rows, and paging still adds up.
    let mut args = json!({"script": "packets()", "captures": ["sample.pcap"], "max_rows": 500});
    let mut seen = 0u64;
    let mut pages = 0;
    loop {
        let r = ok(&c, "run_script", args.clone()).await;
        let s = &r.structured;
        let n = s["returned_rows"].as_u64().unwrap();
        seen += n;
        pages += 1;
        assert!(r.text.len() < 26_000, "text {} bytes", r.text.len());
        assert!(s["rows"].to_string().len() < 26_000);
        if s["truncated"] == false {
            break;
        }
        assert!(n < 253);
        args = json!({"cursor": s["next_cursor"]});
        assert!(pages < 100);
    }
    assert_eq!(seen, 253);
    assert!(pages > 1, "a page of 253 full packet rows is over the budget");

    // Findings page too.
    let script = r#"findings(flows().filter(col("state") == "rejected").select(["src_ip", "dst_port", "first_frame", "file"]), "low", "rejected {dst_port}")"#;
    let r = ok(
        &c,
        "run_script",
        json!({"script": script, "captures": ["sample.pcap"], "max_rows": 30}),
    )
    .await;
    assert_eq!(r.structured["kind"], "findings");
    assert_eq!(r.structured["findings"].as_array().unwrap().len(), 30);
    let total = r.structured["total_rows"].as_u64().unwrap();
    assert!(total > 30);
    let r2 = ok(&c, "run_script", json!({"cursor": r.structured["next_cursor"]})).await;
    assert_eq!(r2.structured["offset"], 30);

    // Cursors are checked.
    let e = err(&c, "run_script", json!({"cursor": "garbage"})).await;
    assert!(e.contains("invalid cursor"), "{e}");
    let e = err(&c, "run_query", json!({"cursor": r.structured["next_cursor"]})).await;
    assert!(e.contains("pass it to run_script"), "{e}");
    c.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_a_model_can_act_on() {
    let fx = Fixture::new();
    // A link inside the captures folder that points at a capture outside it.
    let outside = fx.dir.path().join("outside.pcap");
    std::fs::copy(common::sample(), &outside).unwrap();
    std::os::unix::fs::symlink(&outside, fx.caps().join("escape.pcap")).unwrap();
    let c = connect(fx.server("")).await;

    // A syntax error: line, column and a caret.
    let e = err(
        &c,
        "run_script",
        json!({"script": "let a = packets();\na.filter(col(\"l4\") == )"}),
    )
    .await;
    assert!(e.contains("line 2, column"), "{e}");
    assert!(e.contains('^') && e.contains("describe_schema"), "{e}");
    // A runtime error: an unknown column.
    let e = err(
        &c,
        "run_script",
        json!({"script": "packets().select([\"no_such_column\"])", "captures": ["sample.pcap"]}),
    )
    .await;
    assert!(e.contains("no_such_column"), "{e}");
    // A runaway script is stopped by the sandbox.
    let e = err(
        &c,
        "run_script",
        json!({"script": "let x = 0; loop { x += 1; }", "captures": ["sample.pcap"]}),
    )
    .await;
    assert!(e.contains("operations") || e.contains("time limit"), "{e}");
    // No file access from scripts.
    let e = err(
        &c,
        "run_script",
        json!({"script": "import \"../../etc/passwd\" as p; 1", "captures": ["sample.pcap"]}),
    )
    .await;
    assert!(e.contains("script error"), "{e}");

    for bad in [
        "../../etc/passwd",
        "/etc/passwd",
        outside.to_str().unwrap(),
        "escape.pcap",
        "sample.pcap/../../outside.pcap",
    ] {
        let e = err(
            &c,
            "run_script",
            json!({"script": "packets().count()", "captures": [bad]}),
        )
        .await;
        assert!(e.contains("outside the captures folder"), "{bad}: {e}");
    }
    let e = err(&c, "analyze", json!({"mode": "file", "file": "../outside.pcap"})).await;
    assert!(e.contains("outside the captures folder"), "{e}");
    // The escaping link is not listed and "all" never reaches it.
    let r = ok(&c, "list_captures", json!({})).await;
    assert!(!r.text.contains("escape.pcap"), "{}", r.text);
    let r = ok(
        &c,
        "run_script",
        json!({"script": "packets().count()", "captures": "all"}),
    )
    .await;
    assert!(!r.structured["captures"].to_string().contains("escape"));

    let e = err(
        &c,
        "run_query",
        json!({"name": "top_talkers", "captures": ["nope.pcap"]}),
    )
    .await;
    assert!(
        e.contains("no capture named 'nope.pcap'") && e.contains("sample.pcap"),
        "{e}"
    );
    let e = err(&c, "run_script", json!({"script": "1", "capture": "sample.pcap"})).await;
    assert!(e.contains("unknown field `capture`"), "{e}");
    let e = err(&c, "run_script", json!({})).await;
    assert!(e.contains("give `script`"), "{e}");
    let e = err(&c, "run_script", json!({"script": "1", "params": {"bad-name": 1}})).await;
    assert!(e.contains("not a valid variable name"), "{e}");
    let e = err(&c, "run_script", json!({"script": "packets()", "max_rows": "ten"})).await;
    assert!(e.contains("bad arguments for run_script"), "{e}");
    c.cancel().await.unwrap();

    // An empty captures folder: listed as empty, queries say so.
    let empty = tempfile::tempdir().unwrap();
    let fx2 = Fixture::new();
    let cfg = Config::resolve(
        RawConfig::default(),
        &Overrides {
            captures_dir: Some(empty.path().to_path_buf()),
            cache_dir: Some(fx2.cache()),
            ..Default::default()
        },
    );
    let opts = LoadOptions {
        cache_dir: fx2.cache(),
        use_cache: true,
        progress: false,
        threads: 1,
        community_id_seed: 0,
    };
    let c = connect(NetqlServer::new(cfg, opts)).await;
    let r = ok(&c, "list_captures", json!({})).await;
    assert_eq!(r.structured["count"], 0);
    let e = err(&c, "run_script", json!({"script": "packets().count()"})).await;
    assert!(e.contains("no captures"), "{e}");
    // describe_schema still works without a capture to sample.
    let r = ok(&c, "describe_schema", json!({})).await;
    assert!(r.structured["sample_values_from"].is_null());
    c.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_capture_is_gated_and_bounded() {
    let fx = Fixture::new();
    let c =
        connect(fx.server("[mcp]\nallow_live_capture = true\nmax_capture_seconds = 5\nmax_capture_packets = 100\n"))
            .await;
    let e = err(&c, "capture_live", json!({"seconds": 6, "interface": "lo"})).await;
    assert!(e.contains("seconds must be 1 to 5"), "{e}");
    let e = err(
        &c,
        "capture_live",
        json!({"seconds": 1, "max_packets": 1000, "interface": "lo"}),
    )
    .await;
    assert!(e.contains("max_packets must be 1 to 100"), "{e}");
    let e = err(&c, "capture_live", json!({"seconds": 1, "interface": "no-such-if0"})).await;
    assert!(e.contains("no interface named") || e.contains("cannot list"), "{e}");
    c.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_capture_writes_a_capture_the_next_query_reads() {
    if !netql::testdata::can_capture_on_loopback("live_capture_writes_a_capture_the_next_query_reads") {
        return;
    }
    let fx = Fixture::new();
    let c = connect(fx.server("[mcp]\nallow_live_capture = true\nmax_capture_seconds = 5\ninterface = \"lo\"\n")).await;
    let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = rx.local_addr().unwrap().port();
    let sender = std::thread::spawn(move || {
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(500));
        for _ in 0..10 {
            tx.send_to(b"netql", ("127.0.0.1", port)).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    });
    let filter = format!("udp dst port {port}");
    let r = ok(
        &c,
        "capture_live",
        json!({"seconds": 2, "max_packets": 10, "filter": filter}),
    )
    .await;
    sender.join().unwrap();
    assert_eq!(r.structured["packets"], 10, "{}", r.text);
    assert_eq!(r.structured["stopped_by"], "count");
    let file = r.structured["files"][0].as_str().unwrap().to_string();
    assert!(fx.caps().join(&file).is_file());
    let r = ok(
        &c,
        "run_script",
        json!({"script": "packets().filter(col(\"l4\") == \"udp\").count()"}),
    )
    .await;
    assert_eq!(r.structured["captures"], json!([file]), "latest is the new capture");
    assert_eq!(r.structured["value"], 10);
    c.cancel().await.unwrap();
}

/// The Python MCP SDK, or a failure that says how to install it.
pub(crate) fn python_client(args: &[&str]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/mcp_client.py");
    let out = Command::new(netql::testdata::python())
        .arg(&script)
        .args(args)
        .output()
        .expect("python3 must be installed to run the real-client MCP test");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(3) {
        panic!(
            "\n*** the Python MCP SDK is missing: run the tests with .ci/test (it makes a virtual environment \
             with mcp>=2,<3 and points NETQL_PYTHON at it), or pip install 'mcp>=2,<3' ***\n{stderr}"
        );
    }
    assert!(out.status.success(), "mcp_client.py failed:\n{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("bad summary ({e}): {stdout}\n{stderr}"))
}

fn check_common(s: &Value) {
    assert_eq!(s["server_name"], "netql");
    assert!(s["instructions"].as_str().unwrap().contains("describe_schema"));
    assert_eq!(s["tools"].as_array().unwrap().len(), 9, "{s}");
    assert_eq!(s["tools_with_output_schema"], s["tools"]);
    let lc = &s["list_captures"];
    assert_eq!(lc["is_error"], false);
    assert_eq!(lc["packets"]["synscan.pcapng"], 2011);
    assert_eq!(lc["packets"]["sample.pcap"], 253);
    let p = &s["paging"];
    assert!(s["paging_error"].is_null(), "{s}");
    assert!(p["pages"].as_u64().unwrap() > 1, "{p}");
    assert_eq!(p["rows"], p["total_rows"], "{p}");
    assert_eq!(p["distinct_ports"], p["total_rows"], "{p}");
    assert_eq!(p["packets_sum"], s["tcp_count"], "{p}");
    assert_eq!(p["first_text_has_cursor_hint"], true);
    assert_eq!(s["print_script"], 42, "{s}");
    assert_eq!(s["bad_script"]["is_error"], true);
    assert!(
        s["bad_script"]["text"].as_str().unwrap().contains("line 1, column"),
        "{s}"
    );
    for k in ["traversal", "absolute"] {
        assert_eq!(s[k]["is_error"], true);
        assert!(
            s[k]["text"].as_str().unwrap().contains("outside the captures folder"),
            "{s}"
        );
    }
    assert_eq!(s["unknown_capture"]["is_error"], true);
    assert!(
        s["unknown_capture"]["text"]
            .as_str()
            .unwrap()
            .contains("no capture named")
    );
}

fn real_captures() -> Option<Fixture> {
    let fx = Fixture::new();
    if !fx.synscan {
        netql::testdata::missing("../shared/captures/synscan.pcapng (the real-client MCP test reads it)");
        return None;
    }
    Some(fx)
}

#[test]
fn python_sdk_over_stdio() {
    let Some(fx) = real_captures() else { return };
    let caps = fx.caps();
    let cache = fx.cache();
    let s = python_client(&[
        "--netql",
        env!("CARGO_BIN_EXE_netql"),
        "--captures",
        caps.to_str().unwrap(),
        "--cache",
        cache.to_str().unwrap(),
    ]);
    check_common(&s);
    // All but the two that write a file (capture_live, export_packets).
    assert_eq!(s["read_only_tools"].as_array().unwrap().len(), 7);
    let d = &s["describe_schema"];
    assert_eq!(d["is_error"], false);
    // Every column of the schema reaches the client (ip_len and the ICMP quote's five joined
    // the packets; Zeek's conn fields and Community ID the flows).
    assert_eq!(d["packet_columns"], netql::table::schema::PACKET_SCHEMA.len());
    assert_eq!(d["packet_columns"], 54);
    assert_eq!(d["flow_columns"], netql::table::schema::FLOW_SCHEMA.len());
    assert_eq!(d["has_guide"], true);
    assert_eq!(
        s["list_queries"].as_array().unwrap().len(),
        netql::query::canned::BUILTIN.len()
    );
    assert_eq!(s["list_queries"].as_array().unwrap().len(), 15);
    assert_eq!(s["top_talkers"]["rows"], 3);
    let ps = &s["port_scan"];
    assert_eq!(ps["kind"], "findings");
    assert!(ps["findings"].as_u64().unwrap() >= 1, "{ps}");
    assert!(ps["frames"].as_u64().unwrap() >= 1, "{ps}");
    assert_eq!(ps["files"], json!(["synscan.pcapng"]));
    assert_eq!(s["analyze_latest"]["is_error"], false);
    assert_eq!(s["analyze_all"]["packets"], 2011 + 253);
    assert_eq!(s["analyze_file"]["files"], json!(["synscan.pcapng"]));
    assert!(s["analyze_file"]["findings_total"].as_u64().unwrap() >= 1);
    assert_eq!(s["capture_live"]["is_error"], true);
    assert!(
        s["capture_live"]["text"]
            .as_str()
            .unwrap()
            .contains("allow_live_capture")
    );
}

/// Kills the server child when the test ends, pass or fail.
struct Child(std::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn python_sdk_over_streamable_http() {
    let Some(fx) = real_captures() else { return };
    let mut child = Command::new(env!("CARGO_BIN_EXE_netql"))
        .args([
            "--captures",
            fx.caps().to_str().unwrap(),
            "--cache-dir",
            fx.cache().to_str().unwrap(),
        ])
        .args(["mcp", "--http", "127.0.0.1:0"])
        .current_dir(fx.cache())
        .env_remove("NETQL_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let guard = Child(child);
    // Keep reading the server's stderr (Rhai print goes there) so it never writes to a closed pipe.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(|l| l.ok()) {
            if let Some(rest) = line.split("listening on ").nth(1) {
                let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_string());
            }
        }
    });
    let url = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the server prints its URL");
    assert!(url.starts_with("http://127.0.0.1:") && url.ends_with("/mcp"), "{url}");
    let s = python_client(&["--url", &url]);
    check_common(&s);
    drop(guard);
}

#[test]
fn http_refuses_all_interfaces_without_allow_remote() {
    let cache = tempfile::tempdir().unwrap();
    for addr in ["0.0.0.0:0", "[::]:0"] {
        let o = common::netql(&["mcp", "--http", addr], cache.path());
        assert_eq!(o.status.code(), Some(2), "{addr}");
        assert!(common::stderr(&o).contains("--allow-remote"), "{}", common::stderr(&o));
    }
}

/// export_packets: the packets behind frames, a flow and a finding, written into the captures
/// folder under a new name a client hands to Wireshark; read back as the frames they came from.
/// It writes nowhere else and overwrites nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_packets_writes_new_captures_in_the_folder() {
    let fx = Fixture::new();
    let c = connect(fx.server("[mcp]\nmax_export_packets = 15\n")).await;
    let read = |p: &Path| {
        let mut v = Vec::new();
        netql::capture::CaptureReader::open(p)
            .unwrap()
            .for_each(|r| {
                v.push((r.ts_ns, r.wire_len, r.data.to_vec()));
                true
            })
            .unwrap();
        v
    };
    let sample = read(&fx.caps().join("sample.pcap"));

    let r = ok(
        &c,
        "export_packets",
        json!({"captures": "sample.pcap", "frames": "2-4,10", "name": "four.pcap"}),
    )
    .await;
    assert_eq!(r.structured["file"], "four.pcap", "{}", r.structured);
    assert_eq!(r.structured["packets"], 4);
    assert!(r.text.contains("Wireshark"), "{}", r.text);
    let got = read(&fx.caps().join("four.pcap"));
    assert_eq!(
        got,
        vec![
            sample[1].clone(),
            sample[2].clone(),
            sample[3].clone(),
            sample[9].clone()
        ]
    );

    // A flow: every packet of the sample's first HTTP flow, under a made-up name.
    let flows = ok(
        &c,
        "run_script",
        json!({"script": "flows().filter(col(\"app\") == \"http\").select([\"flow_id\", \"packets\"]).limit(1)", "captures": "sample.pcap"}),
    )
    .await;
    let row = &flows.structured["rows"][0];
    let r = ok(
        &c,
        "export_packets",
        json!({"captures": "sample.pcap", "flow_id": row["flow_id"]}),
    )
    .await;
    assert_eq!(r.structured["packets"], row["packets"], "{}", r.structured);
    let made = r.structured["file"].as_str().unwrap().to_string();
    assert!(made.starts_with("carve_") && made.ends_with(".pcap"), "{made}");
    assert!(fx.caps().join(&made).is_file());

    // A finding's evidence, capped at the configured 15 packets.
    let r = ok(
        &c,
        "export_packets",
        json!({"captures": "sample.pcap", "query": "port_scan", "finding": 1, "name": "scan.pcap"}),
    )
    .await;
    assert_eq!(
        (r.structured["packets"].as_u64(), r.structured["capped"].as_bool()),
        (Some(15), Some(true)),
        "{}",
        r.structured
    );

    for (args, says) in [
        (
            json!({"captures": "sample.pcap", "frames": "1", "name": "../out.pcap"}),
            "plain file name",
        ),
        (
            json!({"captures": "sample.pcap", "frames": "1", "name": "four.pcap"}),
            "exists already",
        ),
        (json!({"captures": "sample.pcap"}), "say what to export"),
        (json!({"captures": "sample.pcap", "frames": "0"}), "not a frame"),
    ] {
        let e = err(&c, "export_packets", args.clone()).await;
        assert!(e.contains(says), "{args}: {e}");
    }
    assert!(!fx.dir.path().join("out.pcap").exists());
}

/// diff over MCP: the sample against itself has no changes; against the synscan capture (when
/// the shared captures are there) its scan is a new finding.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_tool_compares_two_captures() {
    let fx = Fixture::new();
    let c = connect(fx.server("")).await;
    let r = ok(&c, "diff", json!({"a": "sample.pcap", "b": "sample.pcap"})).await;
    assert!(r.text.contains("no changes"), "{}", r.text);
    assert_eq!(r.structured["new_findings"], json!([]));
    let e = err(&c, "diff", json!({"a": "sample.pcap"})).await;
    assert!(e.contains("give `a`"), "{e}");
    if fx.synscan {
        let r = ok(&c, "diff", json!({"a": "sample.pcap", "b": "synscan.pcapng"})).await;
        let new: Vec<String> = r.structured["new_findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["title"].as_str().unwrap().to_string())
            .collect();
        assert!(
            new.iter()
                .any(|t| t.starts_with("TCP SYN (half-open) scan from 172.16.0.8")),
            "{new:?}"
        );
        assert!(r.text.contains("new findings"), "{}", r.text);
    }
}
