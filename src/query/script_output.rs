//! script_output: what scripts `print` and `debug` go to stderr through a bounded queue and a
//! writer thread, so a reader that stops draining stderr (an MCP client that never reads it)
//! cannot hold a query up. A full queue waits briefly (a slow terminal is not a stalled one);
//! past that the writer is taken as stalled and lines are dropped and counted until it writes
//! again, when a note says how many were lost.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, LazyLock, Mutex, Once};
use std::time::Duration;

/// Lines waiting at most.
const ROOM: usize = 1024;
/// How long a line waits for room before the writer is taken as stalled.
const WAIT: Duration = Duration::from_millis(250);

#[derive(Default)]
struct Queue {
    lines: VecDeque<String>,
    /// The writer is writing a line it took (flush waits for it too).
    writing: bool,
    /// A line found no room within [`WAIT`]: drop without waiting until the writer writes.
    stalled: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    /// Signalled when a line is queued.
    filled: Condvar,
    /// Signalled when the writer wrote a line.
    drained: Condvar,
}

static SHARED: LazyLock<Shared> = LazyLock::new(|| Shared {
    queue: Mutex::new(Queue::default()),
    filled: Condvar::new(),
    drained: Condvar::new(),
});
static DROPPED: AtomicU64 = AtomicU64::new(0);
static WRITER: Once = Once::new();

/// Queue one line of script output for stderr.
pub fn line(text: String) {
    WRITER.call_once(|| {
        // Without a writer thread (none to spare) lines are only counted as dropped.
        let _ = std::thread::Builder::new()
            .name("netql-script-output".into())
            .spawn(|| write_lines(std::io::stderr()));
    });
    let s = &*SHARED;
    let mut q = s.queue.lock().unwrap_or_else(|p| p.into_inner());
    if q.lines.len() >= ROOM && !q.stalled {
        q = s
            .drained
            .wait_timeout_while(q, WAIT, |q| q.lines.len() >= ROOM)
            .unwrap_or_else(|p| p.into_inner())
            .0;
        q.stalled = q.lines.len() >= ROOM;
    }
    if q.lines.len() >= ROOM {
        DROPPED.fetch_add(1, Ordering::Relaxed);
        return;
    }
    q.lines.push_back(text);
    s.filled.notify_one();
}

/// Wait until the queued lines are written (so they come before what the caller prints next),
/// at most `timeout`, and not at all while the writer is stalled.
pub fn flush(timeout: Duration) {
    let s = &*SHARED;
    let q = s.queue.lock().unwrap_or_else(|p| p.into_inner());
    let _ = s
        .drained
        .wait_timeout_while(q, timeout, |q| !q.stalled && (q.writing || !q.lines.is_empty()));
}

/// The writer thread: one line at a time, the note on dropped lines before the next.
fn write_lines(mut out: impl Write) {
    let s = &*SHARED;
    loop {
        let line = {
            let mut q = s
                .filled
                .wait_while(s.queue.lock().unwrap_or_else(|p| p.into_inner()), |q| {
                    q.lines.is_empty()
                })
                .unwrap_or_else(|p| p.into_inner());
            q.writing = true;
            q.lines.pop_front().unwrap_or_default()
        };
        let dropped = DROPPED.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            let _ = writeln!(
                out,
                "netql: {dropped} lines of script output dropped (stderr was not being read)"
            );
        }
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
        let mut q = s.queue.lock().unwrap_or_else(|p| p.into_inner());
        q.writing = false;
        q.stalled = false;
        s.drained.notify_all();
    }
}
