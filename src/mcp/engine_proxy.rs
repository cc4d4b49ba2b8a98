//! engine_proxy: `netql mcp` answers clients in one process and runs their tools in another: an
//! engine child (`netql mcp --engine`, the same server over stdio) that stops itself when a
//! query passes its memory or time limit (Polars' work cannot be interrupted in place). The front
//! holds no data and runs no query, so a query that had to be stopped costs that call only: the
//! client gets a tool error with the reason, and the next call starts a fresh engine (cursors
//! stay valid: the front gives every engine it starts the same signing key). Over HTTP the
//! clients share the engine: a stopped query fails the calls in flight at that moment only.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::sync::{Arc, Mutex};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ListToolsResult, PaginatedRequestParams, ResultType, ServerConfig,
};
use rmcp::service::{RequestContext, RunningService};
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{ErrorData as McpError, RoleClient, RoleServer, ServerHandler, ServiceExt};

use crate::config::Config;
use crate::mcp::lake_serve::LakeServe;
use crate::mcp::server::tool_error;

/// Lines of the engine's stderr kept to say why it stopped.
const TAIL: usize = 20;

/// A running engine and the last lines it wrote to stderr.
struct Engine {
    client: RunningService<RoleClient, ()>,
    tail: Arc<Mutex<VecDeque<String>>>,
}

/// The front's handler: every tool call goes to the engine.
#[derive(Clone)]
pub(crate) struct EngineProxy {
    args: Arc<Vec<OsString>>,
    lake: Option<LakeServe>,
    engine: Arc<tokio::sync::Mutex<Option<Arc<Engine>>>>,
}

impl EngineProxy {
    /// A proxy whose engines see the same config, captures and cache as `cfg`.
    pub(crate) fn new(cfg: &Config, use_cache: bool, lake: Option<LakeServe>) -> EngineProxy {
        let mut args: Vec<OsString> = Vec::new();
        if let Some(f) = &cfg.config_file {
            args.extend(["--config".into(), f.clone().into_os_string()]);
        }
        args.extend(["--captures".into(), cfg.captures_dir.clone().into_os_string()]);
        args.extend(["--cache-dir".into(), cfg.cache_dir.clone().into_os_string()]);
        if !use_cache {
            args.push("--no-cache".into());
        }
        args.extend(["mcp".into(), "--engine".into()]);
        if let Some(l) = &lake {
            args.extend(l.args());
        }
        EngineProxy {
            args: Arc::new(args),
            lake,
            engine: Arc::new(tokio::sync::Mutex::new(None)),
        }
    }

    /// The running engine, started if there is none.
    async fn engine(&self) -> Result<Arc<Engine>, String> {
        let mut slot = self.engine.lock().await;
        if let Some(e) = slot
            .as_ref()
            .filter(|e| !e.client.is_closed() && !e.client.peer().is_transport_closed())
        {
            return Ok(Arc::clone(e));
        }
        let exe = std::env::current_exe().map_err(|e| format!("cannot find netql's own binary: {e}"))?;
        let args = Arc::clone(&self.args);
        let cmd = tokio::process::Command::new(exe).configure(|c| {
            c.args(args.iter());
            // Cursors signed by one engine stay valid in the next.
            c.env(
                crate::mcp::paging::CURSOR_KEY_ENV,
                crate::mcp::paging::cursor_key_seed(),
            );
        });
        let (transport, stderr) = TokioChildProcess::builder(cmd)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start the query engine: {e}"))?;
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(stderr) = stderr {
            forward(stderr, Arc::clone(&tail));
        }
        let client = ().serve(transport).await.map_err(|e| format!("the query engine did not start: {e}"))?;
        let e = Arc::new(Engine { client, tail });
        *slot = Some(Arc::clone(&e));
        Ok(e)
    }

    /// Why `e` stopped, from what it last said.
    fn reason(e: &Engine) -> String {
        let tail = e.tail.lock().unwrap_or_else(|p| p.into_inner());
        let stopped = tail.iter().rev().find(|l| l.contains("query stopped")).cloned();
        let said = stopped.unwrap_or_else(|| tail.iter().rev().take(3).rev().cloned().collect::<Vec<_>>().join("\n"));
        let said = said.trim_start_matches("netql: ").to_string();
        if said.is_empty() {
            "the query engine stopped while answering".to_string()
        } else {
            said
        }
    }
}

/// The engine's stderr: kept in `tail`, and passed on to ours from a thread of its own, so a
/// reader of ours that stops draining never holds up the engine (lines are dropped instead).
fn forward(stderr: tokio::process::ChildStderr, tail: Arc<Mutex<VecDeque<String>>>) {
    let (tx, rx) = std::sync::mpsc::sync_channel::<String>(1024);
    let _ = std::thread::Builder::new()
        .name("netql-engine-stderr".into())
        .spawn(move || {
            for line in rx {
                eprintln!("{line}");
            }
        });
    tokio::spawn(async move {
        use tokio::io::AsyncBufReadExt;
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            {
                let mut t = tail.lock().unwrap_or_else(|p| p.into_inner());
                if t.len() == TAIL {
                    t.pop_front();
                }
                t.push_back(line.clone());
            }
            let _ = tx.try_send(line);
        }
    });
}

impl ServerHandler for EngineProxy {
    fn get_info(&self) -> ServerConfig {
        crate::mcp::router::server_config(self.lake.as_ref())
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let e = self.engine().await.map_err(|m| McpError::internal_error(m, None))?;
        let mut r = e
            .client
            .list_tools(request)
            .await
            .map_err(|err| McpError::internal_error(format!("the query engine failed: {err}"), None))?;
        // As this front's own result: the engine answered over the protocol version it agreed
        // with the front, which may not be the client's (rmcp sets or clears these per client).
        r.result_type = Some(ResultType::COMPLETE);
        Ok(r)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let e = match self.engine().await {
            Ok(e) => e,
            Err(m) => return Ok(tool_error(m).into()),
        };
        match e.client.call_tool(request).await {
            Ok(mut r) => {
                r.result_type = Some(ResultType::COMPLETE);
                Ok(r.into())
            }
            Err(_) => {
                // The engine ended under this call (it stops itself on a query past its limits):
                // give its reason; the next call starts a new one.
                // Give the stderr reader a moment to take the engine's last words.
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                let mut slot = self.engine.lock().await;
                if slot.as_ref().is_some_and(|s| Arc::ptr_eq(s, &e)) {
                    *slot = None;
                }
                Ok(tool_error(format!(
                    "{} (the server is still running: fix the script and call again)",
                    Self::reason(&e)
                ))
                .into())
            }
        }
    }
}
