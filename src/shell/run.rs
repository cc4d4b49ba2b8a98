//! run: `netql shell`: the interactive loop on a terminal, the pipeline mode otherwise.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use nu_ansi_term::{Color, Style};
use reedline::{
    ColumnarMenu, DefaultHinter, EditCommand, Emacs, FileBackedHistory, KeyCode, KeyModifiers, MenuBuilder, Reedline,
    ReedlineEvent, ReedlineMenu, Signal, default_emacs_keybindings,
};

use crate::config::Config;
use crate::error::Exit;
use crate::query::engine::{Captures, ScriptEngine};
use crate::render::Format;
use crate::shell::complete::ShellCompleter;
use crate::shell::highlight::ShellHighlighter;
use crate::shell::meta::is_meta;
use crate::shell::prompt::ShellPrompt;
use crate::shell::session::{Session, Step};
use crate::shell::validator::ShellValidator;
use crate::shell::vocabulary::Vocabulary;
use crate::table::load::LoadOptions;

/// Where history is kept: `$NETQL_HISTORY`, else `<data dir>/netql/history.txt`.
pub fn history_path() -> Option<PathBuf> {
    std::env::var_os("NETQL_HISTORY")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| dirs::data_dir().map(|d| d.join("netql").join("history.txt")))
}

/// `netql shell [CAPTURES...]`: interactive on a terminal, a script from stdin otherwise.
/// With `lake`, queries read the lake and no capture is loaded.
pub fn run(
    cfg: &Config,
    opts: &LoadOptions,
    engine: ScriptEngine,
    files: &[String],
    lake: Option<Arc<crate::query::lake::LakeData>>,
) -> std::io::Result<Exit> {
    let interactive = std::io::stdin().is_terminal();
    let color = interactive && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let mut s = Session {
        cfg: cfg.clone(),
        opts: opts.clone(),
        engine: Arc::new(engine),
        data: Arc::new(Captures::new(Vec::new())),
        lake: lake.clone(),
        format: Format::Table,
        timer: false,
        max_rows: cfg.max_rows,
        last: None,
        last_script: None,
        interactive,
        color,
        sigint: Arc::new(AtomicBool::new(false)),
    };
    let specs: Vec<String> = if lake.is_some() {
        Vec::new()
    } else if files.is_empty() {
        vec!["latest".into()]
    } else {
        files.to_vec()
    };
    if interactive {
        interactive_loop(s, &specs)
    } else {
        let load_failed = !specs.is_empty() && s.load(&specs) == Step::Error;
        if s.data.loaded.is_empty() && s.lake.is_none() {
            return Ok(Exit::Error);
        }
        let mut input = String::new();
        std::io::stdin().read_to_string(&mut input)?;
        let status = pipeline(&mut s, &input);
        Ok(if load_failed { Exit::Error } else { status })
    }
}

/// Run stdin: meta-command lines in order, the lines between them as one script each. Stops at
/// the first error.
pub(crate) fn pipeline(s: &mut Session, input: &str) -> Exit {
    let mut status = Exit::Success;
    let mut script = String::new();
    let flush = |s: &mut Session, script: &mut String| -> Step {
        let text = std::mem::take(script);
        if text.trim().is_empty() {
            return Step::Done;
        }
        let step = s.run_script(text.trim_end(), Vec::new(), None);
        if step != Step::Error {
            s.last_script = Some(text);
        }
        step
    };
    for line in input.lines() {
        if is_meta(line) {
            let mut step = flush(s, &mut script);
            if step != Step::Error {
                step = s.execute(line);
            }
            match step {
                Step::Error => return Exit::Error,
                Step::Failed => status = Exit::Failure,
                Step::Quit => return status,
                Step::Done => {}
            }
        } else {
            script.push_str(line);
            script.push('\n');
        }
    }
    match flush(s, &mut script) {
        Step::Error => Exit::Error,
        Step::Failed => Exit::Failure,
        _ => status,
    }
}

pub(crate) fn interactive_loop(mut s: Session, specs: &[String]) -> std::io::Result<Exit> {
    // Ctrl-C while a query runs (the terminal is not in raw mode then) only raises a flag.
    let hook = signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&s.sigint))?;

    if !specs.is_empty() {
        let _ = s.load(specs);
    }
    let vocab = Arc::new(Vocabulary::new(&s.engine, &s.cfg));
    let mut editor = editor(&s, &vocab);

    let names = s.names();
    let what = if names.is_empty() {
        "no capture loaded (.load FILE)".to_string()
    } else {
        format!("{} packets in {}", s.data.packet_count(), names.join(", "))
    };
    println!(
        "netql shell: {what}\n{}",
        s.paint(
            Style::new().fg(Color::DarkGray),
            ".help lists the commands; Tab completes; Ctrl-C cancels a query; Ctrl-D leaves."
        )
    );

    loop {
        let prompt = ShellPrompt::new(&s.names());
        match editor.read_line(&prompt) {
            Ok(Signal::Success(buffer)) => {
                let _ = editor.sync_history();
                if s.execute(&buffer) == Step::Quit {
                    break;
                }
            }
            Ok(Signal::CtrlD) => break,
            Ok(_) => {}
            Err(e) => {
                signal_hook::low_level::unregister(hook);
                return Err(std::io::Error::other(e.to_string()));
            }
        }
    }
    let _ = editor.sync_history();
    signal_hook::low_level::unregister(hook);
    Ok(Exit::Success)
}

pub(crate) fn editor(s: &Session, vocab: &Arc<Vocabulary>) -> Reedline {
    let mut keys = default_emacs_keybindings();
    keys.add_binding(
        KeyModifiers::NONE,
        KeyCode::Tab,
        ReedlineEvent::UntilFound(vec![
            ReedlineEvent::Menu("completion_menu".to_string()),
            ReedlineEvent::MenuNext,
        ]),
    );
    keys.add_binding(
        KeyModifiers::ALT,
        KeyCode::Enter,
        ReedlineEvent::Edit(vec![EditCommand::InsertNewline]),
    );
    let menu = ColumnarMenu::default().with_name("completion_menu");
    let mut ed = Reedline::create()
        .with_edit_mode(Box::new(Emacs::new(keys)))
        .with_validator(Box::new(ShellValidator::new(s.engine.clone())))
        .with_completer(Box::new(ShellCompleter::new(vocab.clone())))
        .with_menu(ReedlineMenu::EngineCompleter(Box::new(menu)))
        .with_quick_completions(true)
        .with_partial_completions(true)
        .with_highlighter(Box::new(ShellHighlighter::new(vocab)))
        .with_hinter(Box::new(
            DefaultHinter::default().with_style(Style::new().italic().fg(Color::DarkGray)),
        ))
        .with_ansi_colors(s.color);
    match history_path().map(|p| FileBackedHistory::with_file(10_000, p.clone()).map_err(|e| (p, e))) {
        Some(Ok(h)) => ed = ed.with_history(Box::new(h)),
        Some(Err((p, e))) => s.note(&format!("history is off: {}: {e}", p.display())),
        None => s.note("history is off: no data folder"),
    }
    ed
}

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell::vocabulary::testing::*;

    #[test]
    fn complete_scripts_run_and_unfinished_ones_continue() {
        let v = ShellValidator::new(engine());
        for done in [
            "packets().count()",
            "packets()",
            "let n = 1;\nn + 1",
            "packets()\n.filter(col(\"l4\") == \"udp\")\n.count()",
            ".help",
            ".run port_scan min_ports=3",
            ".nope",
            "",
            // Syntax errors inside the script run, so the error is shown.
            "packets().filter(col(\"l4\") == )",
            "let = 5",
            "packets().filter(col(\"l4\") == \"udp\"))",
            // Continuing the last script.
            ".filter(col(\"l4\") == \"udp\")",
            ".count()",
        ] {
            assert!(v.is_complete(done), "should be complete: {done:?}");
        }
        for more in [
            "packets().filter(",
            "packets().filter(\ncol(\"nope\") == 1",
            "packets().",
            "let x = ",
            "if true {",
            "packets().filter(col(\"l4\") ==",
            "[1, 2,",
            "`multi\nline",
            "/* comment",
            ".filter(col(\"l4\")",
        ] {
            assert!(!v.is_complete(more), "should continue: {more:?}");
        }
    }
}
