//! http: `netql mcp --http`: a plain hyper HTTP/1.1 server in front of rmcp's streamable HTTP
//! service, bound to loopback unless told otherwise, checking the Host header.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::mcp::engine_proxy::EngineProxy;
use crate::mcp::http_guard;

/// Port used when `--http` names only a host.
pub const DEFAULT_HTTP_PORT: u16 = 8765;

/// Where `--http` binds, whether other machines can reach it, and the Host header values it
/// accepts.
#[derive(Debug, Clone)]
pub struct HttpBind {
    pub addr: SocketAddr,
    /// Bound to an address other machines reach (a token is then required).
    pub remote: bool,
    pub allowed_hosts: Vec<String>,
}

/// `127.0.0.1:8765`, `localhost`, `[::1]:9000`, `:9000`, `9000`, `0.0.0.0` (with allow_remote).
/// A host without a port gets [`DEFAULT_HTTP_PORT`]; a port without a host gets 127.0.0.1.
pub fn http_bind(text: &str, allow_remote: bool) -> Result<HttpBind> {
    let t = text.trim();
    let bad = || Error::Usage(format!("--http {text:?}: give HOST, HOST:PORT or :PORT"));
    let (host, port): (String, u16) = if t.is_empty() {
        ("127.0.0.1".into(), DEFAULT_HTTP_PORT)
    } else if let Ok(sa) = t.parse::<SocketAddr>() {
        (sa.ip().to_string(), sa.port())
    } else if let Ok(ip) = t.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        (ip.to_string(), DEFAULT_HTTP_PORT)
    } else if let Some(p) = t.strip_prefix(':') {
        ("127.0.0.1".into(), p.parse().map_err(|_| bad())?)
    } else if let Ok(p) = t.parse::<u16>() {
        ("127.0.0.1".into(), p)
    } else if let Some((h, p)) = t.rsplit_once(':') {
        (h.to_string(), p.parse().map_err(|_| bad())?)
    } else {
        (t.to_string(), DEFAULT_HTTP_PORT)
    };
    let addrs: Vec<SocketAddr> = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| Error::Usage(format!("--http {text:?}: cannot resolve {host}: {e}")))?
        .collect();
    let addr = *addrs.first().ok_or_else(bad)?;
    let loopback = addrs.iter().all(|a| a.ip().is_loopback());
    if !loopback && !allow_remote {
        return Err(Error::Usage(format!(
            "--http {text:?} would accept connections from other machines; bind a loopback address \
             (127.0.0.1, the default), or add --allow-remote (a bearer token is then required: \
             NETQL_MCP_TOKEN, or one made and saved on first start)"
        )));
    }
    // Host-header checks stop DNS rebinding from web pages; they need the names clients use. On
    // an address of every interface (0.0.0.0, ::) those are the machine's own addresses; names
    // clients use beyond those come from `[mcp] public_names`.
    let mut allowed_hosts = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
    let mut add = |name: String| {
        if !allowed_hosts.contains(&name) {
            allowed_hosts.push(name);
        }
    };
    if addr.ip().is_unspecified() {
        for a in local_addresses() {
            add(a.to_string());
        }
    } else {
        add(host.clone());
        add(addr.ip().to_string());
    }
    Ok(HttpBind {
        addr,
        remote: !loopback,
        allowed_hosts,
    })
}

/// This machine's interface addresses.
fn local_addresses() -> Vec<IpAddr> {
    pcap::Device::list()
        .map(|ds| {
            ds.into_iter()
                .flat_map(|d| d.addresses.into_iter().map(|a| a.addr))
                .collect()
        })
        .unwrap_or_default()
}

/// Browser origins allowed: loopback's and those of the allowed hosts on any port, over http and
/// https, and the configured ones. A request without an Origin (any non-browser client) passes.
fn allowed_origins(hosts: &[String], extra: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for h in hosts {
        let h = if h.contains(':') && !h.starts_with('[') {
            format!("[{h}]")
        } else {
            h.clone()
        };
        for scheme in ["http", "https"] {
            out.push(format!("{scheme}://{h}:*"));
        }
    }
    out.extend(extra.iter().cloned());
    out
}

type Body = http_body_util::combinators::BoxBody<bytes::Bytes, std::convert::Infallible>;

fn plain(status: hyper::StatusCode, text: &'static str) -> hyper::Response<Body> {
    use http_body_util::BodyExt;
    let mut resp = hyper::Response::new(http_body_util::Full::new(bytes::Bytes::from_static(text.as_bytes())).boxed());
    *resp.status_mut() = status;
    resp
}

type Service = rmcp::transport::streamable_http_server::StreamableHttpService<
    EngineProxy,
    rmcp::transport::streamable_http_server::session::local::LocalSessionManager,
>;

/// The TLS acceptor `[mcp] tls_cert` and `tls_key` make, if set.
fn tls_acceptor(settings: &crate::config::McpSettings) -> Result<Option<tokio_rustls::TlsAcceptor>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let (cert, key) = match (&settings.tls_cert, &settings.tls_key) {
        (None, None) => return Ok(None),
        (Some(c), Some(k)) => (c, k),
        _ => return Err(Error::Usage("[mcp] TLS needs both tls_cert and tls_key".into())),
    };
    let bad = |what: &std::path::Path, e: &dyn std::fmt::Display| {
        Error::Usage(format!("[mcp] TLS: cannot read {}: {e}", what.display()))
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad(cert, &e))?
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| bad(cert, &e))?;
    if chain.is_empty() {
        return Err(bad(cert, &"no certificate in it"));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(key, &e))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Usage(format!("[mcp] TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| Error::Usage(format!("[mcp] TLS: the key does not fit the certificate: {e}")))?;
    Ok(Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))))
}

/// One client connection (plain or TLS): the token checked on every request, a header timeout,
/// and closed when silent for `idle`.
async fn serve_connection<S>(
    stream: S,
    svc: Service,
    token: Option<Arc<String>>,
    header_timeout: std::time::Duration,
    idle: std::time::Duration,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let handler = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let svc = svc.clone();
        let token = token.clone();
        async move {
            if req.uri().path() != "/mcp" {
                return Ok::<_, std::convert::Infallible>(plain(
                    hyper::StatusCode::NOT_FOUND,
                    "netql MCP server: the endpoint is /mcp\n",
                ));
            }
            if let Some(t) = &token {
                let given = req.headers().get(hyper::header::AUTHORIZATION).map(|v| v.as_bytes());
                if !http_guard::authorized(given, t) {
                    // RFC 6750's challenge; the MCP authorization spec's resource server answers
                    // so (there is no authorization server to point to: the token is a static
                    // one the operator hands out).
                    let mut resp = plain(
                        hyper::StatusCode::UNAUTHORIZED,
                        "netql MCP server: send `Authorization: Bearer <token>` (NETQL_MCP_TOKEN)\n",
                    );
                    let challenge = if given.is_some() {
                        "Bearer realm=\"netql\", error=\"invalid_token\""
                    } else {
                        "Bearer realm=\"netql\""
                    };
                    resp.headers_mut().insert(
                        hyper::header::WWW_AUTHENTICATE,
                        hyper::header::HeaderValue::from_static(challenge),
                    );
                    return Ok(resp);
                }
            }
            Ok(svc.handle(req).await)
        }
    });
    let activity = http_guard::Activity::new();
    let io = http_guard::Tracked {
        inner: stream,
        activity: activity.clone(),
    };
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(hyper_util::rt::TokioIo::new(io), handler);
    // A connection that moves no byte either way for `idle` is closed (an SSE stream sends
    // keep-alives, so a live one never is).
    tokio::select! {
        _ = conn => {}
        _ = activity.silent_for(idle) => {}
    }
}

pub(crate) async fn serve_http(cfg: &crate::config::Config, proxy: EngineProxy, bind: HttpBind) -> Result<()> {
    use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
    use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

    let settings = cfg.mcp.clone();
    let token = http_guard::token(&settings, bind.remote)?.map(Arc::new);
    let mut hosts = bind.allowed_hosts.clone();
    for n in &settings.public_names {
        if !hosts.contains(n) {
            hosts.push(n.clone());
        }
    }
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(hosts.clone())
        .with_allowed_origins(allowed_origins(&hosts, &settings.allowed_origins))
        .with_max_request_body_bytes(settings.max_request_bytes);
    // Every client shares the engine (a stateless client makes a "session" per request, and each
    // engine loads its captures): a query that has to be stopped fails the calls in flight at
    // that moment, and the next calls get a new engine.
    let service = StreamableHttpService::new(
        move || Ok(proxy.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let listener = tokio::net::TcpListener::bind(bind.addr)
        .await
        .map_err(|e| Error::Serve(format!("cannot listen on {}: {e}", bind.addr)))?;
    let local = listener
        .local_addr()
        .map_err(|e| Error::Serve(format!("cannot listen on {}: {e}", bind.addr)))?;
    let shown = match local {
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
        SocketAddr::V4(a) => a.to_string(),
    };
    let tls = tls_acceptor(&settings)?;
    if bind.remote && tls.is_none() {
        eprintln!(
            "netql mcp: warning: no TLS ([mcp] tls_cert and tls_key): the token and every result travel in clear"
        );
    }
    eprintln!(
        "netql mcp: listening on {}://{shown}/mcp ({}; Ctrl-C stops)",
        if tls.is_some() { "https" } else { "http" },
        if token.is_some() {
            "bearer token required"
        } else {
            "loopback only, no token"
        }
    );
    let slots = Arc::new(tokio::sync::Semaphore::new(settings.max_connections));
    let mut backoff = http_guard::AcceptBackoff::default();
    let mut refused_full = 0u64;
    loop {
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => {
                    backoff.ok();
                    s
                }
                Err(e) => {
                    tokio::time::sleep(backoff.failed(&e)).await;
                    continue;
                }
            },
            _ = tokio::signal::ctrl_c() => break,
        };
        // At the cap, a new connection is closed at once: the ones being served keep going.
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            refused_full += 1;
            if refused_full.is_power_of_two() {
                eprintln!(
                    "netql mcp: {refused_full} connection(s) refused so far: {} already open ([mcp] max_connections)",
                    settings.max_connections
                );
            }
            drop(stream);
            continue;
        };
        let svc = service.clone();
        let token = token.clone();
        let tls = tls.clone();
        let (header_timeout, idle) = (settings.header_timeout, settings.idle_timeout);
        tokio::spawn(async move {
            let _slot = slot;
            match tls {
                // The handshake gets the header timeout too: a client that stalls in it is cut off.
                Some(acceptor) => {
                    if let Ok(Ok(s)) = tokio::time::timeout(header_timeout, acceptor.accept(stream)).await {
                        serve_connection(s, svc, token, header_timeout, idle).await;
                    }
                }
                None => serve_connection(stream, svc, token, header_timeout, idle).await,
            }
        });
    }
    Ok(())
}
