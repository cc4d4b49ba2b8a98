//! live: the `capture_live` tool (off unless `[mcp] allow_live_capture = true`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rmcp::model::CallToolResult;

use crate::mcp::server::{NetqlServer, ms, tool_error, tool_ok};
use crate::mcp::types::{CaptureLiveArgs, LiveOutput};
use crate::render::{self};
use crate::table::catalog::{self};
use crate::units;

impl NetqlServer {
    pub(crate) fn do_capture_live(&self, a: CaptureLiveArgs, stop: Arc<AtomicBool>) -> CallToolResult {
        if self.inner.lake.is_some() {
            return crate::mcp::lake::not_over_a_lake("capture_live");
        }
        let m = &self.inner.cfg.mcp;
        if !m.allow_live_capture {
            return tool_error(format!(
                "live capture is off in this server. To allow it, add to the config file ({}):\n\
                 [mcp]\nallow_live_capture = true\nmax_capture_seconds = 60\nmax_capture_packets = 100000\n\
                 interface = \"eth0\"   # optional default\n\
                 then restart netql mcp. Capturing also needs root or CAP_NET_RAW \
                 (sudo setcap cap_net_raw=eip \"$(command -v netql)\").",
                self.inner.cfg.config_file.as_ref().map_or_else(
                    || "config/netql.toml, or pass --config FILE".to_string(),
                    |p| p.display().to_string()
                )
            ));
        }
        let seconds = a.seconds.unwrap_or(10.min(m.max_capture_seconds));
        if seconds == 0 || seconds > m.max_capture_seconds {
            return tool_error(format!("seconds must be 1 to {}", m.max_capture_seconds));
        }
        let packets = a.max_packets.unwrap_or(m.max_capture_packets);
        if packets == 0 || packets > m.max_capture_packets {
            return tool_error(format!("max_packets must be 1 to {}", m.max_capture_packets));
        }
        if let Some(f) = &a.filter
            && (f.len() > 2048 || f.contains('\0'))
        {
            return tool_error("filter is too long or holds a NUL byte");
        }
        let interfaces = match crate::capture::live::list_interfaces() {
            Ok(l) => l,
            Err(e) => return tool_error(e.to_string()),
        };
        let names: Vec<&str> = interfaces.iter().map(|i| i.name.as_str()).collect();
        let Some(iface) = a.interface.clone().or_else(|| m.interface.clone()) else {
            return tool_error(format!(
                "name an interface: one of {} (or set [mcp] interface in the config)",
                names.join(", ")
            ));
        };
        if !names.contains(&iface.as_str()) {
            return tool_error(format!("no interface named '{iface}': use one of {}", names.join(", ")));
        }
        if self
            .inner
            .live_running
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return tool_error("a live capture is already running; wait for it to finish");
        }
        let mut opts = crate::capture::live::CaptureOptions::new(iface.clone(), self.inner.cfg.captures_dir.clone());
        opts.duration = Some(Duration::from_secs(seconds));
        opts.count = Some(packets);
        opts.filter = a.filter.clone().filter(|f| !f.trim().is_empty());
        let result = crate::capture::live::run_capture(&opts, &stop, |_| {});
        self.inner.live_running.store(false, Ordering::SeqCst);
        let report = match result {
            Ok(r) => r,
            Err(e) => return tool_error(format!("live capture failed: {e}")),
        };
        let out = LiveOutput {
            interface: iface,
            files: report.files.iter().map(|p| catalog::file_name(p)).collect(),
            packets: report.packets,
            bytes: report.bytes,
            received: report.received,
            dropped: report.dropped,
            if_dropped: report.if_dropped,
            stopped_by: serde_json::to_value(report.stopped_by)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            elapsed_ms: ms(report.elapsed),
        };
        let text = format!(
            "Captured {} packets ({}) on {} in {:.1} s into {} (stopped by {}; kernel dropped {}). \
             Query them with captures [{}] or \"latest\".",
            out.packets,
            units::human_bytes(out.bytes),
            render::clean_cell(&out.interface),
            report.elapsed.as_secs_f64(),
            out.files.join(", "),
            out.stopped_by,
            out.dropped.map_or_else(|| "?".to_string(), |d| d.to_string()),
            out.files
                .iter()
                .map(|f| format!("\"{f}\""))
                .collect::<Vec<_>>()
                .join(", ")
        );
        tool_ok(&out, text)
    }
}
