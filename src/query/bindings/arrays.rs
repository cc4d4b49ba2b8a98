//! arrays: Rhai's array functions that take a closure and discard its errors (`sort`, `sort_by`,
//! `order`, `order_by` and `dedup` with a comparer), registered again so a comparer's error stops
//! the script. Rhai's own versions treat a failed comparison as "no order", so the time limit or a
//! cancel raised inside a comparer was swallowed: nested sorts ran past any deadline and the
//! script reported success.

use std::cmp::Ordering;

use rhai::{Array, Dynamic, Engine, EvalAltResult, FnPtr, NativeCallContext, Position};

type Fallible<T> = Result<T, Box<EvalAltResult>>;

pub fn register(engine: &mut Engine) {
    for name in ["sort", "sort_by"] {
        engine.register_fn(name, |ctx: NativeCallContext, a: &mut Array, f: FnPtr| {
            sort(&ctx, a, &f)
        });
    }
    for name in ["order", "order_by"] {
        engine.register_fn(
            name,
            |ctx: NativeCallContext, a: &mut Array, f: FnPtr| -> Fallible<Array> {
                let mut copy = a.clone();
                sort(&ctx, &mut copy, &f)?;
                Ok(copy)
            },
        );
    }
    engine.register_fn("dedup", |ctx: NativeCallContext, a: &mut Array, f: FnPtr| {
        dedup(&ctx, a, &f)
    });
}

/// Sort with the comparer (an integer's sign, or a bool for "less"), as Rhai does; the first
/// error the comparer raises ends the sort and is returned.
fn sort(ctx: &NativeCallContext, array: &mut Array, comparer: &FnPtr) -> Fallible<()> {
    if array.len() <= 1 {
        return Ok(());
    }
    let mut failed: Option<Box<EvalAltResult>> = None;
    let sorted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        array.sort_by(|x, y| {
            if failed.is_some() {
                return Ordering::Equal;
            }
            match comparer.call_raw(ctx, None, [x.clone(), y.clone()]) {
                Ok(v) => order_of(&v).unwrap_or_else(|| x.type_id().cmp(&y.type_id())),
                Err(e) => {
                    failed = Some(e);
                    Ordering::Equal
                }
            }
        })
    }));
    if let Some(e) = failed {
        return Err(e);
    }
    // `slice::sort_by` panics when the comparer is not a total order.
    sorted.map_err(|_| {
        EvalAltResult::ErrorRuntime(
            "the sort's comparer does not give a consistent order".into(),
            Position::NONE,
        )
        .into()
    })
}

fn order_of(v: &Dynamic) -> Option<Ordering> {
    match (v.as_int(), v.as_bool()) {
        (Ok(i), _) => Some(i.cmp(&0)),
        (_, Ok(less)) => Some(if less { Ordering::Less } else { Ordering::Greater }),
        _ => None,
    }
}

/// Remove consecutive elements the comparer calls equal (it gets the earlier element first).
fn dedup(ctx: &NativeCallContext, array: &mut Array, comparer: &FnPtr) -> Fallible<()> {
    let mut failed: Option<Box<EvalAltResult>> = None;
    array.dedup_by(|x, y| {
        if failed.is_some() {
            return false;
        }
        match comparer.call_raw(ctx, None, [y.clone(), x.clone()]) {
            Ok(v) => v.as_bool().unwrap_or(false),
            Err(e) => {
                failed = Some(e);
                false
            }
        }
    });
    failed.map_or(Ok(()), Err)
}
