//! stream: the Messages API's streaming events (server-sent events) put back together into the
//! response the conversation needs, handing each piece of text on as it arrives. Events:
//! `message_start`, `content_block_start` / `_delta` / `_stop` (text, tool input as partial JSON,
//! thinking and its signature), `message_delta` (stop reason, output tokens), `message_stop`,
//! `ping`, and `error` (overloaded, mid-stream).

use serde_json::{Value, json};

use crate::agent::response::Response;

/// The complete server-sent events in `buf` as (event, data), removed from it; a partial event
/// stays for the next chunk.
pub fn take_events(buf: &mut String) -> Vec<(String, String)> {
    let mut out = Vec::new();
    while let Some(end) = buf.find("\n\n") {
        let block: String = buf.drain(..end + 2).collect();
        let (mut event, mut data) = (String::new(), String::new());
        for line in block.lines() {
            let line = line.trim_end_matches('\r');
            if let Some(v) = line.strip_prefix("event:") {
                event = v.trim().to_string();
            } else if let Some(v) = line.strip_prefix("data:") {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(v.trim_start());
            }
        }
        if !event.is_empty() || !data.is_empty() {
            out.push((event, data));
        }
    }
    out
}

/// Why a stream ended without its message.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamError {
    /// `overloaded_error`, `api_error`, ... (worth another try), or `invalid_request_error`.
    pub kind: String,
    pub message: String,
}

impl StreamError {
    pub fn retryable(&self) -> bool {
        matches!(
            self.kind.as_str(),
            "overloaded_error" | "api_error" | "rate_limit_error" | "cut"
        )
    }
}

/// A message being put together from its events.
#[derive(Debug, Default)]
pub struct Assembler {
    message: Value,
    content: Vec<Value>,
    /// Tool input JSON arriving in pieces, per block.
    partial: Vec<String>,
    stop_reason: String,
    usage: Value,
    done: bool,
}

impl Assembler {
    /// Take one event; text deltas go to `on_text`. `Ok(true)` once the message is complete.
    pub fn event(&mut self, name: &str, data: &str, on_text: &mut dyn FnMut(&str)) -> Result<bool, StreamError> {
        let v: Value = serde_json::from_str(data).unwrap_or(Value::Null);
        let kind = if name.is_empty() {
            v["type"].as_str().unwrap_or("")
        } else {
            name
        };
        match kind {
            "message_start" => {
                self.message = v["message"].clone();
                self.usage = v["message"]["usage"].clone();
            }
            "content_block_start" => {
                let i = v["index"].as_u64().unwrap_or(self.content.len() as u64) as usize;
                while self.content.len() <= i {
                    self.content.push(Value::Null);
                    self.partial.push(String::new());
                }
                let mut block = v["content_block"].clone();
                if block["type"] == "tool_use" {
                    block["input"] = json!({});
                }
                if let Some(t) = block["text"].as_str().filter(|t| !t.is_empty()) {
                    on_text(t);
                }
                self.content[i] = block;
            }
            "content_block_delta" => {
                let i = v["index"].as_u64().unwrap_or(0) as usize;
                let d = &v["delta"];
                let Some(block) = self.content.get_mut(i) else {
                    return Ok(false);
                };
                match d["type"].as_str().unwrap_or("") {
                    "text_delta" => {
                        let t = d["text"].as_str().unwrap_or("");
                        on_text(t);
                        let joined = format!("{}{t}", block["text"].as_str().unwrap_or(""));
                        block["text"] = json!(joined);
                    }
                    "input_json_delta" => self.partial[i].push_str(d["partial_json"].as_str().unwrap_or("")),
                    "thinking_delta" => {
                        let joined = format!(
                            "{}{}",
                            block["thinking"].as_str().unwrap_or(""),
                            d["thinking"].as_str().unwrap_or("")
                        );
                        block["thinking"] = json!(joined);
                    }
                    "signature_delta" => block["signature"] = d["signature"].clone(),
                    _ => {}
                }
            }
            "content_block_stop" => {
                let i = v["index"].as_u64().unwrap_or(0) as usize;
                if let Some(block) = self.content.get_mut(i)
                    && block["type"] == "tool_use"
                    && !self.partial[i].trim().is_empty()
                {
                    block["input"] = serde_json::from_str(&self.partial[i]).map_err(|e| StreamError {
                        kind: "invalid_tool_input".into(),
                        message: format!("a tool call's input was not JSON: {e}"),
                    })?;
                }
            }
            "message_delta" => {
                if let Some(r) = v["delta"]["stop_reason"].as_str() {
                    self.stop_reason = r.to_string();
                }
                if let Some(o) = v["usage"].as_object() {
                    for (k, val) in o {
                        self.usage[k] = val.clone();
                    }
                }
            }
            "message_stop" => self.done = true,
            "error" => {
                return Err(StreamError {
                    kind: v["error"]["type"].as_str().unwrap_or("api_error").to_string(),
                    message: v["error"]["message"].as_str().unwrap_or("").to_string(),
                });
            }
            _ => {} // ping and events added later
        }
        Ok(self.done)
    }

    /// The response, once complete.
    pub fn finish(self) -> Option<Response> {
        if !self.done {
            return None;
        }
        let content: Vec<Value> = self.content.into_iter().filter(|b| !b.is_null()).collect();
        let mut raw = self.message;
        raw["content"] = json!(content);
        raw["stop_reason"] = json!(self.stop_reason);
        Some(Response {
            content,
            stop_reason: self.stop_reason,
            usage: self.usage,
            raw,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_a_tool_call_in_pieces_make_the_message() {
        let mut buf = String::new();
        buf.push_str("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"usage\":{\"input_tokens\":9}}}\n\n");
        buf.push_str(
            "event: content_block_start\ndata: {\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        );
        buf.push_str("event: ping\ndata: {}\n\n");
        buf.push_str("event: content_block_delta\ndata: {\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\nevent: content_block_delta\ndata: {\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"lo\"}}\n\n");
        buf.push_str("event: content_block_stop\ndata: {\"index\":0}\n\n");
        buf.push_str("event: content_block_start\ndata: {\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"run_script\",\"input\":{}}}\n\n");
        buf.push_str("event: content_block_delta\ndata: {\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"scr\"}}\n\n");
        buf.push_str("event: content_block_delta\ndata: {\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"ipt\\\": \\\"x\\\"}\"}}\n\n");
        buf.push_str("event: content_block_stop\ndata: {\"index\":1}\n\nevent: message_delta\ndata: {\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":7}}\n\nevent: message_sto");
        let mut a = Assembler::default();
        let mut seen = String::new();
        for (e, d) in take_events(&mut buf) {
            assert!(!a.event(&e, &d, &mut |t| seen.push_str(t)).unwrap());
        }
        buf.push_str("p\ndata: {}\n\n");
        for (e, d) in take_events(&mut buf) {
            a.event(&e, &d, &mut |t| seen.push_str(t)).unwrap();
        }
        assert_eq!(seen, "Hello");
        let r = a.finish().unwrap();
        assert_eq!(r.stop_reason, "tool_use");
        assert_eq!(r.text(), "Hello");
        assert_eq!(r.tool_uses()[0].2, json!({"script": "x"}));
        assert_eq!(
            (r.usage["input_tokens"].as_u64(), r.usage["output_tokens"].as_u64()),
            (Some(9), Some(7))
        );
    }

    #[test]
    fn an_error_event_mid_stream_is_an_error() {
        let mut a = Assembler::default();
        let e = a
            .event(
                "error",
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
                &mut |_| {},
            )
            .unwrap_err();
        assert!(e.retryable() && e.message == "Overloaded");
        assert!(Assembler::default().finish().is_none(), "no message_stop: not complete");
    }
}
