//! `netql ask` and `netql chat`: the agent, which talks to a `netql mcp` child over MCP.

use anyhow::Result;
use netql::agent::{self, Agent, AgentConfig, Event, McpSession};
use netql::error::Exit;
use netql::safe_text;

use crate::cli::context::{Ctx, LakeArgs};

fn agent_config(ctx: &Ctx, offline: bool, lake: &LakeArgs) -> AgentConfig {
    let a = &ctx.cfg.agent;
    let client = match (&a.api_key, offline) {
        (Some(key), false) => Some(netql::agent::anthropic::ClientConfig {
            // Said once per run, before the key is sent anywhere.
            base_url: {
                if let Some(w) = netql::agent::anthropic::clear_text_warning(&a.base_url) {
                    eprintln!("netql: {w}");
                }
                a.base_url.clone()
            },
            api_key: key.clone(),
            timeout: a.timeout,
            max_retries: a.max_retries,
            max_backoff: std::time::Duration::from_secs(30),
        }),
        _ => None,
    };
    AgentConfig {
        model: a.model.clone(),
        max_tokens: a.max_tokens,
        max_tool_rounds: a.max_tool_rounds,
        max_question_tokens: a.max_question_tokens,
        client,
        data_note: lake.serve().map(|l| l.instructions()),
    }
}

/// Flags for the `netql mcp` child, so it sees the same captures, cache and config.
fn child_args(ctx: &Ctx) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(f) = &ctx.cfg.config_file {
        v.push("--config".into());
        v.push(f.display().to_string());
    }
    v.push("--captures".into());
    v.push(ctx.cfg.captures_dir.display().to_string());
    v.push("--cache-dir".into());
    v.push(ctx.cfg.cache_dir.display().to_string());
    if !ctx.cfg.use_cache {
        v.push("--no-cache".into());
    }
    v
}

/// Shows the agent's progress: its text on stdout as it arrives, tool calls and notes on stderr,
/// tokens per turn with `--usage`.
struct Printer {
    usage: bool,
    /// Text of the current answer was printed (it is not printed again at the end).
    streamed: bool,
}

impl Printer {
    fn new(usage: bool) -> Printer {
        Printer { usage, streamed: false }
    }

    fn on(&mut self, e: Event) {
        use std::io::Write;
        match e {
            Event::Text(t) => {
                // Model text is shown, never obeyed by the terminal.
                print!("{}", safe_text::text(&t));
                let _ = std::io::stdout().flush();
                self.streamed = true;
            }
            Event::Restart(why) => {
                // End the partial answer's line; the new one starts afresh, printed once.
                if self.streamed {
                    println!();
                }
                eprintln!("  (the answer broke off: {}; asking again)", safe_text::line(&why));
            }
            Event::Usage {
                input,
                output,
                cache_read,
            } => {
                if self.usage {
                    eprintln!("  (tokens: {input} in, {output} out, {cache_read} read from the cache)");
                }
            }
            // What the model asked for is shown, never obeyed by the terminal.
            Event::Tool(name, args) => {
                if self.streamed {
                    println!();
                }
                eprintln!("  → {} {}", safe_text::line(&name), safe_text::line(&args))
            }
            Event::ToolDone(name, failed, took) => {
                if failed {
                    eprintln!("    ✗ {name} failed ({:.2} s)", took.as_secs_f64());
                }
            }
            Event::Note(n) => eprintln!("  ({n})"),
        }
    }

    /// The end of an answer: a line break after streamed text, or the whole (offline) answer.
    fn finish(&mut self, answer: &str) {
        if self.streamed {
            println!();
        } else {
            println!("{}", safe_text::text(answer.trim()));
        }
        self.streamed = false;
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// One question, one answer on stdout (tool progress on stderr).
pub fn ask(ctx: &Ctx, question: &str, offline: bool, usage: bool, lake: &LakeArgs) -> Result<Exit> {
    let mut p = Printer::new(usage);
    let cfg = agent_config(ctx, offline, lake);
    let rt = runtime()?;
    rt.block_on(async {
        let exe = std::env::current_exe()?;
        let session = McpSession::start(&exe, &child_args(ctx), &lake.flags()).await?;
        let outcome = if cfg.client.is_some() {
            let mut agent = Agent::new(cfg, &session)?;
            match agent.ask(&session, question, &mut |e| p.on(e)).await {
                Ok(answer) => {
                    p.finish(&answer);
                    Exit::Success
                }
                Err(e) => {
                    eprintln!("netql: error: {}", safe_text::text(&e.to_string()));
                    Exit::Error
                }
            }
        } else {
            if !offline {
                eprintln!("(offline: no ANTHROPIC_API_KEY; answering with netql's own rules)");
            }
            let answer = agent::offline_answer(&session, question, &mut |e| p.on(e)).await;
            p.finish(&answer);
            Exit::Success
        };
        session.close().await;
        Ok(outcome)
    })
}

/// An interactive conversation; Ctrl-C cancels the current answer, Ctrl-D leaves.
pub fn chat(ctx: &Ctx, offline: bool, usage: bool, lake: &LakeArgs) -> Result<Exit> {
    let mut p = Printer::new(usage);
    use reedline::{DefaultPrompt, DefaultPromptSegment, FileBackedHistory, Reedline, Signal};
    let cfg = agent_config(ctx, offline, lake);
    let rt = runtime()?;
    let exe = std::env::current_exe()?;
    let session = rt.block_on(McpSession::start(&exe, &child_args(ctx), &lake.flags()))?;
    let mut agent = match &cfg.client {
        Some(_) => Some(Agent::new(cfg.clone(), &session)?),
        None => None,
    };
    // Not a terminal: one question per input line, answers in order (for scripts and pipes).
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        use std::io::BufRead;
        let mut outcome = Exit::Success;
        for line in std::io::stdin().lock().lines() {
            let q = line?;
            let q = q.trim();
            if q.is_empty() {
                continue;
            }
            let answer = rt.block_on(async {
                match agent.as_mut() {
                    Some(a) => a.ask(&session, q, &mut |e| p.on(e)).await.map_err(|e| e.to_string()),
                    None => Ok(agent::offline_answer(&session, q, &mut |e| p.on(e)).await),
                }
            });
            match answer {
                Ok(text) => {
                    p.finish(&text);
                    println!();
                }
                Err(e) => {
                    eprintln!("netql: error: {}", safe_text::text(&e.to_string()));
                    outcome = Exit::Error;
                }
            }
        }
        rt.block_on(session.close());
        return Ok(outcome);
    }
    let mut editor = Reedline::create();
    if let Some(dir) = dirs::data_dir().map(|d| d.join("netql")) {
        let _ = std::fs::create_dir_all(&dir);
        if let Ok(h) = FileBackedHistory::with_file(1000, dir.join("chat_history.txt")) {
            editor = editor.with_history(Box::new(h));
        }
    }
    let prompt = DefaultPrompt::new(DefaultPromptSegment::Basic("you".into()), DefaultPromptSegment::Empty);
    if agent.is_some() {
        println!(
            "netql chat with {} — ask about your captures; Ctrl-C cancels an answer, Ctrl-D leaves.",
            cfg.model
        );
    } else {
        println!(
            "netql chat (offline) — {}",
            agent::OFFLINE_HELP.lines().next().unwrap_or("")
        );
        println!("Try: analyze latest · analyze all · list captures · top talkers · any scans?  (Ctrl-D leaves)");
    }
    loop {
        let line = match editor.read_line(&prompt) {
            Ok(Signal::Success(l)) => l,
            Ok(Signal::CtrlC) => continue,
            Ok(Signal::CtrlD) => break,
            Ok(_) => continue,
            Err(e) => {
                eprintln!("netql: {e}");
                break;
            }
        };
        let q = line.trim();
        if q.is_empty() {
            continue;
        }
        if matches!(q, "exit" | "quit" | ".quit") {
            break;
        }
        let answer = rt.block_on(async {
            let work = async {
                match agent.as_mut() {
                    Some(a) => a.ask(&session, q, &mut |e| p.on(e)).await.map_err(|e| e.to_string()),
                    None => Ok(agent::offline_answer(&session, q, &mut |e| p.on(e)).await),
                }
            };
            tokio::select! {
                r = work => Some(r),
                _ = tokio::signal::ctrl_c() => None,
            }
        });
        match answer {
            Some(Ok(text)) => {
                p.finish(&text);
                println!();
            }
            Some(Err(e)) => eprintln!("netql: error: {}", safe_text::text(&e.to_string())),
            None => {
                p.streamed = false;
                eprintln!("\n(cancelled)")
            }
        }
    }
    rt.block_on(session.close());
    Ok(Exit::Success)
}
