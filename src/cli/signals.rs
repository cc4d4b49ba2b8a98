//! signals: Ctrl-C and SIGTERM for the commands that capture (`capture`, `watch`).

use std::sync::Arc;

use anyhow::Result;

/// Signal handlers of a capture: Ctrl-C and SIGTERM only raise the returned flag (the capture
/// loop sees it within its read timeout, then flushes and closes the file); a second signal ends
/// the process at once (exit 130/143). Dropping the guard removes the handlers.
pub fn stop_on_signals() -> Result<(Arc<std::sync::atomic::AtomicBool>, SignalGuard)> {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut ids = Vec::new();
    for (sig, code) in [(signal_hook::consts::SIGINT, 130), (signal_hook::consts::SIGTERM, 143)] {
        ids.push(signal_hook::flag::register_conditional_shutdown(
            sig,
            code,
            Arc::clone(&stop),
        )?);
        ids.push(signal_hook::flag::register(sig, Arc::clone(&stop))?);
    }
    Ok((stop, SignalGuard(ids)))
}

/// Removes the handlers of [`stop_on_signals`] when dropped.
pub struct SignalGuard(Vec<signal_hook::SigId>);

impl Drop for SignalGuard {
    fn drop(&mut self) {
        for id in self.0.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}
