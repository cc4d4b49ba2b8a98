//! `netql capture`: capture from an interface into `capture_YYYYMMDD_HHMMSS.pcap` files, with a
//! counter on a terminal and the kernel's statistics at the end.

use anyhow::Result;
use netql::error::Exit;
use netql::render::Format;
use netql::units;

use crate::cli::context::Ctx;
use crate::cli::signals::stop_on_signals;

/// `netql capture` options (see `netql capture --help`).
#[derive(Debug, clap::Args)]
pub struct CaptureArgs {
    /// Interface to capture on (`netql interfaces` lists them; `any` means all).
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub interface: String,
    /// BPF capture filter in tcpdump syntax, e.g. "tcp port 443 or udp port 53".
    #[arg(long, value_name = "BPF")]
    pub filter: Option<String>,
    /// Stop after this long: 500ms, 60s, 5m, 1h.
    #[arg(long, value_name = "TIME", value_parser = netql::units::parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// Stop after writing this many packets.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// Bytes kept of each packet.
    #[arg(long, value_name = "N", default_value_t = netql::capture::live::MAX_SNAPLEN,
          value_parser = clap::value_parser!(u32).range(1..=netql::capture::live::MAX_SNAPLEN as i64))]
    pub snaplen: u32,
    /// Start a new file before one would grow past this size: 500kB, 100MB, 10MiB, 1GB.
    #[arg(long, value_name = "SIZE", value_parser = netql::units::parse_size, conflicts_with = "rotate_time")]
    pub rotate_size: Option<u64>,
    /// Start a new file when a packet arrives and the current file is this old: 30s, 5m, 1h.
    #[arg(long, value_name = "TIME", value_parser = netql::units::parse_duration)]
    pub rotate_time: Option<std::time::Duration>,
    /// Kernel capture buffer; raise it if the report shows drops.
    #[arg(long, value_name = "SIZE", default_value = "32MiB", value_parser = parse_buffer_size)]
    pub buffer_size: u32,
    /// Folder for the pcap files (default: the captures folder).
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<std::path::PathBuf>,
    /// Format of the final report.
    #[arg(long, default_value = "table", value_parser = Format::parser(Format::TABLE_JSON))]
    pub format: Format,
}

pub fn parse_buffer_size(text: &str) -> std::result::Result<u32, String> {
    let n = netql::units::parse_size(text)?;
    u32::try_from(n)
        .ok()
        .filter(|&n| n <= i32::MAX as u32)
        .ok_or_else(|| format!("{text:?}: at most 2GB"))
}

pub fn capture(ctx: &Ctx, args: &CaptureArgs) -> Result<Exit> {
    use netql::capture::live::{CaptureOptions, Rotate, run_capture};

    let opts = CaptureOptions {
        interface: args.interface.clone(),
        filter: args.filter.clone(),
        out_dir: args.out_dir.clone().unwrap_or_else(|| ctx.cfg.captures_dir.clone()),
        duration: args.duration,
        count: args.count,
        snaplen: args.snaplen,
        buffer_size: args.buffer_size,
        rotate: match (args.rotate_size, args.rotate_time) {
            (Some(size), _) => Rotate::Size(size),
            (None, Some(age)) => Rotate::Time(age),
            (None, None) => Rotate::Never,
        },
        immediate: true,
    };

    let (stop, hooks) = stop_on_signals()?;

    let bar = if ctx.opts.progress {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            // wide_msg cuts the line to the terminal's width, so it is redrawn in place.
            indicatif::ProgressStyle::with_template("{spinner} {wide_msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(250));
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let iface = &opts.interface;
    let result = run_capture(&opts, &stop, |p| {
        let drops = match p.dropped {
            Some(d) if d > 0 => format!(", {d} dropped by the kernel"),
            _ => String::new(),
        };
        bar.set_message(format!(
            "{iface}: {} packets, {} in {:.0} s{drops} -> {} (file {}); Ctrl-C stops",
            p.packets,
            units::human_bytes(p.bytes),
            p.elapsed.as_secs_f64(),
            netql::table::catalog::file_name(&p.current_file),
            p.files,
        ));
    });
    bar.finish_and_clear();
    drop(hooks);
    let report = result?;

    match args.format {
        Format::Json => println!("{}", netql::safe_text::json(serde_json::to_string_pretty(&report)?)),
        _ => {
            let opt = |v: Option<u64>| v.map_or_else(|| "?".to_string(), |v| v.to_string());
            println!(
                "wrote {} packets ({}) in {:.1} s to {} file{}:",
                report.packets,
                units::human_bytes(report.bytes),
                report.elapsed.as_secs_f64(),
                report.files.len(),
                if report.files.len() == 1 { "" } else { "s" }
            );
            for f in &report.files {
                println!("  {}", f.display());
            }
            println!(
                "kernel: {} received, {} dropped, {} dropped by the interface",
                opt(report.received),
                opt(report.dropped),
                opt(report.if_dropped)
            );
        }
    }
    Ok(Exit::Success)
}
