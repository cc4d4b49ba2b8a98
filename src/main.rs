//! The `netql` binary: parse arguments, load the config, run one command, map the outcome to an
//! exit code (0 success, 1 a check or finding failed, 2 an error).

use std::process::ExitCode;

use clap::Parser;
use netql::error::Exit;

mod cli;

#[global_allocator]
static ALLOCATOR: netql::allocator::Allocator = netql::allocator::Allocator;

fn main() -> ExitCode {
    // Like other command-line tools, stop quietly when the reader of our output goes away
    // (`netql ... | head`) instead of panicking on a broken pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let args = cli::args::Args::parse();
    match cli::run(args) {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(e) => {
            eprintln!("{}", netql::safe_text::text(&format!("netql: error: {e:#}")));
            ExitCode::from(Exit::Error.code())
        }
    }
}
