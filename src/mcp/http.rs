//! http: `netql mcp --http`: a plain hyper HTTP/1.1 server in front of rmcp's streamable HTTP
//! service, bound to loopback unless told otherwise, checking the Host header.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::mcp::server::NetqlServer;

/// Port used when `--http` names only a host.
pub const DEFAULT_HTTP_PORT: u16 = 8765;

/// Where `--http` binds, and the Host header values it accepts (None: any).
#[derive(Debug, Clone)]
pub struct HttpBind {
    pub addr: SocketAddr,
    pub allowed_hosts: Option<Vec<String>>,
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
            "--http {text:?} would accept connections from other machines, and the MCP server has no \
             authentication; bind a loopback address (127.0.0.1, the default) or add --allow-remote"
        )));
    }
    // Host-header checks stop DNS rebinding from web pages; they need the names clients use.
    let allowed_hosts = if addr.ip().is_unspecified() {
        None
    } else {
        let mut h = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
        for name in [host.clone(), addr.ip().to_string()] {
            if !h.contains(&name) {
                h.push(name);
            }
        }
        Some(h)
    };
    Ok(HttpBind { addr, allowed_hosts })
}

pub(crate) async fn serve_http(server: NetqlServer, bind: HttpBind) -> Result<()> {
    use http_body_util::BodyExt;
    use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
    use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

    let mut config = StreamableHttpServerConfig::default();
    config = match bind.allowed_hosts {
        Some(h) => config.with_allowed_hosts(h),
        None => config.disable_allowed_hosts(),
    };
    let service = StreamableHttpService::new(
        move || Ok(server.clone()),
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
    eprintln!("netql mcp: listening on http://{shown}/mcp (Ctrl-C stops)");
    loop {
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    eprintln!("netql mcp: accept failed: {e}");
                    continue;
                }
            },
            _ = tokio::signal::ctrl_c() => break,
        };
        let svc = service.clone();
        tokio::spawn(async move {
            let handler = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let svc = svc.clone();
                async move {
                    if req.uri().path() != "/mcp" {
                        let body = http_body_util::Full::new(bytes::Bytes::from_static(
                            b"netql MCP server: the endpoint is /mcp\n",
                        ))
                        .boxed();
                        let mut resp = hyper::Response::new(body);
                        *resp.status_mut() = hyper::StatusCode::NOT_FOUND;
                        return Ok::<_, std::convert::Infallible>(resp);
                    }
                    Ok(svc.handle(req).await)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), handler)
                .await;
        });
    }
    Ok(())
}
