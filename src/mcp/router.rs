//! router: the tools as rmcp sees them (names, descriptions, schemas, annotations), and the server
//! made with them.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use rmcp::handler::server::common::{schema_for_input, schema_for_output};
use rmcp::model::{CallToolResult, Implementation, JsonObject, ServerCapabilities, ServerConfig};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler, tool, tool_handler, tool_router};

use crate::config::Config;
use crate::error::Result;
use crate::mcp::guide::INSTRUCTIONS;
use crate::mcp::lake_serve::LakeServe;
use crate::mcp::paging::Call;
use crate::mcp::server::{Inner, blocking};
use crate::mcp::server::{NetqlServer, cancel_flag, parse_args, tool_error};
use crate::mcp::tool_error::ToolError;
use crate::mcp::types::{
    AnalyzeArgs, AnalyzeOutput, CaptureLiveArgs, CapturesOutput, DescribeArgs, DiffArgs, DiffOutput, ExportOutput,
    ExportPacketsArgs, LakeRange, LiveOutput, NoArgs, QueriesOutput, QueryOutput, RunQueryArgs, RunScriptArgs,
    SchemaOutput,
};
use crate::query::engine::Limits;
use crate::table::load::LoadOptions;

// ---------------------------------------------------------------------------------------------
// The tools

impl NetqlServer {
    /// A server over the captures `cfg` names; the tools are the ones below.
    pub fn new(cfg: Config, load: LoadOptions) -> NetqlServer {
        Self::with_limits(cfg, load, None, false)
    }

    /// A server over a lake (`netql mcp --lake DIR`) instead of the captures folder.
    pub fn over_lake(cfg: Config, load: LoadOptions, lake: LakeServe) -> NetqlServer {
        Self::with_limits(cfg, load, Some(lake), false)
    }

    /// The server run as a front's engine (`netql mcp --engine`): a query past its memory or
    /// time limit ends the process, which the front reports and replaces.
    pub fn for_engine(cfg: Config, load: LoadOptions, lake: Option<LakeServe>) -> NetqlServer {
        Self::with_limits(cfg, load, lake, true)
    }

    fn with_limits(cfg: Config, mut load: LoadOptions, lake: Option<LakeServe>, stop_process: bool) -> NetqlServer {
        // stdout is the protocol channel; a progress bar has no place in a server anyway.
        load.progress = false;
        let limits = Limits {
            max_operations: cfg.max_operations,
            timeout: cfg.timeout,
            max_memory: cfg.max_memory,
            stop_process,
            ..Limits::default()
        };
        NetqlServer {
            inner: Arc::new(Inner {
                cfg,
                load,
                lake,
                limits,
                sets: Mutex::new(Vec::new()),
                loading: Mutex::new(()),
                metas: Mutex::new(HashMap::new()),
                results: Mutex::new(VecDeque::new()),
                samples: Mutex::new(None),
                live_running: AtomicBool::new(false),
            }),
            tool_router: Self::tool_router(),
        }
    }
}

#[tool_router(router = tool_router)]
impl NetqlServer {
    #[tool(
        name = "list_captures",
        description = "List the capture files (pcap/pcapng) in the captures folder, newest first, with size, packets, time span and link type. Use the names in `captures` of run_query/run_script or `file` of analyze.",
        input_schema = schema_for_input::<NoArgs>().unwrap_or_default(),
        output_schema = schema_for_output::<CapturesOutput>(),
        annotations(title = "List captures", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    pub(crate) async fn list_captures(&self) -> std::result::Result<CallToolResult, McpError> {
        let this = self.clone();
        Ok(blocking(move || this.do_list_captures()).await)
    }

    #[tool(
        name = "describe_schema",
        description = "Columns of the packets() and flows() tables with types, meanings and common values, plus a guide to the query language with working example scripts. Call it before writing a script for run_script.",
        input_schema = schema_for_input::<DescribeArgs>().unwrap_or_default(),
        output_schema = schema_for_output::<SchemaOutput>(),
        annotations(title = "Describe tables and query language", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    pub(crate) async fn describe_schema(&self, args: JsonObject) -> std::result::Result<CallToolResult, McpError> {
        let a: DescribeArgs = match parse_args("describe_schema", args) {
            Ok(a) => a,
            Err(e) => return Ok(e),
        };
        let this = self.clone();
        Ok(blocking(move || this.do_describe(a)).await)
    }

    #[tool(
        name = "list_queries",
        description = "The canned queries (protocol share, top talkers, conversations, bandwidth, port scans, DNS, ARP spoofing, clear-text credentials, beaconing, long connections, unusual ports) with their parameters and defaults.",
        input_schema = schema_for_input::<NoArgs>().unwrap_or_default(),
        output_schema = schema_for_output::<QueriesOutput>(),
        annotations(title = "List canned queries", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    pub(crate) async fn list_queries(&self) -> std::result::Result<CallToolResult, McpError> {
        let this = self.clone();
        Ok(blocking(move || this.do_list_queries()).await)
    }

    #[tool(
        name = "run_query",
        description = "Run a canned query (see list_queries) over captures, with optional parameters. Returns a table, findings with evidence frames, or a value; results are paged (max_rows, about 24 KB per page): when `truncated` is true, call again with `cursor` = `next_cursor`.",
        input_schema = schema_for_input::<RunQueryArgs>().unwrap_or_default(),
        output_schema = schema_for_output::<QueryOutput>(),
        annotations(title = "Run a canned query", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    pub(crate) async fn run_query(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResult, McpError> {
        let a: RunQueryArgs = match parse_args("run_query", args) {
            Ok(a) => a,
            Err(e) => return Ok(e),
        };
        let call = Call::given_or_continued("run_query", a.cursor, || {
            let name = a.name.filter(|n| !n.trim().is_empty()).ok_or(ToolError::Missing(
                "give `name`: a query from list_queries (or `cursor` to continue a result)",
            ))?;
            Ok(Call::first(
                "run_query",
                name.trim().to_string(),
                a.captures,
                a.params,
                a.max_rows,
                LakeRange::of(a.from, a.to, a.sensor),
            ))
        });
        match call {
            Ok(call) => Ok(self.run_call(call, &ctx).await),
            Err(e) => Ok(tool_error(e)),
        }
    }

    #[tool(
        name = "run_script",
        description = "Run your own Rhai script in netql's query language over captures: packets() and flows() are Polars tables; filter, group_by(...).agg([...]), join, sort, head. Aggregate rather than dump packets. The last expression is the result (table, value/map, or findings). Errors come back with line and column. Results are paged like run_query. Call describe_schema first for the columns and examples.",
        input_schema = schema_for_input::<RunScriptArgs>().unwrap_or_default(),
        output_schema = schema_for_output::<QueryOutput>(),
        annotations(title = "Run a query script", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    pub(crate) async fn run_script(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResult, McpError> {
        let a: RunScriptArgs = match parse_args("run_script", args) {
            Ok(a) => a,
            Err(e) => return Ok(e),
        };
        let call = Call::given_or_continued("run_script", a.cursor, || {
            let script = a.script.filter(|s| !s.trim().is_empty()).ok_or(ToolError::Missing(
                "give `script`: a Rhai script (describe_schema has the language and examples), or `cursor` to continue a result",
            ))?;
            if script.len() > crate::mcp::paging::MAX_SCRIPT {
                return Err(ToolError::ScriptTooLong);
            }
            Ok(Call::first(
                "run_script",
                script,
                a.captures,
                a.params,
                a.max_rows,
                LakeRange::of(a.from, a.to, a.sensor),
            ))
        });
        match call {
            Ok(call) => Ok(self.run_call(call, &ctx).await),
            Err(e) => Ok(tool_error(e)),
        }
    }

    #[tool(
        name = "analyze",
        description = "Run the whole canned suite: packets, protocol share, top devices, every security check (port scans, ARP spoofing, clear-text credentials, DNS anomalies, beaconing, long connections, unusual ports) with evidence frames, and a verdict. mode: \"latest\" (default), \"all\" (every capture together) or \"file\" (with `file`).",
        input_schema = schema_for_input::<AnalyzeArgs>().unwrap_or_default(),
        output_schema = schema_for_output::<AnalyzeOutput>(),
        annotations(title = "Analyze captures", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    pub(crate) async fn analyze(&self, args: JsonObject) -> std::result::Result<CallToolResult, McpError> {
        let a: AnalyzeArgs = match parse_args("analyze", args) {
            Ok(a) => a,
            Err(e) => return Ok(e),
        };
        let this = self.clone();
        Ok(blocking(move || this.do_analyze(a)).await)
    }

    #[tool(
        name = "capture_live",
        description = "Record packets from a network interface into a new capture file in the captures folder, for a few seconds (capped by the server's config), then query it by name or as \"latest\". Off unless the server's config sets [mcp] allow_live_capture = true; when off it says how to enable it.",
        input_schema = schema_for_input::<CaptureLiveArgs>().unwrap_or_default(),
        output_schema = schema_for_output::<LiveOutput>(),
        annotations(title = "Capture live traffic", read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = true)
    )]
    pub(crate) async fn capture_live(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResult, McpError> {
        let a: CaptureLiveArgs = match parse_args("capture_live", args) {
            Ok(a) => a,
            Err(e) => return Ok(e),
        };
        let (stop, watcher) = cancel_flag(&ctx);
        let this = self.clone();
        let r = blocking(move || this.do_capture_live(a, stop)).await;
        watcher.abort();
        Ok(r)
    }

    #[tool(
        name = "diff",
        description = "What changed from capture(s) `a` (the baseline) to `b`: hosts, services that answered (address:port/transport), DNS names, TLS server names and client JA4s added and removed, protocol share and per-host volume that moved, and findings that appeared or went away.",
        input_schema = schema_for_input::<DiffArgs>().unwrap_or_default(),
        output_schema = schema_for_output::<DiffOutput>(),
        annotations(title = "Compare two captures", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    pub(crate) async fn diff(&self, args: JsonObject) -> std::result::Result<CallToolResult, McpError> {
        let a: DiffArgs = match parse_args("diff", args) {
            Ok(a) => a,
            Err(e) => return Ok(e),
        };
        let this = self.clone();
        Ok(blocking(move || this.do_diff(a)).await)
    }

    #[tool(
        name = "export_packets",
        description = "Write the packets behind findings, a flow, frames or a script's result into a new capture file in the captures folder, for Wireshark: give `frames` (\"1,5,10-20\", with one capture), `flow_id`, `query` (a canned query: its findings' evidence frames; `finding` picks one) or `script` (a result with file and frame columns, or findings). Returns the new file's name. Writes a file (never overwrites one); at most the configured number of packets.",
        input_schema = schema_for_input::<ExportPacketsArgs>().unwrap_or_default(),
        output_schema = schema_for_output::<ExportOutput>(),
        annotations(title = "Export packets to a capture file", read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = false)
    )]
    pub(crate) async fn export_packets(
        &self,
        args: JsonObject,
        ctx: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResult, McpError> {
        let a: ExportPacketsArgs = match parse_args("export_packets", args) {
            Ok(a) => a,
            Err(e) => return Ok(e),
        };
        let (cancel, watcher) = cancel_flag(&ctx);
        let this = self.clone();
        let r = blocking(move || this.do_export_packets(a, cancel)).await;
        watcher.abort();
        Ok(r)
    }
}

/// What the server says of itself at initialization (the front and its engine say the same).
pub(crate) fn server_config(lake: Option<&LakeServe>) -> ServerConfig {
    let instructions = match lake {
        Some(l) => format!("{INSTRUCTIONS}{}", l.instructions()),
        None => INSTRUCTIONS.to_string(),
    };
    ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
        .with_server_info(
            Implementation::new("netql", env!("CARGO_PKG_VERSION"))
                .with_title("netql")
                .with_description("Query packet captures: pcap -> Polars tables -> scripts"),
        )
        .with_instructions(instructions)
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for NetqlServer {
    fn get_info(&self) -> ServerConfig {
        server_config(self.inner.lake.as_ref())
    }
}
