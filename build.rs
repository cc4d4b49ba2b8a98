//! Link step only. On Linux with glibc, pack the binary's relative relocations (DT_RELR): the
//! dynamic loader then reads a ~50 KB table instead of a ~4 MB one at every start (a `netql
//! analyze` of a cached 1M-packet capture ran ~10 % faster). Done only where the system's C
//! toolchain links and runs such a program (binutils >= 2.38 and glibc >= 2.36); elsewhere the
//! binary is linked as before.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let target = var("TARGET");
    // A probe built for another machine cannot be run here.
    if !target.contains("linux") || !target.ends_with("-gnu") || var("HOST") != target {
        return;
    }
    let dir = PathBuf::from(var("OUT_DIR"));
    let (src, exe) = (dir.join("relr_probe.c"), dir.join("relr_probe"));
    // A pointer initialised with an address: a relative relocation, so the probe needs the
    // loader's support as the real binary does.
    let probe = "static int x;\nint *p = &x;\nint main(void) { return *p; }\n";
    if std::fs::write(&src, probe).is_err() {
        return;
    }
    let linked = Command::new("cc")
        .args(["-fPIE", "-pie", "-Wl,-z,pack-relative-relocs", "-o"])
        .arg(&exe)
        .arg(&src)
        .output()
        .is_ok_and(|o| o.status.success());
    if linked && Command::new(&exe).status().is_ok_and(|s| s.success()) {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
