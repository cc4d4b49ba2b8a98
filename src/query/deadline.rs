//! deadline: a query's time limit as a flag a watchdog thread sets when the time is up, read on
//! every step of the script. Rhai counts a closure's steps in a copy of the run's state (each call
//! from a native function such as `sort` or `map` starts from the same count), so a check made
//! every N counted steps never came for many short closure calls; a flag read at each step does,
//! wherever the step runs, and costs a load instead of a clock read.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// How long a query may run on inside Polars after its time is up, in a process that is
/// stopped then (see [`Deadline::start`]): Rhai steps see the flag at once, but a Polars plan
/// being executed cannot be interrupted.
const GRACE: Duration = Duration::from_secs(2);

/// Set `expired` after `timeout` unless dropped first.
pub struct Deadline {
    expired: Arc<AtomicBool>,
    done: Arc<(Mutex<bool>, Condvar)>,
}

impl Deadline {
    /// With `stop_process`, a run still going [`GRACE`] after the deadline (inside Polars) ends
    /// the process with exit code 2 and says so.
    pub fn start(timeout: Duration, stop_process: bool) -> Deadline {
        let expired = Arc::new(AtomicBool::new(false));
        let done = Arc::new((Mutex::new(false), Condvar::new()));
        let (flag, pair) = (Arc::clone(&expired), Arc::clone(&done));
        // Detached: it ends at the deadline or as soon as the run ends, whichever is first.
        let spawned = std::thread::Builder::new()
            .name("netql-deadline".into())
            .spawn(move || {
                let (lock, cv) = &*pair;
                let guard = lock.lock().unwrap_or_else(|p| p.into_inner());
                let (finished, _) = cv
                    .wait_timeout_while(guard, timeout, |finished| !*finished)
                    .unwrap_or_else(|p| p.into_inner());
                if *finished {
                    return;
                }
                flag.store(true, Ordering::SeqCst);
                if !stop_process {
                    return;
                }
                let (finished, _) = cv
                    .wait_timeout_while(finished, GRACE, |finished| !*finished)
                    .unwrap_or_else(|p| p.into_inner());
                if !*finished {
                    let at = crate::allocator::query_position()
                        .map(|(l, c)| format!(" at line {l}, column {c} of the script"))
                        .unwrap_or_default();
                    eprintln!(
                        "netql: query stopped: time limit of {} s exceeded while Polars was running it{at} \
                         (filter first, or aggregate before joining; the limit is [queries] timeout_s)",
                        timeout.as_secs_f64()
                    );
                    std::process::exit(2);
                }
            });
        if spawned.is_err() {
            // No thread to spare (the process is at its limit): stop at once rather than run
            // without a limit.
            expired.store(true, Ordering::SeqCst);
        }
        Deadline { expired, done }
    }

    /// The flag the watchdog sets.
    pub fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.expired)
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        let (lock, cv) = &*self.done;
        *lock.lock().unwrap_or_else(|p| p.into_inner()) = true;
        cv.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_is_set_at_the_deadline_and_not_after_the_run_ended() {
        let d = Deadline::start(Duration::from_millis(50), false);
        let flag = d.flag();
        assert!(!flag.load(Ordering::SeqCst));
        std::thread::sleep(Duration::from_millis(300));
        assert!(flag.load(Ordering::SeqCst));

        let d = Deadline::start(Duration::from_millis(100), false);
        let flag = d.flag();
        drop(d);
        std::thread::sleep(Duration::from_millis(300));
        assert!(!flag.load(Ordering::SeqCst));
    }
}
