//! paging: results cut to a page of rows and a byte budget, with a cursor that holds the whole
//! call; text tables for clients that show only text.

use std::hash::{DefaultHasher, Hash, Hasher};

use base64::Engine as _;
use polars::prelude::*;
use rhai::Dynamic;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::mcp::tool_error::ToolError;
use crate::mcp::types::{LakeRange, Names};
use crate::query::engine::ScriptError;
use crate::render::{self};

pub const DEFAULT_HTTP_PORT: u16 = 8765;
/// Rows per page unless the call asks for another number, and the most it may ask for.
pub(crate) const DEFAULT_ROWS: usize = 50;
pub(crate) const MAX_ROWS: usize = 500;
/// Bytes of rows (JSON) and of text per result; Claude Code's default cap is 25k tokens per
/// tool result, so two 24 KB halves stay well inside it.
pub(crate) const BYTE_BUDGET: usize = 24_000;
// ---------------------------------------------------------------------------------------------
// Text for people and models: sanitised cells, budgets

pub(crate) fn table_text(df: &DataFrame) -> String {
    render::dataframe(df, render::Format::Table, df.height())
}

/// Text cut to the budget at a character boundary, saying so.
pub(crate) fn cut(text: String, budget: usize) -> String {
    crate::safe_text::cut_bytes(
        text,
        budget,
        "\n… (text cut at the size budget; the structured result holds the values)",
    )
}

/// How many leading items fit the byte budget (at least one, so a page always moves on).
pub(crate) fn fit(items: &[Value], budget: usize) -> usize {
    let mut used = 0;
    for (i, v) in items.iter().enumerate() {
        used += v.to_string().len() + 1;
        if used > budget {
            return i.max(1);
        }
    }
    items.len()
}

pub(crate) fn objects(values: Vec<Value>) -> Vec<Map<String, Value>> {
    values
        .into_iter()
        .map(|v| match v {
            Value::Object(m) => m,
            other => {
                let mut m = Map::new();
                m.insert("value".into(), other);
                m
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Cursors: the whole call, so paging needs no server state (results are also kept in memory
// while they are being paged, so pages come from the same rows)

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct Cursor {
    pub(crate) v: u32,
    pub(crate) tool: String,
    /// Query name (run_query) or script text (run_script).
    pub(crate) text: String,
    /// Resolved capture names, so "latest" does not move between pages.
    pub(crate) captures: Vec<String>,
    pub(crate) params: Map<String, Value>,
    pub(crate) offset: usize,
    pub(crate) max_rows: usize,
    /// Fingerprint of the captures' paths, sizes and times (of a lake: its captures' hashes).
    pub(crate) fp: u64,
    /// Over a lake: the call's range, in absolute times.
    #[serde(default, skip_serializing_if = "LakeRange::is_empty")]
    pub(crate) range: LakeRange,
}

/// Longest script a call (or a cursor continuing one) may carry.
pub(crate) const MAX_SCRIPT: usize = 256 * 1024;

/// Where a front passes its engines the cursor key (see [`crate::mcp::engine_proxy`]).
pub(crate) const CURSOR_KEY_ENV: &str = "NETQL_MCP_CURSOR_KEY";

/// This process's cursor key seed: the one its front passed, or random, made once.
pub(crate) fn cursor_key_seed() -> &'static str {
    static SEED: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        if let Some(s) = std::env::var(CURSOR_KEY_ENV).ok().filter(|s| s.len() >= 32) {
            return s;
        }
        let mut raw = [0u8; 32];
        let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut raw);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    });
    &SEED
}

/// The key cursors are signed with: random, made once per server (a front and the engines it
/// starts share it). A cursor carries the whole call (its script included) back from the client,
/// so without a signature a client could forge one holding any script, past the size cap and the
/// checks a first call gets. A cursor from an earlier run of the server is refused; the call is
/// simply made again.
static CURSOR_KEY: std::sync::LazyLock<Option<ring::hmac::Key>> = std::sync::LazyLock::new(|| {
    Some(ring::hmac::Key::new(
        ring::hmac::HMAC_SHA256,
        cursor_key_seed().as_bytes(),
    ))
});

impl Cursor {
    /// `payload.signature`, both URL-safe base64.
    pub(crate) fn encode(&self) -> String {
        let b64 = &base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let payload = b64.encode(serde_json::to_vec(self).unwrap_or_default());
        let sig = CURSOR_KEY
            .as_ref()
            .map(|k| b64.encode(ring::hmac::sign(k, payload.as_bytes()).as_ref()))
            .unwrap_or_default();
        format!("{payload}.{sig}")
    }

    pub(crate) fn decode(s: &str) -> Result<Cursor, ToolError> {
        let bad = || ToolError::BadCursor;
        let b64 = &base64::engine::general_purpose::URL_SAFE_NO_PAD;
        // A cursor holds at most a script of MAX_SCRIPT bytes and its call, in base64.
        if s.len() > MAX_SCRIPT * 2 {
            return Err(bad());
        }
        let (payload, sig) = s.trim().split_once('.').ok_or_else(bad)?;
        let key = CURSOR_KEY.as_ref().ok_or_else(bad)?;
        let sig = b64.decode(sig).map_err(|_| bad())?;
        ring::hmac::verify(key, payload.as_bytes(), &sig).map_err(|_| bad())?;
        let bytes = b64.decode(payload).map_err(|_| bad())?;
        let c: Cursor = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        if c.v != 1 || c.text.len() > MAX_SCRIPT {
            return Err(bad());
        }
        Ok(c)
    }
}

/// A run_query/run_script call, as given or as a cursor restores it.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) tool: &'static str,
    pub(crate) text: String,
    pub(crate) captures: Vec<String>,
    pub(crate) params: Map<String, Value>,
    pub(crate) offset: usize,
    pub(crate) max_rows: usize,
    /// Fingerprint the cursor expects (None on a first call).
    pub(crate) fp: Option<u64>,
    /// Over a lake: the call's from/to/sensor.
    pub(crate) range: LakeRange,
}

impl Call {
    /// A first call (not a continuation).
    pub(crate) fn first(
        tool: &'static str,
        text: String,
        captures: Option<Names>,
        params: Option<Map<String, Value>>,
        rows: Option<u64>,
        range: LakeRange,
    ) -> Call {
        Call {
            range,
            tool,
            text,
            captures: captures.map(Names::list).unwrap_or_default(),
            params: params.unwrap_or_default(),
            offset: 0,
            max_rows: max_rows(rows),
            fp: None,
        }
    }

    /// The call a request means: the one its cursor continues, else the one `first` makes.
    pub(crate) fn given_or_continued(
        tool: &'static str,
        cursor: Option<String>,
        first: impl FnOnce() -> Result<Call, ToolError>,
    ) -> Result<Call, ToolError> {
        match cursor {
            Some(c) => call_from_cursor(tool, &c),
            None => first(),
        }
    }

    pub(crate) fn key(&self, fp: u64) -> u64 {
        let mut h = DefaultHasher::new();
        self.tool.hash(&mut h);
        self.text.hash(&mut h);
        serde_json::to_string(&self.params).unwrap_or_default().hash(&mut h);
        fp.hash(&mut h);
        h.finish()
    }
}

pub(crate) fn max_rows(n: Option<u64>) -> usize {
    n.map_or(DEFAULT_ROWS, |n| (n as usize).clamp(1, MAX_ROWS))
}

pub(crate) fn valid_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub(crate) fn json_to_dynamic(v: &Value) -> Dynamic {
    match v {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => Dynamic::from(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Dynamic::from(i),
            None => Dynamic::from(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => Dynamic::from(s.clone()),
        Value::Array(a) => Dynamic::from_array(a.iter().map(json_to_dynamic).collect()),
        Value::Object(m) => {
            let mut out = rhai::Map::new();
            for (k, v) in m {
                out.insert(k.as_str().into(), json_to_dynamic(v));
            }
            Dynamic::from_map(out)
        }
    }
}

pub(crate) fn script_error_text(e: &ScriptError) -> String {
    let mut s = match (e.line, e.column) {
        (Some(l), Some(c)) => format!("script error at line {l}, column {c}: {}", e.message),
        _ => format!("script error: {}", e.message),
    };
    if let Some(snippet) = &e.snippet {
        s.push('\n');
        s.push_str(snippet);
    }
    s.push_str(
        "\nFix the script and run it again. describe_schema lists every column, the functions and working examples.",
    );
    s
}

pub(crate) fn call_from_cursor(tool: &'static str, s: &str) -> Result<Call, ToolError> {
    let c = Cursor::decode(s)?;
    if c.tool != tool {
        return Err(ToolError::CursorOfOtherTool(c.tool));
    }
    Ok(Call {
        tool,
        text: c.text,
        captures: c.captures,
        params: c.params,
        offset: c.offset,
        max_rows: c.max_rows.clamp(1, MAX_ROWS),
        fp: Some(c.fp),
        range: c.range,
    })
}
