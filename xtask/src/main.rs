//! Project automation. `cargo xtask ci` is what CI runs: it installs what the tests need and runs every check.
//!
//! ```text
//! cargo xtask ci                 install test peers, then fmt, clippy, all tests, fuzz smoke runs
//! cargo xtask setup              only install: Debian packages, the Python venv, cargo-fuzz
//! cargo xtask fuzz [TARGET] [--seconds N]   fuzz one or every target (seeded from ../shared/fixtures)
//! cargo xtask bench [--quick]    criterion benches and the Python anchors, same machine, same run
//! ```
#![forbid(unsafe_code)]

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

mod fuzz;
mod setup;

type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("setup") => setup::all(),
        Some("fuzz") => fuzz::command(&args[1..]),
        Some("bench") => bench(&args[1..]),
        _ => Err("usage: cargo xtask <ci | setup | fuzz [TARGET] [--seconds N] | bench [--quick]>".to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (the parent of `xtask/`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

/// Runs a command in the workspace root, failing with its description when it fails.
fn run(command: &mut Command) -> Result {
    let description = format!("{command:?}");
    eprintln!("xtask: running {description}");
    let status = command.current_dir(root()).status().map_err(|e| format!("cannot start {description}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{description} failed with {status}")) }
}

fn cargo() -> Command {
    Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn step(name: &str, f: impl FnOnce() -> Result) -> Result {
    let started = Instant::now();
    eprintln!("\n===== {name} =====");
    let result = f();
    eprintln!("===== {name}: {} in {:.0?} =====", if result.is_ok() { "ok" } else { "FAILED" }, started.elapsed());
    result
}

fn ci() -> Result {
    step("setup", setup::all)?;
    step("fmt", || run(cargo().args(["fmt", "--all", "--", "--check"])))?;
    step("clippy", || {
        run(cargo().args(["clippy", "--workspace", "--all-targets", "--all-features", "--", "-D", "warnings"]))
    })?;
    step("fuzz targets: fmt and clippy", || {
        run(cargo().args(["fmt", "--manifest-path", "fuzz/Cargo.toml", "--", "--check"]))?;
        run(cargo().args(["clippy", "--manifest-path", "fuzz/Cargo.toml", "--", "-D", "warnings"]))
    })?;
    step("tests", || {
        run(cargo().args(["test", "--workspace", "--all-features"]).env(setup::PYTHON_ENV, setup::venv_python()))
    })?;
    step("doc", || {
        run(cargo().args(["doc", "--workspace", "--no-deps", "--all-features"]).env("RUSTDOCFLAGS", "-D warnings"))
    })?;
    step("fuzz smoke runs", || fuzz::smoke(fuzz::SMOKE_SECONDS))?;
    eprintln!("\nxtask: every check passed");
    Ok(())
}

fn bench(args: &[String]) -> Result {
    let quick = args.iter().any(|a| a == "--quick");
    setup::python_venv()?;
    let results = root().join("target/anchor-bench");
    let anchors = root().join("../shared/bench");
    for script in ["bench_fragment.py", "bench_clixml.py", "bench_wsman.py"] {
        let path = anchors.join(script);
        if !path.exists() {
            return Err(format!("anchor script {} is missing", path.display()));
        }
        let mut command = Command::new(setup::venv_python());
        command.arg(&path).env("PERF_RESULTS_DIR", results.join("results")).env("PERF_DATA_DIR", results.join("data"));
        if quick {
            command.arg("--quick");
        }
        run(&mut command)?;
    }
    let mut command = cargo();
    command.args(["bench", "-p", "pssession-benches"]).env("PERF_DATA_DIR", results.join("data"));
    if quick {
        command.env("PSSESSION_BENCH_QUICK", "1");
    }
    run(&mut command)?;
    run(Command::new(setup::venv_python())
        .arg(anchors.join("summarize.py"))
        .env("PERF_RESULTS_DIR", results.join("results")))
}
