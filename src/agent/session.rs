//! session: the agent's connection to a `netql mcp` child process, as an MCP client: the tools
//! it offers, in the Messages API's shape, and calls to them.

use std::path::Path;

use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, Tool};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use serde_json::{Map, Value, json};

use crate::agent::anthropic::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("{0}")]
    Api(#[from] ApiError),
    #[error("MCP server: {0}")]
    Mcp(String),
}

/// A connection to a `netql mcp` child process.
pub struct McpSession {
    client: RunningService<RoleClient, ()>,
    tools: Vec<Tool>,
}

/// A tool call's outcome, as the agent sees it.
#[derive(Debug, Clone)]
pub struct ToolOutput {
    pub text: String,
    pub structured: Option<Value>,
    pub is_error: bool,
}

impl McpSession {
    /// Spawn `exe mcp` with the given global flags (captures folder, config, cache) and flags
    /// of `mcp` itself (a lake to read).
    pub async fn start(exe: &Path, global_args: &[String], mcp_args: &[String]) -> Result<McpSession, AgentError> {
        let args = global_args.to_vec();
        let mcp_args = mcp_args.to_vec();
        let cmd = tokio::process::Command::new(exe).configure(|c| {
            c.args(&args).arg("mcp").args(&mcp_args);
        });
        // The server's stderr (warnings, print from scripts) must not garble the chat.
        let (transport, _stderr) = TokioChildProcess::builder(cmd)
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| AgentError::Mcp(format!("cannot start `{} mcp`: {e}", exe.display())))?;
        let client = ().serve(transport).await.map_err(|e| AgentError::Mcp(e.to_string()))?;
        let mut tools = client
            .list_all_tools()
            .await
            .map_err(|e| AgentError::Mcp(e.to_string()))?;
        // A stable order keeps the prompt-cache prefix identical between requests.
        tools.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(McpSession { client, tools })
    }

    pub fn tool_names(&self) -> Vec<String> {
        self.tools.iter().map(|t| t.name.to_string()).collect()
    }

    /// The tools in the Messages API's shape.
    pub fn anthropic_tools(&self) -> Vec<Value> {
        self.tools
            .iter()
            .map(|t| {
                json!({
                    "name": t.name,
                    "description": t.description.as_deref().unwrap_or(""),
                    "input_schema": Value::Object((*t.input_schema).clone()),
                })
            })
            .collect()
    }

    /// Call a tool; protocol failures become error outputs the model can read.
    pub async fn call(&self, name: &str, input: &Value) -> ToolOutput {
        let args: Map<String, Value> = input.as_object().cloned().unwrap_or_default();
        let params = CallToolRequestParams::new(name.to_string()).with_arguments(args);
        match self.client.call_tool(params).await {
            Ok(r) => {
                let text = r
                    .content
                    .iter()
                    .filter_map(|c| c.as_text().map(|t| t.text.clone()))
                    .collect::<Vec<_>>()
                    .join("\n");
                ToolOutput {
                    text,
                    structured: r.structured_content.clone(),
                    is_error: r.is_error.unwrap_or(false),
                }
            }
            Err(e) => ToolOutput {
                text: format!("tool call failed: {e}"),
                structured: None,
                is_error: true,
            },
        }
    }

    pub async fn close(self) {
        let _ = self.client.cancel().await;
    }
}
