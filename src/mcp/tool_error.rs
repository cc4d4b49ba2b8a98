//! tool_error: why a tool call cannot be answered, in words a model can act on. Each becomes a
//! tool result with `isError` (not a protocol error), so the model reads it and tries again.

use std::path::PathBuf;

/// A tool call the server cannot answer as asked.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("the captures folder {} does not exist (start netql mcp with --captures DIR)", .0.display())]
    NoFolder(PathBuf),
    #[error("there are no captures in the captures folder {} yet", .0.display())]
    NoCaptures(PathBuf),
    #[error("empty capture name: use a name from list_captures, \"latest\" or \"all\"")]
    EmptyName,
    #[error(
        "capture '{0}' is outside the captures folder: name a file inside it as list_captures shows it \
         (no '..', no absolute paths elsewhere, no links pointing out), or use \"latest\" / \"all\""
    )]
    Outside(String),
    /// A name that is not in the folder; `known` are the first names that are (newest first).
    #[error("{}", unknown_text(.spec, .known, *.more))]
    Unknown {
        spec: String,
        known: Vec<String>,
        more: bool,
    },
    #[error("capture '{0}' is not a file")]
    NotAFile(String),
    #[error("'{0}' is not a capture file (.pcap, .pcapng or .cap)")]
    NotACapture(String),
    #[error("cannot read '{spec}': {source}")]
    Unreadable {
        spec: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot load {name}: {source}")]
    Load {
        name: String,
        #[source]
        source: crate::error::Error,
    },
    /// A required argument left out (the text says what to give).
    #[error("{0}")]
    Missing(&'static str),
    #[error("the script is longer than 256 KB")]
    ScriptTooLong,
    #[error("invalid cursor: pass next_cursor exactly as a previous result gave it")]
    BadCursor,
    #[error("this cursor continues a {0} result: pass it to {0}")]
    CursorOfOtherTool(String),
    #[error(
        "from, to and sensor apply to a lake (netql mcp --lake DIR); this server reads a captures folder: name captures instead"
    )]
    NotALake,
    #[error(transparent)]
    Netql(#[from] crate::error::Error),
}

fn unknown_text(spec: &str, known: &[String], more: bool) -> String {
    if known.is_empty() {
        return format!("no capture named '{spec}': the captures folder is empty");
    }
    let mut names = known.join(", ");
    if more {
        names.push_str(", …");
    }
    format!("no capture named '{spec}'. Captures (newest first): {names}; or use \"latest\" / \"all\"")
}
