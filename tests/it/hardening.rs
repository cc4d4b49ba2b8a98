//! Nothing a script sends takes netql down: each probe of issue 22 that used to abort or run
//! past its limits, run as a user would, with the clear error and exit 2 it now gets.

use crate::common::{netql, sample, stderr};

/// Run `args` with a `queries/` folder holding `queries` and a config file setting `config`.
fn run_with(queries: &[(&str, &str)], config: &str, args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("queries")).unwrap();
    for (name, text) in queries {
        std::fs::write(dir.path().join("queries").join(format!("{name}.rhai")), text).unwrap();
    }
    let cfg = dir.path().join("netql.toml");
    std::fs::write(&cfg, format!("[queries]\ndir = \"queries\"\n{config}\n")).unwrap();
    let mut all = vec!["--config", cfg.to_str().unwrap(), "--no-cache"];
    all.extend_from_slice(args);
    netql(&all, dir.path())
}

/// `every("99999999999999h")` made Polars panic (an abort of the CLI, or of the MCP server for
/// every client); now the duration is refused where the script wrote it.
#[test]
fn a_duration_past_the_time_range_is_refused_at_its_position() {
    let o = run_with(
        &[],
        "",
        &[
            "run",
            "-e",
            r#"packets().group_by([every("99999999999999h")]).agg([count()])"#,
            sample().to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("longer than the ~292 years") && err.contains("line 1, column 21"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// A query importing itself round a loop recursed until the stack overflowed (SIGABRT).
#[test]
fn an_import_cycle_is_refused_with_the_cycle_named() {
    let o = run_with(
        &[
            ("loop_a", r#"import "loop_b" as b; packets().count()"#),
            ("loop_b", r#"import "loop_a" as a; 1"#),
        ],
        "",
        &["run", "loop_a", sample().to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("import cycle: loop_b -> loop_a -> loop_b"),
        "{}",
        stderr(&o)
    );
}

/// Sorts nested in a sort's comparer ran past `timeout_s` and reported success (Rhai discards a
/// comparer's errors, and counts a closure's steps in a copy that never reached the check).
#[test]
fn nested_comparer_sorts_stop_at_the_time_limit() {
    // ~3,500 comparisons per sort of 400 shuffled numbers, each running a sort of its own:
    // ~12 million comparer calls, minutes of work.
    let script = "let big = []; for i in 0..400 { big.push(i * 7919 % 401); } \
                  let a = big; \
                  a.sort(|x, y| { let c = big; c.sort(|p, q| p - q); y - x }); a.len()";
    let o = run_with(&[], "timeout_s = 1", &["run", "-e", script, sample().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("time limit of 1 s exceeded"), "{}", stderr(&o));
}
