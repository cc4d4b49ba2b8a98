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

/// A script's `print` flood hung the MCP call when the client did not drain the server's stderr
/// (the pipe filled and every write blocked). A real MCP client (rmcp over the child's stdio)
/// whose stderr pipe nobody reads: the flood (~20 MB, the pipe holds 64 KB) is cut with a note,
/// the call answers, and the next call too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_print_flood_into_an_unread_stderr_does_not_hang_the_mcp_server() {
    use rmcp::ServiceExt;
    use rmcp::model::CallToolRequestParams;
    use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};

    let dir = tempfile::tempdir().unwrap();
    let caps = dir.path().join("caps");
    std::fs::create_dir_all(&caps).unwrap();
    std::fs::copy(sample(), caps.join("sample.pcap")).unwrap();
    let cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_netql")).configure(|c| {
        c.arg("--captures").arg(&caps).arg("--cache-dir").arg(dir.path().join("cache")).arg("mcp");
        c.current_dir(dir.path()).env_remove("NETQL_CONFIG");
    });
    // Piped and held, never read.
    let (transport, stderr) = TokioChildProcess::builder(cmd)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert!(stderr.is_some());
    let client = ().serve(transport).await.expect("MCP handshake");
    let call = |script: &str| {
        let args = serde_json::json!({"script": script, "captures": ["sample.pcap"]});
        CallToolRequestParams::new("run_script").with_arguments(args.as_object().cloned().unwrap())
    };
    let flood = r#"let line = "x"; for i in 0..100 { line += "y"; } for i in 0..200000 { print(line); } packets().count()"#;
    let r = tokio::time::timeout(std::time::Duration::from_secs(120), client.call_tool(call(flood)))
        .await
        .expect("the call answers while stderr is not read")
        .expect("no protocol error");
    let text: String = r.content.iter().filter_map(|c| c.as_text().map(|t| t.text.clone())).collect();
    assert!(!r.is_error.unwrap_or(false), "{text}");
    assert!(text.contains("253"), "{text}");
    let r = tokio::time::timeout(std::time::Duration::from_secs(60), client.call_tool(call("flows().count()")))
        .await
        .expect("the next call answers too")
        .expect("no protocol error");
    assert!(!r.is_error.unwrap_or(false));
    drop(stderr);
    let _ = client.cancel().await;
}
