//! Project automation. `cargo xtask ci` is what CI runs: it installs what the tests need and runs every check.
//!
//! ```text
//! cargo xtask ci                 install test peers, then fmt, module cycles, clippy, each library crate alone,
//!                                all tests, docs, fuzz smoke runs
//! cargo xtask setup              only install: Debian packages, the Python venv, cargo-fuzz
//! cargo xtask cycles             the module cycles of every crate (fails on one not being removed)
//! cargo xtask fuzz [TARGET] [--seconds N]   fuzz one or every target (seeded from ../shared/fixtures)
//! cargo xtask fuzz campaign [TARGET] [--seconds N]   the same, counted into fuzz/CAMPAIGNS.md and README.md
//! cargo xtask bench [--quick]    criterion benches and the Python anchors, same machine, same run
//! cargo xtask bench --load [--quick]   the load run: pssession vs pypsrp, fan-out, streaming (loadtest/)
//! ```
#![forbid(unsafe_code)]

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

mod cycles;
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
        Some("cycles") => cycles::check(),
        _ => Err("usage: cargo xtask <ci | setup | cycles | fuzz [campaign] [TARGET] [--seconds N] | bench [--load] [--quick]>"
            .to_owned()),
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

/// The crates an embedder may take one at a time.
const LIBRARY_CRATES: &[&str] = &[
    "pssession-psrp",
    "pssession-wsman",
    "pssession-auth",
    "pssession-format",
    "pssession-connect",
    "pssession-server",
];

/// The runnable examples CI runs: (package, example).
const EXAMPLES: &[(&str, &str)] = &[
    ("pssession-psrp", "reassemble"),
    ("pssession-wsman", "receive_round_trip"),
    ("pssession-auth", "negotiate_in_process"),
    ("pssession-server", "engine_script"),
    ("pssession-connect", "reconnect"),
];

fn ci() -> Result {
    step("setup", setup::all)?;
    step("fmt", || run(cargo().args(["fmt", "--all", "--", "--check"])))?;
    step("module cycles", cycles::check)?;
    step("clippy", || {
        run(cargo().args(["clippy", "--workspace", "--all-targets", "--all-features", "--", "-D", "warnings"]))
    })?;
    step("each library crate alone, default features", || {
        // The workspace build unifies features; an embedder taking one layer gets only its defaults (none: the
        // codecs without transport, auth without WS-Man sealing, psrp without JSON), which must build too.
        for package in LIBRARY_CRATES {
            run(cargo().args(["check", "-p", package, "--lib"]))?;
        }
        Ok(())
    })?;
    step("fuzz targets: fmt and clippy", || {
        run(cargo().args(["fmt", "--manifest-path", "fuzz/Cargo.toml", "--", "--check"]))?;
        run(cargo().args(["clippy", "--manifest-path", "fuzz/Cargo.toml", "--", "-D", "warnings"]))
    })?;
    step("tests", || {
        run(cargo().args(["test", "--workspace", "--all-features"]).env(setup::PYTHON_ENV, setup::venv_python()))
    })?;
    step("examples", || {
        // Each crate's runnable example runs to its end (they need nothing outside this process).
        for (package, example) in EXAMPLES {
            run(cargo().args(["run", "-q", "-p", package, "--example", example]))?;
        }
        Ok(())
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
    if args.iter().any(|a| a == "--load") {
        return load(quick);
    }
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

/// `cargo xtask bench --load [--quick]`: release builds of the `pssession` CLI and the load driver, then
/// `pssession-load run` (loadtest/src/run.rs) with the venv's pypsrp. A full run writes `benches/load-results.md`
/// (the table the README shows) and `.jsonl` beside it; `--quick` (small sizes, a smoke test) writes under
/// `target/load/` instead.
fn load(quick: bool) -> Result {
    setup::python_venv()?;
    run(cargo().args(["build", "--release", "-p", "pssession", "-p", "pssession-loadtest"]))?;
    let target = env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    let driver = target.join("release/pssession-load");
    let out = if quick { target.join("load/results-quick.md") } else { root().join("benches/load-results.md") };
    let mut command = Command::new(driver);
    command.arg("run").arg("--python").arg(setup::venv_python()).arg("--out").arg(&out);
    if quick {
        command.arg("--quick");
    }
    run(&mut command)?;
    if quick {
        return Ok(());
    }
    // The README shows the tables of the last full run, between its markers.
    let results = std::fs::read_to_string(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let readme = root().join("README.md");
    let text = std::fs::read_to_string(&readme).map_err(|e| format!("{}: {e}", readme.display()))?;
    match replace_between(&text, LOAD_START, LOAD_END, &results) {
        Some(updated) => std::fs::write(&readme, updated).map_err(|e| format!("{}: {e}", readme.display())),
        None => {
            eprintln!("xtask: README.md has no {LOAD_START} … {LOAD_END} section; results are in {}", out.display());
            Ok(())
        }
    }
}

const LOAD_START: &str = "<!-- load-results:start (written by cargo xtask bench --load) -->";
const LOAD_END: &str = "<!-- load-results:end -->";

/// `text` with what lies between the `start` and `end` lines replaced by `body`; `None` without both markers.
fn replace_between(text: &str, start: &str, end: &str, body: &str) -> Option<String> {
    let from = text.find(start)? + start.len();
    let to = from + text[from..].find(end)?;
    Some(format!("{}\n{}\n{}", &text[..from], body.trim_end(), &text[to..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_only_between_the_markers() {
        let text = "a\n<!-- s -->\nold\nlines\n<!-- e -->\nb\n";
        assert_eq!(
            replace_between(text, "<!-- s -->", "<!-- e -->", "new\n").as_deref(),
            Some("a\n<!-- s -->\nnew\n<!-- e -->\nb\n")
        );
        assert_eq!(replace_between("a\n<!-- s -->\n", "<!-- s -->", "<!-- e -->", "x"), None);
    }
}
