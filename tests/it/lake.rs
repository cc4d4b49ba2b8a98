//! The lake (`netql ingest`, `--lake`): ingest a folder of real and generated captures, ingest
//! again (nothing added), change and touch a capture, ingest twice at once, kill an ingest; the
//! lake's answers equal the same queries over the captures loaded directly, time and sensor
//! ranges equal the same filters written by hand, and Apache Spark reading the lake with the
//! shipped SQL (queries/sql/) agrees with netql row by row.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use polars::prelude::SerReader;
use serde_json::Value;

use crate::common::{netql, sample, stderr, stdout};

/// A folder of captures: some shared ones and a generated one (30k packets with
/// injected scans, over 90 minutes).
pub(crate) struct Fixture {
    _dir: tempfile::TempDir,
    pub(crate) caps: PathBuf,
    pub(crate) work: PathBuf,
}

impl Fixture {
    pub(crate) fn new() -> Option<Fixture> {
        let shared = netql::testdata::shared_captures()?;
        let script = netql::testdata::shared("bench/gen_pcap.py")?;
        let dir = tempfile::tempdir().unwrap();
        let caps = dir.path().join("caps");
        let work = dir.path().join("work");
        std::fs::create_dir_all(caps.join("sub")).unwrap();
        std::fs::create_dir_all(&work).unwrap();
        std::fs::copy(sample(), caps.join("sample.pcap")).unwrap();
        for name in [
            "http_espn.pcapng",
            "wikipedia.pcap",
            "synscan.pcapng",
            "dns-edns-ecs.pcap",
        ] {
            std::fs::copy(shared.join(name), caps.join(name)).unwrap();
        }
        std::fs::copy(shared.join("icmp6.pcap"), caps.join("sub/icmp6.pcap")).unwrap();
        generate(&script, 1, &caps.join("gen1.pcap"));
        Some(Fixture { _dir: dir, caps, work })
    }

    pub(crate) fn files(&self) -> Vec<String> {
        let mut out: Vec<String> = netql::table::lake::ingest::captures_under(&self.caps)
            .unwrap()
            .into_iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        out.sort();
        out
    }

    pub(crate) fn run(&self, args: &[&str]) -> std::process::Output {
        netql(args, &self.work)
    }

    pub(crate) fn json(&self, args: &[&str]) -> Value {
        let o = self.run(args);
        assert!(o.status.success(), "netql {args:?}: {}", stderr(&o));
        serde_json::from_str(&stdout(&o)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&o)))
    }

    /// `netql run RUN_ARGS --format json` over every capture of the folder, loaded directly.
    pub(crate) fn direct(&self, run_args: &[&str]) -> Value {
        let files = self.files();
        let mut args = vec!["--no-cache", "run"];
        args.extend(run_args);
        args.extend(["--format", "json"]);
        args.extend(files.iter().map(String::as_str));
        self.json(&args)
    }

    /// `netql run RUN_ARGS --format json --lake LAKE SCOPE...`.
    pub(crate) fn over_lake(&self, lake: &Path, run_args: &[&str], scope: &[&str]) -> Value {
        let mut args = vec!["run"];
        args.extend(run_args);
        args.extend(["--format", "json", "--lake", lake.to_str().unwrap()]);
        args.extend(scope);
        self.json(&args)
    }

    /// `netql ingest CAPS --lake LAKE --sensor s EXTRA...`, to run as the test needs (at once
    /// with another, or killed part way).
    pub(crate) fn ingest_command(&self, lake: &Path, extra: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_netql"));
        c.args([
            "--no-cache",
            "ingest",
            self.caps.to_str().unwrap(),
            "--lake",
            lake.to_str().unwrap(),
        ])
        .args(["--sensor", "s"])
        .args(extra)
        .env("NETQL_CACHE_DIR", &self.work)
        .current_dir(&self.work);
        c
    }

    /// A lake of two sensors: the folder as sensor "a", and a second generated capture
    /// (`other/gen2.pcap`, seed 2) as sensor "b". Returns the lake and that other folder.
    pub(crate) fn two_sensors(&self) -> (PathBuf, PathBuf) {
        let lake = self.work.join("lake");
        self.ingest(&lake, &["--sensor", "a"]);
        let other = self.work.join("other");
        std::fs::create_dir_all(&other).unwrap();
        generate(
            &netql::testdata::shared("bench/gen_pcap.py").unwrap(),
            2,
            &other.join("gen2.pcap"),
        );
        let o = self.run(&[
            "--no-cache",
            "ingest",
            other.to_str().unwrap(),
            "--lake",
            lake.to_str().unwrap(),
            "--sensor",
            "b",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stdout(&o).contains("sensor b: 1 added"), "{}", stdout(&o));
        (lake, other)
    }

    /// `netql run -e SCRIPT --format json CAPTURE`, the capture loaded directly.
    pub(crate) fn script_on(&self, script: &str, capture: &Path) -> Value {
        self.json(&[
            "--no-cache",
            "run",
            "-e",
            script,
            "--format",
            "json",
            capture.to_str().unwrap(),
        ])
    }

    /// The first flow's start in the generated capture of the folder (seconds).
    pub(crate) fn gen1_start(&self) -> i64 {
        let first = self.script_on(
            "flows().select([min(\"first_ts\").epoch_s().alias(\"t\")])",
            &self.caps.join("gen1.pcap"),
        );
        first[0]["t"].as_f64().unwrap().floor() as i64
    }

    pub(crate) fn ingest(&self, lake: &Path, extra: &[&str]) -> Value {
        let mut args = vec![
            "--no-cache",
            "ingest",
            self.caps.to_str().unwrap(),
            "--lake",
            lake.to_str().unwrap(),
            "--format",
            "json",
        ];
        args.extend(extra);
        self.json(&args)
    }
}

fn generate(script: &Path, seed: u32, out: &Path) {
    let st = Command::new("python3")
        .arg(script)
        // 90 minutes: its rows fall in two hour partitions.
        .args([
            "--packets",
            "30000",
            "--duration",
            "5400",
            "--seed",
            &seed.to_string(),
            "--out",
        ])
        .arg(out)
        .status()
        .expect("python3 runs the generator");
    assert!(st.success());
}

pub(crate) fn manifest(lake: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(lake.join("_netql/manifest.json")).unwrap()).unwrap()
}

/// Every Parquet file under the lake's table folders, relative to the lake.
fn parts_on_disk(lake: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![lake.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(lake).unwrap().to_string_lossy().into_owned();
            if rel.starts_with("_netql") {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(rel);
            }
        }
    }
    out
}

fn parts_listed(m: &Value) -> BTreeSet<String> {
    m["captures"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| {
            c["parts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap().to_string())
        })
        .collect()
}

fn outcomes(summary: &Value) -> BTreeMap<String, String> {
    summary["captures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["file"].as_str().unwrap().to_string(),
                c["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A canned query over the lake and over the captures loaded directly: the same rows.
fn same_answer(fx: &Fixture, lake: &Path, query: &[&str]) {
    let (mut a, mut b) = (fx.over_lake(lake, query, &[]), fx.direct(query));
    assert!(a.as_array().is_some_and(|r| !r.is_empty()), "{query:?}: no rows");
    // Findings of one severity come in the order the query's groups do, which follows the
    // order rows are read in (per part in the lake, per capture here): compared as sets.
    for v in [&mut a, &mut b] {
        if let Some(rows) = v.as_array_mut()
            && rows.iter().all(|r| r.get("severity").is_some())
        {
            rows.sort_by_key(|r| r.to_string());
        }
    }
    assert_eq!(a, b, "{query:?} over the lake and over the captures");
}

#[test]
fn ingest_is_incremental_idempotent_and_replaces_a_changed_capture() {
    let Some(fx) = Fixture::new() else { return };
    let lake = fx.work.join("lake");
    let first = fx.ingest(&lake, &["--sensor", "edge-1"]);
    let files = fx.files();
    assert_eq!(first["added"], files.len(), "{first}");
    assert!(outcomes(&first).values().all(|o| o == "added"), "{first}");
    // Every capture's packets, as netql counts them loading it directly.
    let mut args = vec!["--no-cache", "summary", "--format", "json"];
    args.extend(files.iter().map(String::as_str));
    let o = fx.run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let direct: u64 = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["packets"].as_u64().unwrap())
        .sum();
    assert_eq!(first["packets"].as_u64(), Some(direct), "{first}");
    let m = manifest(&lake);
    assert_eq!(m["schema_version"], 1);
    assert_eq!(
        parts_on_disk(&lake),
        parts_listed(&m),
        "only listed parts are in the lake"
    );
    let part = regex::Regex::new(
        r"^(flows|dns|http|tls|events|stacks|findings)/sensor=edge-1/date=\d{4}-\d{2}-\d{2}/hour=\d{2}/part-[0-9a-f]{32}\.parquet$",
    )
    .unwrap();
    for p in parts_listed(&m) {
        assert!(part.is_match(&p), "{p}");
    }
    // The generated capture spans 90 minutes from the top of an hour: two hour partitions.
    let gen_hours: BTreeSet<String> = m["captures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["file"] == "gen1.pcap")
        .unwrap()["parts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p.as_str().unwrap().strip_prefix("flows/").map(str::to_string))
        .collect();
    assert!(gen_hours.len() >= 2, "{gen_hours:?}");

    for q in [
        &["top_talkers", "-p", "limit=50"][..],
        &["conversations", "-p", "limit=50"],
        &["protocol_share", "-p", "limit=40"],
        &["port_scan"],
        &["dns_summary"],
    ] {
        same_answer(&fx, &lake, q);
    }
    // The whole analysis too (the capture list aside: the lake lists them in ingest order).
    let strip = |mut v: Value| {
        for k in ["elapsed_ms", "files", "captures"] {
            v.as_object_mut().unwrap().remove(k);
        }
        // Findings of one severity in the order their rows were read (see same_answer).
        v["findings"].as_array_mut().unwrap().sort_by_key(|r| r.to_string());
        v
    };
    let over_lake = strip(fx.json(&["analyze", "--format", "json", "--lake", lake.to_str().unwrap()]));
    let mut args = vec!["--no-cache", "analyze", "--format", "json"];
    args.extend(files.iter().map(String::as_str));
    assert_eq!(over_lake, strip(fx.json(&args)));

    // Again: nothing added, nothing rewritten.
    let before = std::fs::read(lake.join("_netql/manifest.json")).unwrap();
    let stamps = |lake: &Path| -> BTreeMap<String, std::time::SystemTime> {
        parts_on_disk(lake)
            .into_iter()
            .map(|p| {
                let t = std::fs::metadata(lake.join(&p)).unwrap().modified().unwrap();
                (p, t)
            })
            .collect()
    };
    let parts_before = stamps(&lake);
    let again = fx.ingest(&lake, &["--sensor", "edge-1"]);
    assert!(outcomes(&again).values().all(|o| o == "unchanged"), "{again}");
    assert_eq!(again["packets"], 0);
    assert_eq!(std::fs::read(lake.join("_netql/manifest.json")).unwrap(), before);
    assert_eq!(stamps(&lake), parts_before);

    // Touched (new time, same bytes): known by its hash, still unchanged.
    let f = std::fs::File::options()
        .write(true)
        .open(fx.caps.join("sample.pcap"))
        .unwrap();
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
        .unwrap();
    drop(f);
    let touched = fx.ingest(&lake, &["--sensor", "edge-1"]);
    assert!(outcomes(&touched).values().all(|o| o == "unchanged"), "{touched}");
    assert_eq!(stamps(&lake), parts_before);

    // Changed: the first 100 frames of the sample in its place. Its parts are replaced; every
    // other capture's entry and parts stay as they were.
    let cut = fx.work.join("cut.pcap");
    let o = fx.run(&[
        "--no-cache",
        "carve",
        fx.caps.join("sample.pcap").to_str().unwrap(),
        "--frames",
        "1-100",
        "--out",
        cut.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::copy(&cut, fx.caps.join("sample.pcap")).unwrap();
    let changed = fx.ingest(&lake, &["--sensor", "edge-1"]);
    let oc = outcomes(&changed);
    assert_eq!(oc["sample.pcap"], "replaced", "{changed}");
    assert_eq!(
        oc.values().filter(|o| *o == "unchanged").count(),
        files.len() - 1,
        "{changed}"
    );
    let after = manifest(&lake);
    let entry = |m: &Value, file: &str| -> Value {
        m["captures"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["file"] == file)
            .unwrap()
            .clone()
    };
    assert_eq!(entry(&after, "sample.pcap")["packets"], 100);
    for c in m["captures"].as_array().unwrap() {
        let name = c["file"].as_str().unwrap();
        if name != "sample.pcap" {
            assert_eq!(entry(&after, name), *c, "{name} untouched");
        }
    }
    assert_eq!(after["captures"].as_array().unwrap().len(), files.len());
    assert_eq!(parts_on_disk(&lake), parts_listed(&after), "the old parts are gone");
    same_answer(&fx, &lake, &["top_talkers", "-p", "limit=50"]);
}

#[test]
fn concurrent_and_killed_ingests_leave_no_partial_part() {
    let Some(fx) = Fixture::new() else { return };
    // Two at once: each capture is in the manifest once, its parts once.
    let lake = fx.work.join("lake2");
    let spawn = || fx.ingest_command(&lake, &["--format", "json"]).output();
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(spawn);
        let b = spawn();
        (a.join().unwrap().unwrap(), b.unwrap())
    });
    assert!(
        a.status.success() && b.status.success(),
        "{}{}\n{}{}",
        stdout(&a),
        stderr(&a),
        stdout(&b),
        stderr(&b)
    );
    let m = manifest(&lake);
    let names: Vec<&str> = m["captures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["file"].as_str().unwrap())
        .collect();
    let unique: BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(names.len(), unique.len(), "{names:?}");
    assert_eq!(names.len(), fx.files().len());
    assert_eq!(parts_on_disk(&lake), parts_listed(&m));
    same_answer(&fx, &lake, &["top_talkers", "-p", "limit=50"]);

    // Killed at points through its run: whatever is in the lake then is whole (every part reads
    // back) and netql sees only committed captures; the next run completes it and leaves
    // nothing stray.
    let lake = fx.work.join("lake3");
    for delay_ms in [150u64, 400, 700, 1000, 1500, 2200] {
        let mut child = fx
            .ingest_command(&lake, &["-q", "--jobs", "1"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        for p in parts_on_disk(&lake) {
            assert!(p.ends_with(".parquet"), "a stray file in the lake: {p}");
            let f = std::fs::File::open(lake.join(&p)).unwrap();
            polars::prelude::ParquetReader::new(f)
                .finish()
                .unwrap_or_else(|e| panic!("{p} is not a whole Parquet file: {e}"));
        }
        if lake.join("_netql/manifest.json").exists() {
            let m = manifest(&lake);
            let listed = parts_listed(&m);
            assert!(listed.is_subset(&parts_on_disk(&lake)), "a listed part is missing");
            let o = fx.run(&[
                "run",
                "-e",
                "flows().select([\"file\"]).unique([\"file\"])",
                "--format",
                "json",
                "--lake",
                lake.to_str().unwrap(),
            ]);
            assert!(o.status.success(), "{}", stderr(&o));
            let seen: Vec<Value> = serde_json::from_str(&stdout(&o)).unwrap();
            assert!(seen.len() <= m["captures"].as_array().unwrap().len());
        }
    }
    let done = fx.ingest(&lake, &["--sensor", "s"]);
    assert_eq!(done["failed"], 0, "{done}");
    let m = manifest(&lake);
    assert_eq!(m["captures"].as_array().unwrap().len(), fx.files().len());
    assert_eq!(parts_on_disk(&lake), parts_listed(&m), "stray parts were swept");
    let staging: Vec<_> = std::fs::read_dir(lake.join("_netql/staging")).unwrap().collect();
    assert!(staging.is_empty(), "{staging:?}");
    same_answer(&fx, &lake, &["top_talkers", "-p", "limit=50"]);
}

#[test]
fn time_and_sensor_ranges_equal_the_same_filters_by_hand() {
    let Some(fx) = Fixture::new() else { return };
    let (lake, other) = fx.two_sensors();

    // The generated capture's hour: a range from 20 to 40 minutes in.
    let start = fx.gen1_start();
    let (from, to) = (start + 1200, start + 2400);
    let iso = |s: i64| {
        chrono::DateTime::from_timestamp(s, 0)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    let per_src = "group_by([\"src_ip\"]).agg([count().alias(\"flows\"), sum(\"bytes\").alias(\"bytes\")]).with_column(col(\"src_ip\").to_text().alias(\"src_ip\")).sort([\"src_ip\"], [false])";
    let by_hand = format!(
        "flows().filter(col(\"first_ts\").epoch_s() >= {from}.0 && col(\"first_ts\").epoch_s() < {to}.0).{per_src}"
    );
    let direct = fx.direct(&["-e", &by_hand]);
    let range = ["--sensor", "a", "--from", &iso(from), "--to", &iso(to)];
    let ranged = fx.over_lake(&lake, &["-e", &format!("flows().{per_src}")], &range);
    assert!(direct.as_array().unwrap().len() > 5, "{direct}");
    assert_eq!(ranged, direct);
    // DNS transactions by their own time column.
    // count() after a filter over several captures: Polars sums the inputs' lengths as UInt128
    // (the `dtype-u128` feature; without it this failed).
    let dns_count = "select([count().alias(\"n\")])";
    let d1 = fx.direct(&[
        "-e",
        &format!("dns().filter(col(\"ts\").epoch_s() >= {from}.0 && col(\"ts\").epoch_s() < {to}.0).{dns_count}"),
    ]);
    let d2 = fx.over_lake(&lake, &["-e", &format!("dns().{dns_count}")], &range);
    assert!(d1[0]["n"].as_u64().unwrap() > 0);
    assert_eq!(d1, d2);

    // Sensors: b alone is the second generated capture; both together are everything.
    let count = "flows().select([count().alias(\"n\")])";
    let b = fx.over_lake(&lake, &["-e", count], &["--sensor", "b"]);
    let gen2 = fx.script_on(count, &other.join("gen2.pcap"));
    let both = fx.over_lake(&lake, &["-e", count], &[]);
    let a = fx.over_lake(&lake, &["-e", count], &["--sensor", "a"]);
    let n = |v: &Value| v[0]["n"].as_u64().unwrap();
    assert_eq!(n(&both), n(&a) + n(&b));
    assert_eq!(b, gen2);
    let all = fx.over_lake(
        &lake,
        &[
            "-e",
            "flows().group_by([\"sensor\"]).agg([count().alias(\"n\")]).with_column(col(\"sensor\").to_text().alias(\"sensor\")).sort([\"sensor\"], [false])",
        ],
        &[],
    );
    assert_eq!(all.as_array().unwrap().len(), 2, "{all}");
    assert_eq!(all[1]["n"], gen2[0]["n"]);

    // Mistakes are said plainly, exit 2.
    for (args, says) in [
        (
            vec![
                "run",
                "top_talkers",
                "--lake",
                lake.to_str().unwrap(),
                "--sensor",
                "nope",
            ],
            "no sensor \"nope\"",
        ),
        (
            vec![
                "run",
                "top_talkers",
                "--lake",
                lake.to_str().unwrap(),
                "--from",
                "yesterday",
            ],
            "is not a time",
        ),
        (
            vec!["run", "top_talkers", "--lake", fx.work.to_str().unwrap()],
            "not a lake",
        ),
        (
            vec!["run", "top_talkers", "x.pcap", "--lake", lake.to_str().unwrap()],
            "not both",
        ),
        (
            vec![
                "run",
                "-e",
                "packets().select([\"frame\"])",
                "--lake",
                lake.to_str().unwrap(),
            ],
            "--with-packets",
        ),
    ] {
        let o = fx.run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn spark_reads_the_lake_and_agrees_with_netql() {
    let Some(fx) = Fixture::new() else { return };
    let lake = fx.work.join("lake");
    fx.ingest(&lake, &["--sensor", "edge-1"]);
    // A second sensor, so the partition discovery sees two.
    let o = fx.run(&[
        "--no-cache",
        "ingest",
        fx.caps.join("sub").to_str().unwrap(),
        fx.caps.join("gen1.pcap").to_str().unwrap(),
        "--lake",
        lake.to_str().unwrap(),
        "--sensor",
        "edge-2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/spark_lake.py");
    let sql = Path::new(env!("CARGO_MANIFEST_DIR")).join("queries/sql");
    let out = Command::new(netql::testdata::python())
        .arg(&script)
        .arg(&lake)
        .arg(&sql)
        .output()
        .expect("python runs the Spark test");
    if out.status.code() == Some(3) {
        netql::testdata::missing("PySpark (.ci/test installs it into the test venv, with a JRE)");
        return;
    }
    assert!(
        out.status.success(),
        "spark_lake.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let spark: Value = serde_json::from_slice(&out.stdout).unwrap();
    let tables = &spark["tables"];
    // Spark read every table with its partitions, and netql's row counts.
    let m = manifest(&lake);
    for t in ["flows", "dns", "http", "tls", "events", "stacks", "findings"] {
        let listed: u64 = m["captures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["rows"][t].as_u64().unwrap_or(0))
            .sum();
        assert_eq!(tables[t]["rows"].as_u64(), Some(listed), "{t}");
        let schema = tables[t]["schema"].as_object().unwrap();
        assert_eq!(schema["sensor"], "string", "{t}");
        assert_eq!(schema["date"], "date", "{t}");
        assert_eq!(schema["hour"], "int", "{t}");
        assert_eq!(tables[t]["sensors"], serde_json::json!(["edge-1", "edge-2"]), "{t}");
    }
    // Types as the contract says (netql schema --lake), none unsigned or decimal.
    let contract = fx.json(&["schema", "--lake", "--format", "json"]);
    for t in ["flows", "dns", "http", "tls", "events"] {
        let schema = tables[t]["schema"].as_object().unwrap();
        for c in contract[t].as_array().unwrap() {
            let name = c["name"].as_str().unwrap();
            assert_eq!(schema[name], c["type"], "{t}.{name}");
        }
        assert!(
            schema.values().all(|v| !v.as_str().unwrap().contains("decimal")),
            "{t}: {schema:?}"
        );
    }
    assert_eq!(tables["flows"]["schema"]["first_ts"], "timestamp");
    assert_eq!(tables["flows"]["schema"]["flow_id"], "bigint");

    let results = &spark["results"];
    // Top talkers and conversations: equal row by row (times to the microsecond).
    let netql_rows = |q: &str| fx.over_lake(&lake, &[q], &[]);
    assert_eq!(results["top_talkers"], netql_rows("top_talkers"));
    let micros = |v: &Value| -> Value {
        match v.as_str().and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok()) {
            Some(t) => Value::from(t.timestamp_micros()),
            None => v.clone(),
        }
    };
    let conv: Vec<Value> = netql_rows("conversations")
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let mut r = r.clone();
            for k in ["first_ts", "last_ts"] {
                r[k] = micros(&r[k]);
            }
            r.as_object_mut().unwrap().remove("duration_s");
            r
        })
        .collect();
    assert_eq!(results["conversations"], Value::Array(conv));
    // Protocol share: frames and bytes equal, shares to the rounding.
    let ours = netql_rows("protocol_share");
    let theirs = results["protocol_share"].as_array().unwrap();
    assert_eq!(ours.as_array().unwrap().len(), theirs.len());
    for (a, b) in ours.as_array().unwrap().iter().zip(theirs) {
        for k in ["protocol", "frames", "bytes"] {
            assert_eq!(a[k], b[k], "{a} vs {b}");
        }
        for k in ["frames_pct", "bytes_pct"] {
            assert!(
                (a[k].as_f64().unwrap() - b[k].as_f64().unwrap()).abs() <= 0.0100001,
                "{a} vs {b}"
            );
        }
    }
    // Port-scan candidates: netql's vertical TCP scan findings, the same sources, targets and
    // port counts.
    let findings = netql_rows("port_scan");
    let mut ours: Vec<Value> = findings
        .as_array()
        .unwrap()
        .iter()
        .map(|f| &f["facts"])
        .filter(|f| f["kind"].as_str().is_some_and(|k| k.starts_with("TCP") || k.contains(" TCP ")) && f.get("dst").is_some() && f.get("open").is_some())
        .map(|f| serde_json::json!({"src": f["src"], "dst": f["dst"], "ports": f["ports"], "open": f["open"], "closed": f["closed"], "unanswered": f["unanswered"]}))
        .collect();
    ours.sort_by_key(|v| v.to_string());
    let mut theirs: Vec<Value> = results["port_scan_candidates"].as_array().unwrap().clone();
    theirs.sort_by_key(|v| v.to_string());
    assert!(ours.len() >= 2, "{findings}");
    assert_eq!(theirs, ours);
}

#[test]
fn carve_cuts_a_lakes_findings_from_the_original_captures() {
    let Some(fx) = Fixture::new() else { return };
    let lake = fx.work.join("lake");
    fx.ingest(&lake, &["--sensor", "a"]);
    let l = lake.to_str().unwrap();
    let carve = |args: &[&str], out: &str| -> Vec<u8> {
        let path = fx.work.join(out);
        let mut all = vec!["--no-cache", "carve"];
        all.extend(args);
        all.extend(["--out", path.to_str().unwrap()]);
        let o = fx.run(&all);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        std::fs::read(&path).unwrap()
    };
    // A query's findings over the lake: the same packets as over the captures themselves.
    let files = fx.files();
    let mut direct = vec!["--query", "port_scan"];
    direct.extend(files.iter().map(String::as_str));
    let want = carve(&direct, "direct.pcap");
    assert!(want.len() > 1000, "the scans' packets");
    assert_eq!(carve(&["--query", "port_scan", "--lake", l], "lake.pcap"), want);
    // Frames of one capture named as the lake knows it.
    let synscan = fx.caps.join("synscan.pcapng");
    assert_eq!(
        carve(&["synscan.pcapng", "--frames", "1-20", "--lake", l], "f1.pcap"),
        carve(&[synscan.to_str().unwrap(), "--frames", "1-20"], "f2.pcap")
    );
    // The stored findings' carve commands name the lake and work as written.
    let cmds = fx.over_lake(
        &lake,
        &[
            "-e",
            "findings().filter(col(\"query\") == \"port_scan\").select([\"carve\"])",
        ],
        &[],
    );
    let cmd = cmds[0]["carve"].as_str().unwrap().to_string();
    let abs = std::path::absolute(&lake).unwrap();
    assert!(cmd.ends_with(&format!("--lake {}", abs.display())), "{cmd}");
    let out = fx.work.join("stored.pcap");
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{} {} --out {}",
            env!("CARGO_BIN_EXE_netql"),
            cmd.strip_prefix("netql ").unwrap(),
            out.display()
        ))
        .current_dir("/")
        .output()
        .unwrap();
    assert!(o.status.success(), "{cmd}: {}", stderr(&o));
    assert!(std::fs::metadata(&out).unwrap().len() > 100);

    // A capture changed or gone since it was ingested is refused: its frames would be others.
    std::fs::copy(fx.caps.join("wikipedia.pcap"), fx.caps.join("sample.pcap")).unwrap();
    std::fs::remove_file(fx.caps.join("http_espn.pcapng")).unwrap();
    for (file, says) in [
        ("sample.pcap", "has changed since it was ingested"),
        ("http_espn.pcapng", "cannot be read now"),
        ("nope.pcap", "no capture named \"nope.pcap\""),
    ] {
        let o = fx.run(&["carve", file, "--frames", "1-3", "--lake", l, "--out", "x.pcap"]);
        assert_eq!(o.status.code(), Some(2), "{file}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{file}: {}", stderr(&o));
    }
}

#[test]
fn a_big_capture_is_ingested_a_segment_at_a_time() {
    let Some(fx) = Fixture::new() else { return };
    let only = fx.work.join("only");
    std::fs::create_dir_all(&only).unwrap();
    std::fs::copy(fx.caps.join("gen1.pcap"), only.join("gen1.pcap")).unwrap();
    let ingest = |lake: &Path, per: &str| {
        let o = fx.run(&[
            "--no-cache",
            "ingest",
            only.to_str().unwrap(),
            "--lake",
            lake.to_str().unwrap(),
            "--segment-packets",
            per,
            "--with-packets",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
    };
    let (whole, cut) = (fx.work.join("whole"), fx.work.join("cut"));
    ingest(&whole, "0");
    // 30,000 packets, 7,000 at a time: five segments.
    ingest(&cut, "7000");
    let (mw, mc) = (manifest(&whole), manifest(&cut));
    let (ew, ec) = (&mw["captures"][0], &mc["captures"][0]);
    for k in ["packets", "bytes", "first_ns", "last_ns", "hash"] {
        assert_eq!(ew[k], ec[k], "{k}");
    }
    let names: BTreeSet<String> = ec["parts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p.as_str().unwrap().starts_with("flows/"))
        .map(|p| p.as_str().unwrap().rsplit('-').next().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        ["0.parquet", "1.parquet", "2.parquet", "3.parquet", "4.parquet"]
            .map(String::from)
            .into()
    );
    assert_eq!(parts_on_disk(&cut), parts_listed(&mc));

    // Per packet, nothing changes: the event rows (with their frame numbers in the whole file)
    // and the packets and bytes per protocol stack.
    let both = |script: &str| {
        let (a, b) = (
            fx.over_lake(&whole, &["-e", script], &[]),
            fx.over_lake(&cut, &["-e", script], &[]),
        );
        assert!(a.as_array().is_some_and(|r| !r.is_empty()), "{script}: no rows");
        (a, b)
    };
    let (a, b) = both(
        "events().select([\"frame\", \"ts\", \"src_ip\", \"dst_ip\"]).with_columns([col(\"src_ip\").to_text(), col(\"dst_ip\").to_text()]).sort(\"frame\", false)",
    );
    assert_eq!(a, b);
    let (a, b) = both(
        "stacks().group_by([\"protocols\"]).agg([sum(\"frames\").alias(\"frames\"), sum(\"bytes\").alias(\"bytes\")]).with_column(col(\"protocols\").to_text()).sort(\"protocols\", false)",
    );
    assert_eq!(a, b);
    // Deliberately different: a flow that crosses a segment's end is one row per segment (its
    // later part oriented by the first packet seen in its segment). The packets and bytes of
    // each transport are the same.
    let per_l4 = "flows().group_by([\"l4\"]).agg([count().alias(\"rows\"), sum(\"packets\").alias(\"packets\"), sum(\"bytes\").alias(\"bytes\")]).with_column(col(\"l4\").to_text()).sort(\"l4\", false)";
    let (a, b) = both(per_l4);
    let strip = |v: &Value| -> Vec<Value> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let mut r = r.clone();
                r.as_object_mut().unwrap().remove("rows");
                r
            })
            .collect()
    };
    assert_eq!(strip(&a), strip(&b));
    let rows = |v: &Value| {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["rows"].as_u64().unwrap())
            .sum::<u64>()
    };
    assert!(
        rows(&b) > rows(&a),
        "some flows cross a segment's end: {} vs {}",
        rows(&b),
        rows(&a)
    );
    assert!(rows(&b) <= rows(&a) * 2, "{} vs {}", rows(&b), rows(&a));
}
