//! http_guard: what `netql mcp --http` needs to be put on a network: the bearer token (given, or
//! made and saved on first start when the server faces other machines), the check of each
//! request's `Authorization`, connections that stay silent closed, and accept errors (out of file
//! descriptors) waited out instead of spun on.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::config::McpSettings;
use crate::error::{Error, Result};

/// The token requests must carry, if any: the configured one; else, when the server accepts
/// connections from other machines, one made now, saved in the `.env` beside the config (so the
/// next start uses it) and printed this once. On loopback without one, none is required.
pub(crate) fn token(settings: &McpSettings, remote: bool) -> Result<Option<String>> {
    if let Some(t) = settings.token.as_ref().filter(|t| !t.trim().is_empty()) {
        return Ok(Some(t.trim().to_string()));
    }
    if !remote {
        return Ok(None);
    }
    let mut raw = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut raw)
        .map_err(|_| Error::Serve("cannot make an access token: no random source".into()))?;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let saved = save_token(&settings.env_file, &token);
    match &saved {
        Ok(()) => eprintln!(
            "netql mcp: made an access token and saved it in {} (NETQL_MCP_TOKEN); shown this once:\n  {token}\n\
             Clients send it as the header `Authorization: Bearer <token>`.",
            settings.env_file.display()
        ),
        Err(e) => eprintln!(
            "netql mcp: made an access token for this run (could not save it in {}: {e}); shown this once:\n  {token}\n\
             Clients send it as the header `Authorization: Bearer <token>`; set NETQL_MCP_TOKEN to keep one.",
            settings.env_file.display()
        ),
    }
    Ok(Some(token))
}

/// Append `NETQL_MCP_TOKEN=...` to the `.env` file, readable by its owner only.
fn save_token(path: &std::path::Path, token: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path)?;
    writeln!(f, "NETQL_MCP_TOKEN={token}")
}

/// Whether `header` (an `Authorization` value) carries `token`, compared in constant time.
pub(crate) fn authorized(header: Option<&[u8]>, token: &str) -> bool {
    let Some(given) = header.and_then(|h| {
        let h = std::str::from_utf8(h).ok()?.trim();
        let (scheme, value) = h.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| value.trim().to_string())
    }) else {
        return false;
    };
    // Digests first (equal lengths whatever was sent), then every byte compared: the time taken
    // says nothing of how much of the token a guess got right.
    let (a, b) = (
        ring::digest::digest(&ring::digest::SHA256, given.as_bytes()),
        ring::digest::digest(&ring::digest::SHA256, token.as_bytes()),
    );
    a.as_ref().iter().zip(b.as_ref()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// When a connection last moved a byte either way (milliseconds since it opened).
#[derive(Clone)]
pub(crate) struct Activity {
    opened: Instant,
    last: Arc<AtomicU64>,
}

impl Activity {
    pub(crate) fn new() -> Activity {
        Activity {
            opened: Instant::now(),
            last: Arc::new(AtomicU64::new(0)),
        }
    }

    fn touch(&self) {
        self.last
            .store(self.opened.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// Resolves once nothing moved for `idle`.
    pub(crate) async fn silent_for(&self, idle: Duration) {
        loop {
            let last = Duration::from_millis(self.last.load(Ordering::Relaxed));
            let quiet = self.opened.elapsed().saturating_sub(last);
            if quiet >= idle {
                return;
            }
            tokio::time::sleep(idle - quiet + Duration::from_millis(10)).await;
        }
    }
}

/// A stream that records its reads and writes in an [`Activity`].
pub(crate) struct Tracked<S> {
    pub(crate) inner: S,
    pub(crate) activity: Activity,
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        r
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let r = std::pin::Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, std::task::Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Accept errors (EMFILE when file descriptors run out) are waited out with a growing pause,
/// and said once per ten seconds with a count, instead of retried at once in a loop that spun
/// a core and wrote megabytes of log a second.
#[derive(Default)]
pub(crate) struct AcceptBackoff {
    failures: u32,
    unsaid: u64,
    said: Option<Instant>,
}

impl AcceptBackoff {
    pub(crate) fn ok(&mut self) {
        self.failures = 0;
    }

    /// Note a failure; returns how long to pause.
    pub(crate) fn failed(&mut self, e: &std::io::Error) -> Duration {
        self.failures = self.failures.saturating_add(1);
        self.unsaid += 1;
        if self.said.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
            eprintln!(
                "netql mcp: cannot accept connections ({e}); {} time(s) since last said, pausing",
                self.unsaid
            );
            self.unsaid = 0;
            self.said = Some(Instant::now());
        }
        Duration::from_millis(10u64 << self.failures.min(7)).min(Duration::from_secs(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_bearer_token_is_authorized() {
        assert!(authorized(Some(b"Bearer s3cret"), "s3cret"));
        assert!(authorized(Some(b"bearer   s3cret "), "s3cret"));
        for bad in [
            &b"Bearer s3cre"[..],
            b"Bearer s3cret2",
            b"Basic s3cret",
            b"s3cret",
            b"Bearer ",
            b"\xff",
        ] {
            assert!(!authorized(Some(bad), "s3cret"), "{bad:?}");
        }
        assert!(!authorized(None, "s3cret"));
    }

    #[test]
    fn accept_failures_pause_longer_up_to_a_second() {
        let mut b = AcceptBackoff::default();
        let e = std::io::Error::from_raw_os_error(24);
        let pauses: Vec<Duration> = (0..10).map(|_| b.failed(&e)).collect();
        assert_eq!(pauses[0], Duration::from_millis(20));
        assert!(pauses.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(*pauses.last().unwrap(), Duration::from_secs(1));
        b.ok();
        assert_eq!(b.failed(&e), Duration::from_millis(20));
    }

    #[test]
    fn a_made_token_is_saved_for_the_next_start() {
        let dir = tempfile::tempdir().unwrap();
        let env = dir.path().join("config/.env");
        let mut s = crate::config::Config::resolve(Default::default(), &Default::default()).mcp;
        s.env_file = env.clone();
        assert_eq!(
            token(&s, false).unwrap(),
            None,
            "loopback without a token: none required"
        );
        let made = token(&s, true).unwrap().unwrap();
        assert!(made.len() >= 40);
        let saved = std::fs::read_to_string(&env).unwrap();
        assert_eq!(saved.trim(), format!("NETQL_MCP_TOKEN={made}"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&env).unwrap().permissions().mode() & 0o777, 0o600);
        }
        s.token = Some("given".into());
        assert_eq!(token(&s, true).unwrap().as_deref(), Some("given"));
    }
}
