//! The agent against a fake Messages API on 127.0.0.1 (the real API cannot be reached from
//! here): real reqwest client, real `netql mcp` child, scripted conversations, errors and
//! retries; and the offline mode on the bundled sample.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{sample, stderr, stdout};

/// One scripted answer: status, extra headers, JSON body.
type Reply = (u16, Vec<(String, String)>, Value);
/// Requests the fake received: headers and JSON body.
type Seen = Arc<Mutex<Vec<(Vec<(String, String)>, Value)>>>;

/// A fake Anthropic Messages API: answers requests from a script and records them.
struct FakeApi {
    url: String,
    seen: Seen,
    problems: Arc<Mutex<Vec<String>>>,
}

fn message(content: Value, stop: &str) -> Value {
    json!({"id": "msg_test", "type": "message", "role": "assistant", "model": "claude-sonnet-5-5",
           "content": content, "stop_reason": stop, "stop_sequence": null,
           "usage": {"input_tokens": 100, "output_tokens": 20, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}})
}

fn api_error(status: u16, kind: &str, msg: &str) -> Reply {
    (
        status,
        vec![],
        json!({"type": "error", "error": {"type": kind, "message": msg}, "request_id": "req_test"}),
    )
}

impl FakeApi {
    fn start(script: Vec<Reply>) -> FakeApi {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let problems = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script.into_iter()));
        let (s2, p2) = (seen.clone(), problems.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let (s3, p3, sc) = (s2.clone(), p2.clone(), script.clone());
                std::thread::spawn(move || serve(stream, s3, p3, sc));
            }
        });
        FakeApi { url, seen, problems }
    }

    fn requests(&self) -> Vec<(Vec<(String, String)>, Value)> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(
    stream: TcpStream,
    seen: Seen,
    problems: Arc<Mutex<Vec<String>>>,
    script: Arc<Mutex<std::vec::IntoIter<Reply>>>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = Vec::new();
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).unwrap();
            let h = h.trim_end().to_string();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
                if k == "content-length" {
                    len = v.parse().unwrap();
                }
                headers.push((k, v));
            }
        }
        let mut body = vec![0u8; len];
        reader.read_exact(&mut body).unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        check_request(&line, &headers, &body, &problems);
        let streaming = body["stream"] == true;
        seen.lock().unwrap().push((headers, body));
        let (status, extra, reply) = script
            .lock()
            .unwrap()
            .next()
            .unwrap_or_else(|| api_error(500, "api_error", "script ran out"));
        if streaming && status == 200 {
            // The streaming format, as the real API speaks it; the connection then closes.
            let events = match reply.get("_sse") {
                Some(raw) => raw.as_array().cloned().unwrap_or_default(),
                None => sse_of(&reply),
            };
            let mut resp = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n".to_string();
            for e in &events {
                resp.push_str(&format!("event: {}\ndata: {}\n\n", e[0].as_str().unwrap_or(""), e[1]));
            }
            let _ = out.write_all(resp.as_bytes());
            let _ = out.flush();
            return;
        }
        let text = reply.to_string();
        let mut resp = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\nrequest-id: req_test\r\ncontent-length: {}\r\n",
            text.len()
        );
        for (k, v) in extra {
            resp.push_str(&format!("{k}: {v}\r\n"));
        }
        resp.push_str("\r\n");
        resp.push_str(&text);
        if out.write_all(resp.as_bytes()).is_err() {
            return;
        }
    }
}

/// A whole message as the streaming events the API sends for it: text in two deltas, tool input
/// JSON in three pieces, thinking and its signature, a ping, the stop reason and usage last.
fn sse_of(message: &Value) -> Vec<Value> {
    let mut start = message.clone();
    start["content"] = json!([]);
    start["stop_reason"] = Value::Null;
    let mut ev = vec![
        json!(["message_start", {"type": "message_start", "message": start}]),
        json!(["ping", {"type": "ping"}]),
    ];
    for (i, b) in message["content"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let mut empty = b.clone();
        let mut deltas = Vec::new();
        match b["type"].as_str().unwrap_or("") {
            "text" => {
                let t = b["text"].as_str().unwrap_or("");
                let cut = t.char_indices().nth(t.chars().count() / 2).map_or(t.len(), |(i, _)| i);
                empty["text"] = json!("");
                for piece in [&t[..cut], &t[cut..]] {
                    deltas.push(json!({"type": "text_delta", "text": piece}));
                }
            }
            "tool_use" => {
                let input = b["input"].to_string();
                empty["input"] = json!({});
                let n = input.chars().count();
                let chars: Vec<char> = input.chars().collect();
                for part in chars.chunks(n.div_ceil(3).max(1)) {
                    deltas.push(json!({"type": "input_json_delta", "partial_json": part.iter().collect::<String>()}));
                }
            }
            "thinking" => {
                empty["thinking"] = json!("");
                empty.as_object_mut().unwrap().remove("signature");
                deltas.push(json!({"type": "thinking_delta", "thinking": b["thinking"]}));
                deltas.push(json!({"type": "signature_delta", "signature": b["signature"]}));
            }
            _ => {}
        }
        ev.push(json!(["content_block_start", {"type": "content_block_start", "index": i, "content_block": empty}]));
        for d in deltas {
            ev.push(json!(["content_block_delta", {"type": "content_block_delta", "index": i, "delta": d}]));
        }
        ev.push(json!(["content_block_stop", {"type": "content_block_stop", "index": i}]));
    }
    ev.push(json!(["message_delta", {"type": "message_delta", "delta": {"stop_reason": message["stop_reason"], "stop_sequence": null}, "usage": {"output_tokens": message["usage"]["output_tokens"]}}]));
    ev.push(json!(["message_stop", {"type": "message_stop"}]));
    ev
}

/// What the real API would reject: missing headers, wrong shapes, unanswered tool_use blocks.
fn check_request(line: &str, headers: &[(String, String)], body: &Value, problems: &Mutex<Vec<String>>) {
    let mut p = Vec::new();
    if !line.starts_with("POST /v1/messages ") {
        p.push(format!("request line {line:?}"));
    }
    let h = |k: &str| headers.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    if h("x-api-key").as_deref() != Some("sk-ant-test") {
        p.push("x-api-key missing or wrong".into());
    }
    if h("anthropic-version").as_deref() != Some("2023-06-01") {
        p.push("anthropic-version missing".into());
    }
    for k in ["model", "max_tokens", "messages", "tools", "system"] {
        if body.get(k).is_none() {
            p.push(format!("body lacks {k}"));
        }
    }
    if body["tool_choice"]["type"] != "auto" && body["tool_choice"]["type"] != "none" {
        p.push(format!("tool_choice {}", body["tool_choice"]));
    }
    let tools: Vec<&str> = body["tools"]
        .as_array()
        .map(|t| t.iter().filter_map(|x| x["name"].as_str()).collect())
        .unwrap_or_default();
    for needed in [
        "list_captures",
        "describe_schema",
        "run_script",
        "run_query",
        "analyze",
        "list_queries",
    ] {
        if !tools.contains(&needed) {
            p.push(format!("tool {needed} not offered"));
        }
    }
    if body["tools"]
        .as_array()
        .and_then(|t| t.last())
        .is_some_and(|t| t["cache_control"].is_null())
    {
        p.push("tools not cached".into());
    }
    let msgs = body["messages"].as_array().cloned().unwrap_or_default();
    for (i, m) in msgs.iter().enumerate() {
        let want = if i % 2 == 0 { "user" } else { "assistant" };
        if m["role"] != want {
            p.push(format!("message {i} has role {}", m["role"]));
        }
        if m["role"] == "assistant" {
            let ids: Vec<&str> = m["content"]
                .as_array()
                .map(|c| {
                    c.iter()
                        .filter(|b| b["type"] == "tool_use")
                        .filter_map(|b| b["id"].as_str())
                        .collect()
                })
                .unwrap_or_default();
            if ids.is_empty() {
                continue;
            }
            let Some(next) = msgs.get(i + 1) else {
                p.push("tool_use without a following user turn".into());
                continue;
            };
            let answered: Vec<&str> = next["content"]
                .as_array()
                .map(|c| {
                    c.iter()
                        .filter(|b| b["type"] == "tool_result")
                        .filter_map(|b| b["tool_use_id"].as_str())
                        .collect()
                })
                .unwrap_or_default();
            for id in ids {
                if !answered.contains(&id) {
                    p.push(format!("tool_use {id} not answered"));
                }
            }
        }
    }
    problems.lock().unwrap().extend(p);
}

/// A temp captures folder with the sample, and the command to run netql against `api`.
fn netql_with(api: Option<&FakeApi>, args: &[&str], dir: &Path) -> std::process::Output {
    let caps = dir.join("caps");
    if !caps.is_dir() {
        std::fs::create_dir_all(&caps).unwrap();
        std::fs::copy(sample(), caps.join("sample.pcap")).unwrap();
    }
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_netql"));
    cmd.args([
        "--captures",
        caps.to_str().unwrap(),
        "--cache-dir",
        dir.join("cache").to_str().unwrap(),
    ])
    .args(args)
    .current_dir(dir)
    .env_remove("NETQL_CONFIG")
    .env_remove("ANTHROPIC_API_KEY")
    .env_remove("ANTHROPIC_BASE_URL");
    if let Some(api) = api {
        cmd.env("ANTHROPIC_API_KEY", "sk-ant-test")
            .env("ANTHROPIC_BASE_URL", &api.url);
    }
    cmd.output().unwrap()
}

#[test]
fn a_conversation_with_tools_a_failed_script_and_a_fix() {
    let api = FakeApi::start(vec![
        (
            200,
            vec![],
            message(
                json!([
            {"type": "thinking", "thinking": "", "signature": "sig-1"},
            {"type": "text", "text": "Let me analyze the latest capture."},
            {"type": "tool_use", "id": "toolu_01", "name": "analyze", "input": {"mode": "latest"}}]),
                "tool_use",
            ),
        ),
        (
            200,
            vec![],
            message(
                json!([
            {"type": "tool_use", "id": "toolu_02", "name": "run_script", "input": {"script": "packets().group_by([\"src_ip\"]).agg([count()]).sort(\"count\", true).head(3", "captures": ["latest"]}}]),
                "tool_use",
            ),
        ),
        (
            200,
            vec![],
            message(
                json!([
            {"type": "tool_use", "id": "toolu_03", "name": "run_script", "input": {"script": "packets().group_by([\"src_ip\"]).agg([count()]).sort(\"count\", true).head(3)", "captures": ["latest"]}}]),
                "tool_use",
            ),
        ),
        (
            200,
            vec![],
            message(
                json!([{"type": "text", "text": "sample.pcap holds 253 packets. 192.168.56.66 scanned 192.168.56.10 (frames 43-…). Recommendation: block it."}]),
                "end_turn",
            ),
        ),
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let o = netql_with(Some(&api), &["ask", "analyze", "latest", "capture"], tmp.path());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("192.168.56.66 scanned"), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.contains("→ analyze") && err.contains("→ run_script"),
        "tool lines: {err}"
    );
    let problems = api.problems.lock().unwrap().clone();
    assert!(problems.is_empty(), "{problems:?}");

    let reqs = api.requests();
    assert_eq!(reqs.len(), 4);
    let last = &reqs[3].1["messages"];
    // The thinking block went back unchanged.
    assert_eq!(
        last[1]["content"][0],
        json!({"type": "thinking", "thinking": "", "signature": "sig-1"})
    );
    // The analyze result reached the model, the bad script came back as an error with its
    // position, and the fixed one succeeded.
    let r1 = &last[2]["content"][0];
    assert_eq!(r1["tool_use_id"], "toolu_01");
    assert!(r1["content"].as_str().unwrap().contains("192.168.56.66"), "{r1}");
    let r2 = &last[4]["content"][0];
    assert_eq!(r2["is_error"], true);
    assert!(r2["content"].as_str().unwrap().contains("line 1"), "{r2}");
    let r3 = &last[6]["content"][0];
    assert!(r3.get("is_error").is_none() || r3["is_error"] == false, "{r3}");
    assert!(r3["content"].as_str().unwrap().contains("192.168.56.10"), "{r3}");
}

#[test]
fn rate_limits_and_overload_are_retried() {
    let api = FakeApi::start(vec![
        {
            let (s, _, b) = api_error(429, "rate_limit_error", "slow down");
            (s, vec![("retry-after".into(), "1".into())], b)
        },
        api_error(529, "overloaded_error", "Overloaded"),
        (
            200,
            vec![],
            message(json!([{"type": "text", "text": "All good."}]), "end_turn"),
        ),
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let o = netql_with(Some(&api), &["ask", "hello"], tmp.path());
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "All good.");
    assert!(started.elapsed() >= Duration::from_secs(1), "retry-after was honoured");
    assert_eq!(api.requests().len(), 3);
}

#[test]
fn auth_errors_are_one_clear_line() {
    let api = FakeApi::start(vec![api_error(401, "authentication_error", "invalid x-api-key")]);
    let tmp = tempfile::tempdir().unwrap();
    let o = netql_with(Some(&api), &["ask", "hello"], tmp.path());
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("401") && err.contains("ANTHROPIC_API_KEY"), "{err}");
    assert!(!err.contains("sk-ant-test"), "the key is never printed");
    assert_eq!(api.requests().len(), 1, "401 is not retried");

    let api = FakeApi::start(vec![api_error(404, "not_found_error", "model: claude-nope")]);
    let o = netql_with(Some(&api), &["ask", "hello"], tmp.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("model"), "{}", stderr(&o));
}

#[test]
fn offline_mode_answers_the_common_asks() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &[&str]); 6] = [
        (
            &["ask", "analyze latest"],
            &[
                "Capture: sample.pcap",
                "253 packets",
                "Protocols",
                "Top active devices",
                "TCP SYN (half-open) scan from 192.168.56.66",
                "Recommendations",
            ],
        ),
        (&["ask", "analyze all"], &["sample.pcap", "Security status"]),
        (
            &["ask", "list captures"],
            &["1 capture(s)", "sample.pcap", "253 packets"],
        ),
        (&["ask", "top talkers"], &["192.168.56.10", "251"]),
        (&["ask", "any scans?"], &["scan finding", "192.168.56.66"]),
        (
            &["ask", "write me a poem"],
            &["Running offline", "analyze latest", "ANTHROPIC_API_KEY"],
        ),
    ];
    for (args, wants) in cases {
        let o = netql_with(None, args, tmp.path());
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        let out = stdout(&o);
        for w in wants {
            assert!(out.contains(w), "{args:?}: missing {w:?} in\n{out}");
        }
    }
}

#[test]
fn chat_keeps_the_conversation_across_turns() {
    let api = FakeApi::start(vec![
        (
            200,
            vec![],
            message(json!([{"type": "text", "text": "First answer."}]), "end_turn"),
        ),
        (
            200,
            vec![],
            message(json!([{"type": "text", "text": "Second answer."}]), "end_turn"),
        ),
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let caps = tmp.path().join("caps");
    std::fs::create_dir_all(&caps).unwrap();
    std::fs::copy(sample(), caps.join("sample.pcap")).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_netql"))
        .args([
            "--captures",
            caps.to_str().unwrap(),
            "--cache-dir",
            tmp.path().join("cache").to_str().unwrap(),
            "chat",
        ])
        .current_dir(tmp.path())
        .env("ANTHROPIC_API_KEY", "sk-ant-test")
        .env("ANTHROPIC_BASE_URL", &api.url)
        .env_remove("NETQL_CONFIG")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"what is in the capture?\nand the scanner?\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("First answer.") && out.contains("Second answer."), "{out}");
    let reqs = api.requests();
    let second = reqs[1].1["messages"].as_array().unwrap();
    assert_eq!(second.len(), 3, "question, answer, next question: {second:?}");
    assert_eq!(second[0]["content"], "what is in the capture?");
    assert_eq!(second[2]["content"], "and the scanner?");
    assert!(api.problems.lock().unwrap().is_empty());
}

/// The key travels in `x-api-key`, which HTTP clients keep across redirects: a base URL that
/// redirects to another origin would hand it over. Such a redirect is not followed (the other
/// server sees nothing) and the user is told; a same-origin redirect still works.
#[test]
fn redirects_never_carry_the_key_to_another_origin() {
    let elsewhere = FakeApi::start(vec![(
        200,
        vec![],
        message(json!([{"type": "text", "text": "stolen"}]), "end_turn"),
    )]);
    let moved = FakeApi::start(vec![(
        307,
        vec![("location".into(), format!("{}/v1/messages", elsewhere.url))],
        json!({}),
    )]);
    let tmp = tempfile::tempdir().unwrap();
    let o = netql_with(Some(&moved), &["ask", "hello"], tmp.path());
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("redirects to another origin"), "{}", stderr(&o));
    assert_eq!(elsewhere.requests().len(), 0, "the other origin got a request");
    assert_eq!(moved.requests().len(), 1);

    // A relative location stays on the same origin.
    let api = FakeApi::start(vec![
        (307, vec![("location".into(), "/v1/messages".into())], json!({})),
        (
            200,
            vec![],
            message(json!([{"type": "text", "text": "same origin answer"}]), "end_turn"),
        ),
    ]);
    let o = netql_with(Some(&api), &["ask", "hello"], tmp.path());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("same origin answer"), "{}", stdout(&o));
    let seen = api.requests();
    assert_eq!(seen.len(), 2);
    assert!(
        seen.iter()
            .all(|(h, _)| h.iter().any(|(k, v)| k == "x-api-key" && v == "sk-ant-test"))
    );
}

/// An error body from whatever answered is shown as one escaped, cut line: it cannot drive the
/// terminal.
#[test]
fn error_bodies_are_shown_escaped() {
    let api = FakeApi::start(vec![api_error(
        400,
        "invalid_request_error",
        "bad \u{1b}]0;pwned\u{7} \u{202e}txt",
    )]);
    let tmp = tempfile::tempdir().unwrap();
    let o = netql_with(Some(&api), &["ask", "hello"], tmp.path());
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        !err.chars().any(|c| netql::safe_text::is_unsafe(c) && c != '\n'),
        "{err:?}"
    );
    assert!(err.contains("\\u{1b}]0;pwned\\u{7}"), "{err}");
}

/// The streaming events of a message cut short: its start and a first piece of text, then
/// `tail` (an `error` event, or nothing: the connection closes).
fn broken_stream(text: &str, tail: Option<Value>) -> Reply {
    let mut ev = vec![
        json!(["message_start", {"type": "message_start", "message": {"id": "msg_cut", "type": "message", "role": "assistant", "model": "claude-sonnet-5-5", "content": [], "stop_reason": null, "usage": {"input_tokens": 10, "output_tokens": 1}}}]),
        json!(["content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}]),
        json!(["content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}]),
    ];
    ev.extend(tail);
    (200, vec![], json!({"_sse": ev}))
}

/// The answer streams: text is printed as it arrives (once, not again at the end), tool input
/// arriving in pieces runs the tool with the whole of it, and `--usage` shows each turn's tokens.
#[test]
fn answers_stream_and_tool_input_arrives_in_pieces() {
    let api = FakeApi::start(vec![
        (
            200,
            vec![],
            message(
                json!([{"type": "text", "text": "Looking at the captures."},
                       {"type": "tool_use", "id": "toolu_s1", "name": "run_script", "input": {"script": "packets().count()", "captures": "sample.pcap"}}]),
                "tool_use",
            ),
        ),
        (
            200,
            vec![],
            message(
                json!([{"type": "text", "text": "The sample holds 253 packets."}]),
                "end_turn",
            ),
        ),
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let o = netql_with(Some(&api), &["ask", "--usage", "how many packets?"], tmp.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(out.matches("The sample holds 253 packets.").count(), 1, "{out}");
    assert!(out.contains("Looking at the captures."), "{out}");
    let err = stderr(&o);
    assert!(
        err.contains("→ run_script") && err.contains("tokens: 100 in, 20 out"),
        "{err}"
    );
    // The tool got its whole input, rebuilt from three pieces: its result went back.
    let seen = api.requests();
    assert!(seen.iter().all(|(_, b)| b["stream"] == true), "every request streams");
    let result = &seen[1].1["messages"][2]["content"][0];
    assert_eq!(result["tool_use_id"], "toolu_s1");
    assert!(result["content"].to_string().contains("253"), "{result}");
    assert!(
        api.problems.lock().unwrap().is_empty(),
        "{:?}",
        api.problems.lock().unwrap()
    );
}

/// An `overloaded_error` event mid-stream, then a cut connection: each time the partial answer
/// ends, a note says why, and the turn is asked again; the full answer is printed once.
#[test]
fn a_stream_broken_mid_answer_is_asked_again() {
    let api = FakeApi::start(vec![
        broken_stream(
            "Partial one",
            Some(json!(["error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}])),
        ),
        broken_stream("Partial two", None),
        (
            200,
            vec![],
            message(json!([{"type": "text", "text": "The full answer."}]), "end_turn"),
        ),
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let o = netql_with(Some(&api), &["ask", "hello"], tmp.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(out.matches("The full answer.").count(), 1, "{out}");
    assert_eq!(out.matches("Partial one").count(), 1, "{out}");
    let err = stderr(&o);
    assert!(err.contains("broke off: overloaded_error: Overloaded"), "{err}");
    assert!(err.contains("broke off: cut: the connection closed"), "{err}");
    assert_eq!(api.requests().len(), 3);
}

#[test]
fn the_agent_reads_a_lake_through_the_same_tools() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    let caps = tmp.path().join("caps");
    // netql_with makes the captures folder with the sample; ingest it as sensor "edge".
    let o = netql_with(None, &["captures"], tmp.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let o = netql_with(
        None,
        &[
            "ingest",
            caps.to_str().unwrap(),
            "--lake",
            lake.to_str().unwrap(),
            "--sensor",
            "edge",
        ],
        tmp.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = netql_with(
        None,
        &[
            "run",
            "top_talkers",
            "--lake",
            lake.to_str().unwrap(),
            "--format",
            "json",
        ],
        tmp.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let talkers: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let top = talkers[0]
        .as_object()
        .unwrap()
        .values()
        .find_map(Value::as_str)
        .unwrap()
        .to_string();

    let api = FakeApi::start(vec![
        (
            200,
            vec![],
            message(
                json!([{"type": "tool_use", "id": "toolu_01", "name": "run_query",
                        "input": {"name": "top_talkers", "sensor": "edge", "from": "2000-01-01"}}]),
                "tool_use",
            ),
        ),
        (
            200,
            vec![],
            message(
                json!([{"type": "text", "text": format!("{top} talks most.")}]),
                "end_turn",
            ),
        ),
    ]);
    let o = netql_with(
        Some(&api),
        &[
            "ask",
            "--lake",
            lake.to_str().unwrap(),
            "who",
            "talks",
            "most",
            "this",
            "week?",
        ],
        tmp.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("talks most"), "{}", stdout(&o));
    let problems = api.problems.lock().unwrap().clone();
    assert!(problems.is_empty(), "{problems:?}");
    let reqs = api.requests();
    assert_eq!(reqs.len(), 2);
    // The model is told it reads a lake, and the tools take a range.
    let system = reqs[0].1["system"][0]["text"].as_str().unwrap();
    assert!(system.contains("reads a lake made by `netql ingest`"), "{system}");
    let run_query = reqs[0].1["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "run_query")
        .unwrap();
    for arg in ["from", "to", "sensor"] {
        assert!(
            run_query["input_schema"]["properties"].get(arg).is_some(),
            "{run_query}"
        );
    }
    // The tool result the model read: the lake's top talkers in the range asked.
    let result = &reqs[1].1["messages"][2]["content"][0];
    assert_eq!(result["tool_use_id"], "toolu_01");
    assert!(
        result.get("is_error").is_none() || result["is_error"] == false,
        "{result}"
    );
    let text = result["content"].as_str().unwrap();
    assert!(
        text.contains("sensor edge") && text.contains("from 2000-01-01T00:00:00"),
        "{text}"
    );
    assert!(text.contains(&top), "{text}");
}
