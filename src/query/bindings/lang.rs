//! lang: where the query language's functions are registered, each with its documentation. A
//! function is registered only through [`Lang::def`], which takes the form a script writes
//! (`t.filter(condition)`) and a one-line description, records them in [`FunctionDoc`]s and
//! attaches them to the Rhai function as its doc comment. Everything that describes the language
//! (the shell's `.help NAME`, the MCP `describe_schema` guide, the agent's system prompt,
//! `netql functions` and the reference page `queries/REFERENCE.md`) reads these records, and a
//! test checks that every function the engine knows carries one.

use rhai::{Dynamic, EvalAltResult, Position};

use polars::prelude::PolarsError;

/// What a binding returns: a value or a script error.
pub type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

/// A script error with this message (Rhai adds the position).
pub fn err<T>(msg: impl Into<String>) -> RhaiResult<T> {
    Err(Box::new(EvalAltResult::ErrorRuntime(
        Dynamic::from(msg.into()),
        Position::NONE,
    )))
}

/// A Polars error as a script error (see [`polars_message`]).
pub fn perr<T>(e: PolarsError) -> RhaiResult<T> {
    err(polars_message(&e))
}

/// A Polars error in a line or two a person (or a model) can act on: the first line, polars'
/// "did you mean" hint when it has one, never the plan dump that follows.
pub fn polars_message(e: &PolarsError) -> String {
    let s = e.to_string();
    let first = s.lines().next().unwrap_or("").trim();
    // Unknown columns: drop the long list of valid columns, keep the suggestion.
    let first = match first.split_once("; valid columns:") {
        Some((head, _)) => head,
        None => first,
    };
    let hint = s
        .lines()
        .find(|l| l.trim_start().starts_with("Did you mean"))
        .map(str::trim);
    match (e, hint) {
        (PolarsError::ColumnNotFound(_), Some(h)) => format!("{first}. {h} (`netql schema` lists the columns)"),
        (PolarsError::ColumnNotFound(_), None) => format!("{first} (`netql schema` lists the columns)"),
        (_, Some(h)) => format!("{first}. {h}"),
        _ => first.to_string(),
    }
}

/// The groups the reference lists functions under, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Topic {
    Data,
    Tables,
    Expressions,
    Aggregations,
    Time,
    Text,
    Addresses,
    Operators,
    Findings,
}

impl Topic {
    pub const ALL: [Topic; 9] = [
        Topic::Data,
        Topic::Tables,
        Topic::Expressions,
        Topic::Aggregations,
        Topic::Time,
        Topic::Text,
        Topic::Addresses,
        Topic::Operators,
        Topic::Findings,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Topic::Data => "Data",
            Topic::Tables => "Table methods",
            Topic::Expressions => "Expressions",
            Topic::Aggregations => "Aggregations",
            Topic::Time => "Time",
            Topic::Text => "Text (computed once per distinct value)",
            Topic::Addresses => "Addresses",
            Topic::Operators => "Operators",
            Topic::Findings => "Findings and checks",
        }
    }
}

/// One documented form of a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionDoc {
    /// The name Rhai knows it by (`filter`, `==`).
    pub name: &'static str,
    pub topic: Topic,
    /// The form a script writes: `t.filter(condition)`, `col("name")`, `a == b`.
    pub signature: &'static str,
    /// One line: what it gives.
    pub description: &'static str,
}

/// Functions being registered, and their documentation.
pub struct Lang {
    module: rhai::Module,
    docs: Vec<FunctionDoc>,
    /// Implementations registered under each of `docs`.
    implementations: Vec<usize>,
}

/// One documented form; [`Def::with`] registers the implementations that form covers (overloads
/// by argument type that mean the same thing).
pub struct Def<'a> {
    lang: &'a mut Lang,
    doc: usize,
}

impl Lang {
    pub fn new() -> Lang {
        Lang {
            module: rhai::Module::new(),
            docs: Vec::new(),
            implementations: Vec::new(),
        }
    }

    /// Document a form of the function the signature names: `t.filter(condition)` and
    /// `filter(x)` name `filter`.
    pub fn def(&mut self, topic: Topic, signature: &'static str, description: &'static str) -> Def<'_> {
        let name = name_of(signature);
        self.def_named(name, topic, signature, description)
    }

    /// Document a form whose name the signature does not show (operators: `a == b` is `==`).
    pub fn def_named(
        &mut self,
        name: &'static str,
        topic: Topic,
        signature: &'static str,
        description: &'static str,
    ) -> Def<'_> {
        self.docs.push(FunctionDoc {
            name,
            topic,
            signature,
            description,
        });
        self.implementations.push(0);
        let doc = self.docs.len() - 1;
        Def { lang: self, doc }
    }

    /// The functions as a module ready to be registered into engines.
    pub fn into_module(mut self) -> rhai::Module {
        self.module.build_index();
        self.module
    }

    /// The documentation recorded so far.
    pub fn docs(&self) -> &[FunctionDoc] {
        &self.docs
    }

    /// Documented forms no implementation was registered for (a mistake: their reference entry
    /// would describe nothing).
    pub fn unregistered(&self) -> Vec<&'static str> {
        self.docs
            .iter()
            .zip(&self.implementations)
            .filter(|(_, n)| **n == 0)
            .map(|(d, _)| d.signature)
            .collect()
    }
}

impl Default for Lang {
    fn default() -> Self {
        Lang::new()
    }
}

impl Def<'_> {
    /// Register one implementation under this form's name and documentation.
    pub fn with<A: 'static, const N: usize, const X: bool, R: rhai::Variant + Clone, const F: bool>(
        self,
        func: impl rhai::RhaiNativeFunc<A, N, X, R, F> + Send + Sync + 'static,
    ) -> Self {
        let d = &self.lang.docs[self.doc];
        let comment = format!("/// {} — {}", d.signature, d.description);
        rhai::FuncRegistration::new(d.name)
            .in_global_namespace()
            .with_comments([comment])
            .set_into_module(&mut self.lang.module, func);
        self.lang.implementations[self.doc] += 1;
        self
    }
}

/// The function name in a signature: the word before the first `(`, after any `receiver.`.
fn name_of(signature: &'static str) -> &'static str {
    let head = signature.split('(').next().unwrap_or(signature);
    head.rsplit('.').next().unwrap_or(head).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_signatures() {
        assert_eq!(name_of("t.filter(condition)"), "filter");
        assert_eq!(name_of("col(\"name\")"), "col");
        assert_eq!(name_of("e.dt.hour()"), "hour");
        assert_eq!(name_of("packets()"), "packets");
    }
}
