//! response: one Messages API response as the conversation reads it: the content blocks as
//! they came (passed back unchanged), the stop reason and the token usage.

use serde_json::Value;

/// A parsed response: the raw content blocks plus what the loop needs.
#[derive(Debug, Clone)]
pub struct Response {
    pub content: Vec<Value>,
    pub stop_reason: String,
    pub usage: Value,
    pub raw: Value,
}

impl Response {
    /// All text blocks joined.
    pub fn text(&self) -> String {
        self.content
            .iter()
            .filter(|b| b["type"] == "text")
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The `tool_use` blocks: (id, name, input).
    pub fn tool_uses(&self) -> Vec<(String, String, Value)> {
        self.content
            .iter()
            .filter(|b| b["type"] == "tool_use")
            .map(|b| {
                (
                    b["id"].as_str().unwrap_or_default().to_string(),
                    b["name"].as_str().unwrap_or_default().to_string(),
                    b["input"].clone(),
                )
            })
            .collect()
    }
}
