//! serve: `netql mcp` over stdio (what Claude Desktop and Claude Code start), or over streamable
//! HTTP with `--http`.

use rmcp::ServiceExt;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::mcp::engine_proxy::EngineProxy;
use crate::mcp::http::http_bind;
use crate::mcp::http::serve_http;
use crate::mcp::lake_serve::LakeServe;
use crate::mcp::server::NetqlServer;
use crate::table::load::LoadOptions;

/// How the server is reached.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// `--http ADDR`: serve streamable HTTP on ADDR (host, host:port or :port) instead of stdio.
    pub http: Option<String>,
    /// Allow binding a non-loopback address (0.0.0.0, ::, a LAN address).
    pub allow_remote: bool,
    /// Serve stdio as the engine of a front (see [`crate::mcp::engine_proxy`]).
    pub engine: bool,
    /// Read a lake instead of the captures folder (`--lake DIR [--sensor] [--from] [--to]`).
    pub lake: Option<LakeServe>,
}

/// Run the server until the client disconnects (stdio) or Ctrl-C (HTTP). Builds its own runtime.
pub fn serve(cfg: Config, load: LoadOptions, opts: ServeOptions) -> Result<()> {
    crate::query::engine::quiet_polars_warnings();
    // main() restores the default SIGPIPE so `netql ... | head` ends quietly; a server must not
    // die because a client closed stdout/stderr: writes then fail with EPIPE and the call ends.
    #[cfg(unix)]
    // SAFETY: setting a signal disposition before the runtime starts its threads.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    if let Some(lake) = &opts.lake {
        // A wrong lake or range fails here, not at the first tool call.
        lake.check()?;
        if opts.engine {
            // Set before the runtime starts its threads (see the function).
            crate::query::lake::use_streaming_engine();
        }
    }
    // Resolve the address before starting anything, so a refused bind fails fast and clearly.
    let http = match &opts.http {
        Some(a) => Some(http_bind(a, opts.allow_remote)?),
        None => None,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Serve(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(async move {
        if opts.engine {
            // The engine: the tools themselves, over stdio, to the front that started it.
            return serve_stdio(NetqlServer::for_engine(cfg, load, opts.lake)).await;
        }
        // The front: answers clients, runs no query itself (every tool call goes to an engine).
        let proxy = EngineProxy::new(&cfg, load.use_cache, opts.lake.clone());
        match http {
            None => {
                match &opts.lake {
                    Some(l) => eprintln!("netql mcp: serving the lake {} over stdio", l.dir.display()),
                    None => eprintln!(
                        "netql mcp: serving captures in {} over stdio",
                        cfg.captures_dir.display()
                    ),
                }
                serve_stdio(proxy).await
            }
            Some(bind) => serve_http(&cfg, proxy, bind).await,
        }
    })
}

/// Serve `handler` over stdio until the client goes away.
async fn serve_stdio<H: rmcp::ServerHandler>(handler: H) -> Result<()> {
    let running = handler
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| Error::Serve(format!("MCP handshake failed: {e}")))?;
    running
        .waiting()
        .await
        .map_err(|e| Error::Serve(format!("MCP server stopped: {e}")))?;
    Ok(())
}
