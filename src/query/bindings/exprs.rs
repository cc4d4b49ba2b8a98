//! exprs: column expressions: columns and literals, conditions, aggregations, the methods on an
//! expression, and the operators (`==`, `&&`, `+`, ...) between expressions and values.

use polars::prelude::{Expr as PlExpr, *};
use rhai::{Array, Dynamic, ImmutableString};

use crate::query::bindings::convert::{array_series, exprs, lit_of, to_expr, widen};
use crate::query::bindings::lang::{Lang, RhaiResult, Topic, err, perr};
use crate::query::bindings::types::Expr;

pub fn register(lang: &mut Lang) {
    register_core(lang);
    register_aggregations(lang);
    register_methods(lang);
    register_operators(lang);
}

fn register_core(lang: &mut Lang) {
    lang.def(Topic::Expressions, "col(\"name\")", "a column")
        .with(|name: ImmutableString| Expr(col(name.as_str())));
    lang.def(
        Topic::Expressions,
        "lit(value)",
        "a literal value as an expression (numbers, text, true/false, () for null)",
    )
    .with(|v: Dynamic| -> RhaiResult<Expr> { lit_of(&v).map(Expr) });
    lang.def(
        Topic::Expressions,
        "when(condition, a, b)",
        "a where the condition holds, else b (each a column, an expression or a value)",
    )
    .with(|c: Expr, a: Dynamic, b: Dynamic| -> RhaiResult<Expr> {
        Ok(Expr(when(c.0).then(to_expr(&a, false)?).otherwise(to_expr(&b, false)?)))
    });
    // tcp_flag("SYN") / tcp_flag("S"): is that flag set in tcp_flags?
    lang.def(
        Topic::Expressions,
        "tcp_flag(\"SYN\")",
        "whether a TCP flag is set: SYN, ACK, FIN, RST, PSH, URG, ECE, CWR (or S, A, F, R, P, U, E, C)",
    )
    .with(|name: ImmutableString| -> RhaiResult<Expr> {
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
        Ok(Expr(col("tcp_flags").and(lit(bit)).neq(lit(0u8))))
    });
}

/// An aggregation by column name or of an expression: name, form, description, what it does.
type Aggregation = (&'static str, &'static str, &'static str, fn(PlExpr) -> PlExpr);

fn register_aggregations(lang: &mut Lang) {
    lang.def(Topic::Aggregations, "count()", "rows in each group")
        .with(|| Expr(len().alias("count")));
    // Each by column name or of an expression.
    let aggs: [Aggregation; 9] = [
        (
            "sum",
            "sum(\"column\") / sum(e)",
            "total (integers widened first, so byte and packet counts cannot overflow)",
            |e| widen(e).sum(),
        ),
        ("mean", "mean(\"column\") / mean(e)", "average", |e| e.mean()),
        ("min", "min(\"column\") / min(e)", "smallest value", |e| e.min()),
        ("max", "max(\"column\") / max(e)", "largest value", |e| e.max()),
        (
            "first",
            "first(\"column\") / first(e)",
            "first value in row order",
            |e| e.first(),
        ),
        ("last", "last(\"column\") / last(e)", "last value in row order", |e| {
            e.last()
        }),
        (
            "n_unique",
            "n_unique(\"column\") / n_unique(e)",
            "number of distinct values",
            |e| e.n_unique(),
        ),
        ("median", "median(\"column\") / median(e)", "median", |e| e.median()),
        (
            "std",
            "std(\"column\") / std(e)",
            "standard deviation (sample, n - 1)",
            |e| e.std(1),
        ),
    ];
    for (name, signature, description, f) in aggs {
        lang.def_named(name, Topic::Aggregations, signature, description)
            .with(move |c: ImmutableString| Expr(f(col(c.as_str()))))
            .with(move |e: Expr| Expr(f(e.0)));
    }
    lang.def(
        Topic::Aggregations,
        "e.quantile(q)",
        "the q-quantile (0..1, linear interpolation)",
    )
    .with(|e: Expr, q: f64| Expr(e.0.quantile(lit(q), QuantileMethod::Linear)));
}

fn register_methods(lang: &mut Lang) {
    lang.def(Topic::Expressions, "e.alias(\"name\")", "name the result column")
        .with(|e: Expr, n: ImmutableString| Expr(e.0.alias(n.as_str())));
    lang.def(Topic::Expressions, "e.count()", "non-null values")
        .with(|e: Expr| Expr(e.0.count()));
    lang.def(Topic::Expressions, "e.len()", "values, nulls included")
        .with(|e: Expr| Expr(e.0.len()));
    lang.def(
        Topic::Expressions,
        "e.unique()",
        "distinct values (in an aggregation: the list of them)",
    )
    .with(|e: Expr| Expr(e.0.unique()));
    lang.def(
        Topic::Expressions,
        "e.head(n)",
        "the first n values (in an aggregation: a list, e.g. col(\"frame\").head(5))",
    )
    .with(|e: Expr, n: i64| Expr(e.0.head(Some(n.max(0) as usize))));
    lang.def(Topic::Expressions, "e.is_null()", "whether the value is missing")
        .with(|e: Expr| Expr(e.0.is_null()));
    lang.def(Topic::Expressions, "e.is_not_null()", "whether the value is present")
        .with(|e: Expr| Expr(e.0.is_not_null()));
    lang.def(Topic::Expressions, "e.fill_null(value)", "missing values replaced")
        .with(|e: Expr, v: Dynamic| -> RhaiResult<Expr> { Ok(Expr(e.0.fill_null(to_expr(&v, false)?))) });
    lang.def(Topic::Expressions, "e.abs()", "absolute value")
        .with(|e: Expr| Expr(e.0.abs()));
    lang.def(Topic::Expressions, "e.round(digits)", "rounded to 0..15 decimals")
        .with(|e: Expr, d: i64| Expr(e.0.round(d.clamp(0, 15) as u32, RoundMode::HalfAwayFromZero)));
    lang.def(Topic::Expressions, "e.not()", "logical not (also `!e`)")
        .with(|e: Expr| Expr(e.0.not()));
    lang.def(
        Topic::Expressions,
        "e.filter(condition)",
        "the values where the condition holds (inside an aggregation)",
    )
    .with(|e: Expr, cond: Expr| Expr(e.0.filter(cond.0)));
    lang.def(Topic::Expressions, "a.and(b)", "logical and (also `a && b`)")
        .with(|a: Expr, b: Expr| Expr(a.0.and(b.0)));
    lang.def(Topic::Expressions, "a.or(b)", "logical or (also `a || b`)")
        .with(|a: Expr, b: Expr| Expr(a.0.or(b.0)));
    lang.def(
        Topic::Expressions,
        "e.shift(n)",
        "the value n rows before (negative n: after)",
    )
    .with(|e: Expr, n: i64| Expr(e.0.shift(lit(n))));
    lang.def(
        Topic::Expressions,
        "e.diff()",
        "difference from the previous row (gaps between timestamps, counters)",
    )
    .with(|e: Expr| Expr(e.0.diff(lit(1i64), polars::series::ops::NullBehavior::Ignore)));
    lang.def(Topic::Expressions, "e.cum_sum()", "running total")
        .with(|e: Expr| Expr(e.0.cum_sum(false)));
    lang.def(Topic::Expressions, "e.between(a, b)", "a <= e <= b").with(
        |e: Expr, a: Dynamic, b: Dynamic| -> RhaiResult<Expr> {
            Ok(Expr(e.0.is_between(
                to_expr(&a, false)?,
                to_expr(&b, false)?,
                ClosedInterval::Both,
            )))
        },
    );
    lang.def(
        Topic::Expressions,
        "e.is_in([values])",
        "whether the value is one of a list of numbers or texts",
    )
    .with(|e: Expr, values: Array| -> RhaiResult<Expr> { is_in(e.0, &values).map(Expr) });
    // `x in [..]` in Rhai calls contains(container, item).
    lang.def_named(
        "contains",
        Topic::Expressions,
        "e in [values]",
        "the same as e.is_in([values])",
    )
    .with(|values: Array, e: Expr| -> RhaiResult<Expr> { is_in(e.0, &values).map(Expr) });
    lang.def(
        Topic::Expressions,
        "e.over([keys])",
        "a window: an aggregation computed per group of keys and given to every row",
    )
    .with(|e: Expr, keys: Array| -> RhaiResult<Expr> { e.0.over(exprs(&keys, true)?).map(Expr).or_else(perr) });
    lang.def(
        Topic::Expressions,
        "e.cast(\"type\")",
        "convert: i64, u64, u32, f64, str or bool",
    )
    .with(|e: Expr, t: ImmutableString| -> RhaiResult<Expr> {
        let dt = match t.as_str() {
            "i64" | "int" => DataType::Int64,
            "u64" => DataType::UInt64,
            "u32" => DataType::UInt32,
            "f64" | "float" => DataType::Float64,
            "str" | "string" | "text" => DataType::String,
            "bool" => DataType::Boolean,
            other => return err(format!("cannot cast to '{other}': use i64, u64, u32, f64, str or bool")),
        };
        Ok(Expr(e.0.cast(dt)))
    });
    lang.def(Topic::Expressions, "e.sort()", "values in ascending order")
        .with(|e: Expr| Expr(e.0.sort(SortOptions::default())));
    lang.def(
        Topic::Expressions,
        "e.sort(descending)",
        "values sorted, descending when true",
    )
    .with(|e: Expr, desc: bool| Expr(e.0.sort(SortOptions::default().with_order_descending(desc))));
    lang.def(
        Topic::Expressions,
        "to_string(e)",
        "the expression as text (what print shows)",
    )
    .with(|e: &mut Expr| format!("{}", e.0));
    lang.def(Topic::Expressions, "to_debug(e)", "the expression as text (debug)")
        .with(|e: &mut Expr| format!("{}", e.0));
}

fn register_operators(lang: &mut Lang) {
    // Comparisons, each between two expressions or an expression and a value either way round.
    macro_rules! cmp {
        ($op:literal, $m:ident, $sig:literal, $doc:literal) => {
            lang.def_named($op, Topic::Operators, $sig, $doc)
                .with(|a: Expr, b: Expr| Expr(a.0.$m(b.0)))
                .with(|a: Expr, b: i64| Expr(a.0.$m(lit(b))))
                .with(|a: Expr, b: f64| Expr(a.0.$m(lit(b))))
                .with(|a: Expr, b: ImmutableString| Expr(a.0.$m(lit(b.to_string()))))
                .with(|a: Expr, b: bool| Expr(a.0.$m(lit(b))))
                .with(|a: i64, b: Expr| Expr(lit(a).$m(b.0)))
                .with(|a: f64, b: Expr| Expr(lit(a).$m(b.0)))
                .with(|a: ImmutableString, b: Expr| Expr(lit(a.to_string()).$m(b.0)));
        };
    }
    cmp!(
        "==",
        eq,
        "a == b",
        "equal (address and text columns compare with text: col(\"src_ip\") == \"10.0.0.1\")"
    );
    cmp!("!=", neq, "a != b", "not equal");
    cmp!("<", lt, "a < b", "less than");
    cmp!("<=", lt_eq, "a <= b", "at most");
    cmp!(">", gt, "a > b", "greater than");
    cmp!(">=", gt_eq, "a >= b", "at least");
    macro_rules! arith {
        ($op:literal, $t:tt, $sig:literal, $doc:literal) => {
            lang.def_named($op, Topic::Operators, $sig, $doc)
                .with(|a: Expr, b: Expr| Expr(a.0 $t b.0))
                .with(|a: Expr, b: i64| Expr(a.0 $t lit(b)))
                .with(|a: Expr, b: f64| Expr(a.0 $t lit(b)))
                .with(|a: i64, b: Expr| Expr(lit(a) $t b.0))
                .with(|a: f64, b: Expr| Expr(lit(a) $t b.0));
        };
    }
    arith!("+", +, "a + b", "sum");
    arith!("-", -, "a - b", "difference");
    arith!("*", *, "a * b", "product");
    arith!("/", /, "a / b", "quotient");
    arith!("%", %, "a % b", "remainder");
    lang.def_named("-", Topic::Operators, "-a", "negation")
        .with(|a: Expr| Expr(lit(0i64) - a.0));
    // Rhai's && and || are fixed boolean operators; the engine maps them to & and | (same
    // precedence, overloadable), so they reach these.
    lang.def_named("&", Topic::Operators, "a && b", "both conditions hold")
        .with(|a: Expr, b: Expr| Expr(a.0.and(b.0)))
        .with(|a: Expr, b: bool| Expr(a.0.and(lit(b))))
        .with(|a: bool, b: Expr| Expr(lit(a).and(b.0)));
    lang.def_named("|", Topic::Operators, "a || b", "either condition holds")
        .with(|a: Expr, b: Expr| Expr(a.0.or(b.0)))
        .with(|a: Expr, b: bool| Expr(a.0.or(lit(b))))
        .with(|a: bool, b: Expr| Expr(lit(a).or(b.0)));
    lang.def_named("!", Topic::Operators, "!a", "the condition does not hold")
        .with(|a: Expr| Expr(a.0.not()));
}

/// `e.is_in([values])`. Texts are compared one by one (`e == "a" | e == "b"`): an enum or
/// categorical column (`l4`, `app`, `conn_state`, addresses) then takes text as it does in `==`,
/// and a text the column never holds matches nothing instead of failing the query. Long lists of
/// texts compare the column as text.
fn is_in(e: PlExpr, values: &Array) -> RhaiResult<PlExpr> {
    if values.is_empty() {
        return Ok(lit(false));
    }
    // Already text (`e.to_text()`): one membership test. Compared one by one, each comparison
    // made the column text again (beaconing's eight names cast every flow's app eight times).
    let text = matches!(
        &e,
        PlExpr::Cast {
            dtype: DataTypeExpr::Literal(DataType::String),
            ..
        }
    );
    if values.iter().all(|v| v.is_string()) && values.len() <= 64 && !text {
        let mut texts = values.iter().map(|v| v.clone().into_string().unwrap_or_default());
        let first = texts.next().unwrap_or_default();
        let any = texts.fold(e.clone().eq(lit(first)), |acc, t| acc.or(e.clone().eq(lit(t))));
        return Ok(any);
    }
    let s = array_series(values)?;
    let e = if values.iter().all(|v| v.is_string()) {
        e.cast(DataType::String)
    } else {
        e
    };
    Ok(e.is_in(lit(s).implode(false), false))
}
