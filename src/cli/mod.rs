//! cli: the binary's commands, one file each. [`run`] loads the settings and hands the parsed
//! command line to its command; each command prints its result and returns an [`Exit`] (or an
//! error, which `main` reports and turns into exit code 2). This is the binary's edge: errors are
//! `anyhow` here, typed below.

pub mod agent;
pub mod analyze;
pub mod args;
pub mod bench;
pub mod bench_lake;
pub mod bench_report;
pub mod capture;
pub mod captures;
pub mod carve;
pub mod check;
pub mod context;
pub mod diff;
pub mod export;
pub mod functions;
pub mod fuzz;
pub mod ingest;
pub mod interfaces;
pub mod queries;
pub mod report;
pub mod run;
pub mod schema;
pub mod signals;
pub mod summary;
pub mod watch;

use std::io::IsTerminal;

use anyhow::Result;
use netql::config::{Config, Overrides};
use netql::error::Exit;
use netql::table::load::LoadOptions;

use crate::cli::args::{Args, Command};
use crate::cli::context::Ctx;

/// The shell, over captures or a lake.
fn shell(ctx: &Ctx, files: &[String], lake: &context::LakeArgs) -> Result<Exit> {
    let data = context::lake_source(lake, files)?;
    Ok(netql::shell::run(&ctx.cfg, &ctx.opts, ctx.shell_engine(), files, data)?)
}

/// Run the command the arguments name.
pub fn run(args: Args) -> Result<Exit> {
    let ov = Overrides {
        config_file: args.config.clone(),
        captures_dir: args.captures.clone(),
        cache_dir: args.cache_dir.clone(),
        no_cache: args.no_cache,
    };
    let cfg = Config::load(&ov)?;
    let ctx = Ctx {
        opts: LoadOptions {
            cache_dir: cfg.cache_dir.clone(),
            use_cache: cfg.use_cache,
            progress: !args.quiet && std::io::stderr().is_terminal(),
            threads: args.threads,
            community_id_seed: cfg.community_id_seed,
        },
        cfg,
    };
    match args.command {
        Command::Summary { files, format } => summary::summary(&ctx, &files, format),
        Command::Captures { format } => captures::captures(&ctx, format),
        Command::Export(args::ExportCommand::Zeek { files, out, json }) => export::zeek(&ctx, &files, &out, json),
        Command::Schema { format, lake } => schema::schema(format, lake),
        Command::Ingest(a) => ingest::run(&ctx, &a),
        Command::Analyze {
            files,
            format,
            fail_on,
            lake,
        } => analyze::analyze(&ctx, &files, &lake, format, fail_on),
        Command::Run {
            query,
            files,
            expr,
            params,
            format,
            max_rows,
            lake,
        } => run::run(
            &ctx,
            run::RunArgs {
                query,
                expr,
                captures: files,
                params,
                format,
                max_rows,
                lake,
            },
        ),
        Command::Check {
            items,
            fail_on,
            junit,
            format,
            params,
            lake,
        } => check::check(
            &ctx,
            check::CheckArgs {
                items,
                fail_on,
                junit,
                format,
                params,
                lake,
            },
        ),
        Command::Queries { format } => queries::list_queries(&ctx, format),
        Command::Functions { format } => functions::functions(format),
        Command::Interfaces { format } => interfaces::interfaces(format),
        Command::Capture(args) => capture::capture(&ctx, &args),
        Command::Watch(args) => watch::watch(&ctx, &args),
        Command::Shell { files, lake } => shell(&ctx, &files, &lake),
        Command::Bench {
            packets,
            dir,
            shared,
            runs,
            no_tshark,
            no_suite,
            lake,
            only_lake,
        } => bench_report::command(bench::BenchOptions {
            sizes: packets,
            dir,
            shared,
            runs,
            tshark: !no_tshark,
            suite: !no_suite,
            lake: match (lake, only_lake) {
                (_, true) => bench::LakeFigures::Only,
                (true, false) => bench::LakeFigures::Also,
                (false, false) => bench::LakeFigures::No,
            },
        }),
        Command::Carve(a) => carve::run(&ctx, &a),
        Command::Diff(a) => diff::run(&ctx, &a),
        Command::Report(a) => report::run(&ctx, &a),
        Command::BenchWorker { kind, file } => bench::worker(&kind, &file).map(|_| Exit::Success),
        Command::Fuzz {
            cases,
            seed,
            crashes,
            replay,
        } => {
            if replay.is_empty() {
                fuzz::run(fuzz::FuzzArgs { cases, seed, crashes })
            } else {
                fuzz::replay(&replay)
            }
        }
        Command::Ask {
            question,
            offline,
            usage,
            lake,
        } => agent::ask(&ctx, &question.join(" "), offline, usage, &lake),
        Command::Chat { offline, usage, lake } => agent::chat(&ctx, offline, usage, &lake),
        Command::Mcp {
            http,
            allow_remote,
            engine,
            lake,
        } => {
            let opts = netql::mcp::ServeOptions {
                http,
                allow_remote,
                engine,
                lake: lake.serve(),
            };
            netql::mcp::serve(ctx.cfg.clone(), ctx.opts.clone(), opts)?;
            Ok(Exit::Success)
        }
        Command::Sample { file } => {
            netql::capture::sample::write(&file)?;
            Ok(Exit::Success)
        }
    }
}
