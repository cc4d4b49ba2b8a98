//! bindings: the query language's types and functions, registered into Rhai. Scripts build
//! Polars *lazy* plans through them — `packets().filter(col("dst_port") == 443).group_by(["src_ip"])
//! .agg([count()])` becomes one LazyFrame that Polars optimises and runs in parallel; no binding
//! loops over rows in Rhai.
//!
//! Text columns are Categorical: string predicates (contains, regex, CIDR tests, entropy) are
//! computed once per distinct value of the dictionary and then mapped onto the rows.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use polars::prelude::*;
use rhai::{Array, Dynamic, Engine, EvalAltResult, ImmutableString, Map as RMap, Position};

/// A table being built (lazy until a result is needed).
#[derive(Clone)]
pub struct Frame(pub LazyFrame);

/// A column expression.
#[derive(Clone)]
pub struct Ex(pub Expr);

/// A table grouped by keys, waiting for `.agg([...])`.
#[derive(Clone)]
pub struct Grouped {
    lf: LazyFrame,
    keys: Vec<Expr>,
}

/// Severity of a finding, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn parse(s: &str) -> Option<Severity> {
        Some(match s.to_ascii_lowercase().as_str() {
            "info" => Severity::Info,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// A finding as a script produced it: severity, title, facts and the evidence rows.
#[derive(Clone)]
pub struct Finding {
    pub severity: Severity,
    pub title: String,
    /// Named facts (scanner address, target, counts...), shown and exported with the finding.
    pub facts: RMap,
    pub evidence: Option<LazyFrame>,
}

/// A template to make one finding per row of a table (see `findings(...)`).
#[derive(Clone)]
pub struct FindingRows {
    pub table: LazyFrame,
    pub severity: Severity,
    pub title: String,
}

/// What the data functions (`packets()`, `flows()`, `events()`, `stacks()`) return.
pub trait DataSource: Send + Sync {
    fn packets(&self) -> crate::error::Result<LazyFrame>;
    fn flows(&self) -> crate::error::Result<LazyFrame>;

    /// The event rows of the packets (see [`crate::table::events::EVENTS_DOC`]). Tables split at load
    /// time hand them over without a scan; this default filters the packets.
    fn events(&self) -> crate::error::Result<LazyFrame> {
        Ok(self.packets()?.filter(crate::table::events::event_expr()))
    }

    /// Frames and bytes per protocol stack. Loaded captures count them while decoding; this
    /// default groups the packets.
    fn stacks(&self) -> crate::error::Result<LazyFrame> {
        Ok(crate::table::stacks::stacks_of(self.packets()?))
    }
}

/// Failed `assert(...)` calls of one run.
pub type Failures = Arc<Mutex<Vec<String>>>;

type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

fn err<T>(msg: impl Into<String>) -> RhaiResult<T> {
    Err(Box::new(EvalAltResult::ErrorRuntime(
        Dynamic::from(msg.into()),
        Position::NONE,
    )))
}

fn perr<T>(e: PolarsError) -> RhaiResult<T> {
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

/// Anything a script may pass where an expression is expected: an expression, a column name in
/// a list of columns, or a literal.
fn to_expr(d: &Dynamic, names_are_columns: bool) -> RhaiResult<Expr> {
    if let Some(e) = d.clone().try_cast::<Ex>() {
        return Ok(e.0);
    }
    if d.is_string() {
        let s = d.clone().into_string().unwrap_or_default();
        return Ok(if names_are_columns { col(s.as_str()) } else { lit(s) });
    }
    lit_of(d)
}

fn lit_of(d: &Dynamic) -> RhaiResult<Expr> {
    if let Ok(i) = d.as_int() {
        return Ok(lit(i));
    }
    if let Ok(f) = d.as_float() {
        return Ok(lit(f));
    }
    if let Ok(b) = d.as_bool() {
        return Ok(lit(b));
    }
    if d.is_string() {
        return Ok(lit(d.clone().into_string().unwrap_or_default()));
    }
    if d.is_unit() {
        return Ok(lit(NULL));
    }
    err(format!("cannot use a {} as a value in a query", d.type_name()))
}

fn exprs(a: &Array, names_are_columns: bool) -> RhaiResult<Vec<Expr>> {
    a.iter().map(|d| to_expr(d, names_are_columns)).collect()
}

fn names(a: &Array) -> RhaiResult<Vec<String>> {
    a.iter()
        .map(|d| {
            d.clone()
                .into_string()
                .map_err(|t| format!("expected column names, found a {t}").into())
        })
        .collect()
}

/// Parse `30s`, `5m`, `1h`, `500ms`, `2d` into a Polars duration string (validated).
fn duration_text(s: &str) -> RhaiResult<String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    if n.is_empty() || n.parse::<u64>().is_err() {
        return err(format!("bad duration '{s}': use e.g. 30s, 5m, 1h, 500ms, 1d"));
    }
    let unit = match unit {
        "ns" => "ns",
        "us" => "us",
        "ms" => "ms",
        "s" => "s",
        "m" | "min" => "m",
        "h" => "h",
        "d" => "d",
        "w" => "w",
        _ => return err(format!("bad duration unit in '{s}': use ms, s, m, h, d or w")),
    };
    Ok(format!("{n}{unit}"))
}

/// Nanoseconds in a duration such as `5m`.
pub fn duration_ns(s: &str) -> RhaiResult<i64> {
    let d = duration_text(s)?;
    let split = d.find(|c: char| !c.is_ascii_digit()).unwrap_or(d.len());
    let n: i64 = d[..split].parse().unwrap_or(0);
    let mult: i64 = match &d[split..] {
        "ns" => 1,
        "us" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        "w" => 604_800_000_000_000,
        _ => 1,
    };
    Ok(n.saturating_mul(mult))
}

// ---------------------------------------------------------------------------------------------
// Text predicates evaluated on the dictionary

/// Apply `f` to each distinct text value of a (Categorical or String) column.
fn map_text<T, F>(c: &Column, f: F) -> PolarsResult<Vec<Option<T>>>
where
    T: Copy,
    F: Fn(&str) -> T,
{
    let s = c.as_materialized_series();
    match s.dtype() {
        DataType::Categorical(..) | DataType::Enum(..) => {
            let s = s.cast(&DataType::Categorical(
                Categories::global(),
                Categories::global().mapping(),
            ))?;
            let ca = s.cat32()?;
            let mapping = ca.get_mapping().clone();
            // Each distinct value once; rows mostly repeat the row before, so that is checked
            // first (a hashed look-up per row was most of a DNS name test's time).
            let mut memo: PlHashMap<u32, Option<T>> = PlHashMap::default();
            let mut last: Option<(u32, Option<T>)> = None;
            Ok(ca
                .physical()
                .iter()
                .map(|code| {
                    let code = code?;
                    if let Some((c, v)) = last
                        && c == code
                    {
                        return v;
                    }
                    let v = *memo.entry(code).or_insert_with(|| mapping.cat_to_str(code).map(&f));
                    last = Some((code, v));
                    v
                })
                .collect())
        }
        DataType::String => Ok(s.str()?.iter().map(|v| v.map(&f)).collect()),
        other => {
            let s = s.cast(&DataType::String)?;
            let _ = other;
            Ok(s.str()?.iter().map(|v| v.map(&f)).collect())
        }
    }
}

fn text_bool(e: Expr, name: &'static str, f: impl Fn(&str) -> bool + Send + Sync + 'static) -> Expr {
    e.map(
        move |c: Column| {
            let v = map_text(&c, &f)?;
            Ok(BooleanChunked::from_iter_options(c.name().clone(), v.into_iter()).into_column())
        },
        |_, field| Ok(Field::new(field.name().clone(), DataType::Boolean)),
    )
    .alias(name)
}

fn text_f64(e: Expr, f: impl Fn(&str) -> f64 + Send + Sync + 'static) -> Expr {
    e.map(
        move |c: Column| {
            let v = map_text(&c, &f)?;
            Ok(Float64Chunked::from_iter_options(c.name().clone(), v.into_iter()).into_column())
        },
        |_, field| Ok(Field::new(field.name().clone(), DataType::Float64)),
    )
}

/// Shannon entropy in bits per character.
pub fn entropy(s: &str) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// `10.0.0.0/8` or a single address.
#[derive(Clone, Copy)]
struct Cidr {
    net: IpAddr,
    bits: u8,
}

impl Cidr {
    fn parse(s: &str) -> Option<Cidr> {
        let (a, bits) = match s.split_once('/') {
            Some((a, b)) => (a, Some(b.parse::<u8>().ok()?)),
            None => (s, None),
        };
        let net: IpAddr = a.trim().parse().ok()?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits = bits.unwrap_or(max);
        (bits <= max).then_some(Cidr { net, bits })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = if self.bits == 0 {
                    0
                } else {
                    u32::MAX << (32 - self.bits)
                };
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = if self.bits == 0 {
                    0
                } else {
                    u128::MAX << (128 - self.bits)
                };
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            a.is_private()
                || a.is_loopback()
                || a.is_link_local()
                || a.octets()[0] == 100 && (a.octets()[1] & 0xc0) == 64
        }
        IpAddr::V6(a) => {
            a.is_loopback() || (a.segments()[0] & 0xfe00) == 0xfc00 || (a.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Registration

/// Register the query language into `engine`, reading data from `data`.
pub fn register(engine: &mut Engine, data: Arc<dyn DataSource>, failures: Failures) {
    engine.register_type_with_name::<Frame>("Frame");
    engine.register_type_with_name::<Ex>("Expr");
    engine.register_type_with_name::<Grouped>("GroupBy");
    engine.register_type_with_name::<Finding>("Finding");
    engine.register_type_with_name::<FindingRows>("Findings");

    // Data
    let d = data.clone();
    engine.register_fn("packets", move || -> RhaiResult<Frame> {
        d.packets().map(Frame).or_else(|e| err(e.to_string()))
    });
    let d = data.clone();
    engine.register_fn("flows", move || -> RhaiResult<Frame> {
        d.flows().map(Frame).or_else(|e| err(e.to_string()))
    });
    let d = data.clone();
    engine.register_fn("events", move || -> RhaiResult<Frame> {
        d.events().map(Frame).or_else(|e| err(e.to_string()))
    });
    let d = data;
    engine.register_fn("stacks", move || -> RhaiResult<Frame> {
        d.stacks().map(Frame).or_else(|e| err(e.to_string()))
    });

    engine.register_global_module(LANGUAGE.clone());
    register_findings(engine, failures);
}

/// The functions that read no data (expressions, table verbs, operators): registered once per
/// process into a shared module, as Rhai's standard library is, instead of into the engine of
/// every query a suite runs (~0.3 ms each).
static LANGUAGE: std::sync::LazyLock<rhai::Shared<rhai::Module>> = std::sync::LazyLock::new(|| {
    let mut functions = Functions(rhai::Module::new());
    register_exprs(&mut functions);
    register_frames(&mut functions);
    let mut module = functions.0;
    module.build_index();
    module.into()
});

/// Registers functions into a module with the same calls as into an engine.
struct Functions(rhai::Module);

impl Functions {
    fn register_fn<A: 'static, const N: usize, const X: bool, R: rhai::Variant + Clone, const F: bool>(
        &mut self,
        name: &str,
        func: impl rhai::RhaiNativeFunc<A, N, X, R, F> + Send + Sync + 'static,
    ) -> &mut Self {
        rhai::FuncRegistration::new(name)
            .in_global_namespace()
            .set_into_module(&mut self.0, func);
        self
    }
}

fn register_exprs(engine: &mut Functions) {
    engine.register_fn("col", |name: ImmutableString| Ex(col(name.as_str())));
    engine.register_fn("lit", |v: Dynamic| -> RhaiResult<Ex> { lit_of(&v).map(Ex) });
    engine.register_fn("every", |d: ImmutableString| -> RhaiResult<Ex> {
        let d = duration_text(&d)?;
        Ok(Ex(col("ts").dt().truncate(lit(d)).alias("time")))
    });
    engine.register_fn("duration_ns", |d: ImmutableString| -> RhaiResult<i64> {
        duration_ns(&d)
    });
    engine.register_fn("when", |c: Ex, a: Dynamic, b: Dynamic| -> RhaiResult<Ex> {
        Ok(Ex(when(c.0).then(to_expr(&a, false)?).otherwise(to_expr(&b, false)?)))
    });

    // Aggregations by column name (count() counts rows).
    engine.register_fn("count", || Ex(len().alias("count")));
    for (name, f) in [
        ("sum", (|e: Expr| e.sum()) as fn(Expr) -> Expr),
        ("mean", |e: Expr| e.mean()),
        ("min", |e: Expr| e.min()),
        ("max", |e: Expr| e.max()),
        ("first", |e: Expr| e.first()),
        ("last", |e: Expr| e.last()),
        ("n_unique", |e: Expr| e.n_unique()),
        ("median", |e: Expr| e.median()),
        ("std", |e: Expr| e.std(1)),
    ] {
        engine.register_fn(name, move |c: ImmutableString| -> Ex {
            let e = col(c.as_str());
            // Sums of byte and packet counts would overflow narrow integer types.
            Ex(if name == "sum" { widen(e).sum() } else { f(e) })
        });
        engine.register_fn(name, move |e: Ex| -> Ex {
            Ex(if name == "sum" { widen(e.0).sum() } else { f(e.0) })
        });
    }

    // Methods on expressions.
    engine.register_fn("alias", |e: Ex, n: ImmutableString| Ex(e.0.alias(n.as_str())));
    engine.register_fn("count", |e: Ex| Ex(e.0.count()));
    engine.register_fn("len", |e: Ex| Ex(e.0.len()));
    engine.register_fn("unique", |e: Ex| Ex(e.0.unique()));
    engine.register_fn("head", |e: Ex, n: i64| Ex(e.0.head(Some(n.max(0) as usize))));
    engine.register_fn("is_null", |e: Ex| Ex(e.0.is_null()));
    engine.register_fn("is_not_null", |e: Ex| Ex(e.0.is_not_null()));
    engine.register_fn("fill_null", |e: Ex, v: Dynamic| -> RhaiResult<Ex> {
        Ok(Ex(e.0.fill_null(to_expr(&v, false)?)))
    });
    engine.register_fn("abs", |e: Ex| Ex(e.0.abs()));
    engine.register_fn("round", |e: Ex, d: i64| {
        Ex(e.0.round(d.clamp(0, 15) as u32, RoundMode::HalfAwayFromZero))
    });
    engine.register_fn("not", |e: Ex| Ex(e.0.not()));
    engine.register_fn("filter", |e: Ex, cond: Ex| Ex(e.0.filter(cond.0)));
    // tcp_flag("SYN") / tcp_flag("S"): is that flag set in tcp_flags?
    engine.register_fn("tcp_flag", |name: ImmutableString| -> RhaiResult<Ex> {
        let bit: u8 = match name.to_ascii_uppercase().as_str() {
            "F" | "FIN" => 1,
            "S" | "SYN" => 2,
            "R" | "RST" => 4,
            "P" | "PSH" => 8,
            "A" | "ACK" => 16,
            "U" | "URG" => 32,
            "E" | "ECE" => 64,
            "C" | "CWR" => 128,
            other => {
                return err(format!(
                    "unknown TCP flag '{other}': use SYN, ACK, FIN, RST, PSH, URG, ECE, CWR"
                ));
            }
        };
        // One bitwise AND and a compare (the division and modulo this replaced were four
        // passes over the column, per flag asked for).
        Ok(Ex(col("tcp_flags").and(lit(bit)).neq(lit(0u8))))
    });
    engine.register_fn("and", |a: Ex, b: Ex| Ex(a.0.and(b.0)));
    engine.register_fn("or", |a: Ex, b: Ex| Ex(a.0.or(b.0)));
    engine.register_fn("quantile", |e: Ex, q: f64| {
        Ex(e.0.quantile(lit(q), QuantileMethod::Linear))
    });
    engine.register_fn("shift", |e: Ex, n: i64| Ex(e.0.shift(lit(n))));
    engine.register_fn("diff", |e: Ex| {
        Ex(e.0.diff(lit(1i64), polars::series::ops::NullBehavior::Ignore))
    });
    engine.register_fn("cum_sum", |e: Ex| Ex(e.0.cum_sum(false)));
    engine.register_fn("between", |e: Ex, a: Dynamic, b: Dynamic| -> RhaiResult<Ex> {
        Ok(Ex(e.0.is_between(
            to_expr(&a, false)?,
            to_expr(&b, false)?,
            ClosedInterval::Both,
        )))
    });
    engine.register_fn("is_in", |e: Ex, values: Array| -> RhaiResult<Ex> {
        let s = array_series(&values)?;
        Ok(Ex(e.0.is_in(lit(s).implode(false), false)))
    });
    // `x in [..]` in Rhai calls contains(container, item).
    engine.register_fn("contains", |values: Array, e: Ex| -> RhaiResult<Ex> {
        let s = array_series(&values)?;
        Ok(Ex(e.0.is_in(lit(s).implode(false), false)))
    });
    engine.register_fn("over", |e: Ex, keys: Array| -> RhaiResult<Ex> {
        e.0.over(exprs(&keys, true)?).map(Ex).or_else(perr)
    });
    engine.register_fn("cast", |e: Ex, t: ImmutableString| -> RhaiResult<Ex> {
        let dt = match t.as_str() {
            "i64" | "int" => DataType::Int64,
            "u64" => DataType::UInt64,
            "u32" => DataType::UInt32,
            "f64" | "float" => DataType::Float64,
            "str" | "string" | "text" => DataType::String,
            "bool" => DataType::Boolean,
            other => return err(format!("cannot cast to '{other}': use i64, u64, u32, f64, str or bool")),
        };
        Ok(Ex(e.0.cast(dt)))
    });
    engine.register_fn("sort", |e: Ex| Ex(e.0.sort(SortOptions::default())));
    engine.register_fn("sort", |e: Ex, desc: bool| {
        Ex(e.0.sort(SortOptions::default().with_order_descending(desc)))
    });

    // Time
    engine.register_fn("hour", |e: Ex| Ex(e.0.dt().hour()));
    engine.register_fn("minute", |e: Ex| Ex(e.0.dt().minute()));
    engine.register_fn("epoch_s", |e: Ex| {
        Ex(e.0.dt().timestamp(TimeUnit::Nanoseconds).cast(DataType::Float64) / lit(1e9))
    });
    engine.register_fn("truncate", |e: Ex, d: ImmutableString| -> RhaiResult<Ex> {
        Ok(Ex(e.0.dt().truncate(lit(duration_text(&d)?))))
    });
    engine.register_fn("seconds", |e: Ex| {
        Ex(e.0.cast(DataType::Int64).cast(DataType::Float64) / lit(1e9))
    });

    // Text (works on the dictionary of Categorical columns)
    engine.register_fn("contains", |e: Ex, pat: ImmutableString| {
        let p = pat.to_string();
        Ex(text_bool(e.0, "contains", move |s| s.contains(p.as_str())))
    });
    engine.register_fn("starts_with", |e: Ex, pat: ImmutableString| {
        let p = pat.to_string();
        Ex(text_bool(e.0, "starts_with", move |s| s.starts_with(p.as_str())))
    });
    engine.register_fn("ends_with", |e: Ex, pat: ImmutableString| {
        let p = pat.to_string();
        Ex(text_bool(e.0, "ends_with", move |s| s.ends_with(p.as_str())))
    });
    engine.register_fn("matches", |e: Ex, pat: ImmutableString| -> RhaiResult<Ex> {
        let re = regex_lite(&pat)?;
        Ok(Ex(text_bool(e.0, "matches", move |s| re.is_match(s))))
    });
    engine.register_fn("str_len", |e: Ex| {
        Ex(text_f64(e.0, |s| s.chars().count() as f64).cast(DataType::Int64))
    });
    engine.register_fn("entropy", |e: Ex| Ex(text_f64(e.0, entropy)));
    // The first DNS label (before the first dot): its entropy and length.
    engine.register_fn("label_entropy", |e: Ex| {
        Ex(text_f64(e.0, |s| entropy(s.split('.').next().unwrap_or(""))))
    });
    engine.register_fn("label_len", |e: Ex| {
        Ex(text_f64(e.0, |s| s.split('.').next().unwrap_or("").chars().count() as f64).cast(DataType::Int64))
    });
    engine.register_fn("labels", |e: Ex| {
        Ex(text_f64(e.0, |s| s.split('.').filter(|l| !l.is_empty()).count() as f64).cast(DataType::Int64))
    });
    engine.register_fn("to_lower", |e: Ex| Ex(e.0.cast(DataType::String).str().to_lowercase()));
    engine.register_fn("to_upper", |e: Ex| Ex(e.0.cast(DataType::String).str().to_uppercase()));
    engine.register_fn("to_text", |e: Ex| Ex(e.0.cast(DataType::String)));
    engine.register_fn("split", |e: Ex, sep: ImmutableString| {
        Ex(e.0.cast(DataType::String).str().split(lit(sep.to_string())))
    });
    engine.register_fn("join_text", |e: Ex, sep: ImmutableString| {
        Ex(e.0.cast(DataType::String).list().join(lit(sep.to_string()), true))
    });

    // Addresses
    engine.register_fn("in_cidr", |e: Ex, net: ImmutableString| -> RhaiResult<Ex> {
        let Some(c) = Cidr::parse(&net) else {
            return err(format!("bad network '{net}': use e.g. 10.0.0.0/8 or 2001:db8::/32"));
        };
        Ok(Ex(text_bool(e.0, "in_cidr", move |s| {
            s.parse::<IpAddr>().is_ok_and(|ip| c.contains(ip))
        })))
    });
    engine.register_fn("is_private", |e: Ex| {
        Ex(text_bool(e.0, "is_private", |s| {
            s.parse::<IpAddr>().is_ok_and(is_private)
        }))
    });
    engine.register_fn("is_multicast", |e: Ex| {
        Ex(text_bool(e.0, "is_multicast", |s| {
            s.parse::<IpAddr>().is_ok_and(|ip| {
                ip.is_multicast() || matches!(ip, IpAddr::V4(a) if a.is_broadcast() || a.octets()[3] == 255)
            })
        }))
    });
    engine.register_fn("is_loopback", |e: Ex| {
        Ex(text_bool(e.0, "is_loopback", |s| {
            s.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }))
    });

    // Operators. Rhai's && and || are re-mapped to & and | by the engine (same precedence), so
    // they reach these overloads.
    macro_rules! cmp {
        ($op:literal, $m:ident) => {
            engine.register_fn($op, |a: Ex, b: Ex| Ex(a.0.$m(b.0)));
            engine.register_fn($op, |a: Ex, b: i64| Ex(a.0.$m(lit(b))));
            engine.register_fn($op, |a: Ex, b: f64| Ex(a.0.$m(lit(b))));
            engine.register_fn($op, |a: Ex, b: ImmutableString| Ex(a.0.$m(lit(b.to_string()))));
            engine.register_fn($op, |a: Ex, b: bool| Ex(a.0.$m(lit(b))));
            engine.register_fn($op, |a: i64, b: Ex| Ex(lit(a).$m(b.0)));
            engine.register_fn($op, |a: f64, b: Ex| Ex(lit(a).$m(b.0)));
            engine.register_fn($op, |a: ImmutableString, b: Ex| Ex(lit(a.to_string()).$m(b.0)));
        };
    }
    cmp!("==", eq);
    cmp!("!=", neq);
    cmp!("<", lt);
    cmp!("<=", lt_eq);
    cmp!(">", gt);
    cmp!(">=", gt_eq);
    macro_rules! arith {
        ($op:literal, $t:tt) => {
            engine.register_fn($op, |a: Ex, b: Ex| Ex(a.0 $t b.0));
            engine.register_fn($op, |a: Ex, b: i64| Ex(a.0 $t lit(b)));
            engine.register_fn($op, |a: Ex, b: f64| Ex(a.0 $t lit(b)));
            engine.register_fn($op, |a: i64, b: Ex| Ex(lit(a) $t b.0));
            engine.register_fn($op, |a: f64, b: Ex| Ex(lit(a) $t b.0));
        };
    }
    arith!("+", +);
    arith!("-", -);
    arith!("*", *);
    arith!("/", /);
    arith!("%", %);
    engine.register_fn("-", |a: Ex| Ex(lit(0i64) - a.0));
    engine.register_fn("&", |a: Ex, b: Ex| Ex(a.0.and(b.0)));
    engine.register_fn("&", |a: Ex, b: bool| Ex(a.0.and(lit(b))));
    engine.register_fn("&", |a: bool, b: Ex| Ex(lit(a).and(b.0)));
    engine.register_fn("|", |a: Ex, b: Ex| Ex(a.0.or(b.0)));
    engine.register_fn("|", |a: Ex, b: bool| Ex(a.0.or(lit(b))));
    engine.register_fn("|", |a: bool, b: Ex| Ex(lit(a).or(b.0)));
    engine.register_fn("!", |a: Ex| Ex(a.0.not()));
    engine.register_fn("to_string", |e: &mut Ex| format!("{}", e.0));
    engine.register_fn("to_debug", |e: &mut Ex| format!("{}", e.0));
}

/// Rows of a table. Counted through its first column: polars 0.55 rewrites a bare `len()` over a
/// union of tables into a UInt128 sum that this build of polars cannot cast.
pub fn row_count(mut lf: LazyFrame) -> PolarsResult<i64> {
    let first = lf.collect_schema()?.iter_names().next().cloned();
    let e = match first {
        Some(name) => col(name).is_null().count(),
        None => len(),
    };
    let df = lf.select([e.alias("n")]).collect()?;
    Ok(df.column("n")?.get(0)?.extract::<i64>().unwrap_or(0))
}

/// Integers widened to i64 (floats and others unchanged), so sums cannot overflow a u32.
fn widen(e: Expr) -> Expr {
    fn wide(dt: &DataType) -> DataType {
        if dt.is_integer() || dt.is_bool() {
            DataType::Int64
        } else {
            dt.clone()
        }
    }
    e.map(
        |c: Column| {
            let dt = wide(c.dtype());
            c.cast(&dt)
        },
        |_, field| Ok(Field::new(field.name().clone(), wide(field.dtype()))),
    )
}

/// A tiny regex wrapper so scripts get a clear error for a bad pattern.
fn regex_lite(pat: &str) -> RhaiResult<Arc<regex::Regex>> {
    match regex::Regex::new(pat) {
        Ok(r) => Ok(Arc::new(r)),
        Err(e) => err(format!("bad regular expression: {e}")),
    }
}

fn array_series(values: &Array) -> RhaiResult<Series> {
    if values.iter().all(|v| v.is_int()) {
        let v: Vec<i64> = values.iter().map(|v| v.as_int().unwrap_or(0)).collect();
        Ok(Series::new("values".into(), v))
    } else if values.iter().all(|v| v.is_float() || v.is_int()) {
        let v: Vec<f64> = values
            .iter()
            .map(|v| v.as_float().or_else(|_| v.as_int().map(|i| i as f64)).unwrap_or(0.0))
            .collect();
        Ok(Series::new("values".into(), v))
    } else if values.iter().all(|v| v.is_string()) {
        let v: Vec<String> = values
            .iter()
            .map(|v| v.clone().into_string().unwrap_or_default())
            .collect();
        Ok(Series::new("values".into(), v))
    } else {
        err("is_in needs a list of numbers or a list of strings")
    }
}

fn join_type(how: &str) -> RhaiResult<JoinType> {
    Ok(match how {
        "inner" => JoinType::Inner,
        "left" => JoinType::Left,
        "right" => JoinType::Right,
        "full" | "outer" => JoinType::Full,
        "semi" => JoinType::Semi,
        "anti" => JoinType::Anti,
        "cross" => JoinType::Cross,
        other => {
            return err(format!(
                "unknown join '{other}': use inner, left, right, full, semi, anti or cross"
            ));
        }
    })
}

/// Joins keep one key column (a full join fills it from whichever side has the key).
fn join_args(jt: JoinType) -> JoinArgs {
    JoinArgs::new(jt).with_coalesce(JoinCoalesce::CoalesceColumns)
}

fn register_frames(engine: &mut Functions) {
    engine.register_fn("filter", |f: Frame, e: Ex| Frame(f.0.filter(e.0)));
    engine.register_fn("select", |f: Frame, cols: Array| -> RhaiResult<Frame> {
        Ok(Frame(f.0.select(exprs(&cols, true)?)))
    });
    engine.register_fn("select", |f: Frame, c: ImmutableString| {
        Frame(f.0.select([col(c.as_str())]))
    });
    engine.register_fn("with_column", |f: Frame, e: Ex| Frame(f.0.with_column(e.0)));
    engine.register_fn("with_columns", |f: Frame, cols: Array| -> RhaiResult<Frame> {
        Ok(Frame(f.0.with_columns(exprs(&cols, false)?)))
    });
    engine.register_fn("drop", |f: Frame, cols: Array| -> RhaiResult<Frame> {
        let n = names(&cols)?;
        Ok(Frame(f.0.drop(cols_selector(n))))
    });
    engine.register_fn("rename", |f: Frame, from: ImmutableString, to: ImmutableString| {
        Frame(f.0.rename([from.as_str()], [to.as_str()], true))
    });
    engine.register_fn("group_by", |f: Frame, keys: Array| -> RhaiResult<Grouped> {
        Ok(Grouped {
            lf: f.0,
            keys: exprs(&keys, true)?,
        })
    });
    engine.register_fn("group_by", |f: Frame, key: ImmutableString| Grouped {
        lf: f.0,
        keys: vec![col(key.as_str())],
    });
    engine.register_fn("group_by", |f: Frame, key: Ex| Grouped {
        lf: f.0,
        keys: vec![key.0],
    });
    engine.register_fn("agg", |g: Grouped, aggs: Array| -> RhaiResult<Frame> {
        Ok(Frame(g.lf.group_by(g.keys).agg(exprs(&aggs, true)?)))
    });
    engine.register_fn("sort", |f: Frame, c: ImmutableString| {
        Frame(f.0.sort([c.as_str()], Default::default()))
    });
    engine.register_fn("sort", |f: Frame, c: ImmutableString, desc: bool| {
        Frame(
            f.0.sort(
                [c.as_str()],
                SortMultipleOptions::default()
                    .with_order_descending(desc)
                    .with_nulls_last(true),
            ),
        )
    });
    engine.register_fn("sort", |f: Frame, cols: Array, desc: Array| -> RhaiResult<Frame> {
        let n = names(&cols)?;
        let d: Vec<bool> = desc.iter().map(|v| v.as_bool().unwrap_or(false)).collect();
        if d.len() != n.len() {
            return err("sort: give one true/false per column");
        }
        Ok(Frame(
            f.0.sort(
                n,
                SortMultipleOptions::default()
                    .with_order_descending_multi(d)
                    .with_nulls_last(true),
            ),
        ))
    });
    engine.register_fn("head", |f: Frame, n: i64| Frame(f.0.limit(n.max(0) as IdxSize)));
    engine.register_fn("limit", |f: Frame, n: i64| Frame(f.0.limit(n.max(0) as IdxSize)));
    engine.register_fn("tail", |f: Frame, n: i64| Frame(f.0.tail(n.max(0) as IdxSize)));
    engine.register_fn("unique", |f: Frame| {
        Frame(f.0.unique_stable(None, UniqueKeepStrategy::First))
    });
    engine.register_fn("unique", |f: Frame, cols: Array| -> RhaiResult<Frame> {
        Ok(Frame(f.0.unique_stable(
            Some(cols_selector(names(&cols)?)),
            UniqueKeepStrategy::First,
        )))
    });
    engine.register_fn(
        "join",
        |l: Frame, r: Frame, on: Dynamic, how: ImmutableString| -> RhaiResult<Frame> {
            let keys: Vec<Expr> = if on.is_array() {
                exprs(&on.cast::<Array>(), true)?
            } else {
                vec![to_expr(&on, true)?]
            };
            let jt = join_type(&how)?;
            if jt == JoinType::Cross {
                return err("cross joins are not allowed in queries (they multiply table sizes)");
            }
            Ok(Frame(l.0.join(r.0, keys.clone(), keys, join_args(jt))))
        },
    );
    engine.register_fn(
        "join",
        |l: Frame, r: Frame, left_on: Array, right_on: Array, how: ImmutableString| -> RhaiResult<Frame> {
            let jt = join_type(&how)?;
            if jt == JoinType::Cross {
                return err("cross joins are not allowed in queries (they multiply table sizes)");
            }
            Ok(Frame(l.0.join(
                r.0,
                exprs(&left_on, true)?,
                exprs(&right_on, true)?,
                join_args(jt),
            )))
        },
    );
    engine.register_fn("explode", |f: Frame, cols: Array| -> RhaiResult<Frame> {
        let opts = ExplodeOptions {
            empty_as_null: true,
            keep_nulls: true,
        };
        Ok(Frame(f.0.explode(cols_selector(names(&cols)?), opts)))
    });
    engine.register_fn("concat", |a: Frame, b: Frame| -> RhaiResult<Frame> {
        concat(
            [a.0, b.0],
            UnionArgs {
                rechunk: false,
                parallel: true,
                diagonal: true,
                ..Default::default()
            },
        )
        .map(Frame)
        .or_else(perr)
    });
    // Run the plan now and keep the result in memory: a script that filters the packets once and
    // asks several questions of the result scans the big table once instead of once per question.
    // A hint, not a change of meaning: a result too big to hold stays lazy (same answers).
    engine.register_fn("collect", |f: Frame| -> RhaiResult<Frame> {
        let df = f.0.clone().limit(MAX_COLLECT_ROWS + 1).collect().or_else(perr)?;
        if df.height() > MAX_COLLECT_ROWS as usize {
            return Ok(f);
        }
        Ok(Frame(df.lazy()))
    });
    // Results that end the laziness: a row count and a small look at one value.
    engine.register_fn("count", |f: Frame| -> RhaiResult<i64> { row_count(f.0).or_else(perr) });
    engine.register_fn("is_empty", |f: Frame| -> RhaiResult<bool> {
        let df = f.0.limit(1).collect().or_else(perr)?;
        Ok(df.height() == 0)
    });
    engine.register_fn("value", |f: Frame, c: ImmutableString| -> RhaiResult<Dynamic> {
        let df = f.0.select([col(c.as_str())]).limit(1).collect().or_else(perr)?;
        let v = df
            .column(c.as_str())
            .and_then(|c| c.get(0).map(|v| v.into_static()))
            .or_else(perr)?;
        Ok(any_to_dynamic(&v))
    });
    engine.register_fn("columns", |f: Frame| -> RhaiResult<Array> {
        let mut lf = f.0;
        let schema = lf.collect_schema().or_else(perr)?;
        Ok(schema.iter_names().map(|n| Dynamic::from(n.to_string())).collect())
    });
    engine.register_fn("to_string", |_: &mut Frame| {
        "Frame (a lazy table; return it to see rows)".to_string()
    });
}

/// Rows a script may hold in memory with `collect()`.
pub const MAX_COLLECT_ROWS: IdxSize = 2_000_000;

fn cols_selector(names: Vec<String>) -> Selector {
    Selector::ByName {
        names: names.into_iter().map(PlSmallStr::from).collect::<Vec<_>>().into(),
        strict: true,
    }
}

/// A Polars value as a Rhai value.
pub fn any_to_dynamic(v: &AnyValue<'_>) -> Dynamic {
    match v {
        AnyValue::Null => Dynamic::UNIT,
        AnyValue::Boolean(b) => Dynamic::from(*b),
        AnyValue::Float32(f) => Dynamic::from(*f as f64),
        AnyValue::Float64(f) => Dynamic::from(*f),
        v if v.is_integer() => Dynamic::from(v.extract::<i64>().unwrap_or(0)),
        other => Dynamic::from(crate::table::values::cell_text(other)),
    }
}

fn severity_of(s: &str) -> RhaiResult<Severity> {
    Severity::parse(s).map_or_else(
        || {
            err(format!(
                "unknown severity '{s}': use info, low, medium, high or critical"
            ))
        },
        Ok,
    )
}

fn register_findings(engine: &mut Engine, failures: Failures) {
    engine.register_fn(
        "finding",
        |sev: ImmutableString, title: ImmutableString| -> RhaiResult<Finding> {
            Ok(Finding {
                severity: severity_of(&sev)?,
                title: title.to_string(),
                facts: RMap::new(),
                evidence: None,
            })
        },
    );
    engine.register_fn(
        "finding",
        |sev: ImmutableString, title: ImmutableString, ev: Frame| -> RhaiResult<Finding> {
            Ok(Finding {
                severity: severity_of(&sev)?,
                title: title.to_string(),
                facts: RMap::new(),
                evidence: Some(ev.0),
            })
        },
    );
    engine.register_fn(
        "finding",
        |sev: ImmutableString, title: ImmutableString, ev: Frame, facts: RMap| -> RhaiResult<Finding> {
            Ok(Finding {
                severity: severity_of(&sev)?,
                title: title.to_string(),
                facts,
                evidence: Some(ev.0),
            })
        },
    );
    engine.register_fn(
        "findings",
        |table: Frame, sev: ImmutableString, title: ImmutableString| -> RhaiResult<FindingRows> {
            Ok(FindingRows {
                table: table.0,
                severity: severity_of(&sev)?,
                title: title.to_string(),
            })
        },
    );
    let f = failures.clone();
    engine.register_fn("assert", move |ok: bool, msg: ImmutableString| {
        if !ok && let Ok(mut v) = f.lock() {
            v.push(msg.to_string());
        }
        ok
    });
    let f = failures;
    engine.register_fn(
        "expect_empty",
        move |t: Frame, msg: ImmutableString| -> RhaiResult<bool> {
            let rows = row_count(t.0).or_else(perr)?;
            if rows > 0
                && let Ok(mut v) = f.lock()
            {
                v.push(format!("{msg} ({rows} rows)"));
            }
            Ok(rows == 0)
        },
    );
}
