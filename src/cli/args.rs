//! args: the command line, as clap parses it. Every subcommand and option is declared here, with
//! the help text `netql --help` and `netql COMMAND --help` print.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use netql::query::bindings::Severity;
use netql::render::Format;

use crate::cli::capture;
use crate::cli::watch;

#[derive(Parser)]
#[command(
    name = "netql",
    version,
    about = "Query network captures: pcap -> Polars frames -> scripts, shell, MCP, agent"
)]
pub struct Args {
    /// Config file (default: config/netql.toml).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Captures folder ("latest" and "all" look here; default: captures/).
    #[arg(long, global = true, value_name = "DIR")]
    pub captures: Option<PathBuf>,
    /// Folder for the decoded Parquet cache.
    #[arg(long, global = true, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Neither read nor write the decode cache.
    #[arg(long, global = true)]
    pub no_cache: bool,
    /// Decoder threads (default: one per core).
    #[arg(long, global = true, default_value_t = 0)]
    pub threads: usize,
    /// No progress bars.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Packets, bytes, time span and frames per protocol of each capture.
    Summary {
        /// Capture files: paths, names in the captures folder, `latest` or `all`.
        #[arg(required = true)]
        files: Vec<String>,
        #[arg(long, default_value = "table", value_parser = Format::parser(Format::TABLE_JSON))]
        format: Format,
    },
    /// Write the tables as logs other tools read: `netql export zeek CAPTURE... --out DIR`.
    #[command(subcommand)]
    Export(ExportCommand),
    /// List the captures folder, newest first.
    Captures {
        #[arg(long, default_value = "table", value_parser = Format::parser(Format::TABLE_JSON))]
        format: Format,
    },
    /// The columns of the packet and flow tables, with their types and meanings.
    Schema {
        #[arg(long, default_value = "table", value_parser = Format::parser(Format::TABLE_JSON))]
        format: Format,
        /// The lake's tables instead: each column's type as Spark SQL, Trino and DuckDB read it.
        #[arg(long)]
        lake: bool,
    },
    /// Decode captures into a lake: hive-partitioned Parquet (sensor, date, hour) of the flows,
    /// DNS/HTTP/TLS transactions, event rows, stack counts and the suite's findings, which
    /// `--lake` queries and Spark, Trino or DuckDB read as is. Captures already there are skipped.
    Ingest(crate::cli::ingest::IngestArgs),
    /// The canned suite as a readable report: packets, protocol share, top devices, security
    /// findings with evidence, and a verdict.
    Analyze {
        /// `latest` (default), `all`, or capture files/names.
        #[arg(value_name = "CAPTURE")]
        files: Vec<String>,
        #[arg(long, default_value = "table", value_parser = Format::parser(&[Format::Table, Format::Json, Format::Markdown]))]
        format: Format,
        /// Exit 1 when a finding at or above this severity is found.
        #[arg(long, value_enum)]
        fail_on: Option<Severity>,
        #[command(flatten)]
        lake: crate::cli::context::LakeArgs,
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
        format: Format,
        /// Rows shown in tables before "N more rows".
        #[arg(long)]
        max_rows: Option<usize>,
        #[command(flatten)]
        lake: crate::cli::context::LakeArgs,
    },
    /// CI gate: run queries over captures; exit 1 when a finding at or above --fail-on (or a
    /// failed assert) turns up, 2 on errors.
    Check {
        /// Queries (names or .rhai files; default: the security suite) and captures (default: latest).
        items: Vec<String>,
        #[arg(long, value_enum, default_value = "medium")]
        fail_on: Severity,
        /// Also write a JUnit XML report to FILE.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        #[arg(long, default_value = "table", value_parser = Format::parser(Format::TABLE_JSON))]
        format: Format,
        /// Query parameter, name=value (passed to the queries that declare it).
        #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
        params: Vec<String>,
        #[command(flatten)]
        lake: crate::cli::context::LakeArgs,
    },
    /// The canned queries with their parameters.
    Queries {
        #[arg(long, default_value = "table", value_parser = Format::parser(Format::TABLE_JSON))]
        format: Format,
    },
    /// The query language's functions, each form with what it gives (`--format markdown` is
    /// queries/REFERENCE.md).
    Functions {
        #[arg(long, default_value = "table", value_parser = Format::parser(&[Format::Table, Format::Json, Format::Markdown]))]
        format: Format,
    },
    /// The interfaces live capture can use, with their addresses and flags.
    Interfaces {
        #[arg(long, default_value = "table", value_parser = Format::parser(Format::TABLE_JSON))]
        format: Format,
    },
    /// Capture packets from an interface into pcap files (needs root or CAP_NET_RAW).
    Capture(capture::CaptureArgs),
    /// Run detections (port scans, ARP spoofing, clear-text logins) over live traffic and print
    /// each new finding once; --save also writes the capture (needs root or CAP_NET_RAW).
    Watch(watch::WatchArgs),
    /// The interactive query shell; with stdin not a terminal, runs the script read from stdin.
    Shell {
        /// Captures to load (default: latest).
        #[arg(value_name = "CAPTURE")]
        files: Vec<String>,
        #[command(flatten)]
        lake: crate::cli::context::LakeArgs,
    },
    /// Ask the agent one question about your captures; the answer goes to stdout.
    /// Without ANTHROPIC_API_KEY it answers the common asks offline.
    Ask {
        question: Vec<String>,
        /// Do not call the Anthropic API even when a key is set.
        #[arg(long)]
        offline: bool,
        /// Show the tokens each turn used (input, output, read from the prompt cache).
        #[arg(long)]
        usage: bool,
        #[command(flatten)]
        lake: crate::cli::context::LakeArgs,
    },
    /// Talk with the agent about your captures (Ctrl-C cancels an answer, Ctrl-D leaves).
    Chat {
        #[arg(long)]
        offline: bool,
        /// Show the tokens each turn used (input, output, read from the prompt cache).
        #[arg(long)]
        usage: bool,
        #[command(flatten)]
        lake: crate::cli::context::LakeArgs,
    },
    /// Serve the captures to MCP clients (Claude Desktop, Claude Code, ...) over stdio, or over
    /// streamable HTTP with --http.
    Mcp {
        /// Serve streamable HTTP at http://ADDR/mcp instead of stdio: HOST, HOST:PORT or :PORT
        /// (default host 127.0.0.1, default port 8765).
        #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1")]
        http: Option<String>,
        /// Allow --http on a non-loopback address (0.0.0.0, ::, a LAN address); a bearer token is then required.
        #[arg(long, requires = "http")]
        allow_remote: bool,
        /// Serve stdio as the query engine of another `netql mcp` (which starts it).
        #[arg(long, hide = true, conflicts_with = "http")]
        engine: bool,
        #[command(flatten)]
        lake: crate::cli::context::LakeArgs,
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
        /// Also measure the lake: ingest of the biggest file and of 20 × 1M files at once, and
        /// top talkers over a lake of 10 sensors × the biggest file (whole lake, one hour).
        #[arg(long)]
        lake: bool,
        /// Measure the lake only.
        #[arg(long, conflicts_with = "lake")]
        only_lake: bool,
    },
    /// The analysis as one self-contained HTML page with charts: traffic over time, protocol
    /// share, top talkers and conversations, findings with evidence and carve commands.
    Report(crate::cli::report::ReportArgs),
    /// What changed between two captures or sets: hosts, services, DNS names, TLS names and
    /// fingerprints, protocol share, volume per host, findings that appeared or went away.
    Diff(crate::cli::diff::DiffArgs),
    /// Write the packets behind a finding, a flow, frames, or a query's result to a new capture
    /// file (pcap; pcapng when link types differ) for Wireshark.
    Carve(crate::cli::carve::CarveArgs),
    /// One measured task of `netql bench` (run as a child process).
    #[command(hide = true)]
    BenchWorker { kind: String, file: PathBuf },
    /// Mutated records and files of real captures through the readers and the decoders; exit 1
    /// on any panic, the input saved (`--replay` decodes saved inputs again).
    #[command(hide = true)]
    Fuzz {
        #[arg(long, default_value_t = 1_000_000)]
        cases: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Where inputs that panic are saved.
        #[arg(long, default_value = "fuzz-crashes")]
        crashes: PathBuf,
        /// Decode these saved inputs instead of fuzzing.
        #[arg(long, num_args = 1..)]
        replay: Vec<PathBuf>,
    },
}

/// What `netql export` writes.
#[derive(Subcommand)]
pub enum ExportCommand {
    /// Zeek logs: conn.log from the flows (Zeek's TSV, or JSON lines with --json), readable by
    /// zeek-cut, RITA, Zui/Brim and anything else that reads Zeek logs.
    Zeek {
        /// Capture files: paths, names in the captures folder, `latest` or `all`.
        #[arg(required = true)]
        files: Vec<String>,
        /// Folder to write the logs into (created if missing; existing logs are replaced).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// JSON lines (Zeek's `LogAscii::use_json`) instead of tab-separated columns.
        #[arg(long)]
        json: bool,
    },
}
