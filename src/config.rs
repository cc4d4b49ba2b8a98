//! Settings: `config/netql.toml`, then `config/.env` and the environment, then CLI flags, resolved
//! into one `Config`. This is the only module that reads settings files or environment variables.
//! Unknown keys are rejected so a typo never silently falls back to a default.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// What `config/netql.toml` may hold. Every section is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub captures: RawCaptures,
    #[serde(default)]
    pub queries: RawQueries,
    #[serde(default)]
    pub agent: RawAgent,
    #[serde(default)]
    pub mcp: RawMcp,
    #[serde(default)]
    pub decode: RawDecode,
}

/// `[decode]`: choices that change what the tables hold (a change decodes cached captures again).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDecode {
    /// Seed of the flows' Community IDs (0 unless every tool you compare with uses another).
    pub community_id_seed: Option<u16>,
}

/// `[mcp]`: what `netql mcp` lets a client do beyond reading captures.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMcp {
    /// Let MCP clients record from an interface with the capture_live tool (off by default).
    pub allow_live_capture: Option<bool>,
    /// Longest capture_live run, in seconds.
    pub max_capture_seconds: Option<u64>,
    /// Most packets one capture_live run may write.
    pub max_capture_packets: Option<u64>,
    /// Most packets one export_packets call may write.
    pub max_export_packets: Option<u64>,
    /// Interface capture_live uses when the client names none.
    pub interface: Option<String>,
    /// `--http`: the names clients reach the server by (the Host header check), besides its own
    /// addresses and loopback; browser origins allowed besides those of those names.
    pub public_names: Option<Vec<String>>,
    pub allowed_origins: Option<Vec<String>>,
    /// `--http`: connections served at once; seconds a client has to send a request's headers;
    /// seconds a connection may stay silent; largest request body in bytes.
    pub max_connections: Option<usize>,
    pub header_timeout_s: Option<f64>,
    pub idle_timeout_s: Option<f64>,
    pub max_request_bytes: Option<usize>,
    /// `--http` over TLS: a PEM certificate chain and its PEM private key.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAgent {
    /// Claude model id.
    pub model: Option<String>,
    /// Output tokens per API response.
    pub max_tokens: Option<u32>,
    /// Tool-call rounds allowed per question.
    pub max_tool_rounds: Option<u32>,
    /// Output tokens allowed per question over all rounds.
    pub max_question_tokens: Option<u64>,
    /// Messages API base URL (ANTHROPIC_BASE_URL overrides it).
    pub api_base_url: Option<String>,
    /// Seconds before one API request is abandoned.
    pub timeout_s: Option<f64>,
    /// Retries of 429/529/5xx answers.
    pub max_retries: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawQueries {
    /// Folder of query scripts (canned ones are also built in).
    pub dir: Option<PathBuf>,
    /// Script limits.
    pub max_operations: Option<u64>,
    pub timeout_s: Option<f64>,
    /// Memory a query may add, `4GB`, `512MiB` or a number of bytes.
    #[serde(default, deserialize_with = "size")]
    pub max_memory: Option<u64>,
    /// Rows shown in tables before "N more rows".
    pub max_rows: Option<usize>,
}

/// A size setting: a number of bytes or text with a unit (`4GB`, `512MiB`).
fn size<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Bytes(u64),
        Text(String),
    }
    match Option::<Size>::deserialize(d)? {
        None => Ok(None),
        Some(Size::Bytes(0)) => Err(serde::de::Error::custom("a size must be more than zero")),
        Some(Size::Bytes(n)) => Ok(Some(n)),
        Some(Size::Text(t)) => crate::units::parse_size(&t).map(Some).map_err(serde::de::Error::custom),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCaptures {
    /// Folder holding the captures ("latest" and "all" look here).
    pub dir: Option<PathBuf>,
    /// Folder for the decoded Parquet cache.
    pub cache_dir: Option<PathBuf>,
    /// Set to false to never read or write the cache.
    pub cache: Option<bool>,
}

/// The resolved settings every front-end uses.
#[derive(Debug, Clone)]
pub struct Config {
    pub captures_dir: PathBuf,
    pub cache_dir: PathBuf,
    pub use_cache: bool,
    pub queries_dir: PathBuf,
    pub max_operations: u64,
    pub timeout: std::time::Duration,
    /// Memory one query may add (`[queries] max_memory`).
    pub max_memory: u64,
    pub max_rows: usize,
    /// The config file that was read, if any (passed on to child processes).
    pub config_file: Option<PathBuf>,
    pub agent: AgentSettings,
    pub mcp: McpSettings,
    /// Seed of the flows' Community IDs.
    pub community_id_seed: u16,
}

/// Resolved `[mcp]` settings.
#[derive(Clone)]
pub struct McpSettings {
    pub allow_live_capture: bool,
    pub max_capture_seconds: u64,
    pub max_capture_packets: u64,
    pub max_export_packets: u64,
    pub interface: Option<String>,
    /// `NETQL_MCP_TOKEN` (environment or config/.env): the bearer token `--http` requires.
    /// Never printed; `Debug` hides it.
    pub token: Option<String>,
    /// Where a generated token is saved (`.env` beside the config file).
    pub env_file: PathBuf,
    pub public_names: Vec<String>,
    pub allowed_origins: Vec<String>,
    pub max_connections: usize,
    pub header_timeout: std::time::Duration,
    pub idle_timeout: std::time::Duration,
    pub max_request_bytes: usize,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

impl std::fmt::Debug for McpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpSettings")
            .field("allow_live_capture", &self.allow_live_capture)
            .field("interface", &self.interface)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("public_names", &self.public_names)
            .field("allowed_origins", &self.allowed_origins)
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

/// Resolved agent settings. The API key is read from the environment (or config/.env) and is
/// never printed; `Debug` hides it.
#[derive(Clone)]
pub struct AgentSettings {
    pub model: String,
    pub max_tokens: u32,
    pub max_tool_rounds: u32,
    pub max_question_tokens: u64,
    pub base_url: String,
    pub timeout: std::time::Duration,
    pub max_retries: u32,
    pub api_key: Option<String>,
}

impl std::fmt::Debug for AgentSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentSettings")
            .field("model", &self.model)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .finish_non_exhaustive()
    }
}

/// Where the agent sends Messages API requests unless `[agent] api_base_url` or
/// `ANTHROPIC_BASE_URL` says otherwise.
pub const DEFAULT_API_BASE_URL: &str = "https://api.anthropic.com";

/// The default Claude model (configurable in `[agent] model`).
pub const DEFAULT_MODEL: &str = "claude-sonnet-5-5";

/// Command-line overrides; `None` leaves the file/env value alone.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub captures_dir: Option<PathBuf>,
    pub cache_dir: Option<PathBuf>,
    pub no_cache: bool,
}

impl RawConfig {
    /// Parse the TOML text of a config file (tests call this with inline strings).
    pub fn parse(text: &str, origin: &Path) -> Result<Self> {
        toml::from_str(text).map_err(|e| Error::Config(format!("{}: {}", origin.display(), e.message())))
    }
}

impl Config {
    /// Load `config/netql.toml` (or `--config FILE`), read `config/.env` into the environment
    /// (without overriding variables already set), then apply env vars and CLI overrides.
    pub fn load(ov: &Overrides) -> Result<Config> {
        let file = ov
            .config_file
            .clone()
            .or_else(|| std::env::var_os("NETQL_CONFIG").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("config/netql.toml"));
        let explicit = ov.config_file.is_some() || std::env::var_os("NETQL_CONFIG").is_some();
        let raw = match std::fs::read_to_string(&file) {
            Ok(text) => RawConfig::parse(&text, &file)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => RawConfig::default(),
            Err(e) => return Err(Error::io(&file, e)),
        };
        // Secrets live in config/.env next to the TOML file; they are loaded, never printed.
        let env_file = file.parent().unwrap_or(Path::new(".")).join(".env");
        if env_file.is_file() {
            let _ = dotenvy::from_path(&env_file);
        }
        let mut cfg = Self::resolve(raw, ov);
        cfg.mcp.env_file = env_file;
        if file.is_file() {
            cfg.config_file = Some(file);
        }
        Ok(cfg)
    }

    /// Merge file values, environment and CLI flags; later sources win.
    pub fn resolve(raw: RawConfig, ov: &Overrides) -> Config {
        let env_path = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        let captures_dir = ov
            .captures_dir
            .clone()
            .or_else(|| env_path("NETQL_CAPTURES"))
            .or(raw.captures.dir)
            .unwrap_or_else(|| PathBuf::from("captures"));
        let cache_dir = ov
            .cache_dir
            .clone()
            .or_else(|| env_path("NETQL_CACHE_DIR"))
            .or(raw.captures.cache_dir)
            .unwrap_or_else(default_cache_dir);
        let env_no_cache = std::env::var("NETQL_NO_CACHE").is_ok_and(|v| v == "1" || v == "true");
        let use_cache = !ov.no_cache && !env_no_cache && raw.captures.cache.unwrap_or(true);
        let queries_dir = raw.queries.dir.unwrap_or_else(|| PathBuf::from("queries"));
        let env_text = |k: &str| {
            std::env::var(k)
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let a = raw.agent;
        let agent = AgentSettings {
            model: env_text("NETQL_MODEL")
                .or(a.model)
                .unwrap_or_else(|| DEFAULT_MODEL.to_string()),
            max_tokens: a.max_tokens.unwrap_or(4096),
            max_tool_rounds: a.max_tool_rounds.unwrap_or(12),
            max_question_tokens: a.max_question_tokens.unwrap_or(40_000),
            base_url: env_text("ANTHROPIC_BASE_URL")
                .or(a.api_base_url)
                .unwrap_or_else(|| DEFAULT_API_BASE_URL.to_string()),
            timeout: std::time::Duration::from_secs_f64(a.timeout_s.unwrap_or(120.0).max(1.0)),
            max_retries: a.max_retries.unwrap_or(3),
            api_key: env_text("ANTHROPIC_API_KEY"),
        };
        Config {
            captures_dir,
            cache_dir,
            use_cache,
            queries_dir,
            max_operations: raw.queries.max_operations.unwrap_or(5_000_000),
            timeout: std::time::Duration::from_secs_f64(raw.queries.timeout_s.unwrap_or(60.0).max(0.1)),
            max_memory: raw.queries.max_memory.unwrap_or(4_000_000_000),
            max_rows: raw.queries.max_rows.unwrap_or(40),
            config_file: None,
            agent,
            mcp: McpSettings {
                allow_live_capture: raw.mcp.allow_live_capture.unwrap_or(false),
                max_capture_seconds: raw.mcp.max_capture_seconds.unwrap_or(60).max(1),
                max_capture_packets: raw.mcp.max_capture_packets.unwrap_or(100_000).max(1),
                max_export_packets: raw.mcp.max_export_packets.unwrap_or(100_000).max(1),
                interface: raw.mcp.interface.filter(|i| !i.trim().is_empty()),
                token: env_text("NETQL_MCP_TOKEN"),
                env_file: PathBuf::from("config/.env"),
                public_names: raw.mcp.public_names.unwrap_or_default(),
                allowed_origins: raw.mcp.allowed_origins.unwrap_or_default(),
                max_connections: raw.mcp.max_connections.unwrap_or(64).max(1),
                header_timeout: std::time::Duration::from_secs_f64(
                    raw.mcp.header_timeout_s.unwrap_or(10.0).clamp(0.1, 3600.0),
                ),
                idle_timeout: std::time::Duration::from_secs_f64(
                    raw.mcp.idle_timeout_s.unwrap_or(300.0).clamp(0.1, 86400.0),
                ),
                max_request_bytes: raw.mcp.max_request_bytes.unwrap_or(1 << 20).max(1024),
                tls_cert: raw.mcp.tls_cert,
                tls_key: raw.mcp.tls_key,
            },
            community_id_seed: raw.decode.community_id_seed.unwrap_or(0),
        }
    }
}

/// `$XDG_CACHE_HOME/netql` (or the platform's cache folder), falling back to a folder in /tmp.
fn default_cache_dir() -> PathBuf {
    dirs::cache_dir()
        .map(|d| d.join("netql"))
        .unwrap_or_else(|| std::env::temp_dir().join("netql-cache"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_rejected_with_the_key_name() {
        let err = RawConfig::parse("[captures]\ndirr = 'x'\n", Path::new("netql.toml")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("dirr"), "{msg}");
        assert!(msg.contains("netql.toml"), "{msg}");
    }

    #[test]
    fn cli_overrides_beat_the_file() {
        let raw = RawConfig::parse("[captures]\ndir = 'from-file'\ncache = false\n", Path::new("t")).unwrap();
        let ov = Overrides {
            captures_dir: Some(PathBuf::from("from-cli")),
            ..Default::default()
        };
        let cfg = Config::resolve(raw, &ov);
        assert_eq!(cfg.captures_dir, PathBuf::from("from-cli"));
        assert!(!cfg.use_cache);
    }
}
