//! agent: Claude as an analyst. It starts `netql mcp` as a child process and talks to it as an
//! MCP client (it never calls the engine directly), hands the server's tools to the Messages
//! API, runs every `tool_use` through MCP, answers each with a `tool_result`, and loops until the
//! model ends its turn. Without an API key it still answers the common asks ("analyze latest",
//! "list captures", "analyze all", "top talkers", "any scans?") with a rule-based router over the
//! same MCP tools and a deterministic summary.

pub mod anthropic;
pub mod conversation;
pub mod offline;
pub mod response;
pub mod session;
pub mod stream;

pub use conversation::{Agent, AgentConfig, Event};
pub use offline::{OFFLINE_HELP, offline_answer};
pub use session::{AgentError, McpSession};
