//! tests: the server called in-process, tool body by tool body.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Map;

use crate::config::Config;
use crate::query::engine::{Limits, Output, ScriptEngine};
use crate::render::{self};
use crate::table::load::LoadOptions;

use crate::config::{Overrides, RawConfig};
use crate::query::bindings::NoData;

use serde_json::json;

use crate::mcp::guide::{EXAMPLES, INSTRUCTIONS, guide};
use crate::mcp::http::DEFAULT_HTTP_PORT;
use crate::mcp::http::http_bind;
use crate::mcp::paging::{Cursor, call_from_cursor, json_to_dynamic, valid_ident};
use crate::mcp::server::NetqlServer;

fn server_for(dir: &Path, cache: &Path) -> NetqlServer {
    let ov = Overrides {
        captures_dir: Some(dir.to_path_buf()),
        cache_dir: Some(cache.to_path_buf()),
        ..Default::default()
    };
    let cfg = Config::resolve(RawConfig::default(), &ov);
    let opts = LoadOptions {
        cache_dir: cfg.cache_dir.clone(),
        use_cache: true,
        progress: false,
        threads: 2,
        community_id_seed: 0,
    };
    NetqlServer::new(cfg, opts)
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/sample.pcap")
}

fn shared(name: &str) -> Option<PathBuf> {
    crate::testdata::shared(&format!("captures/{name}"))
}

#[test]
fn every_guide_example_runs_on_real_captures() {
    let tmp = tempfile::tempdir().unwrap();
    let caps = tmp.path().join("caps");
    std::fs::create_dir(&caps).unwrap();
    std::fs::copy(sample(), caps.join("sample.pcap")).unwrap();
    let mut names = vec!["sample.pcap".to_string()];
    if let Some(p) = shared("synscan.pcapng") {
        std::fs::copy(p, caps.join("synscan.pcapng")).unwrap();
        names.push("synscan.pcapng".into());
    }
    let s = server_for(&caps, &tmp.path().join("cache"));
    let engine = s.engine();
    for name in &names {
        let files = s.resolve(std::slice::from_ref(name)).unwrap();
        let data = s.captures(&files).unwrap();
        for (title, script) in EXAMPLES {
            let r = engine
                .run(script, data.clone(), &Vec::new())
                .unwrap_or_else(|e| panic!("example '{title}' fails on {name}: {e}"));
            let rows = match &r.output {
                Output::Table(df) => df.height(),
                Output::Findings(f) => f.len(),
                Output::Value(_) => 1,
                Output::Nothing => panic!("example '{title}' returns nothing"),
            };
            // Every example finds something in the bundled sample (a LAN with a port scan).
            if name == "sample.pcap" {
                assert!(rows > 0, "example '{title}' returns no rows on {name}");
            }
        }
    }
}

#[test]
fn guide_names_only_real_functions() {
    let known = ScriptEngine::new(Limits::default(), None).function_names();
    let re = regex::Regex::new(r"\b([a-z_][a-z0-9_]*)\(").unwrap();
    let rhai_builtins = ["if"];
    let guide = guide();
    for text in [guide.as_str(), INSTRUCTIONS] {
        for cap in re.captures_iter(text) {
            let f = &cap[1];
            assert!(
                known.iter().any(|k| k == f) || rhai_builtins.contains(&f),
                "the guide mentions {f}(), which scripts cannot call"
            );
        }
    }
    // And the examples compile.
    let e = ScriptEngine::new(Limits::default(), None);
    for (title, script) in EXAMPLES {
        e.compile(script).unwrap_or_else(|err| panic!("{title}: {err}"));
        e.run(script, Arc::new(NoData), &Vec::new())
            .unwrap_or_else(|err| panic!("{title} on empty tables: {err}"));
    }
}

#[test]
fn names_resolve_only_inside_the_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let caps = tmp.path().join("caps");
    std::fs::create_dir_all(caps.join("sub")).unwrap();
    std::fs::copy(sample(), caps.join("a.pcap")).unwrap();
    std::fs::copy(sample(), caps.join("sub/b.pcap")).unwrap();
    let outside = tmp.path().join("outside.pcap");
    std::fs::copy(sample(), &outside).unwrap();
    std::os::unix::fs::symlink(&outside, caps.join("link.pcap")).unwrap();
    std::os::unix::fs::symlink(caps.join("a.pcap"), caps.join("inner.pcap")).unwrap();
    std::fs::write(caps.join("notes.txt"), "x").unwrap();
    let s = server_for(&caps, &tmp.path().join("cache"));
    let r = |spec: &str| s.resolve(&[spec.to_string()]).map_err(|e| e.to_string());

    assert_eq!(r("a.pcap").unwrap()[0].name, "a.pcap");
    assert_eq!(r("sub/b.pcap").unwrap()[0].name, "b.pcap");
    assert_eq!(r("inner.pcap").unwrap()[0].name, "inner.pcap");
    let abs_inside = caps.canonicalize().unwrap().join("a.pcap");
    assert!(r(abs_inside.to_str().unwrap()).is_ok());
    for bad in [
        "../outside.pcap",
        "../../etc/passwd",
        "sub/../../outside.pcap",
        "/etc/passwd",
        outside.to_str().unwrap(),
        "link.pcap",
    ] {
        let e = r(bad).unwrap_err();
        assert!(e.contains("outside the captures folder"), "{bad}: {e}");
    }
    let e = r("nope.pcap").unwrap_err();
    assert!(e.contains("no capture named") && e.contains("a.pcap"), "{e}");
    assert!(r("notes.txt").unwrap_err().contains("not a capture"));
    // The escaping link is not listed either, so "all" never reaches it.
    let all: Vec<String> = r("all").unwrap().into_iter().map(|f| f.name).collect();
    assert!(!all.contains(&"link.pcap".to_string()), "{all:?}");
    assert!(all.contains(&"a.pcap".to_string()));
}

#[test]
fn cursors_round_trip_and_reject_garbage() {
    let c = Cursor {
        v: 1,
        tool: "run_script".into(),
        text: "packets()".into(),
        captures: vec!["a.pcap".into()],
        params: Map::new(),
        offset: 50,
        max_rows: 50,
        fp: 42,
        range: Default::default(),
    };
    assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
    // Over a lake the cursor carries the call's range (absolute times) too.
    let over_lake = Cursor {
        range: crate::mcp::types::LakeRange::of(Some("2024-03-05T17:00:00Z".into()), None, Some("edge".into())),
        ..c.clone()
    };
    assert_eq!(Cursor::decode(&over_lake.encode()).unwrap(), over_lake);
    assert!(Cursor::decode("not a cursor!").is_err());
    assert!(Cursor::decode("e30").is_err()); // "{}"
    // A forged cursor: a payload of the client's own making (here a script past the size cap),
    // with or without a signature copied from a real cursor.
    let b64 = |b: &[u8]| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    };
    let forged = Cursor {
        text: "x".repeat(300 * 1024),
        ..c.clone()
    };
    let payload = b64(&serde_json::to_vec(&forged).unwrap());
    let real_sig = c.encode().split_once('.').unwrap().1.to_string();
    for s in [payload.clone(), format!("{payload}."), format!("{payload}.{real_sig}")] {
        assert!(
            matches!(Cursor::decode(&s), Err(crate::mcp::tool_error::ToolError::BadCursor)),
            "{}",
            &s[..40]
        );
    }
    let small = b64(&serde_json::to_vec(&Cursor {
        text: "flows()".into(),
        ..c.clone()
    })
    .unwrap());
    assert!(
        Cursor::decode(&format!("{small}.{real_sig}")).is_err(),
        "another payload under a real signature"
    );
    assert!(
        call_from_cursor("run_query", &c.encode())
            .unwrap_err()
            .to_string()
            .contains("run_script")
    );
}

#[test]
fn http_addresses() {
    let b = http_bind("127.0.0.1:9000", false).unwrap();
    assert_eq!(b.addr, "127.0.0.1:9000".parse().unwrap());
    assert_eq!(http_bind("127.0.0.1", false).unwrap().addr.port(), DEFAULT_HTTP_PORT);
    assert_eq!(
        http_bind(":9001", false).unwrap().addr,
        "127.0.0.1:9001".parse().unwrap()
    );
    assert_eq!(http_bind("9002", false).unwrap().addr.port(), 9002);
    assert!(http_bind("[::1]:9003", false).unwrap().addr.ip().is_loopback());
    assert!(http_bind("localhost:9004", false).unwrap().addr.ip().is_loopback());
    for remote in ["0.0.0.0", "0.0.0.0:8765", "[::]:8765", "::"] {
        let e = http_bind(remote, false).unwrap_err().to_string();
        assert!(e.contains("--allow-remote"), "{remote}: {e}");
        let b = http_bind(remote, true).unwrap();
        // The Host check stays on: loopback names and this machine's own addresses.
        assert!(b.remote);
        assert!(
            b.allowed_hosts.iter().any(|h| h == "localhost"),
            "{:?}",
            b.allowed_hosts
        );
        assert!(
            !b.allowed_hosts.iter().any(|h| h == "0.0.0.0" || h == "::"),
            "{:?}",
            b.allowed_hosts
        );
    }
    assert!(!http_bind("127.0.0.1:9000", false).unwrap().remote);
    assert!(http_bind("127.0.0.1:notaport", false).is_err());
}

#[test]
fn cells_escape_control_characters() {
    assert_eq!(render::clean_cell("a\nb\x1b[31m"), "a\\nb\\u{1b}[31m");
    assert_eq!(render::clean_cell("x\u{202e}y"), "x\\u{202e}y");
    assert!(render::clean_cell(&"z".repeat(500)).ends_with('…'));
}

#[test]
fn script_params_become_variables() {
    let v = json_to_dynamic(&json!({"a": [1, 2.5, "x", true, null]}));
    assert!(v.is_map());
    assert!(valid_ident("min_ports") && valid_ident("_x1"));
    assert!(!valid_ident("1x") && !valid_ident("a-b") && !valid_ident(""));
}
