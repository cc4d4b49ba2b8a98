//! The layout of `src/` as a rule: the steps of the flow are layers, and nothing flows backwards.
//!
//! Every `crate::`/`netql::`/`super::` path in every source file (uses and inline paths, tests
//! included) is resolved to the module it names. The test fails, printing the offending lines,
//! when a module uses one of a higher layer, when one front-end uses another, when a file reaches
//! a sibling through its own folder's `mod.rs` instead of naming the file, or when modules form a
//! cycle. It also keeps each file under the size a reader can hold in mind.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first: a module may use its own layer's modules (in the base layer) or lower
/// layers, never higher ones. Written once here and once in `src/lib.rs`'s diagram.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "base: used by all",
        &["error", "config", "units", "safe_text", "testdata", "allocator"],
    ),
    ("read and write captures", &["capture"]),
    ("one record -> facts", &["decode"]),
    ("facts -> Polars tables", &["table"]),
    ("the query language", &["query"]),
    ("results -> text, JSON, CSV, ...", &["render"]),
    ("front-ends (none uses another)", &["shell", "mcp", "agent"]),
    ("the binary (main.rs and cli/)", &["cli"]),
];

/// Lines a source file may hold (tests beside the code included).
const MAX_LINES: usize = 1_100;

fn rank(top: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, mods)| mods.contains(&top))
}

/// One reference from a file to a module.
#[derive(Debug, Clone)]
struct Use {
    from: String,
    to: String,
    file: PathBuf,
    line: usize,
    text: String,
}

impl std::fmt::Display for Use {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.text.trim())
    }
}

/// A source file: its module path (`decode::dns`; `` for lib.rs, `main` for main.rs), whether it
/// belongs to the binary, and its text.
struct Source {
    module: String,
    bin: bool,
    path: PathBuf,
    text: String,
}

fn sources(src: &Path) -> Vec<Source> {
    let mut out = Vec::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap();
            let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
            let last = parts.pop().unwrap();
            let stem = last.trim_end_matches(".rs");
            if stem != "mod" && !(parts.is_empty() && stem == "lib") {
                parts.push(stem.to_string());
            }
            let module = parts.join("::");
            let bin = module == "main" || module == "cli" || module.starts_with("cli::");
            let text = std::fs::read_to_string(&path).unwrap();
            out.push(Source {
                module,
                bin,
                path: rel.to_path_buf(),
                text,
            });
        }
    }
    out.sort_by(|a, b| a.module.cmp(&b.module));
    out
}

/// The text with comments and the insides of string and char literals blanked out (same byte
/// offsets and lines), so braces and paths in them count for nothing.
fn strip_comments(text: &str) -> String {
    let b = text.as_bytes();
    let mut out: Vec<u8> = b.iter().map(|&c| if c.is_ascii() { c } else { b' ' }).collect();
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for c in &mut out[from..to.min(b.len())] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    let mut i = 0;
    while i < b.len() {
        let rest = &b[i..];
        let ident_before = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        if rest.starts_with(b"//") {
            let end = rest.iter().position(|&c| c == b'\n').map_or(b.len(), |n| i + n);
            blank(&mut out, i, end);
            i = end;
        } else if rest.starts_with(b"/*") {
            let end = text[i + 2..].find("*/").map_or(b.len(), |n| i + 2 + n + 2);
            blank(&mut out, i, end);
            i = end;
        } else if !ident_before && (rest.starts_with(b"r#") || rest.starts_with(b"r\"")) {
            // Raw string: r"..", r#".."#, r##".."##.
            let hashes = rest[1..].iter().take_while(|&&c| c == b'#').count();
            if rest.get(1 + hashes) != Some(&b'"') {
                i += 1;
                continue;
            }
            let close = format!("\"{}", "#".repeat(hashes));
            let body = i + 2 + hashes;
            let end = text[body..].find(&close).map_or(b.len(), |n| body + n);
            blank(&mut out, body, end);
            i = end + close.len();
        } else if rest[0] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            blank(&mut out, i + 1, j);
            i = j + 1;
        } else if rest[0] == b'\'' {
            // A char literal ('x', '\n', '\u{..}'), not a lifetime ('a).
            let len = if rest.get(1) == Some(&b'\\') {
                rest[2..].iter().position(|&c| c == b'\'').map(|n| n + 3)
            } else {
                let ch = text[i + 1..].chars().next().map_or(1, char::len_utf8);
                (rest.get(1 + ch) == Some(&b'\'')).then_some(ch + 2)
            };
            match len {
                Some(n) => {
                    blank(&mut out, i + 1, i + n - 1);
                    i += n;
                }
                None => i += 1,
            }
        } else {
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// The paths a use tree starting at `at` names: `a::b::{c, d::{e, f}}` gives `a::b::c`,
/// `a::b::d::e`, `a::b::d::f`. Returns the paths and where the tree ends.
fn use_tree(s: &[u8], mut at: usize, prefix: &str, out: &mut Vec<String>) -> usize {
    let mut path = prefix.to_string();
    loop {
        let start = at;
        while at < s.len() && (s[at].is_ascii_alphanumeric() || s[at] == b'_') {
            at += 1;
        }
        let ident = std::str::from_utf8(&s[start..at]).unwrap();
        if !ident.is_empty() && ident != "self" {
            if !path.is_empty() {
                path.push_str("::");
            }
            path.push_str(ident);
        }
        if s[at..].starts_with(b"::") {
            at += 2;
            while at < s.len() && s[at].is_ascii_whitespace() {
                at += 1;
            }
            if at < s.len() && s[at] == b'{' {
                at += 1;
                loop {
                    while at < s.len() && (s[at].is_ascii_whitespace() || s[at] == b',') {
                        at += 1;
                    }
                    if at >= s.len() || s[at] == b'}' {
                        return at + 1;
                    }
                    at = use_tree(s, at, &path, out);
                    // Skip `as name`.
                    while at < s.len() && s[at] != b',' && s[at] != b'}' {
                        at += 1;
                    }
                }
            }
            continue;
        }
        out.push(path);
        return at;
    }
}

/// Every module path a file refers to, with the line it is on. `crate::` paths are absolute
/// (in the binary, `netql::` names the library), `super::`/`self::` relative to the file.
fn references(src: &Source) -> Vec<(String, usize, String)> {
    let text = strip_comments(&src.text);
    let lines: Vec<&str> = src.text.lines().collect();
    let b = text.as_bytes();
    let mut out = Vec::new();
    let parent = |module: &str, up: usize| -> Option<String> {
        let mut parts: Vec<&str> = if module.is_empty() {
            vec![]
        } else {
            module.split("::").collect()
        };
        // A file's own module is `self`; its first `super` is the folder's module.
        for _ in 0..up {
            parts.pop()?;
        }
        Some(parts.join("::"))
    };
    let inline_mods = inline_modules(b);
    let mut i = 0;
    while i < b.len() {
        let word_start = i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_' || b[i - 1] == b':');
        if !word_start {
            i += 1;
            continue;
        }
        let rest = &b[i..];
        let (root, skip): (Option<String>, usize) = if rest.starts_with(b"crate::") {
            (Some(if src.bin { "bin".into() } else { String::new() }), 7)
        } else if rest.starts_with(b"netql::") {
            (Some(String::new()), 7)
        } else if rest.starts_with(b"super::") || rest.starts_with(b"self::") {
            let mut up = 0usize;
            let mut j = 0;
            while rest[j..].starts_with(b"super::") {
                up += 1;
                j += 7;
            }
            if up == 0 {
                j = 6;
            }
            // Inside `mod tests { .. }`, the first `super` is the file's own module.
            let inline = inline_mods.iter().filter(|(a, z)| (*a..*z).contains(&i)).count();
            match parent(&src.module, up.saturating_sub(inline)) {
                Some(m) if src.bin => (
                    Some(if m.is_empty() {
                        "bin".into()
                    } else {
                        format!("bin::{m}")
                    }),
                    j,
                ),
                Some(m) => (Some(m), j),
                None => (None, j),
            }
        } else {
            (None, 0)
        };
        // `use child::Item;`: a path relative to this module (2018 edition).
        let (root, skip) = match root {
            Some(r) => (r, skip),
            None if relative_use(b, i) => {
                let own = if src.bin {
                    if src.module == "main" {
                        "bin".to_string()
                    } else {
                        format!("bin::{}", src.module)
                    }
                } else {
                    src.module.clone()
                };
                (own, 0)
            }
            None => {
                i += skip.max(1);
                continue;
            }
        };
        let line = text[..i].matches('\n').count() + 1;
        let mut paths = Vec::new();
        let end = use_tree(b, i + skip, "", &mut paths);
        for p in paths {
            let full = match (root.as_str(), p.is_empty()) {
                ("", _) => p,
                (r, true) => r.to_string(),
                (r, false) => format!("{r}::{p}"),
            };
            out.push((full, line, lines.get(line - 1).copied().unwrap_or("").to_string()));
        }
        i = end.max(i + 1);
    }
    out
}

/// Whether the path at `at` is the start of a `use` tree with no `crate`/`super`/`self` root
/// (one naming a child module, or an external crate, which resolves to nothing).
fn relative_use(b: &[u8], at: usize) -> bool {
    let before = std::str::from_utf8(&b[..at]).unwrap_or("");
    let line = before.rsplit('\n').next().unwrap_or("").trim_start();
    let head = line
        .strip_prefix("pub(crate) ")
        .or_else(|| line.strip_prefix("pub "))
        .unwrap_or(line);
    head == "use " && b[at].is_ascii_lowercase()
}

/// Byte ranges of inline modules (`mod tests { .. }`).
fn inline_modules(b: &[u8]) -> Vec<(usize, usize)> {
    let text = std::str::from_utf8(b).unwrap();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find("mod ") {
        let start = from + at;
        from = start + 4;
        if start > 0 && (b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'_') {
            continue;
        }
        let after = &text[from..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        let rest = after[name_len..].trim_start();
        if name_len == 0 || !rest.starts_with('{') {
            continue;
        }
        let open = from + name_len + (after[name_len..].len() - rest.len());
        let mut depth = 0;
        for (k, &c) in b[open..].iter().enumerate() {
            match c {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        out.push((open, open + k));
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// The longest known module that `path` starts with.
fn resolve<'a>(path: &str, modules: &'a BTreeSet<String>) -> Option<&'a String> {
    let parts: Vec<&str> = path.split("::").collect();
    (1..=parts.len())
        .rev()
        .find_map(|n| modules.get(&parts[..n].join("::")))
}

fn top(module: &str) -> &str {
    module.split("::").next().unwrap_or("")
}

fn graph() -> (Vec<Use>, BTreeSet<String>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = sources(&src);
    // Binary modules are named `bin::cli::...` while resolving, so `crate::` in the binary and
    // `crate::` in the library never meet.
    let name = |s: &Source| {
        if s.bin {
            match s.module.as_str() {
                "main" => "bin".to_string(),
                m => format!("bin::{m}"),
            }
        } else {
            s.module.clone()
        }
    };
    let modules: BTreeSet<String> = files.iter().map(name).collect();
    let mut uses = Vec::new();
    for f in &files {
        let from = name(f);
        for (path, line, text) in references(f) {
            let Some(to) = resolve(&path, &modules) else {
                continue;
            };
            if *to == from {
                continue;
            }
            uses.push(Use {
                from: from.clone(),
                to: to.clone(),
                file: Path::new("src").join(&f.path),
                line,
                text,
            });
        }
    }
    (uses, modules)
}

/// The layer a module is in: binary modules (`bin::cli::x`, `bin`) by their name without `bin`.
fn layer_of(module: &str) -> Option<usize> {
    rank(top(&display(module)))
}

fn display(module: &str) -> String {
    match module {
        "" => "lib.rs".into(),
        // main.rs and cli/ are one binary: one top module.
        "bin" => "cli".into(),
        m => m.strip_prefix("bin::").unwrap_or(m).to_string(),
    }
}

/// The rule a use breaks, if any.
fn broken_rule(u: &Use) -> Option<String> {
    let (from, to) = (display(&u.from), display(&u.to));
    if from == "lib.rs" {
        // The crate root declares every module and re-exports the error type.
        return None;
    }
    if to == "lib.rs" {
        return Some(format!(
            "{from} names an item of the crate root; name the module that defines it"
        ));
    }
    let (Some(a), Some(b)) = (layer_of(&u.from), layer_of(&u.to)) else {
        return Some(format!(
            "{from} or {to} is in no layer: add its folder to LAYERS (tests/it/architecture.rs) and src/lib.rs"
        ));
    };
    if b > a {
        return Some(format!(
            "{from} ({}) uses {to} ({}), a higher layer",
            LAYERS[a].0, LAYERS[b].0
        ));
    }
    if a == b && a > 0 && top(&from) != top(&to) {
        return Some(format!(
            "{from} and {to} are both {}: one may not use the other",
            LAYERS[a].0
        ));
    }
    // Inside a folder, files name each other: `mod.rs` only declares and re-exports for others.
    let folder = |m: &str| m.rsplit_once("::").map(|(f, _)| f.to_string());
    if folder(&u.from).as_deref() == Some(u.to.as_str()) {
        return Some(format!(
            "{from} reaches a sibling through its folder's mod.rs ({to}); name the file that defines it"
        ));
    }
    None
}

#[test]
fn no_module_uses_a_higher_layer_or_a_peer_front_end() {
    let (uses, modules) = graph();
    for m in &modules {
        if m.is_empty() || m == "bin" {
            continue;
        }
        assert!(
            layer_of(m).is_some(),
            "module {} is in no layer: add its folder to LAYERS here and to src/lib.rs's diagram",
            display(m)
        );
    }
    let broken: Vec<String> = uses
        .iter()
        .filter_map(|u| broken_rule(u).map(|why| format!("{why}\n    {u}")))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(
        broken.is_empty(),
        "{} use(s) break the layering:\n{}",
        broken.len(),
        broken.join("\n")
    );
}

/// Strongly connected components of more than one module (Tarjan's algorithm, iterative enough
/// for a few hundred modules).
fn cycles(nodes: &BTreeSet<String>, edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<String, usize>,
        low: BTreeMap<String, usize>,
        stack: Vec<String>,
        on_stack: BTreeSet<String>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit(s: &mut State<'_>, v: &str) {
        s.index.insert(v.to_string(), s.next);
        s.low.insert(v.to_string(), s.next);
        s.next += 1;
        s.stack.push(v.to_string());
        s.on_stack.insert(v.to_string());
        let targets: Vec<String> = s.edges.get(v).map(|t| t.iter().cloned().collect()).unwrap_or_default();
        for w in targets {
            if !s.index.contains_key(&w) {
                visit(s, &w);
                let lw = s.low[&w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(&w) {
                let iw = s.index[&w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(&w);
                let done = w == v;
                comp.push(w);
                if done {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.out.push(comp);
            }
        }
    }
    let mut s = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for n in nodes {
        if !s.index.contains_key(n) {
            visit(&mut s, n);
        }
    }
    s.out
}

#[test]
fn modules_form_no_cycle() {
    let (uses, modules) = graph();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for u in &uses {
        edges.entry(u.from.clone()).or_default().insert(u.to.clone());
    }
    let found = cycles(&modules, &edges);
    let report: Vec<String> = found
        .iter()
        .map(|comp| {
            let inside: BTreeSet<&String> = comp.iter().collect();
            let lines: BTreeSet<String> = uses
                .iter()
                .filter(|u| inside.contains(&u.from) && inside.contains(&u.to))
                .map(|u| format!("    {} -> {}: {u}", display(&u.from), display(&u.to)))
                .collect();
            format!(
                "cycle among {}:\n{}",
                comp.iter().map(|m| display(m)).collect::<Vec<_>>().join(", "),
                lines.into_iter().collect::<Vec<_>>().join("\n")
            )
        })
        .collect();
    assert!(report.is_empty(), "{}", report.join("\n"));
}

#[test]
fn no_file_is_too_long_to_read() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let long: Vec<String> = sources(&src)
        .iter()
        .map(|s| (s.path.display().to_string(), s.text.lines().count()))
        .filter(|(_, n)| *n > MAX_LINES)
        .map(|(p, n)| format!("src/{p}: {n} lines"))
        .collect();
    assert!(
        long.is_empty(),
        "files over {MAX_LINES} lines; split them by job:\n{}",
        long.join("\n")
    );
}

/// The repository's top level holds the prescribed entries and nothing else (a stray file once
/// sat there unnoticed for weeks). Reads what git tracks, so build output does not count.
#[test]
fn the_top_level_holds_only_the_prescribed_entries() {
    const ALLOWED: [&str; 12] = [
        "Cargo.toml",
        "Cargo.lock",
        "src",
        "queries",
        "captures",
        "config",
        "tests",
        "README.md",
        ".ci",
        "build.rs",
        ".gitignore",
        ".rustfmt.toml",
    ];
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new("git")
        .args(["ls-files"])
        .current_dir(root)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git ls-files: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tracked = String::from_utf8_lossy(&out.stdout).into_owned();
    let top: BTreeSet<&str> = tracked.lines().filter_map(|l| l.split('/').next()).collect();
    assert!(top.contains("src") && top.contains("Cargo.toml"), "git listed: {top:?}");
    let stray: Vec<&&str> = top.iter().filter(|t| !ALLOWED.contains(t)).collect();
    assert!(stray.is_empty(), "not prescribed at the top level: {stray:?}");
}

/// The test itself: a backwards use, a peer front-end and a cycle are each caught.
#[test]
fn the_rules_catch_what_they_are_for() {
    let u = |from: &str, to: &str| Use {
        from: from.into(),
        to: to.into(),
        file: "src/x.rs".into(),
        line: 1,
        text: String::new(),
    };
    assert!(broken_rule(&u("decode::dns", "table::schema")).is_some(), "backwards");
    assert!(broken_rule(&u("table::load", "decode::dns")).is_none(), "downwards");
    assert!(broken_rule(&u("agent", "mcp::server")).is_some(), "peer front-ends");
    assert!(
        broken_rule(&u("bin::cli::run", "mcp")).is_none(),
        "the binary uses front-ends"
    );
    assert!(
        broken_rule(&u("decode::dns", "decode")).is_some(),
        "through the folder's mod.rs"
    );
    assert!(
        broken_rule(&u("config", "error")).is_none(),
        "base modules use each other"
    );
    let nodes: BTreeSet<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    edges.entry("a".into()).or_default().insert("b".into());
    edges.entry("b".into()).or_default().insert("a".into());
    edges.entry("b".into()).or_default().insert("c".into());
    assert_eq!(cycles(&nodes, &edges), vec![vec!["a".to_string(), "b".to_string()]]);
    let mut paths = Vec::new();
    use_tree(b"a::b::{c, d::{e, f as g}, self}", 0, "", &mut paths);
    assert_eq!(paths, ["a::b::c", "a::b::d::e", "a::b::d::f", "a::b"]);
}
