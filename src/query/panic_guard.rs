//! panic_guard: a query that makes Polars (or any code under it) panic fails as that query,
//! with a clear message, instead of taking the process down — the CLI exits 2, and the MCP server
//! and the shell stay up for the next request. Arguments known to panic are validated before
//! they reach Polars (durations, for one); this is the net under what no check foresaw.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Guarded calls running now, on any thread. While one runs, the panic hook stays silent: the
/// panic becomes that call's error (Polars' worker threads panic on threads of their own, so a
/// per-thread flag would not see them).
static GUARDED: AtomicUsize = AtomicUsize::new(0);
static HOOK: Once = Once::new();

/// Run `f`; a panic inside becomes `Err` with its message.
pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if GUARDED.load(Ordering::SeqCst) == 0 {
                default(info);
            }
        }));
    });
    GUARDED.fetch_add(1, Ordering::SeqCst);
    let out = catch_unwind(AssertUnwindSafe(f));
    GUARDED.fetch_sub(1, Ordering::SeqCst);
    out.map_err(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into());
        format!(
            "the query engine failed on this query ({what}); netql is still running — please report it with the script"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error_and_the_next_call_runs() {
        let e = catch(|| -> u32 { panic!("boom {}", 7) }).unwrap_err();
        assert!(e.contains("boom 7"), "{e}");
        assert_eq!(catch(|| 5).unwrap(), 5);
        // A panic on another thread joined inside the call (as Polars' pools do).
        let e = catch(|| std::thread::spawn(|| panic!("worker")).join().map_err(|_| ()).unwrap()).unwrap_err();
        assert!(e.contains("called `Result::unwrap()`"), "{e}");
    }
}
