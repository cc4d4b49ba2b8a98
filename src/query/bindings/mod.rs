//! bindings: the query language's types and functions, registered into Rhai. Scripts build
//! Polars *lazy* plans through them — `packets().filter(col("dst_port") == 443).group_by(["src_ip"])
//! .agg([count()])` becomes one LazyFrame that Polars optimises and runs in parallel; no binding
//! loops over rows in Rhai.
//!
//! Every function is registered with its signature and a one-line description ([`lang`]); the
//! reference ([`reference()`]) is read from those registrations, so it cannot name a function that
//! does not exist or miss one that does.

pub mod address;
pub mod arrays;
pub mod convert;
pub mod data;
pub mod exprs;
pub mod findings;
pub mod lang;
pub mod lists;
pub mod tables;
pub mod text;
pub mod time;
pub mod types;

use std::sync::{Arc, LazyLock};

use rhai::Engine;

pub use data::{DataSource, NoData};
pub use findings::Failures;
pub use lang::{FunctionDoc, Topic, polars_message};
pub use types::{Expr, Finding, Findings, GroupBy, Severity, Table};

/// How scripts work, before the function list: what the reference page and the MCP guide start
/// with.
pub const LANGUAGE_INTRO: &str = "Queries are Rhai scripts whose functions build Polars lazy plans: a script \
describes the computation and Polars runs it, optimised and in parallel, when the script ends; nothing loops over \
packets in Rhai. packets() and flows() are the capture's tables (`netql schema` lists their columns); events() has \
the columns of packets() for just the packets that say something on their own (DNS, HTTP, TLS hellos, ARP, ICMP, \
credentials, odd TCP flags, decode errors), a few percent of the rows, so start such questions there; dns(), \
http() and tls() are the transactions (a DNS query with its reply, an HTTP request with its response, a TLS or \
QUIC handshake), with Zeek's log meaning for each column, so start questions about names, requests, servers and \
fingerprints there; stacks() has frames and bytes per protocol stack. The last expression is the result: a table, a number, text, a list or map \
(`#{ packets: packets().count() }`), or findings. `let x = ...;` names an intermediate table; if/else, arrays \
`[..]` and maps `#{..}` work as in Rhai. Parameters (`--param k=v`, MCP `params`) are variables. Scripts are \
sandboxed: no file, process or network access, no eval, `import` only of scripts in queries/ by name, and limits \
on operations, call depth, sizes and time.";

/// Register the query language into `engine`, reading data from `data`.
pub fn register(engine: &mut Engine, data: Arc<dyn DataSource>, failures: Failures) {
    engine.register_type_with_name::<Table>("Table");
    engine.register_type_with_name::<Expr>("Expr");
    engine.register_type_with_name::<GroupBy>("GroupBy");
    engine.register_type_with_name::<Finding>("Finding");
    engine.register_type_with_name::<Findings>("Findings");
    // The functions that read this run's data or record its failures.
    let mut per_run = lang::Lang::new();
    data::register(&mut per_run, data);
    findings::register(&mut per_run, failures);
    engine.register_global_module(per_run.into_module().into());
    engine.register_global_module(LANGUAGE.clone());
}

/// The functions that read no data (expressions, table verbs, operators): registered once per
/// process into a shared module, as Rhai's standard library is, instead of into the engine of
/// every query a suite runs (~0.3 ms each).
static LANGUAGE: LazyLock<rhai::Shared<rhai::Module>> = LazyLock::new(|| {
    let mut lang = lang::Lang::new();
    register_shared(&mut lang);
    lang.into_module().into()
});

fn register_shared(lang: &mut lang::Lang) {
    exprs::register(lang);
    time::register(lang);
    text::register(lang);
    address::register(lang);
    lists::register(lang);
    tables::register(lang);
}

/// Every documented form of every function, in registration order: what the shell's `.help`,
/// the MCP guide, the agent's prompt and `netql functions` print.
pub fn reference() -> &'static [FunctionDoc] {
    static DOCS: LazyLock<Vec<FunctionDoc>> = LazyLock::new(|| {
        let mut lang = lang::Lang::new();
        data::register(&mut lang, Arc::new(NoData));
        register_shared(&mut lang);
        findings::register(&mut lang, Failures::default());
        lang.docs().to_vec()
    });
    &DOCS
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Every function an engine knows (Rhai's own standard library aside) was registered with its
    /// documentation, every documented form registered a function, and no description is empty.
    #[test]
    fn every_function_is_documented_and_every_documented_one_exists() {
        let mut engine = Engine::new_raw();
        register(&mut engine, Arc::new(NoData), Failures::default());
        let meta: serde_json::Value = serde_json::from_str(&engine.gen_fn_metadata_to_json(false).unwrap()).unwrap();
        let mut registered = BTreeSet::new();
        let mut undocumented = Vec::new();
        for f in meta["functions"].as_array().unwrap() {
            let name = f["name"].as_str().unwrap().to_string();
            let comments = f["docComments"].as_array().map(|c| c.len()).unwrap_or(0);
            if comments == 0 {
                undocumented.push(f["signature"].as_str().unwrap_or(&name).to_string());
            }
            registered.insert(name);
        }
        assert!(
            undocumented.is_empty(),
            "registered without a description: {undocumented:?}"
        );
        assert!(registered.len() > 80, "{registered:?}");
        let docs = reference();
        for d in docs {
            assert!(
                registered.contains(d.name),
                "documented but not registered: {}",
                d.signature
            );
            assert!(!d.description.trim().is_empty(), "{} has no description", d.signature);
            assert!(!d.description.contains('\n'), "{}: one line", d.signature);
        }
        let documented: BTreeSet<&str> = docs.iter().map(|d| d.name).collect();
        for name in &registered {
            assert!(documented.contains(name.as_str()), "{name} is in no reference entry");
        }
        // Each documented form registered at least one implementation.
        let mut lang = lang::Lang::new();
        data::register(&mut lang, Arc::new(NoData));
        register_shared(&mut lang);
        findings::register(&mut lang, Failures::default());
        assert_eq!(lang.unregistered(), Vec::<&str>::new());
    }
}
