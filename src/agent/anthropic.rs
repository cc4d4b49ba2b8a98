//! anthropic: the Claude Messages API over reqwest (no SDK). Requests and content blocks stay
//! JSON values, so blocks we do not interpret (thinking, redacted_thinking, server tools) are
//! passed back to the API unchanged. Transient failures (429, 529, 5xx, timeouts) are retried
//! with backoff that honours `retry-after`; the others become one clear sentence. The API key
//! is sent in a header and never printed or logged.

use std::time::Duration;

use serde_json::{Value, json};

pub const API_VERSION: &str = "2023-06-01";

/// Why a request failed, in words a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the Anthropic API rejected the key (401 authentication_error): check ANTHROPIC_API_KEY in config/.env")]
    Unauthorized,
    #[error("the Anthropic API refused access (403 permission_error): {0}")]
    Forbidden(String),
    #[error(
        "the Anthropic API does not know this model or path (404 not_found_error): {0}; set [agent] model in config/netql.toml"
    )]
    NotFound(String),
    #[error("the request was too large (413): {0}")]
    TooLarge(String),
    #[error("the Anthropic API rejected the request (400 invalid_request_error): {0}")]
    BadRequest(String),
    #[error("the Anthropic API is still busy after {attempts} attempts ({status} {kind}): {message}")]
    Exhausted {
        attempts: u32,
        status: u16,
        kind: String,
        message: String,
    },
    #[error("spend limit reached (429, not retried): {0}")]
    SpendLimit(String),
    #[error("cannot reach the Anthropic API at {url}: {message}")]
    Network { url: String, message: String },
    #[error("unexpected answer from the Anthropic API ({status}): {message}")]
    Unexpected { status: u16, message: String },
    #[error("the Anthropic API stopped the answer ({kind}): {message}")]
    Stream { kind: String, message: String },
}

/// Connection settings.
#[derive(Clone)]
pub struct ClientConfig {
    pub base_url: String,
    pub api_key: String,
    pub timeout: Duration,
    pub max_retries: u32,
    /// Upper bound of one backoff sleep.
    pub max_backoff: Duration,
}

impl std::fmt::Debug for ClientConfig {
    // Never show the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &"<redacted>")
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .finish()
    }
}

/// A Messages API client.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    cfg: ClientConfig,
}

pub use crate::agent::response::Response;

impl Client {
    pub fn new(cfg: ClientConfig) -> Result<Client, ApiError> {
        let http = reqwest::Client::builder()
            // The key goes in a header of its own (`x-api-key`), which reqwest keeps on every
            // redirect: a base URL that redirects elsewhere would hand the key over. Only
            // same-origin redirects are followed; any other comes back as the answer (an error).
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                let same = attempt
                    .previous()
                    .first()
                    .is_some_and(|first| first.origin() == attempt.url().origin());
                if same && attempt.previous().len() < 5 {
                    attempt.follow()
                } else {
                    attempt.stop()
                }
            }))
            .timeout(cfg.timeout)
            .connect_timeout(Duration::from_secs(15))
            .user_agent(concat!("netql/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ApiError::Network {
                url: cfg.base_url.clone(),
                message: e.to_string(),
            })?;
        Ok(Client { http, cfg })
    }

    fn url(&self) -> String {
        format!("{}/v1/messages", self.cfg.base_url.trim_end_matches('/'))
    }

    /// POST /v1/messages with `"stream": true`: text is handed to `on_text` as it arrives. A
    /// stream that breaks (an `overloaded_error` event, a cut connection) is asked again from the
    /// start, after `on_restart` says why (so a front-end ends the partial answer it printed
    /// instead of printing it twice); errors before the stream starts are retried by
    /// [`Client::post`].
    pub async fn messages_streaming(
        &self,
        body: &Value,
        on_text: &mut (dyn FnMut(&str) + Send),
        on_restart: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Response, ApiError> {
        let mut body = body.clone();
        body["stream"] = json!(true);
        let mut attempt: u32 = 0;
        loop {
            let mut resp = self.post(&body, &mut attempt).await?;
            let status = resp.status().as_u16();
            let mut buf = String::new();
            let mut pending: Vec<u8> = Vec::new();
            let mut assembler = crate::agent::stream::Assembler::default();
            let broken = 'read: loop {
                match resp.chunk().await {
                    Ok(Some(bytes)) => {
                        pending.extend_from_slice(&bytes);
                        // Only whole UTF-8 characters: a chunk can end inside one.
                        let valid = match std::str::from_utf8(&pending) {
                            Ok(s) => s.len(),
                            Err(e) => e.valid_up_to(),
                        };
                        buf.push_str(std::str::from_utf8(&pending[..valid]).unwrap_or(""));
                        pending.drain(..valid);
                        for (event, data) in crate::agent::stream::take_events(&mut buf) {
                            match assembler.event(&event, &data, on_text) {
                                Ok(true) => break 'read None,
                                Ok(false) => {}
                                Err(e) => break 'read Some(e),
                            }
                        }
                    }
                    Ok(None) => {
                        break Some(crate::agent::stream::StreamError {
                            kind: "cut".into(),
                            message: "the connection closed before the answer ended".into(),
                        });
                    }
                    Err(e) => {
                        break Some(crate::agent::stream::StreamError {
                            kind: "cut".into(),
                            message: format!("the connection broke: {}", e.without_url()),
                        });
                    }
                }
            };
            match broken {
                None => {
                    return assembler.finish().ok_or(ApiError::Unexpected {
                        status,
                        message: "the stream ended without its message".into(),
                    });
                }
                Some(e) if e.retryable() && attempt <= self.cfg.max_retries => {
                    on_restart(&short(&format!("{}: {}", e.kind, e.message)));
                    tokio::time::sleep(self.backoff(attempt, None)).await;
                }
                Some(e) => {
                    return Err(ApiError::Stream {
                        kind: e.kind,
                        message: short(&e.message),
                    });
                }
            }
        }
    }

    /// POST the body until the API answers 2xx: connection errors and 408/409/429/5xx are
    /// retried with backoff (honouring `retry-after`), the others become one clear error.
    /// `attempt` counts every request, the caller's retries of broken streams included.
    async fn post(&self, body: &Value, attempt: &mut u32) -> Result<reqwest::Response, ApiError> {
        let url = self.url();
        loop {
            *attempt += 1;
            let sent = self
                .http
                .post(&url)
                .header("x-api-key", &self.cfg.api_key)
                .header("anthropic-version", API_VERSION)
                .header("content-type", "application/json")
                .header("accept", "text/event-stream")
                .json(body)
                .send()
                .await;
            let resp = match sent {
                Ok(r) => r,
                Err(e) => {
                    // Connection problems and timeouts are worth another try.
                    if *attempt <= self.cfg.max_retries {
                        tokio::time::sleep(self.backoff(*attempt, None)).await;
                        continue;
                    }
                    return Err(ApiError::Network {
                        url,
                        message: e.without_url().to_string(),
                    });
                }
            };
            let status = resp.status().as_u16();
            if (200..300).contains(&status) {
                return Ok(resp);
            }
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
                .map(|s| Duration::from_secs_f64(s.clamp(0.0, 600.0)));
            let text = resp.text().await.unwrap_or_default();
            match failure(status, &text) {
                Failure::Retry(_, _) if *attempt <= self.cfg.max_retries => {
                    tokio::time::sleep(self.backoff(*attempt, retry_after)).await;
                }
                Failure::Retry(kind, message) => {
                    return Err(ApiError::Exhausted {
                        attempts: *attempt,
                        status,
                        kind,
                        message,
                    });
                }
                Failure::Fail(e) => return Err(e),
            }
        }
    }

    /// `retry-after` when the server gives one, else exponential backoff with jitter.
    fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(d) = retry_after {
            return d.min(self.cfg.max_backoff.max(d.min(Duration::from_secs(60))));
        }
        let base = Duration::from_millis(500) * 2u32.saturating_pow(attempt.saturating_sub(1));
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let jitter = Duration::from_millis((nanos % 250) as u64);
        (base + jitter).min(self.cfg.max_backoff)
    }
}

/// What a failed (non-2xx) answer means: worth another try, or an error to report.
enum Failure {
    Retry(String, String),
    Fail(ApiError),
}

fn failure(status: u16, text: &str) -> Failure {
    let body_json: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let kind = body_json["error"]["type"].as_str().unwrap_or("").to_string();
    let message = short(body_json["error"]["message"].as_str().unwrap_or(text));
    let spend_cap = body_json["error"]["details"]["error_code"] == "enforced_spend_limit_reached";
    match status {
        401 => Failure::Fail(ApiError::Unauthorized),
        403 => Failure::Fail(ApiError::Forbidden(message)),
        404 => Failure::Fail(ApiError::NotFound(message)),
        413 => Failure::Fail(ApiError::TooLarge(message)),
        400 | 422 => Failure::Fail(ApiError::BadRequest(message)),
        429 if spend_cap => Failure::Fail(ApiError::SpendLimit(message)),
        408 | 409 | 429 | 500..=599 => Failure::Retry(kind, message),
        300..=399 => Failure::Fail(ApiError::Unexpected {
            status,
            message: "the API base URL redirects to another origin; not followed, so the key is not sent there \
                      (set [agent] api_base_url to the URL it moved to)"
                .into(),
        }),
        _ => Failure::Fail(ApiError::Unexpected { status, message }),
    }
}

/// An error body as it may be shown: one escaped line, cut (it comes from whatever answered).
fn short(s: &str) -> String {
    crate::safe_text::cell(s.trim())
}

/// A warning when the key would travel in clear: an `http://` base URL that is not this machine.
pub fn clear_text_warning(base_url: &str) -> Option<String> {
    let url = reqwest::Url::parse(base_url).ok()?;
    let host = url.host_str().unwrap_or("").trim_matches(['[', ']']);
    let local = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|a| a.is_loopback());
    (url.scheme() == "http" && !local).then(|| {
        format!(
            "warning: the API base URL {} is plain http: the API key and your questions travel unencrypted",
            crate::safe_text::line(base_url)
        )
    })
}

/// The request body for one turn. System prompt and tools carry `cache_control`, so the
/// unchanged prefix of a conversation is read from Anthropic's prompt cache.
pub fn request_body(model: &str, max_tokens: u32, system: &str, tools: &[Value], messages: &[Value]) -> Value {
    let mut tools: Vec<Value> = tools.to_vec();
    if let Some(last) = tools.last_mut() {
        last["cache_control"] = json!({"type": "ephemeral"});
    }
    json!({
        "model": model,
        "max_tokens": max_tokens,
        "system": [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}],
        "tools": tools,
        "tool_choice": {"type": "auto"},
        "messages": messages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_never_shown() {
        let cfg = ClientConfig {
            base_url: "http://x".into(),
            api_key: "sk-ant-secret".into(),
            timeout: Duration::from_secs(1),
            max_retries: 0,
            max_backoff: Duration::from_secs(1),
        };
        assert!(!format!("{cfg:?}").contains("secret"));
        let c = Client::new(cfg).unwrap();
        assert!(!format!("{c:?}").contains("secret"));
    }

    #[test]
    fn plain_http_is_warned_about_unless_local() {
        assert!(clear_text_warning("http://api.example.com").is_some());
        assert!(clear_text_warning("http://10.0.0.5:8080/").is_some());
        for ok in [
            "https://api.anthropic.com",
            "http://127.0.0.1:9999",
            "http://localhost:1",
            "http://[::1]:80",
        ] {
            assert_eq!(clear_text_warning(ok), None, "{ok}");
        }
    }

    #[test]
    fn error_bodies_are_one_escaped_cut_line() {
        let shown = short(&format!("\u{1b}]0;x\u{7}bad\ngateway{}", "z".repeat(5000)));
        assert!(!shown.chars().any(crate::safe_text::is_unsafe), "{shown}");
        // Cut at 200 characters of the body (escapes make it a little longer).
        assert!(shown.ends_with('…') && shown.chars().count() < 250, "{shown}");
    }

    #[test]
    fn request_caches_system_and_tools() {
        let tools = vec![
            json!({"name": "a", "input_schema": {"type": "object"}}),
            json!({"name": "b", "input_schema": {"type": "object"}}),
        ];
        let b = request_body("m", 100, "sys", &tools, &[json!({"role": "user", "content": "hi"})]);
        assert_eq!(b["tool_choice"]["type"], "auto");
        assert!(b["tools"][1]["cache_control"].is_object());
        assert!(b["tools"][0].get("cache_control").is_none());
        assert!(b["system"][0]["cache_control"].is_object());
    }

    #[test]
    fn tool_uses_are_read_by_type_not_position() {
        let content = json!([{"type": "thinking", "thinking": "", "signature": "s"}, {"type": "text", "text": "ok"},
                             {"type": "tool_use", "id": "toolu_1", "name": "list_captures", "input": {}}]);
        let r = Response {
            content: content.as_array().cloned().unwrap(),
            stop_reason: "tool_use".into(),
            usage: json!({}),
            raw: Value::Null,
        };
        assert_eq!(r.tool_uses()[0].1, "list_captures");
        assert_eq!(r.text(), "ok");
    }
}
