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
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawQueries {
    /// Folder of query scripts (canned ones are also built in).
    pub dir: Option<PathBuf>,
    /// Script limits.
    pub max_operations: Option<u64>,
    pub timeout_s: Option<f64>,
    /// Rows shown in tables before "N more rows".
    pub max_rows: Option<usize>,
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
    pub max_rows: usize,
}

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
        Ok(Self::resolve(raw, ov))
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
        Config {
            captures_dir,
            cache_dir,
            use_cache,
            queries_dir,
            max_operations: raw.queries.max_operations.unwrap_or(5_000_000),
            timeout: std::time::Duration::from_secs_f64(raw.queries.timeout_s.unwrap_or(60.0).max(0.1)),
            max_rows: raw.queries.max_rows.unwrap_or(40),
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
