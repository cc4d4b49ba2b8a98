//! The `netql` binary: parse arguments, load the config, run one command, map the outcome to an
//! exit code (0 success, 1 a check or finding failed, 2 an error).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use netql::config::{Config, Overrides};
use netql::error::Exit;

mod cli;

#[global_allocator]
static ALLOCATOR: netql::allocator::Allocator = netql::allocator::Allocator;

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
    /// The canned suite as a readable report: packets, protocol share, top devices, security
    /// findings with evidence, and a verdict.
    Analyze {
        /// `latest` (default), `all`, or capture files/names.
        #[arg(value_name = "CAPTURE")]
        files: Vec<String>,
        #[arg(long, value_enum, default_value = "table")]
        format: cli::AnalyzeFormat,
        /// Exit 1 when a finding at or above this severity is found.
        #[arg(long, value_enum)]
        fail_on: Option<netql::query::bindings::Severity>,
    },
    /// Run a query (canned name or .rhai file) or an ad-hoc script (-e) over captures.
    Run {
        /// Query name or script file; with -e, the first capture.
        query: Option<String>,
        /// Captures (default: latest).
        #[arg(value_name = "CAPTURE")]
        files: Vec<String>,
        /// The script text itself.
        #[arg(short = 'e', long = "expr", value_name = "SCRIPT")]
        expr: Option<String>,
        /// Query parameter, name=value (repeatable).
        #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
        params: Vec<String>,
        #[arg(long, value_enum, default_value = "table")]
        format: netql::render::Format,
        /// Rows shown in tables before "N more rows".
        #[arg(long)]
        max_rows: Option<usize>,
    },
    /// CI gate: run queries over captures; exit 1 when a finding at or above --fail-on (or a
    /// failed assert) turns up, 2 on errors.
    Check {
        /// Queries (names or .rhai files; default: the security suite) and captures (default: latest).
        items: Vec<String>,
        #[arg(long, value_enum, default_value = "medium")]
        fail_on: netql::query::bindings::Severity,
        /// Also write a JUnit XML report to FILE.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "table")]
        format: cli::CheckFormat,
        /// Query parameter, name=value (passed to the queries that declare it).
        #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
        params: Vec<String>,
    },
    /// The canned queries with their parameters.
    Queries {
        #[arg(long, value_enum, default_value = "table")]
        format: cli::SummaryFormat,
    },
    /// The interfaces live capture can use, with their addresses and flags.
    Interfaces {
        #[arg(long, value_enum, default_value = "table")]
        format: cli::SummaryFormat,
    },
    /// Capture packets from an interface into pcap files (needs root or CAP_NET_RAW).
    Capture(cli::CaptureArgs),
    /// Run detections (port scans, ARP spoofing, clear-text logins) over live traffic and print
    /// each new finding once; --save also writes the capture (needs root or CAP_NET_RAW).
    Watch(cli::watch::WatchArgs),
    /// The interactive query shell; with stdin not a terminal, runs the script read from stdin.
    Shell {
        /// Captures to load (default: latest).
        #[arg(value_name = "CAPTURE")]
        files: Vec<String>,
    },
    /// Ask the agent one question about your captures; the answer goes to stdout.
    /// Without ANTHROPIC_API_KEY it answers the common asks offline.
    Ask {
        question: Vec<String>,
        /// Do not call the Anthropic API even when a key is set.
        #[arg(long)]
        offline: bool,
    },
    /// Talk with the agent about your captures (Ctrl-C cancels an answer, Ctrl-D leaves).
    Chat {
        #[arg(long)]
        offline: bool,
    },
    /// Serve the captures to MCP clients (Claude Desktop, Claude Code, ...) over stdio, or over
    /// streamable HTTP with --http.
    Mcp {
        /// Serve streamable HTTP at http://ADDR/mcp instead of stdio: HOST, HOST:PORT or :PORT
        /// (default host 127.0.0.1, default port 8765).
        #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1")]
        http: Option<String>,
        /// Allow --http on a non-loopback address (0.0.0.0, ::, a LAN address); the server has no authentication.
        #[arg(long, requires = "http")]
        allow_remote: bool,
    },
    /// Write the bundled sample capture (web, DNS and a small port scan) to FILE.
    #[command(hide = true)]
    Sample { file: PathBuf },
    /// Benchmark netql against the libpcap floor and tshark on generated captures
    /// (release build: `cargo run --release -- bench`).
    Bench {
        /// Packet counts of the generated files.
        #[arg(long, value_delimiter = ',', default_value = "1000000,10000000")]
        packets: Vec<u64>,
        /// Where generated files, the floor binary and results go (outside the repository).
        #[arg(long, default_value = "/tmp/netql-bench")]
        dir: PathBuf,
        /// The shared folder holding bench/gen_pcap.py and bench/pcap_floor.c.
        #[arg(long, default_value = "../shared")]
        shared: PathBuf,
        /// Runs per measurement, taken round by round (median reported; big files get at most 3).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Skip tshark.
        #[arg(long)]
        no_tshark: bool,
        /// Skip the canned-suite timings.
        #[arg(long)]
        no_suite: bool,
    },
    /// One measured task of `netql bench` (run as a child process).
    #[command(hide = true)]
    BenchWorker { kind: String, file: PathBuf },
}

fn main() -> ExitCode {
    // Like other command-line tools, stop quietly when the reader of our output goes away
    // (`netql ... | head`) instead of panicking on a broken pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let args = Args::parse();
    let ov = Overrides {
        config_file: args.config.clone(),
        captures_dir: args.captures.clone(),
        cache_dir: args.cache_dir.clone(),
        no_cache: args.no_cache,
    };
    let result = Config::load(&ov).map_err(anyhow::Error::from).and_then(|cfg| {
        let ctx = cli::Ctx {
            opts: netql::table::load::LoadOptions {
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
            Command::Analyze { files, format, fail_on } => cli::analyze_cmd(&ctx, &files, format, fail_on),
            Command::Run {
                query,
                files,
                expr,
                params,
                format,
                max_rows,
            } => cli::run(
                &ctx,
                cli::RunArgs {
                    query,
                    expr,
                    captures: files,
                    params,
                    format,
                    max_rows,
                },
            ),
            Command::Check {
                items,
                fail_on,
                junit,
                format,
                params,
            } => cli::check(
                &ctx,
                cli::CheckArgs {
                    items,
                    fail_on,
                    junit,
                    format,
                    params,
                },
            ),
            Command::Queries { format } => cli::list_queries(&ctx, format),
            Command::Interfaces { format } => cli::interfaces(format),
            Command::Capture(args) => cli::capture(&ctx, &args),
            Command::Watch(args) => cli::watch::watch(&ctx, &args),
            Command::Shell { files } => cli::shell(&ctx, &files),
            Command::Bench {
                packets,
                dir,
                shared,
                runs,
                no_tshark,
                no_suite,
            } => {
                let o = crate::cli::bench::BenchOptions {
                    sizes: packets,
                    dir,
                    shared,
                    runs,
                    tshark: !no_tshark,
                    suite: !no_suite,
                };
                crate::cli::bench::run(&o).map_err(anyhow::Error::from).and_then(|v| {
                    let text = serde_json::to_string_pretty(&v)?;
                    let out = o.dir.join("results.json");
                    std::fs::write(&out, &text)?;
                    println!("{text}");
                    eprintln!("results written to {}", out.display());
                    Ok(Exit::Success)
                })
            }
            Command::BenchWorker { kind, file } => crate::cli::bench::worker(&kind, &file)
                .map(|_| Exit::Success)
                .map_err(anyhow::Error::from),
            Command::Ask { question, offline } => cli::ask(&ctx, &question.join(" "), offline),
            Command::Chat { offline } => cli::chat(&ctx, offline),
            Command::Mcp { http, allow_remote } => netql::mcp::serve(
                ctx.cfg.clone(),
                ctx.opts.clone(),
                netql::mcp::ServeOptions { http, allow_remote },
            )
            .map(|_| Exit::Success)
            .map_err(anyhow::Error::from),
            Command::Sample { file } => netql::capture::sample::write(&file)
                .map(|_| Exit::Success)
                .map_err(anyhow::Error::from),
        }
    });
    match result {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(e) => {
            eprintln!("netql: error: {e:#}");
            ExitCode::from(Exit::Error.code())
        }
    }
}
