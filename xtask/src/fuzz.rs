//! Fuzzing with cargo-fuzz (libFuzzer). Targets are listed by `cargo fuzz list`; each corpus is seeded from
//! `../shared/fixtures` before running, so every campaign starts from real Windows traffic.
//!
//! cargo-fuzz needs unstable compiler flags (sanitizers); `RUSTC_BOOTSTRAP=1` lets the one stable toolchain of
//! this project's machines accept them.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Result, root, run};

/// Seconds each target runs in `cargo xtask ci`.
pub const SMOKE_SECONDS: u64 = 10;

pub fn command(args: &[String]) -> Result {
    let mut seconds = 60;
    let mut target = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                seconds = args.next().and_then(|s| s.parse().ok()).ok_or("--seconds takes a number of seconds")?;
            }
            name => target = Some(name.to_owned()),
        }
    }
    match target {
        Some(target) => run_target(&target, seconds),
        None => smoke(seconds),
    }
}

/// Runs every target for `seconds`.
pub fn smoke(seconds: u64) -> Result {
    let targets = targets()?;
    if targets.is_empty() {
        return Err("cargo fuzz list found no targets".to_owned());
    }
    for target in targets {
        run_target(&target, seconds)?;
    }
    Ok(())
}

fn cargo_fuzz() -> Command {
    let mut command = Command::new("cargo");
    command.arg("fuzz").env("RUSTC_BOOTSTRAP", "1").current_dir(root().join("fuzz"));
    command
}

fn targets() -> Result<Vec<String>> {
    let output = cargo_fuzz().arg("list").output().map_err(|e| format!("cannot run cargo fuzz list: {e}"))?;
    if !output.status.success() {
        return Err(format!("cargo fuzz list failed: {}", String::from_utf8_lossy(&output.stderr)));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

fn run_target(target: &str, seconds: u64) -> Result {
    let corpus = root().join("fuzz/corpus").join(target);
    std::fs::create_dir_all(&corpus).map_err(|e| format!("{}: {e}", corpus.display()))?;
    let seeds = seed(target, &corpus)?;
    eprintln!("xtask: fuzzing {target} for {seconds} s ({seeds} fixture seeds)");
    run(cargo_fuzz()
        .args(["run", "-O", target])
        .arg(&corpus)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg("-rss_limit_mb=2048")
        .arg("-timeout=10")
        .arg("-print_final_stats=1"))
}

/// Writes fixture-derived seeds into the corpus; returns how many.
fn seed(target: &str, corpus: &Path) -> Result<usize> {
    let fixtures = fixtures_dir()?;
    let mut count = 0;
    let mut write = |name: &str, bytes: &[u8]| -> Result {
        count += 1;
        let path = corpus.join(format!("seed-{name}"));
        std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))
    };
    let family = target.split('_').next().unwrap_or(target);
    if target == "auth_kerberos" {
        // No Kerberos traffic is recorded (it needs a KDC); start from the shapes the parsers branch on: a
        // GSS-framed AP-REQ prefix, an AP-REP, a KRB-ERROR, a Wrap token header, keytab and ccache headers.
        for (name, bytes) in [
            ("gss-ap-req", &b"\x60\x0d\x06\x09\x2a\x86\x48\x86\xf7\x12\x01\x02\x02\x01\x00\x6e\x00"[..]),
            ("ap-rep", b"\x6f\x0e\x30\x0c\xa0\x03\x02\x01\x05\xa1\x03\x02\x01\x0f\xa2\x00"),
            ("krb-error", b"\x7e\x0e\x30\x0c\xa0\x03\x02\x01\x05\xa1\x03\x02\x01\x1e\xa6\x00"),
            ("wrap", b"\x05\x04\x06\xff\x00\x00\x00\x1c\x00\x00\x00\x00\x00\x00\x00\x01"),
            ("keytab", b"\x05\x02\x00\x00\x00\x10\x00\x01\x00\x01R\x00\x01H\x00\x00\x00\x01"),
            ("ccache", b"\x05\x04\x00\x00\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x01R"),
            ("krb5-conf", b"[libdefaults]\n default_realm = R\n[realms]\n R = {\n  kdc = k:88\n }\n"),
        ] {
            write(name, bytes)?;
        }
        return Ok(count);
    }
    match family {
        // CLIXML message bodies reassembled from the trace fragments, and the CLIXML samples of other
        // implementations (pwsh `<Objs>` streams with progress and error records, psrp-rs's seeds).
        "clixml" => {
            for entry in read_dir(&fixtures.join("vectors/fragments"))? {
                if entry.extension().is_some_and(|e| e == "bin") {
                    let bytes = std::fs::read(&entry).map_err(|e| format!("{}: {e}", entry.display()))?;
                    let name = entry.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                    for (i, body) in message_bodies(&bytes).iter().enumerate() {
                        write(&format!("{name}-{i}"), body)?;
                    }
                }
            }
            for dir in [
                "pypsrp-windows-traces/clixml",
                "other-projects/psrp-rs/fuzz/seeds/clixml_decoder",
                "other-projects/psrp-rs/fuzz/seeds/records_decode",
            ] {
                for entry in read_dir(&fixtures.join(dir))? {
                    if entry.extension().is_some_and(|e| e == "xml") {
                        let bytes = std::fs::read(&entry).map_err(|e| format!("{}: {e}", entry.display()))?;
                        let name = entry.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                        write(&name, &bytes)?;
                    }
                }
            }
        }
        // Fragment streams decoded from the Windows traces; the defragmenter's first byte is a control byte.
        "psrp" => {
            for entry in read_dir(&fixtures.join("vectors/fragments"))? {
                if entry.extension().is_some_and(|e| e == "bin") {
                    let bytes = std::fs::read(&entry).map_err(|e| format!("{}: {e}", entry.display()))?;
                    let name = entry.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                    write(&format!("{name}-raw"), &bytes)?;
                    write(&format!("{name}-ctl"), &[&[0u8][..], &bytes].concat())?;
                }
            }
        }
        // Scripts of the kind clients send with AddScript, including the Connect-PSSession help's Example 3.
        "engine" => {
            for (name, script) in [
                ("example3", "Start-Job -FilePath \\\\Server30\\Scripts\\Backup-SQLDatabase.ps1; Get-Job"),
                ("pipeline", "1..5 | ForEach-Object { $_ * 2 } | Where-Object { $_ -gt 4 }; Write-Output 'done'"),
                ("quotes", "Write-Output \"a`t$x\" 'it''s' -Verbose; $x = @{a=1}; Get-Date"),
            ] {
                write(name, script.as_bytes())?;
            }
        }
        // server_request: each recorded request envelope, and the recorded session (Create, Receive, Disconnect,
        // Reconnect, Enumerate, …) as one input of `\0\0`-separated envelopes.
        "server" => {
            let mut session = Vec::new();
            for entry in read_dir(&fixtures.join("vectors/windows-traces-pypsrp/xml"))? {
                let name = entry.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                if name.ends_with(".request.xml") {
                    let bytes = std::fs::read(&entry).map_err(|e| format!("{}: {e}", entry.display()))?;
                    write(&name, &bytes)?;
                    if !session.is_empty() {
                        session.extend_from_slice(b"\0\0");
                    }
                    session.extend_from_slice(&bytes);
                }
            }
            write("session", &session)?;
        }
        // Whole envelopes and fault documents.
        _ => {
            for dir in ["vectors/faults", "vectors/windows-traces-pypsrp/xml", "vectors/misc"] {
                for entry in read_dir(&fixtures.join(dir)).unwrap_or_default() {
                    if entry.extension().is_some_and(|e| e == "xml") {
                        let bytes = std::fs::read(&entry).map_err(|e| format!("{}: {e}", entry.display()))?;
                        let name = entry.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                        write(&name, &bytes)?;
                    }
                }
            }
        }
    }
    Ok(count)
}

/// The bodies of the PSRP messages in a stream of fragments (MS-PSRP 2.2.4: object id, fragment id, flags, blob
/// length, blob; 2.2.1: a 40-byte message header before the body). Fragments of one object are joined in order;
/// a truncated stream yields what is complete.
fn message_bodies(mut stream: &[u8]) -> Vec<Vec<u8>> {
    const FRAGMENT_HEADER: usize = 21;
    const MESSAGE_HEADER: usize = 40;
    let mut objects: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut bodies = Vec::new();
    while stream.len() >= FRAGMENT_HEADER {
        let object_id = u64::from_be_bytes(stream[0..8].try_into().unwrap_or_default());
        let end_flag = stream[16] & 0b10 != 0;
        let length = u32::from_be_bytes(stream[17..21].try_into().unwrap_or_default()) as usize;
        let Some(blob) = stream.get(FRAGMENT_HEADER..FRAGMENT_HEADER + length) else { break };
        stream = &stream[FRAGMENT_HEADER + length..];
        let index = match objects.iter().position(|(id, _)| *id == object_id) {
            Some(index) => index,
            None => {
                objects.push((object_id, Vec::new()));
                objects.len() - 1
            }
        };
        objects[index].1.extend_from_slice(blob);
        if end_flag {
            let (_, data) = objects.remove(index);
            if let Some(body) = data.get(MESSAGE_HEADER..) {
                bodies.push(body.to_vec());
            }
        }
    }
    bodies
}

fn fixtures_dir() -> Result<PathBuf> {
    let dir =
        std::env::var_os("PSSESSION_FIXTURES").map(PathBuf::from).unwrap_or_else(|| root().join("../shared/fixtures"));
    if dir.is_dir() { Ok(dir) } else { Err(format!("shared fixtures not found at {}", dir.display())) }
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    Ok(entries)
}
