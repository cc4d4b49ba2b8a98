//! Snapshots of every output format, so a change in what users or machines read shows up as a diff.

use crate::common::{netql, sample, stdout};

fn run(args: &[&str]) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let s = sample();
    let mut all: Vec<&str> = args.to_vec();
    all.push(s.to_str().unwrap());
    let o = netql(&all, tmp.path());
    assert!(o.status.code().is_some_and(|c| c <= 1), "{:?}", o);
    // Timings differ run to run.
    let re = regex::Regex::new(r#""elapsed_ms": \d+"#).unwrap();
    re.replace_all(&stdout(&o), r#""elapsed_ms": "[ms]""#).into_owned()
}

#[test]
fn table_formats_of_a_query() {
    for fmt in ["table", "json", "ndjson", "csv", "markdown"] {
        let out = run(&["run", "top_talkers", "--param", "limit=4", "--format", fmt]);
        insta::assert_snapshot!(format!("top_talkers_{fmt}"), out);
    }
}

#[test]
fn table_footer_counts_the_rows_not_shown() {
    let out = run(&[
        "run",
        "-e",
        "packets().select([\"frame\", \"src_ip\", \"dst_ip\", \"protocols\"])",
        "--max-rows",
        "3",
    ]);
    insta::assert_snapshot!("packets_head_footer", out);
}

#[test]
fn findings_formats() {
    for fmt in ["table", "json", "csv"] {
        let out = run(&["run", "port_scan", "--format", fmt]);
        insta::assert_snapshot!(format!("port_scan_{fmt}"), out);
    }
}

#[test]
fn analyze_formats() {
    for fmt in ["table", "markdown", "json"] {
        let out = run(&["analyze", "--format", fmt]);
        insta::assert_snapshot!(format!("analyze_{fmt}"), out);
    }
}
