//! Fuzzing with cargo-fuzz (libFuzzer). Targets are listed by `cargo fuzz list`; each corpus is seeded from
//! `../shared/fixtures` before running, so every campaign starts from real Windows traffic.
//!
//! `cargo xtask fuzz campaign [TARGET] --seconds N` is the bookkept form: each run's executions are appended to
//! the committed ledger `fuzz/CAMPAIGNS.md`, and the per-target totals are written into README.md (issue 9 asks
//! for at least ten million executions per target across runs, with no crash, hang or out-of-memory).
//!
//! cargo-fuzz needs unstable compiler flags (sanitizers); `RUSTC_BOOTSTRAP=1` lets the one stable toolchain of
//! this project's machines accept them.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{Result, root, run};

/// Seconds each target runs in `cargo xtask ci`.
pub const SMOKE_SECONDS: u64 = 10;

/// libFuzzer's memory ceiling per target (`-rss_limit_mb`): exceeding it is an out-of-memory finding.
const RSS_LIMIT_MB: u32 = 2048;
/// libFuzzer's per-input time limit in seconds (`-timeout`): exceeding it is a hang finding.
const TIMEOUT_SECONDS: u32 = 10;
/// Executions per target that issue 9 requires across campaign runs.
const GOAL_EXECUTIONS: u64 = 10_000_000;

const LEDGER: &str = "fuzz/CAMPAIGNS.md";
const README_START: &str = "<!-- fuzz-campaigns:start (written by cargo xtask fuzz campaign) -->";
const README_END: &str = "<!-- fuzz-campaigns:end -->";

pub fn command(args: &[String]) -> Result {
    let (campaign, args) = match args.first().map(String::as_str) {
        Some("campaign") => (true, &args[1..]),
        // Rewrites the README totals from the ledger (after merging ledgers of runs made elsewhere).
        Some("totals") => return write_readme_totals(),
        _ => (false, args),
    };
    let mut seconds = 60;
    let mut target = None;
    let mut sanitizer = Sanitizer::Address;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                seconds = args.next().and_then(|s| s.parse().ok()).ok_or("--seconds takes a number of seconds")?;
            }
            "--sanitizer" => {
                sanitizer = match args.next().map(String::as_str) {
                    Some("address") => Sanitizer::Address,
                    Some("none") => Sanitizer::None,
                    _ => return Err("--sanitizer takes address or none".to_owned()),
                };
            }
            name if name.starts_with('-') => return Err(format!("unknown option {name}")),
            name => target = Some(name.to_owned()),
        }
    }
    match (campaign, target) {
        (true, target) => campaign_runs(target, seconds, sanitizer),
        (false, Some(target)) => run_target(&target, seconds, sanitizer),
        (false, None) => smoke(seconds),
    }
}

/// How the targets are instrumented. AddressSanitizer (cargo-fuzz's default, and the smoke runs') also catches
/// memory errors in the `unsafe` code of dependencies, at a third to a fifth of the speed; `none` still catches
/// every panic, hang and out-of-memory, which is what safe Rust can do wrong, so long campaigns may use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sanitizer {
    Address,
    None,
}

impl Sanitizer {
    fn name(self) -> &'static str {
        match self {
            Sanitizer::Address => "address",
            Sanitizer::None => "none",
        }
    }
}

/// Runs every target for `seconds`.
pub fn smoke(seconds: u64) -> Result {
    let targets = targets()?;
    if targets.is_empty() {
        return Err("cargo fuzz list found no targets".to_owned());
    }
    for target in targets {
        run_target(&target, seconds, Sanitizer::Address)?;
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

fn run_target(target: &str, seconds: u64, sanitizer: Sanitizer) -> Result {
    let corpus = prepare_corpus(target)?;
    eprintln!("xtask: fuzzing {target} for {seconds} s");
    run(&mut libfuzzer(target, &corpus, seconds, sanitizer))
}

/// Creates the target's corpus directory and writes the fixture seeds into it.
fn prepare_corpus(target: &str) -> Result<PathBuf> {
    let corpus = root().join("fuzz/corpus").join(target);
    std::fs::create_dir_all(&corpus).map_err(|e| format!("{}: {e}", corpus.display()))?;
    let seeds = seed(target, &corpus)?;
    eprintln!("xtask: {target}: {seeds} fixture seeds in {}", corpus.display());
    Ok(corpus)
}

/// `cargo fuzz run` of one target for `seconds`, with the memory and per-input time limits.
fn libfuzzer(target: &str, corpus: &Path, seconds: u64, sanitizer: Sanitizer) -> Command {
    let mut command = cargo_fuzz();
    command
        .args(["run", "-O", "--sanitizer", sanitizer.name(), target])
        .arg(corpus)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-rss_limit_mb={RSS_LIMIT_MB}"))
        .arg(format!("-timeout={TIMEOUT_SECONDS}"))
        .arg("-print_final_stats=1");
    command
}

/// One ledger row.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CampaignRun {
    date: String,
    target: String,
    executions: u64,
    seconds: u64,
    crashes: u64,
    commit: String,
    sanitizer: Sanitizer,
}

/// Runs `target` (every target without one) for `seconds` each, appends a ledger row per run and rewrites the
/// README totals. A run that crashes, hangs or runs out of memory is recorded with `crashes=1` and fails the
/// command once every target has run.
fn campaign_runs(target: Option<String>, seconds: u64, sanitizer: Sanitizer) -> Result {
    let targets = match target {
        Some(target) => vec![target],
        None => targets()?,
    };
    let commit = git_commit();
    let mut failed = Vec::new();
    for target in &targets {
        let corpus = prepare_corpus(target)?;
        eprintln!("xtask: campaign: fuzzing {target} for {seconds} s");
        let (success, executions) = run_and_count(libfuzzer(target, &corpus, seconds, sanitizer))?;
        let row = CampaignRun {
            date: today(),
            target: target.clone(),
            executions,
            seconds,
            crashes: u64::from(!success),
            commit: commit.clone(),
            sanitizer,
        };
        append_ledger(&row)?;
        eprintln!("xtask: campaign: {target}: {executions} executions in {seconds} s, crashes={}", row.crashes);
        if !success {
            failed.push(target.clone());
        }
    }
    write_readme_totals()?;
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("libFuzzer found a crash, hang or out-of-memory in {}; see fuzz/artifacts", failed.join(", ")))
    }
}

/// Runs libFuzzer, echoing its output, and returns whether it succeeded and how many inputs it executed.
fn run_and_count(mut command: Command) -> Result<(bool, u64)> {
    eprintln!("xtask: running {command:?}");
    let mut child = command
        .current_dir(root())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start cargo fuzz: {e}"))?;
    let stderr = child.stderr.take().ok_or("cargo fuzz has no stderr")?;
    // libFuzzer writes its status lines to stderr; keep the tail, where the final counts are.
    let mut tail = VecDeque::new();
    for line in BufReader::new(stderr).lines() {
        let line = line.map_err(|e| format!("reading cargo fuzz output: {e}"))?;
        eprintln!("{line}");
        if tail.len() == 200 {
            tail.pop_front();
        }
        tail.push_back(line);
    }
    let status = child.wait().map_err(|e| format!("waiting for cargo fuzz: {e}"))?;
    let executions = executions(tail.iter().map(String::as_str));
    match executions {
        Some(executions) => Ok((status.success(), executions)),
        // No count at all: the build failed or libFuzzer never started; nothing to record.
        None => Err(format!("cargo fuzz ended with {status} without reporting executions")),
    }
}

/// The number of executed inputs in libFuzzer's output: the `#N DONE ...` line of a completed run, else the
/// final statistics (`stat::number_of_executed_units`, printed also after a crash), else the last status line.
fn executions<'a>(lines: impl Iterator<Item = &'a str> + Clone) -> Option<u64> {
    let status_count = |line: &str| -> Option<(u64, bool)> {
        let rest = line.strip_prefix('#')?;
        let (count, rest) = rest.split_once(|c: char| c.is_ascii_whitespace())?;
        Some((count.parse().ok()?, rest.trim_start().starts_with("DONE")))
    };
    if let Some(done) = lines.clone().filter_map(status_count).filter(|(_, done)| *done).map(|(n, _)| n).last() {
        return Some(done);
    }
    let stat = lines
        .clone()
        .filter_map(|line| line.strip_prefix("stat::number_of_executed_units:").and_then(|n| n.trim().parse().ok()));
    if let Some(units) = stat.last() {
        return Some(units);
    }
    lines.filter_map(status_count).map(|(n, _)| n).last()
}

fn ledger_path() -> PathBuf {
    root().join(LEDGER)
}

const LEDGER_HEADER: &str = "# Fuzz campaigns

Every `cargo xtask fuzz campaign` run appends a row here (commit it); the per-target totals are in README.md.
`crashes` counts runs that ended in a crash, a hang (`-timeout=10`) or an out-of-memory (`-rss_limit_mb=2048`).
`sanitizer` is how the target was built: `address` (AddressSanitizer, the default) or `none` (`--sanitizer none`:
panics, hangs and out-of-memory only, three to five times faster). Rows without it ran under AddressSanitizer.

| date | target | executions | seconds | crashes | commit | sanitizer |
|---|---|---:|---:|---:|---|---|
";

fn append_ledger(row: &CampaignRun) -> Result {
    let path = ledger_path();
    let mut text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => LEDGER_HEADER.to_owned(),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&ledger_row(row));
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// One ledger line.
fn ledger_row(row: &CampaignRun) -> String {
    format!(
        "| {} | {} | {} | {} | {} | {} | {} |\n",
        row.date,
        row.target,
        row.executions,
        row.seconds,
        row.crashes,
        row.commit,
        row.sanitizer.name()
    )
}

/// The rows of the ledger; lines that are not rows (the header, the separator) are skipped.
fn parse_ledger(text: &str) -> Result<Vec<CampaignRun>> {
    let mut rows = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let cells: Vec<&str> = line.trim().trim_matches('|').split('|').map(str::trim).collect();
        if !(6..=7).contains(&cells.len()) || cells[0] == "date" || cells[0].starts_with("---") {
            continue;
        }
        let sanitizer = match cells.get(6).copied() {
            None | Some("address") => Sanitizer::Address,
            Some("none") => Sanitizer::None,
            Some(other) => return Err(format!("{LEDGER}:{}: unknown sanitizer {other:?}", number + 1)),
        };
        let number = |cell: &str| -> Result<u64> {
            cell.parse().map_err(|_| format!("{LEDGER}:{}: {cell:?} is not a number", number + 1))
        };
        rows.push(CampaignRun {
            date: cells[0].to_owned(),
            target: cells[1].to_owned(),
            executions: number(cells[2])?,
            seconds: number(cells[3])?,
            crashes: number(cells[4])?,
            commit: cells[5].to_owned(),
            sanitizer,
        });
    }
    Ok(rows)
}

/// The README table: per target, the total executions, seconds, runs and crashes, and whether the goal is met.
fn totals_table(rows: &[CampaignRun], targets: &[String]) -> String {
    let mut names: Vec<String> = targets.to_vec();
    for row in rows {
        if !names.contains(&row.target) {
            names.push(row.target.clone());
        }
    }
    names.sort();
    let mut out = String::from(
        "| Target | Executions | of which AddressSanitizer | Seconds | Runs | Crashes | ≥ 10 M |\n\
         |---|---:|---:|---:|---:|---:|:-:|\n",
    );
    for name in names {
        let mine = rows.iter().filter(|r| r.target == name);
        let executions: u64 = mine.clone().map(|r| r.executions).sum();
        let asan: u64 = mine.clone().filter(|r| r.sanitizer == Sanitizer::Address).map(|r| r.executions).sum();
        let seconds: u64 = mine.clone().map(|r| r.seconds).sum();
        let crashes: u64 = mine.clone().map(|r| r.crashes).sum();
        let runs = mine.count();
        let met = if executions >= GOAL_EXECUTIONS && crashes == 0 { "yes" } else { "no" };
        out.push_str(&format!("| `{name}` | {executions} | {asan} | {seconds} | {runs} | {crashes} | {met} |\n"));
    }
    out
}

/// Replaces the text between the README markers with the totals of the ledger.
fn write_readme_totals() -> Result {
    let ledger = std::fs::read_to_string(ledger_path()).map_err(|e| format!("{LEDGER}: {e}"))?;
    let rows = parse_ledger(&ledger)?;
    let table = totals_table(&rows, &targets()?);
    let path = root().join("README.md");
    let readme = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let updated = replace_between(&readme, README_START, README_END, &table)
        .ok_or_else(|| format!("README.md lacks the markers {README_START} … {README_END}"))?;
    std::fs::write(&path, updated).map_err(|e| format!("{}: {e}", path.display()))
}

fn replace_between(text: &str, start: &str, end: &str, content: &str) -> Option<String> {
    let from = text.find(start)? + start.len();
    let to = from + text[from..].find(end)?;
    Some(format!("{}\n{content}{}", &text[..from], &text[to..]))
}

/// The checked-out commit, `-dirty` when the work tree has changes (read-only git queries).
fn git_commit() -> String {
    let output = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(root())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    match output(&["rev-parse", "--short=12", "HEAD"]) {
        Some(commit) => {
            let dirty = output(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
            if dirty { format!("{commit}-dirty") } else { commit }
        }
        None => "unknown".to_owned(),
    }
}

/// Today's UTC date, `YYYY-MM-DD`.
fn today() -> String {
    let seconds =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
    let (year, month, day) = civil_from_days((seconds / 86_400) as i64);
    format!("{year:04}-{month:02}-{day:02}")
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
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
    if matches!(target, "auth_ntlm" | "auth_spnego" | "auth_tsrequest") {
        // The fixtures hold no authentication tokens (the traces start after authentication), so these start from
        // the token shapes the parsers branch on, built here.
        for (name, bytes) in auth_token_seeds() {
            write(name, &bytes)?;
        }
        return Ok(count);
    }
    if target == "wsman_multipart" {
        // The real NTLM-sealed body of ironposh's tests, and recorded request envelopes framed as one SPNEGO part
        // and as two CredSSP parts (the target unwraps with an identity sealer, so the header is ignored).
        let sample =
            fixtures.join("other-projects/ironposh/crates/ironposh-client-core/test_data/real_encrypted_soap.txt");
        let hex = std::fs::read_to_string(&sample).map_err(|e| format!("{}: {e}", sample.display()))?;
        write("ironposh-ntlm-sealed", &unhex(hex.trim()).ok_or_else(|| format!("{}: not hex", sample.display()))?)?;
        let envelopes = read_dir(&fixtures.join("vectors/windows-traces-pypsrp/xml"))?;
        for entry in envelopes.iter().filter(|e| e.to_string_lossy().ends_with(".request.xml")).take(8) {
            let bytes = std::fs::read(entry).map_err(|e| format!("{}: {e}", entry.display()))?;
            let name = entry.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            write(&format!("{name}-spnego"), &multipart_body("application/HTTP-SPNEGO-session-encrypted", &[&bytes]))?;
            let (first, second) = bytes.split_at(bytes.len() / 2);
            let credssp = multipart_body("application/HTTP-CredSSP-session-encrypted", &[first, second]);
            write(&format!("{name}-credssp"), &credssp)?;
        }
        return Ok(count);
    }
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

/// A `multipart/encrypted` body (MS-WSMV 2.2.9.1.1) with one part per plaintext and a 16-byte zero seal header.
fn multipart_body(protocol: &str, plaintexts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for plain in plaintexts {
        out.extend_from_slice(
            format!(
                "--Encrypted Boundary\r\n\tContent-Type: {protocol}\r\n\tOriginalContent: \
                 type=application/soap+xml;charset=UTF-8;Length={}\r\n--Encrypted Boundary\r\n\t\
                 Content-Type: application/octet-stream\r\n",
                plain.len()
            )
            .as_bytes(),
        );
        out.extend_from_slice(&16u32.to_le_bytes());
        out.extend_from_slice(&[0; 16]);
        out.extend_from_slice(plain);
    }
    out.extend_from_slice(b"--Encrypted Boundary--\r\n");
    out
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

/// A DER element: tag, definite length, content.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(content);
    out
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() { ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char } else { '=' });
        }
    }
    out
}

/// NTLM messages (MS-NLMP 2.2.1), the same wrapped in SPNEGO (RFC 4178) and in a CredSSP TSRequest (MS-CSSP
/// 2.2.1), their HTTP header forms, and the Digest challenge: the shapes the authentication targets parse.
fn auth_token_seeds() -> Vec<(&'static str, Vec<u8>)> {
    const NTLM_OID: &[u8] = b"\x06\x0a\x2b\x06\x01\x04\x01\x82\x37\x02\x02\x0a";
    const SPNEGO_OID: &[u8] = b"\x06\x06\x2b\x06\x01\x05\x05\x02";
    let field = |len: u16, offset: u32| [&len.to_le_bytes()[..], &len.to_le_bytes(), &offset.to_le_bytes()].concat();
    // NEGOTIATE: signature, type 1, flags (Unicode, NTLM, sign, seal, extended session security, 128, key exch).
    let negotiate = [&b"NTLMSSP\0\x01\0\0\0"[..], &0xe208_8297u32.to_le_bytes(), &field(0, 32), &field(0, 32)].concat();
    // CHALLENGE: target name "D" (UTF-16), flags, server challenge, target info (NetBIOS domain "D", timestamp,
    // end), version.
    let target_info =
        [&b"\x02\x00\x02\x00D\x00"[..], b"\x07\x00\x08\x00\x00\x80\x3e\xd5\xde\xb1\xd9\x01", b"\x00\x00\x00\x00"]
            .concat();
    let challenge = [
        &b"NTLMSSP\0\x02\0\0\0"[..],
        &field(2, 56),
        &0xe28a_8215u32.to_le_bytes(),
        b"\x01\x23\x45\x67\x89\xab\xcd\xef",
        &[0; 8],
        &field(target_info.len() as u16, 58),
        b"\x0a\x00\x63\x45\x00\x00\x00\x0f",
        b"D\x00",
        &target_info,
    ]
    .concat();
    // AUTHENTICATE: LM, NT (an NTLMv2 response: proof, blob header, timestamp, client challenge, target info),
    // domain, user, workstation, session key; then the MIC-less payload.
    let nt = [&[0x11; 16][..], b"\x01\x01\0\0\0\0\0\0", &[0; 8], &[0x22; 8], &[0; 4], &target_info, &[0; 4]].concat();
    let payload = [&[0u8; 24][..], &nt, b"D\x00", b"a\x00l\x00i\x00c\x00e\x00", b"W\x00", &[0x33; 16]].concat();
    let base = 88u32;
    let mut offset = base;
    let mut fields = Vec::new();
    for len in [24, nt.len(), 2, 10, 2, 16] {
        fields.extend_from_slice(&field(len as u16, offset));
        offset += len as u32;
    }
    let authenticate = [
        &b"NTLMSSP\0\x03\0\0\0"[..],
        &fields[..24],
        &fields[24..],
        &0xe288_8215u32.to_le_bytes(),
        b"\x0a\x00\x63\x45\x00\x00\x00\x0f",
        &[0; 16],
        &payload,
    ]
    .concat();
    // SPNEGO NegTokenInit offering NTLM with the NEGOTIATE, and NegTokenResp (accept-incomplete) with the CHALLENGE.
    let init = der(
        0x60,
        &[
            SPNEGO_OID,
            &der(0xa0, &der(0x30, &[der(0xa0, &der(0x30, NTLM_OID)), der(0xa2, &der(0x04, &negotiate))].concat())),
        ]
        .concat(),
    );
    let response = der(
        0xa1,
        &der(0x30, &[der(0xa0, b"\x0a\x01\x01"), der(0xa1, NTLM_OID), der(0xa2, &der(0x04, &challenge))].concat()),
    );
    // TSRequest version 6 carrying the NEGOTIATE in negoTokens.
    let ts_request = der(
        0x30,
        &[der(0xa0, b"\x02\x01\x06"), der(0xa1, &der(0x30, &der(0x30, &der(0xa0, &der(0x04, &negotiate)))))].concat(),
    );
    vec![
        ("ntlm-negotiate", negotiate.clone()),
        ("ntlm-challenge", challenge),
        ("ntlm-authenticate", authenticate),
        ("spnego-init", init.clone()),
        ("spnego-response", response),
        ("tsrequest", ts_request),
        ("header-negotiate", format!("Negotiate {}", base64(&init)).into_bytes()),
        ("header-ntlm", format!("NTLM {}", base64(&negotiate)).into_bytes()),
        ("header-challenges", b"Negotiate, Kerberos, CredSSP, Basic realm=\"WSMAN\"".to_vec()),
        ("digest", b"Digest realm=\"WSMAN\", nonce=\"dcd98b\", qop=\"auth\", algorithm=MD5, opaque=\"5c\"".to_vec()),
    ]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executions_come_from_the_done_line_then_the_final_stats() {
        let done = [
            "#2\tINITED cov: 10 ft: 10 corp: 1/1b exec/s: 0 rss: 30Mb",
            "#81234\tDONE   cov: 900 ft: 2000 corp: 80/9Kb lim: 4096 exec/s: 1353 rss: 312Mb",
            "stat::number_of_executed_units: 81240",
        ];
        assert_eq!(executions(done.iter().copied()), Some(81234));
        let crash = [
            "#4096\tpulse  cov: 50 ft: 60 corp: 3/30b exec/s: 2048 rss: 40Mb",
            "==1== ERROR: libFuzzer: deadly signal",
            "stat::number_of_executed_units: 5000",
        ];
        assert_eq!(executions(crash.iter().copied()), Some(5000));
        let killed = ["#4096\tpulse  cov: 50 ft: 60 corp: 3/30b exec/s: 2048 rss: 40Mb", "#8192\tNEW    cov: 51"];
        assert_eq!(executions(killed.iter().copied()), Some(8192));
        assert_eq!(executions(["error: could not compile"].iter().copied()), None);
    }

    #[test]
    fn the_ledger_round_trips_and_sums_per_target() {
        let mut text = LEDGER_HEADER.to_owned();
        for (target, executions, crashes) in [("a", 6_000_000, 0), ("b", 100, 1)] {
            text.push_str(&format!("| 2026-12-01 | {target} | {executions} | 60 | {crashes} | abc123 |\n"));
        }
        text.push_str(&ledger_row(&CampaignRun {
            date: "2026-12-01".into(),
            target: "a".into(),
            executions: 5_000_000,
            seconds: 60,
            crashes: 0,
            commit: "def456".into(),
            sanitizer: Sanitizer::None,
        }));
        let rows = parse_ledger(&text).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[2].sanitizer, Sanitizer::None);
        assert_eq!(
            rows[1],
            CampaignRun {
                date: "2026-12-01".into(),
                target: "b".into(),
                executions: 100,
                seconds: 60,
                crashes: 1,
                commit: "abc123".into(),
                sanitizer: Sanitizer::Address,
            }
        );
        let table = totals_table(&rows, &["a".to_owned(), "b".to_owned(), "c".to_owned()]);
        assert!(table.contains("| `a` | 11000000 | 6000000 | 120 | 2 | 0 | yes |"), "{table}");
        assert!(table.contains("| `b` | 100 | 100 | 60 | 1 | 1 | no |"), "{table}");
        assert!(table.contains("| `c` | 0 | 0 | 0 | 0 | 0 | no |"), "{table}");
        assert!(parse_ledger("| 2026-12-01 | a | many | 60 | 0 | x |").is_err());
        assert!(parse_ledger("| 2026-12-01 | a | 1 | 60 | 0 | x | thread |").is_err());
    }

    #[test]
    fn readme_markers_enclose_the_table() {
        let readme = "intro\n<!-- s -->\nold\n<!-- e -->\nrest\n";
        assert_eq!(
            replace_between(readme, "<!-- s -->", "<!-- e -->", "new\n").unwrap(),
            "intro\n<!-- s -->\nnew\n<!-- e -->\nrest\n"
        );
        assert_eq!(replace_between("no markers", "<!-- s -->", "<!-- e -->", "x"), None);
    }

    #[test]
    fn seed_encoders_match_their_formats() {
        assert_eq!(base64(b"Man"), "TWFu");
        assert_eq!(base64(b"Ma"), "TWE=");
        assert_eq!(base64(b"M"), "TQ==");
        assert_eq!(der(0x04, &[7; 3]), [0x04, 3, 7, 7, 7]);
        assert_eq!(der(0x04, &[0; 300])[..4], [0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(unhex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(unhex("0"), None);
        let body = multipart_body("application/HTTP-SPNEGO-session-encrypted", &[b"<env/>"]);
        assert!(body.starts_with(b"--Encrypted Boundary\r\n\tContent-Type: application/HTTP-SPNEGO"));
        assert!(body.windows(9).any(|w| w == b"Length=6\r"));
        assert!(body.ends_with(b"\0<env/>--Encrypted Boundary--\r\n"));
        let seeds = auth_token_seeds();
        let challenge = &seeds.iter().find(|(n, _)| *n == "ntlm-challenge").unwrap().1;
        // The target info field points at the bytes after the target name, and ends in MsvAvEOL.
        let info_len = u16::from_le_bytes([challenge[40], challenge[41]]) as usize;
        let info_offset = u32::from_le_bytes(challenge[44..48].try_into().unwrap()) as usize;
        assert_eq!(info_offset + info_len, challenge.len());
        assert_eq!(&challenge[challenge.len() - 4..], &[0, 0, 0, 0]);
    }

    #[test]
    fn dates_are_gregorian() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_788), (2026, 12, 1));
    }
}
