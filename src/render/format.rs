//! format: the one output format type. Every command's `--format`, the shell's `.format` and the
//! MCP server's text tables name a [`Format`]; a command that has no CSV (or Markdown, ...) form
//! of its output accepts only the formats it has ([`Format::parser`]).

/// How a result is printed: for people (`table`, `markdown`) or for machines (`json`, `ndjson`,
/// `csv`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Ndjson,
    Csv,
    Markdown,
}

impl Format {
    pub const ALL: [Format; 5] = [
        Format::Table,
        Format::Json,
        Format::Ndjson,
        Format::Csv,
        Format::Markdown,
    ];

    /// Listings and reports whose machine form is one JSON document.
    pub const TABLE_JSON: &[Format] = &[Format::Table, Format::Json];

    pub fn name(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Json => "json",
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
            Format::Markdown => "markdown",
        }
    }

    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name().eq_ignore_ascii_case(name))
    }

    /// A command-line value parser that accepts only `allowed` (clap lists them in `--help` and
    /// in its error for any other).
    pub fn parser(allowed: &'static [Format]) -> impl clap::builder::TypedValueParser<Value = Format> {
        use clap::builder::TypedValueParser;
        clap::builder::PossibleValuesParser::new(allowed.iter().map(|f| f.name()))
            .map(|name| Format::from_name(&name).unwrap_or(Format::Table))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back() {
        for f in Format::ALL {
            assert_eq!(Format::from_name(f.name()), Some(f));
        }
        assert_eq!(Format::from_name("JSON"), Some(Format::Json));
        assert_eq!(Format::from_name("xml"), None);
    }
}
