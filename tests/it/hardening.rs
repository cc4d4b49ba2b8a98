//! Nothing a script sends takes netql down: each probe of issue 22 that used to abort or run
//! past its limits, run as a user would, with the clear error and exit 2 it now gets.

use crate::common::{netql, sample, stderr};

/// Run `args` with a `queries/` folder holding `queries` and a config file setting `config`.
fn run_with(queries: &[(&str, &str)], config: &str, args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("queries")).unwrap();
    for (name, text) in queries {
        std::fs::write(dir.path().join("queries").join(format!("{name}.rhai")), text).unwrap();
    }
    let cfg = dir.path().join("netql.toml");
    std::fs::write(&cfg, format!("[queries]\ndir = \"queries\"\n{config}\n")).unwrap();
    let mut all = vec!["--config", cfg.to_str().unwrap(), "--no-cache"];
    all.extend_from_slice(args);
    netql(&all, dir.path())
}

/// `every("99999999999999h")` made Polars panic (an abort of the CLI, or of the MCP server for
/// every client); now the duration is refused where the script wrote it.
#[test]
fn a_duration_past_the_time_range_is_refused_at_its_position() {
    let o = run_with(
        &[],
        "",
        &[
            "run",
            "-e",
            r#"packets().group_by([every("99999999999999h")]).agg([count()])"#,
            sample().to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("longer than the ~292 years") && err.contains("line 1, column 21"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// A query importing itself round a loop recursed until the stack overflowed (SIGABRT).
#[test]
fn an_import_cycle_is_refused_with_the_cycle_named() {
    let o = run_with(
        &[
            ("loop_a", r#"import "loop_b" as b; packets().count()"#),
            ("loop_b", r#"import "loop_a" as a; 1"#),
        ],
        "",
        &["run", "loop_a", sample().to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("import cycle: loop_b -> loop_a -> loop_b"),
        "{}",
        stderr(&o)
    );
}

/// Sorts nested in a sort's comparer ran past `timeout_s` and reported success (Rhai discards a
/// comparer's errors, and counts a closure's steps in a copy that never reached the check).
#[test]
fn nested_comparer_sorts_stop_at_the_time_limit() {
    // ~3,500 comparisons per sort of 400 shuffled numbers, each running a sort of its own:
    // ~12 million comparer calls, minutes of work.
    let script = "let big = []; for i in 0..400 { big.push(i * 7919 % 401); } \
                  let a = big; \
                  a.sort(|x, y| { let c = big; c.sort(|p, q| p - q); y - x }); a.len()";
    let o = run_with(&[], "timeout_s = 1", &["run", "-e", script, sample().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("time limit of 1 s exceeded"), "{}", stderr(&o));
}

type McpClient = rmcp::service::RunningService<rmcp::RoleClient, ()>;

/// `netql mcp` over stdio, driven by a real MCP client (rmcp), with the captures in `dir/caps`,
/// `config` as its config file when given, and its stderr as asked (piped and never read, or
/// dropped).
async fn mcp_over_stdio(
    dir: &std::path::Path,
    config: Option<&std::path::Path>,
    stderr: std::process::Stdio,
) -> (McpClient, Option<tokio::process::ChildStderr>) {
    use rmcp::ServiceExt;
    use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
    let cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_netql")).configure(|c| {
        if let Some(cfg) = config {
            c.arg("--config").arg(cfg);
        }
        c.arg("--captures").arg(dir.join("caps"));
        c.arg("--cache-dir").arg(dir.join("cache")).arg("mcp");
        c.current_dir(dir).env_remove("NETQL_CONFIG");
    });
    let (transport, stderr) = TokioChildProcess::builder(cmd).stderr(stderr).spawn().unwrap();
    (().serve(transport).await.expect("MCP handshake"), stderr)
}

/// The text content of a tool result.
fn result_text(r: &rmcp::model::CallToolResult) -> String {
    r.content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect()
}

/// A script's `print` flood hung the MCP call when the client did not drain the server's stderr
/// (the pipe filled and every write blocked). A real MCP client (rmcp over the child's stdio)
/// whose stderr pipe nobody reads: the flood (~20 MB, the pipe holds 64 KB) is cut with a note,
/// the call answers, and the next call too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_print_flood_into_an_unread_stderr_does_not_hang_the_mcp_server() {
    use rmcp::model::CallToolRequestParams;

    let dir = tempfile::tempdir().unwrap();
    let caps = dir.path().join("caps");
    std::fs::create_dir_all(&caps).unwrap();
    std::fs::copy(sample(), caps.join("sample.pcap")).unwrap();
    // Piped and held, never read.
    let (client, stderr) = mcp_over_stdio(dir.path(), None, std::process::Stdio::piped()).await;
    assert!(stderr.is_some());
    let call = |script: &str| {
        let args = serde_json::json!({"script": script, "captures": ["sample.pcap"]});
        CallToolRequestParams::new("run_script").with_arguments(args.as_object().cloned().unwrap())
    };
    let flood =
        r#"let line = "x"; for i in 0..100 { line += "y"; } for i in 0..200000 { print(line); } packets().count()"#;
    let r = tokio::time::timeout(std::time::Duration::from_secs(120), client.call_tool(call(flood)))
        .await
        .expect("the call answers while stderr is not read")
        .expect("no protocol error");
    let text = result_text(&r);
    assert!(!r.is_error.unwrap_or(false), "{text}");
    assert!(text.contains("253"), "{text}");
    let r = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        client.call_tool(call("flows().count()")),
    )
    .await
    .expect("the next call answers too")
    .expect("no protocol error");
    assert!(!r.is_error.unwrap_or(false));
    drop(stderr);
    let _ = client.cancel().await;
}

/// An HTTP Basic user name with a terminal title sequence, a BEL, a bidi override and a C1 CSI.
const EVIL_USER: &str = "ev\u{1b}]0;pwned\u{7}il\u{202e}gpj.exe\u{9b}2J";

/// `dir/evil.pcap`: one HTTP request with [`EVIL_USER`] as its Basic user, a URI and a Host
/// with control and bidi characters, and its 401.
fn evil_capture(dir: &std::path::Path) -> std::path::PathBuf {
    use base64::Engine as _;

    use crate::transaction_queries::MadeTcp;

    let token = base64::engine::general_purpose::STANDARD.encode(format!("{EVIL_USER}:pw"));
    let request = format!(
        "GET /a\u{1b}[2Jb\u{2066}c HTTP/1.1\r\nHost: evil\u{200f}.example\r\nAuthorization: Basic {token}\r\n\r\n"
    );
    let mut conn = MadeTcp::new(([10, 0, 0, 5], 40001), ([10, 0, 0, 1], 80), 1_000_000_000);
    conn.open();
    conn.segment(true, "PA", request.as_bytes());
    conn.segment(false, "PA", b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n");
    let path = dir.join("evil.pcap");
    netql::capture::write::write_file(&path, 1, &conn.recs).unwrap();
    path
}

/// The same capture through `netql mcp` and a real MCP client: every text a model reads is
/// escaped (the text content of tables, findings and the analysis), while the structured content
/// keeps the exact values for programs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packet_text_reaches_a_model_escaped() {
    use netql::safe_text::is_unsafe;
    use rmcp::model::CallToolRequestParams;

    let dir = tempfile::tempdir().unwrap();
    let caps = dir.path().join("caps");
    std::fs::create_dir_all(&caps).unwrap();
    evil_capture(&caps);
    let (client, _stderr) = mcp_over_stdio(dir.path(), None, std::process::Stdio::null()).await;
    for (tool, args) in [
        (
            "run_script",
            serde_json::json!({"script": "http()", "captures": ["evil.pcap"]}),
        ),
        (
            "run_query",
            serde_json::json!({"name": "cleartext_credentials", "captures": ["evil.pcap"]}),
        ),
        ("analyze", serde_json::json!({"mode": "latest"})),
    ] {
        let params = CallToolRequestParams::new(tool).with_arguments(args.as_object().cloned().unwrap());
        let r = client.call_tool(params).await.expect("a result");
        let text = result_text(&r);
        assert!(!r.is_error.unwrap_or(false), "{tool}: {text}");
        let bad: Vec<char> = text.chars().filter(|&c| is_unsafe(c) && c != '\n').collect();
        assert!(bad.is_empty(), "{tool}: raw {bad:?} in\n{text}");
        assert!(text.contains("pwned"), "{tool}: the user is shown, escaped: {text}");
        if tool == "run_script" {
            let structured = r.structured_content.clone().unwrap_or_default().to_string();
            let back: serde_json::Value = serde_json::from_str(&structured).unwrap();
            assert!(back.to_string().contains("pwned"), "{back}");
            assert!(
                serde_json::to_string(&back).unwrap().contains("\\u001b]0;pwned"),
                "the exact value, as a JSON escape: {back}"
            );
        }
    }
    let _ = client.cancel().await;
}

/// Text from packets is data: an HTTP Basic user and a URI carrying a terminal title sequence,
/// a BEL, a CSI (7-bit and C1), a NUL-free bidi override and invisible marks. Every output format
/// of a finding built from them, the table of the transactions, the analysis and the `check`
/// report (and its JUnit file, which must stay well-formed XML) shows them escaped; JSON keeps
/// them exactly, as escapes.
#[test]
fn packet_text_cannot_steer_a_terminal_or_break_a_file() {
    use netql::safe_text::is_unsafe;

    let user = EVIL_USER;
    let dir = tempfile::tempdir().unwrap();
    let path = evil_capture(dir.path());
    let file = path.to_str().unwrap();
    let shown_safely = |what: &str, out: &str| {
        let bad: Vec<char> = out.chars().filter(|&c| is_unsafe(c) && c != '\n').collect();
        assert!(bad.is_empty(), "{what}: raw {bad:?} in\n{out}");
    };

    for format in ["table", "markdown", "csv", "json", "ndjson"] {
        let o = netql(
            &["--no-cache", "run", "cleartext_credentials", "--format", format, file],
            dir.path(),
        );
        assert!(o.status.success(), "{format}: {}", stderr(&o));
        let out = crate::common::stdout(&o);
        shown_safely(format, &out);
        if format.ends_with("json") {
            // Exact values, as JSON escapes.
            let first = out.lines().next().unwrap_or("");
            let v: serde_json::Value = if format == "json" {
                serde_json::from_str(&out).unwrap()
            } else {
                serde_json::from_str(first).unwrap()
            };
            let finding = if format == "json" { &v[0] } else { &v };
            assert_eq!(finding["facts"]["users"][0], user, "{format}: {v}");
        } else {
            // Escaped, whichever escape the title's list quoting used for the C0 ones.
            assert!(
                out.contains("]0;pwned") && out.contains("il\\u{202e}gpj.exe\\u{9b}2J"),
                "{format}: {out}"
            );
        }
    }
    for (args, what) in [
        (vec!["run", "-e", "http()", "--format", "table", file], "http() table"),
        (vec!["run", "-e", "http()", "--format", "csv", file], "http() csv"),
        (vec!["run", "-e", "packets()", "--format", "csv", file], "packets() csv"),
        (vec!["analyze", file], "analyze"),
        (vec!["analyze", "--format", "json", file], "analyze json"),
    ] {
        let mut all = vec!["--no-cache"];
        all.extend(args);
        let o = netql(&all, dir.path());
        assert!(o.status.success(), "{what}: {}", stderr(&o));
        shown_safely(what, &crate::common::stdout(&o));
    }
    let csv = crate::common::stdout(&netql(
        &["--no-cache", "run", "-e", "http()", "--format", "csv", file],
        dir.path(),
    ));
    assert!(
        csv.contains("/a\\u{1b}[2Jb\\u{2066}c"),
        "the URI is kept, escaped: {csv}"
    );

    let junit = dir.path().join("junit.xml");
    let o = netql(
        &[
            "--no-cache",
            "check",
            "cleartext_credentials",
            "--fail-on",
            "low",
            "--junit",
            junit.to_str().unwrap(),
            file,
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    shown_safely("check", &crate::common::stdout(&o));
    let xml = std::fs::read_to_string(&junit).unwrap();
    shown_safely("junit", &xml);
    let mut reader = quick_xml::Reader::from_str(&xml);
    reader.config_mut().check_end_names = true;
    let mut texts = String::new();
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(quick_xml::events::Event::Text(t)) => texts.push_str(&t.decode().unwrap()),
            Ok(_) => {}
            Err(e) => panic!("not well-formed XML at {}: {e}\n{xml}", reader.buffer_position()),
        }
    }
    assert!(
        texts.contains("]0;pwned") && texts.contains("il\\u{202e}gpj.exe"),
        "{texts}"
    );
}

/// Three packet tables joined on one constant key: 253³ = 16 million rows. Under
/// `max_memory = "64MB"` the command stops with the reason and exit 2 (it used to grow until
/// the machine ran out, or ask for one block of gigabytes and abort).
const JOIN_BOMB: &str = r#"let p = packets().with_column(lit(1).alias("k")).select(["k", "frame"]);
let q = packets().with_column(lit(1).alias("k")).select(["k", "ts"]);
let r = packets().with_column(lit(1).alias("k")).select(["k", "wire_len"]);
p.join(q, ["k"], "inner").join(r, ["k"], "inner")"#;

#[test]
fn a_join_bomb_stops_at_the_memory_limit() {
    let script = format!("{JOIN_BOMB}.count()");
    let o = run_with(
        &[],
        "max_memory = \"64MB\"",
        &["run", "-e", &script, sample().to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("query stopped")
            && err.contains("memory limit of 64.0 MB")
            && err.contains("at line 4, column 51"),
        "{err}"
    );
    // The same query with room runs (the limit is what stopped it, not the query).
    let o = run_with(
        &[],
        "max_memory = \"3GB\"",
        &["run", "-e", &script, "--format", "json", sample().to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(crate::common::stdout(&o).trim(), (253u64 * 253 * 253).to_string());
}

/// An explode after a join on a constant key (one block of 16 million list items) and a loop
/// of `concat(p, p)` (a plan that doubles forty times): both stop at the memory limit instead of
/// asking for gigabytes.
#[test]
fn explode_and_concat_bombs_stop_at_the_memory_limit() {
    let explode = r#"let a = packets().with_column(lit(1).alias("k")).group_by(["k"]).agg([col("frame").alias("fs")]);
let p = packets().with_column(lit(1).alias("k")).select(["k", "ts"]);
let q = packets().with_column(lit(1).alias("k")).select(["k", "wire_len"]);
p.join(q, ["k"], "inner").join(a, ["k"], "inner").explode(["fs"]).count()"#;
    let concat = r#"let p = packets().select(["frame"]); for i in 0..40 { p = concat(p, p); } p.count()"#;
    for script in [explode, concat] {
        let o = run_with(
            &[],
            "max_memory = \"64MB\"",
            &["run", "-e", script, sample().to_str().unwrap()],
        );
        assert_eq!(o.status.code(), Some(2), "{script}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("query stopped: it would need more than its memory limit"),
            "{}",
            stderr(&o)
        );
    }
}

/// A plan that keeps Polars busy for seconds ran to the end whatever `timeout_s` said (the
/// deadline was seen only between Rhai steps). Now the command stops soon after the limit.
#[test]
fn a_slow_polars_plan_stops_at_the_time_limit() {
    let script = format!(
        "{JOIN_BOMB}.group_by([\"frame\", \"wire_len\"]).agg([col(\"ts\").n_unique().alias(\"n\")]).sort(\"n\", true).count()"
    );
    let o = run_with(
        &[],
        "max_memory = \"3GB\"\ntimeout_s = 0.5",
        &["run", "-e", &script, sample().to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("time limit of 0.5 s exceeded while Polars was running it at line 4, column"),
        "{}",
        stderr(&o)
    );
}

/// The same bombs sent to `netql mcp` by a real MCP client (rmcp over the child's stdio): the
/// server stays up. Each call gets a tool error with the reason; the engine that had to stop is
/// replaced, and the next call (another script, the same client) is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bombs_sent_to_the_mcp_server_stop_that_call_only() {
    use rmcp::model::CallToolRequestParams;

    let slow = format!(
        "{JOIN_BOMB}.group_by([\"frame\", \"wire_len\"]).agg([col(\"ts\").n_unique().alias(\"n\")]).sort(\"n\", true).count()"
    );
    for (limits, bomb, why) in [
        (
            "max_memory = \"64MB\"",
            format!("{JOIN_BOMB}.count()"),
            "memory limit of 64.0 MB",
        ),
        (
            "max_memory = \"3GB\"\ntimeout_s = 1",
            slow,
            "time limit of 1 s exceeded",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let caps = dir.path().join("caps");
        std::fs::create_dir_all(&caps).unwrap();
        std::fs::copy(sample(), caps.join("sample.pcap")).unwrap();
        let cfg = dir.path().join("netql.toml");
        std::fs::write(&cfg, format!("[queries]\n{limits}\n")).unwrap();
        let (client, _stderr) = mcp_over_stdio(dir.path(), Some(&cfg), std::process::Stdio::null()).await;
        let call = |script: String| {
            let args = serde_json::json!({"script": script, "captures": ["sample.pcap"]});
            client
                .call_tool(CallToolRequestParams::new("run_script").with_arguments(args.as_object().cloned().unwrap()))
        };
        let r = call(bomb).await.expect("a tool result, not a protocol error");
        assert!(r.is_error.unwrap_or(false), "{r:?}");
        assert!(
            result_text(&r).contains("query stopped") && result_text(&r).contains(why),
            "{}",
            result_text(&r)
        );
        let r = call("packets().count()".into()).await.expect("the server is still up");
        assert!(!r.is_error.unwrap_or(false), "{}", result_text(&r));
        assert!(result_text(&r).contains("253"), "{}", result_text(&r));
        let _ = client.cancel().await;
    }
}

/// The fuzzing harness's deterministic slice (CI runs it every time; the long runs are in the
/// closing notes): 100,000 mutated records and files of the bundled sample and the shared
/// captures through the readers, every decoder, the in-order pass, the transaction pairing and
/// the tables, with no panic. Its crashes so far are unit tests beside the code they hit
/// (dns_pairing's round-trip time, the flow duration, the stream tracker's overlap).
#[test]
fn the_fuzzing_harness_slice_finds_no_panic() {
    let Some(shared) = netql::testdata::shared_captures() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let crashes = dir.path().join("crashes");
    let o = netql(
        &[
            "fuzz",
            "--cases",
            "100000",
            "--seed",
            "1",
            "--crashes",
            crashes.to_str().unwrap(),
        ],
        dir.path(),
    );
    let out = crate::common::stdout(&o);
    assert!(o.status.success(), "{out}\n{}", stderr(&o));
    assert!(out.contains("100000 cases (seed 1), 0 panic(s)"), "{out}");
    // It decoded: rows were made, from every seed capture.
    let rows: u64 = out
        .split(" panic(s), ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(rows > 100_000, "{out}");
    // Seeded from the sample and every shared capture.
    let shared_files = std::fs::read_dir(&shared)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        })
        .count();
    let seeded = stderr(&o);
    let captures: usize = seeded
        .split(" seed records from ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(captures > shared_files, "{seeded} ({shared_files} shared captures)");
    assert!(!crashes.exists(), "inputs were saved: {crashes:?}");
}
