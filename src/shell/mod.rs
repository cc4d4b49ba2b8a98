//! shell: `netql shell`, the interactive query shell, and its pipeline mode.
//!
//! On a terminal it is a reedline editor: persistent history with hints and Ctrl-R search,
//! multi-line input (Enter on an unfinished script continues it; Alt-Enter always adds a line),
//! syntax highlighting, Tab completion, and dot meta-commands listed in one table,
//! [`meta::META_COMMANDS`], which `.help` prints and the completer offers. Scripts run on a worker
//! thread so that Ctrl-C cancels the query and not the shell. A line that starts with a method
//! call (`.filter(...)`) continues the last script that ran, so a query can be refined step by
//! step.
//!
//! When stdin is not a terminal, the shell reads it all, runs meta-command lines in order and
//! everything between them as scripts, prints the results and exits 0 (success), 1 (an assert
//! failed) or 2 (an error), so `echo 'packets().count()' | netql shell capture.pcap` works in a
//! pipeline.

pub mod complete;
pub mod explain;
pub mod help;
pub mod highlight;
pub mod lexer;
pub mod meta;
pub mod prompt;
pub mod run;
pub mod session;
pub mod validator;
pub mod vocabulary;

pub use run::run;
