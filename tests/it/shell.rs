//! `netql shell` as a person uses it: the real binary in a pseudo-terminal (expectrl), typed at
//! key by key — a query, a multi-line script, meta-commands, Tab completion, a bad script,
//! Ctrl-C on a runaway query, Ctrl-R, Ctrl-D — and in a pipeline with stdin not a terminal.
//!
//! reedline asks the terminal where the cursor is (`ESC [6n`) before it draws a prompt; a real
//! terminal answers, so the harness does too. Output is matched after stripping escape codes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use expectrl::process::unix::WaitStatus;
use expectrl::session::OsSession;

use crate::common::{sample, stderr, stdout};

const WAIT: Duration = Duration::from_secs(60);

/// A netql shell in a pseudo-terminal, and everything it printed so far (escape codes removed).
struct Pty {
    s: OsSession,
    raw: Vec<u8>,
    text: String,
    /// Cursor-position queries answered so far.
    answered: usize,
    /// `expect` looks at `text` from here on.
    mark: usize,
}

impl Pty {
    fn start(dir: &Path, extra: &[&str]) -> Pty {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_netql"));
        cmd.args(extra)
            .arg("shell")
            .arg(sample())
            .env("NETQL_CACHE_DIR", dir.join("cache"))
            .env("NETQL_HISTORY", dir.join("history.txt"))
            .env("TERM", "xterm-256color")
            .env_remove("NETQL_CONFIG")
            .env_remove("NETQL_CAPTURES")
            .env_remove("NO_COLOR")
            .current_dir(dir);
        let mut s = OsSession::spawn(cmd).expect("start netql shell in a pty");
        s.get_process_mut().set_window_size(120, 40).expect("window size");
        let mut p = Pty {
            s,
            raw: Vec::new(),
            text: String::new(),
            answered: 0,
            mark: 0,
        };
        p.expect("netql [sample.pcap]> ");
        p
    }

    /// Read what is there; answer cursor-position queries like a terminal would.
    fn pump(&mut self) {
        let mut buf = [0u8; 8192];
        loop {
            match self.s.try_read(&mut buf) {
                Ok(0) => break,
                Ok(n) => self.raw.extend_from_slice(&buf[..n]),
                Err(_) => break,
            }
        }
        let asked = self.raw.windows(4).filter(|w| w == b"\x1b[6n").count();
        while self.answered < asked {
            self.answered += 1;
            self.s.write_all(b"\x1b[1;1R").expect("answer the cursor query");
        }
        self.text = strip_escapes(&self.raw);
    }

    /// Wait until `needle` shows up after the mark, then move the mark past it.
    fn expect(&mut self, needle: &str) -> String {
        let started = Instant::now();
        loop {
            self.pump();
            if let Some(i) = self.text[self.mark..].find(needle) {
                let seen = self.text[self.mark..self.mark + i + needle.len()].to_string();
                self.mark += i + needle.len();
                return seen;
            }
            if started.elapsed() > WAIT {
                panic!(
                    "waited {WAIT:?} for {needle:?}; the shell printed since the last match:\n{}",
                    &self.text[self.mark..]
                );
            }
            std::thread::sleep(Duration::from_millis(15));
        }
    }

    /// Wait for a line that is exactly `line` (a result such as `253`).
    fn expect_line(&mut self, line: &str) -> String {
        self.expect(&format!("\n{line}\n"))
    }

    /// Type text the way a person does (then, separately, the keys that act on it).
    fn type_text(&mut self, text: &str) {
        self.s.write_all(text.as_bytes()).expect("type");
        self.s.flush().expect("flush");
        // Let the editor take the keys in before the next one acts on them.
        std::thread::sleep(Duration::from_millis(150));
        self.pump();
    }

    fn key(&mut self, key: &[u8]) {
        self.s.write_all(key).expect("key");
        self.s.flush().expect("flush");
        std::thread::sleep(Duration::from_millis(150));
        self.pump();
    }

    fn enter(&mut self) {
        self.key(b"\r");
    }

    /// Type a line and press Enter.
    fn line(&mut self, text: &str) {
        self.type_text(text);
        self.enter();
    }

    /// Everything printed since the mark, for checking what did not happen.
    fn since_mark(&mut self) -> String {
        self.pump();
        self.text[self.mark..].to_string()
    }

    /// Wait for the process to end and return its exit code.
    fn exit_code(&mut self) -> i32 {
        let started = Instant::now();
        loop {
            self.pump();
            match self.s.get_process().status() {
                Ok(WaitStatus::Exited(_, code)) => return code,
                Ok(WaitStatus::Signaled(_, sig, _)) => panic!("shell killed by {sig:?}"),
                _ => {}
            }
            assert!(started.elapsed() < WAIT, "the shell did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Terminal output without escape sequences and carriage returns.
fn strip_escapes(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(raw);
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\x1b' => match it.next() {
                Some('[') => {
                    // CSI: parameters, then one final byte in @..~
                    for c in it.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    // OSC: up to BEL or ESC \
                    while let Some(c) = it.next() {
                        if c == '\x07' {
                            break;
                        }
                        if c == '\x1b' {
                            it.next();
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn a_query_a_multi_line_script_meta_commands_and_completion() {
    let dir = temp();
    let mut sh = Pty::start(dir.path(), &[]);

    // A query.
    sh.line("packets().count()");
    sh.expect_line("253");
    sh.expect("netql [sample.pcap]> ");

    // A multi-line script: Enter on an unfinished script shows the continuation prompt.
    sh.line("packets().filter(");
    sh.expect("...> ");
    sh.line("col(\"l4\") == \"udp\"");
    sh.expect("...> ");
    sh.line(").count()");
    sh.expect_line("6");
    sh.expect("netql [sample.pcap]> ");

    // The same chain one step at a time: a line starting with `.method(` continues the last
    // script.
    sh.line("packets()");
    sh.expect("… 213 more rows (253 in all)");
    sh.line(".filter(col(\"l4\") == \"udp\")");
    sh.expect("(6 rows)");
    sh.line(".count()");
    sh.expect_line("6");

    // Meta-commands.
    sh.line(".schema");
    sh.expect("packets(): ");
    sh.expect("dns_qname");
    sh.expect("flows(): ");
    sh.line(".help");
    for cmd in [
        ".captures",
        ".load",
        ".run",
        ".analyze",
        ".format",
        ".timer",
        ".save",
        ".quit",
    ] {
        sh.expect(cmd);
    }
    sh.line(".format csv");
    sh.line("flows().filter(col(\"l4\") == \"udp\").select([\"src_ip\", \"dst_port\"]).head(1)");
    sh.expect("src_ip,dst_port\n");
    sh.line(".format table");
    sh.line(".run port_scan min_ports=50");
    sh.expect("[HIGH] TCP SYN (half-open) scan from 192.168.56.66");

    // Completion: one candidate is inserted at once; several open a menu, Enter takes the first.
    sh.type_text("packets().filt");
    sh.key(b"\t");
    sh.line("(col(\"l4\") == \"udp\").count()");
    sh.expect_line("6");
    sh.type_text("packets().fil");
    sh.key(b"\t");
    sh.expect("fill_null");
    sh.enter();
    sh.line("(col(\"l4\") == \"tcp\").count()");
    sh.expect_line("237");
    sh.type_text(".ti");
    sh.key(b"\t");
    sh.line("on");
    sh.expect("timer: on");

    // Ctrl-D leaves with status 0.
    sh.key(b"\x04");
    assert_eq!(sh.exit_code(), 0);

    // History was written where NETQL_HISTORY points.
    let history = std::fs::read_to_string(dir.path().join("history.txt")).unwrap();
    assert!(history.contains("packets().count()"), "{history}");
}

#[test]
fn a_bad_script_shows_where_and_the_shell_lives_on() {
    let dir = temp();
    let mut sh = Pty::start(dir.path(), &[]);

    // A column that does not exist: the caret points into the second line.
    sh.line("packets().filter(");
    sh.expect("...> ");
    sh.line("col(\"nope\") == 1)");
    sh.expect("error: filter: no column named \"nope\"");
    sh.expect("(line 2, column 6)");
    sh.expect("2 | col(\"nope\") == 1)");
    sh.expect("  |      ^^^^");

    // A syntax error.
    sh.line("packets().filter(col(\"l4\") == )");
    sh.expect("(line 1, column 31)");
    sh.expect("^");

    // An unknown meta-command and a bad argument.
    sh.line(".frobnicate");
    sh.expect("unknown command .frobnicate");
    sh.line(".timer maybe");
    sh.expect("usage: .timer on|off");

    // Still alive.
    sh.line("packets().count()");
    sh.expect_line("253");
    sh.line(".quit");
    assert_eq!(sh.exit_code(), 0);
}

#[test]
fn ctrl_c_cancels_a_running_query_not_the_shell() {
    let dir = temp();
    // No operations limit and a long timeout, so the loop runs until Ctrl-C.
    let cfg = dir.path().join("netql.toml");
    std::fs::write(&cfg, "[queries]\nmax_operations = 0\ntimeout_s = 3600\n").unwrap();
    let mut sh = Pty::start(dir.path(), &["--config", cfg.to_str().unwrap()]);

    // Ctrl-C at the prompt clears the line and keeps the shell.
    sh.type_text("packets().cou");
    sh.key(b"\x03");
    sh.expect("netql [sample.pcap]> ");

    sh.line("let n = 0; loop { n += 1; }");
    std::thread::sleep(Duration::from_millis(1500));
    // Nothing after the script's last echo: no result, no error, no new prompt.
    let running = sh.since_mark();
    let after = &running[running.rfind("n += 1; }").expect("the script was echoed")..];
    assert!(
        !after.contains("netql [") && !after.contains("error"),
        "the loop should still be running:\n{running}"
    );
    sh.key(b"\x03");
    sh.expect("cancelled");
    sh.expect("netql [sample.pcap]> ");

    sh.line("packets().count()");
    sh.expect_line("253");
    sh.key(b"\x04");
    assert_eq!(sh.exit_code(), 0);
}

#[test]
fn history_persists_and_ctrl_r_finds_it() {
    let dir = temp();
    let mut sh = Pty::start(dir.path(), &[]);
    sh.line("packets().filter(col(\"l4\") == \"icmp\").count()");
    sh.expect_line("8");
    sh.line(".quit");
    assert_eq!(sh.exit_code(), 0);

    let mut sh = Pty::start(dir.path(), &[]);
    sh.key(b"\x12"); // Ctrl-R
    sh.type_text("icmp");
    sh.expect("reverse-search: icmp");
    sh.enter(); // take the match
    sh.enter(); // run it
    sh.expect_line("8");
    sh.key(b"\x04");
    assert_eq!(sh.exit_code(), 0);
}

// ---------------------------------------------------------------------------------------------
// Pipeline mode: stdin is not a terminal

fn piped(dir: &Path, script: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_netql"))
        .arg("shell")
        .arg(sample())
        .env("NETQL_CACHE_DIR", dir.join("cache"))
        .env("NETQL_HISTORY", dir.join("history.txt"))
        .env_remove("NETQL_CONFIG")
        .env_remove("NETQL_CAPTURES")
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run netql shell");
    child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn piped_script_prints_the_result_and_exits_0() {
    let dir = temp();
    let o = piped(dir.path(), "packets().count()\n");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "253\n");
    // No history is written for piped input.
    assert!(!dir.path().join("history.txt").exists());
}

#[test]
fn piped_bad_script_exits_2_with_the_caret() {
    let dir = temp();
    let o = piped(dir.path(), "packets().filter(\ncol(\"l4\") == )\n");
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("(line 2, column 14)"), "{err}");
    assert!(err.contains("2 | col(\"l4\") == )"), "{err}");
    assert!(err.contains("^"), "{err}");
    assert_eq!(stdout(&o), "");
}

#[test]
fn piped_failed_assert_exits_1() {
    let dir = temp();
    let o = piped(dir.path(), "assert(packets().count() == 1, \"one packet\");\n");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stdout(&o).contains("FAILED: one packet"), "{}", stdout(&o));
}

#[test]
fn piped_meta_commands_run_in_order_and_save_writes_files() {
    let dir = temp();
    let out: PathBuf = dir.path().join("udp.csv");
    let pq: PathBuf = dir.path().join("udp.parquet");
    let script = format!(
        ".format json\npackets()\n  .filter(col(\"l4\") == \"udp\")\n  .select([\"frame\", \"dns_qname\"])\n.save {}\n.save {}\n",
        out.display(),
        pq.display()
    );
    let o = piped(dir.path(), &script);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 6);
    assert_eq!(v[0]["dns_qname"], "www.example.com");
    let csv = std::fs::read_to_string(&out).unwrap();
    assert!(csv.starts_with("frame,dns_qname\n3,www.example.com\n"), "{csv}");
    assert_eq!(csv.lines().count(), 7);
    use polars::prelude::SerReader;
    let df = polars::prelude::ParquetReader::new(std::fs::File::open(&pq).unwrap())
        .finish()
        .unwrap();
    assert_eq!(df.height(), 6);

    // A meta-command error stops the run with status 2.
    let o = piped(dir.path(), ".save nothing.csv\npackets().count()\n");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nothing to save yet"), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
}

#[test]
fn help_with_a_function_name_shows_its_forms() {
    let dir = temp();
    let o = piped(dir.path(), ".help sort\n");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    for form in [
        "t.sort(\"column\", descending)",
        "t.sort([columns], [descending])",
        "e.sort()",
    ] {
        assert!(out.contains(form), "{form} missing:\n{out}");
    }
    let o = piped(dir.path(), ".help no_such_thing\n");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no function named 'no_such_thing'"),
        "{}",
        stderr(&o)
    );
}

/// `.changes BASELINE` compares the loaded captures with a baseline, as `netql diff` does: the
/// sample against itself has no changes; against a capture with other hosts and a scan, the new
/// hosts and findings are listed.
#[test]
fn diff_in_the_shell() {
    let dir = temp();
    let o = piped(dir.path(), &format!(".changes {}\n", sample().display()));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("no changes"), "{}", stdout(&o));
    let Some(shared) = netql::testdata::shared_captures() else {
        return;
    };
    let o = piped(
        dir.path(),
        &format!(
            ".load {}\n.changes {}\n",
            shared.join("synscan.pcapng").display(),
            sample().display()
        ),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("netql diff: sample.pcap → synscan.pcapng"), "{out}");
    assert!(
        out.contains("new findings") && out.contains("TCP SYN (half-open) scan from 172.16.0.8"),
        "{out}"
    );
}
