//! The `netql` binary: parse arguments, load the config, run one command, map the outcome to an
//! exit code (0 success, 1 a check or finding failed, 2 an error).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use netql::config::{Config, Overrides};

mod cli;

#[derive(Parser)]
#[command(
    name = "netql",
    version,
    about = "Query network captures: pcap -> Polars frames -> scripts, shell, MCP, agent"
)]
struct Args {
    /// Config file (default: config/netql.toml).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Captures folder ("latest" and "all" look here; default: captures/).
    #[arg(long, global = true, value_name = "DIR")]
    captures: Option<PathBuf>,
    /// Folder for the decoded Parquet cache.
    #[arg(long, global = true, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Neither read nor write the decode cache.
    #[arg(long, global = true)]
    no_cache: bool,
    /// Decoder threads (default: one per core).
    #[arg(long, global = true, default_value_t = 0)]
    threads: usize,
    /// No progress bars.
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Packets, bytes, time span and frames per protocol of each capture.
    Summary {
        /// Capture files: paths, names in the captures folder, `latest` or `all`.
        #[arg(required = true)]
        files: Vec<String>,
        #[arg(long, value_enum, default_value = "table")]
        format: cli::SummaryFormat,
    },
    /// List the captures folder, newest first.
    Captures {
        #[arg(long, value_enum, default_value = "table")]
        format: cli::SummaryFormat,
    },
    /// The columns of the packet and flow tables, with their types and meanings.
    Schema {
        #[arg(long, value_enum, default_value = "table")]
        format: cli::SummaryFormat,
    },
    /// Write the bundled sample capture (web, DNS and a small port scan) to FILE.
    #[command(hide = true)]
    Sample { file: PathBuf },
}

fn main() -> ExitCode {
    let args = Args::parse();
    let ov = Overrides {
        config_file: args.config.clone(),
        captures_dir: args.captures.clone(),
        cache_dir: args.cache_dir.clone(),
        no_cache: args.no_cache,
    };
    let result = Config::load(&ov).map_err(anyhow::Error::from).and_then(|cfg| {
        let ctx = cli::Ctx {
            opts: netql::load::LoadOptions {
                cache_dir: cfg.cache_dir.clone(),
                use_cache: cfg.use_cache,
                progress: !args.quiet && std::io::stderr().is_terminal(),
                threads: args.threads,
            },
            cfg,
        };
        match args.command {
            Command::Summary { files, format } => cli::summary(&ctx, &files, format),
            Command::Captures { format } => cli::captures(&ctx, format),
            Command::Schema { format } => cli::schema(format),
            Command::Sample { file } => netql::sample::write(&file)
                .map(|_| cli::Outcome::Success)
                .map_err(anyhow::Error::from),
        }
    });
    match result {
        Ok(outcome) => outcome.exit_code(),
        Err(e) => {
            eprintln!("netql: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
