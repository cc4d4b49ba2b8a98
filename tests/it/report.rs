//! `netql report`: one self-contained HTML page, opened in headless Chromium: the page's text,
//! every chart rendered with the expected number of bars, a screenshot, and no URL that would
//! fetch anything from outside.

use std::path::Path;
use std::process::Command;

use crate::common::{netql, sample, stderr};

/// Chromium's flags for a closed machine (no background connections) and a fresh profile.
fn chromium(browser: &Path, profile: &Path) -> Command {
    let mut c = Command::new(browser);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

#[test]
fn the_report_renders_in_a_browser_with_every_chart() {
    let Some(browser) = netql::testdata::chromium() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let o = netql(
        &[
            "--no-cache",
            "report",
            sample().to_str().unwrap(),
            "--out",
            page.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let html = std::fs::read_to_string(&page).unwrap();
    // Self-contained: nothing is fetched when the page opens.
    let outside = regex::Regex::new(r#"(?i)(src|href)\s*=\s*["']?\s*(https?:)?//"#).unwrap();
    assert!(!outside.is_match(&html), "an external URL in the page");
    assert!(!html.contains("<script"), "no scripts");

    let url = format!("file://{}", page.display());
    let o = chromium(&browser, &dir.path().join("profile"))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dom = String::from_utf8_lossy(&o.stdout).into_owned();
    for text in [
        "netql report: sample.pcap",
        "253 packets",
        "Findings (2)",
        "<code>netql carve sample.pcap --frames 43,45",
    ] {
        assert!(dom.contains(text), "the page lacks {text:?}");
    }
    // Each chart: an SVG with as many bars as its data says, and as the table beside it lists.
    let mut seen = Vec::new();
    for part in dom.split("<figure class=\"chart\" id=\"").skip(1) {
        let id = part.split('"').next().unwrap().to_string();
        let bars: usize = part
            .split("data-bars=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let body = part.split("</figure>").next().unwrap();
        assert!(body.contains("<svg"), "{id}: no SVG");
        assert_eq!(body.matches("<rect").count(), bars, "{id}");
        assert!(bars > 0, "{id}: empty");
        seen.push((id, bars));
    }
    let ids: Vec<&str> = seen.iter().map(|(i, _)| i.as_str()).collect();
    assert_eq!(
        ids,
        [
            "bandwidth-bytes",
            "bandwidth-packets",
            "protocols",
            "talkers",
            "conversations"
        ]
    );
    assert_eq!(seen[0].1, seen[1].1, "bytes and packets over the same intervals");
    // The sample has five hosts and twelve protocols (as `netql run top_talkers` and the
    // protocol table say).
    assert_eq!(seen[3].1, 5);
    assert_eq!(seen[2].1, 12);

    // With a baseline: the changes section (the sample against itself: none).
    let with = dir.path().join("with.html");
    let s = sample();
    let o = netql(
        &[
            "--no-cache",
            "report",
            s.to_str().unwrap(),
            "--baseline",
            s.to_str().unwrap(),
            "--out",
            with.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let with = std::fs::read_to_string(&with).unwrap();
    assert!(
        with.contains("<h2 id=\"changes\">Changes since sample.pcap</h2>") && with.contains("no changes"),
        "changes section"
    );

    let shot = dir.path().join("report.png");
    let o = chromium(&browser, &dir.path().join("profile2"))
        .args(["--window-size=1100,1600"])
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 20_000, "{} bytes", png.len());
}

/// On a terminal, `analyze` ends with the traffic over time as a one-line sparkline (one block
/// per interval, the capture's 35 s in 583 ms steps); in a pipe it does not.
#[test]
fn analyze_draws_a_sparkline_on_a_terminal_only() {
    use expectrl::session::OsSession;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_netql"));
    cmd.args(["--no-cache", "analyze"])
        .arg(sample())
        .env("NETQL_CACHE_DIR", dir.path())
        .env_remove("NETQL_CONFIG")
        .current_dir(dir.path());
    let mut s = OsSession::spawn(cmd).expect("netql in a pty");
    let mut out = Vec::new();
    let started = std::time::Instant::now();
    let mut buf = [0u8; 8192];
    while started.elapsed() < std::time::Duration::from_secs(60) {
        match s.try_read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if !expectrl::process::Healthcheck::is_alive(s.get_process()).unwrap_or(false) {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&out);
    let line = text
        .lines()
        .find(|l| l.starts_with("traffic (bytes per 583ms): "))
        .unwrap_or_else(|| panic!("{text}"));
    let spark = line.split(": ").nth(1).unwrap().trim_end_matches('\r');
    assert_eq!(spark.chars().count(), 62, "{spark:?}");
    assert!(
        spark.contains('█') && spark.chars().all(|c| c == ' ' || ('▁'..='█').contains(&c)),
        "{spark:?}"
    );
    let piped = netql(&["--no-cache", "analyze", sample().to_str().unwrap()], dir.path());
    assert!(!crate::common::stdout(&piped).contains("traffic (bytes per"));
}
