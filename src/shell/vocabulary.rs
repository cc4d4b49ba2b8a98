//! vocabulary: what the shell knows by name: the query language's functions, the columns, the
//! canned queries, the captures folder.

use std::path::PathBuf;

use crate::config::Config;
use crate::query::canned;
use crate::query::engine::ScriptEngine;
use crate::table::schema::TABLES;

/// What the shell can complete: engine functions, columns, queries, meta-commands, captures.
#[derive(Debug, Clone)]
pub struct Vocabulary {
    /// Functions and methods, shortest first (so `filter` comes before `fill_null`).
    pub functions: Vec<String>,
    /// Column name and a short description, packets first, each name once.
    pub columns: Vec<(String, String)>,
    /// Canned queries.
    pub queries: Vec<QueryInfo>,
    /// The captures folder (listed at completion time).
    pub captures_dir: PathBuf,
}

impl Vocabulary {
    pub fn new(engine: &ScriptEngine, cfg: &Config) -> Vocabulary {
        let mut functions = engine.function_names();
        functions.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
        let mut columns: Vec<(String, String)> = Vec::new();
        for t in TABLES {
            let (table, schema) = (t.name, t.columns);
            for d in schema {
                if !columns.iter().any(|(n, _)| n == d.name) {
                    columns.push((d.name.to_string(), format!("{table}, {}: {}", d.kind, d.meaning)));
                }
            }
        }
        let queries = canned::list(&cfg.queries_dir)
            .into_iter()
            .map(|q| {
                let params = q.params.iter().map(|p| (p.name.clone(), p.default.clone())).collect();
                QueryInfo {
                    name: q.name,
                    description: q.description,
                    params,
                }
            })
            .collect();
        Vocabulary {
            functions,
            columns,
            queries,
            captures_dir: cfg.captures_dir.clone(),
        }
    }
}

/// A canned query as the completer offers it.
#[derive(Debug, Clone)]
pub struct QueryInfo {
    pub name: String,
    pub description: String,
    /// Parameter names and defaults.
    pub params: Vec<(String, String)>,
}

/// What the shell's tests start from: an engine with default limits and its vocabulary.
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::Arc;

    use crate::config::Config;
    use crate::query::engine::{Limits, ScriptEngine};
    use crate::shell::vocabulary::Vocabulary;

    pub(crate) fn engine() -> Arc<ScriptEngine> {
        Arc::new(ScriptEngine::new(Limits::default(), None))
    }

    pub(crate) fn vocab() -> Arc<Vocabulary> {
        let cfg = Config::resolve(Default::default(), &Default::default());
        Arc::new(Vocabulary::new(&engine(), &cfg))
    }
}
