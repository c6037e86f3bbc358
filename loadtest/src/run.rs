//! `pssession-load run [--quick] [--out FILE] [--python PYTHON] [--fanout-endpoints F] [--fanout-per-endpoint K]
//! [--stream-count N]`: the whole load run, one command.
//!
//! 1. Starts one endpoint process (`serve`) with 1 + F endpoints: endpoint 0 for the comparison and the streaming
//!    run, the F others for the fan-out.
//! 2. pssession against pypsrp on endpoint 0, each client a process of its own: open + run + close; receiving
//!    ~100 MB; Get-PSSession + Connect-PSSession + receiving a disconnected session's buffered output.
//! 3. Fan-out: `fanout-setup` disconnects S sessions across the F endpoints, then `fanout` (a fresh process per
//!    ThrottleLimit) finds and connects them all.
//! 4. Streaming: the `pssession` CLI receives ~1 GB (`pssession receive`, a child process) while its `VmRSS` is
//!    sampled every 100 ms.
//!
//! Prints the markdown tables and writes them to `--out` (default `target/load/results.md`), with every child's
//! JSON in `results.jsonl` next to it.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::args::Args;
use crate::proc_status;
use crate::report::{self, COMPARISON_HEADER, CPU_HEADER, FANOUT_HEADER, ScenarioResult};

/// Sizes of one run.
struct Plan {
    quick: bool,
    open_run_close_iterations: usize,
    concurrency: usize,
    concurrent_iterations: usize,
    big_count: i64,
    big_size: usize,
    big_runs: usize,
    disconnected_iterations: usize,
    disconnected_count: i64,
    disconnected_size: usize,
    fanout_endpoints: usize,
    fanout_per_endpoint: usize,
    throttle_limits: [usize; 2],
    stream_count: i64,
    stream_size: usize,
    /// The streaming child is stopped (and the run reports it) if its resident size goes above this.
    stream_rss_cap_kib: u64,
}

impl Plan {
    fn new(quick: bool) -> Self {
        if quick {
            Plan {
                quick,
                open_run_close_iterations: 5,
                concurrency: 4,
                concurrent_iterations: 20,
                big_count: 1_000,
                big_size: 10_000,
                big_runs: 1,
                disconnected_iterations: 2,
                disconnected_count: 100,
                disconnected_size: 10_000,
                fanout_endpoints: 5,
                fanout_per_endpoint: 10,
                throttle_limits: [8, 32],
                stream_count: 5_000,
                stream_size: 10_000,
                stream_rss_cap_kib: 4 << 20,
            }
        } else {
            Plan {
                quick,
                open_run_close_iterations: 50,
                concurrency: 8,
                concurrent_iterations: 200,
                big_count: 10_000,
                big_size: 10_000,
                big_runs: 3,
                disconnected_iterations: 10,
                disconnected_count: 1_000,
                disconnected_size: 10_000,
                fanout_endpoints: 50,
                fanout_per_endpoint: 20,
                throttle_limits: [32, 256],
                stream_count: 100_000,
                stream_size: 10_000,
                stream_rss_cap_kib: 6 << 20,
            }
        }
    }
}

/// One row of the comparison: the same work for both clients.
struct Part<'a> {
    scenario: &'static str,
    uri: &'a str,
    label: String,
    iterations: usize,
    count: i64,
    size: usize,
    concurrency: usize,
    /// Throughput in MB/s of payload (else operations per second).
    bytes: bool,
}

impl<'a> Part<'a> {
    fn new(scenario: &'static str, uri: &'a str) -> Self {
        Part { scenario, uri, label: String::new(), iterations: 1, count: 0, size: 0, concurrency: 1, bytes: false }
    }
}

/// The endpoint process: its URIs, and a line protocol for statistics.
struct ServerProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    uris: Vec<String>,
    https_uri: String,
}

impl ServerProcess {
    fn start(exe: &Path, endpoints: usize, buffer_mib: usize, env: &[(&str, &str)]) -> Result<Self, String> {
        let mut command = Command::new(exe);
        command
            .args(["serve", "--endpoints", &endpoints.to_string(), "--output-buffer-mib", &buffer_mib.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().map_err(|e| format!("cannot start the endpoint process: {e}"))?;
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut line = String::new();
        stdout.read_line(&mut line).map_err(|e| e.to_string())?;
        let ready: Value = serde_json::from_str(&line).map_err(|e| format!("endpoint process said {line:?}: {e}"))?;
        let uris: Vec<String> =
            ready["uris"].as_array().into_iter().flatten().filter_map(|u| u.as_str().map(str::to_owned)).collect();
        if uris.len() != endpoints {
            return Err(format!("the endpoint process started {} endpoints, not {endpoints}", uris.len()));
        }
        let https_uri = ready["https_uri"].as_str().ok_or("the endpoint process has no HTTPS listener")?.to_owned();
        Ok(ServerProcess { child, stdin, stdout, uris, https_uri })
    }

    fn stats(&mut self) -> Result<Value, String> {
        let stdin = self.stdin.as_mut().ok_or("endpoint stdin closed")?;
        stdin.write_all(b"stats\n").and_then(|()| stdin.flush()).map_err(|e| e.to_string())?;
        let mut line = String::new();
        self.stdout.read_line(&mut line).map_err(|e| e.to_string())?;
        serde_json::from_str(&line).map_err(|e| format!("endpoint stats {line:?}: {e}"))
    }

    fn stop(mut self) -> Result<(), String> {
        drop(self.stdin.take());
        let status = self.child.wait().map_err(|e| e.to_string())?;
        if status.success() { Ok(()) } else { Err(format!("the endpoint process ended with {status}")) }
    }
}

/// Runs a child to completion; its last stdout line is JSON. stderr passes through.
fn child_json(command: &mut Command, input: Option<&Value>) -> Result<Value, String> {
    let description = format!("{command:?}");
    command.stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() }).stdout(Stdio::piped());
    let mut child = command.spawn().map_err(|e| format!("cannot start {description}: {e}"))?;
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin.write_all(input.to_string().as_bytes()).map_err(|e| e.to_string())?;
    }
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!("{description} failed with {}; stdout: {stdout}", output.status));
    }
    let last = stdout.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
    serde_json::from_str(last).map_err(|e| format!("{description} printed {last:?}: {e}"))
}

/// An error as one markdown-safe line.
fn one_line(error: &str) -> String {
    let line = error.split_whitespace().collect::<Vec<_>>().join(" ").replace('|', "/");
    if line.chars().count() > 300 { line.chars().take(300).collect::<String>() + "…" } else { line }
}

/// A table row for a part that failed: the label, the error, empty cells to the table's width.
fn failed_row(label: &str, error: &str, columns: usize) -> String {
    let mut row = format!("| {label} | **failed**: {} |", one_line(error));
    for _ in 2..columns {
        row.push_str(" |");
    }
    row
}

/// The soft `Max open files` of this process.
fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.strip_prefix("Max open files")?.split_whitespace().next()?.parse().ok()
}

fn random_password() -> Result<String, String> {
    let mut bytes = [0u8; 12];
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)).map_err(|e| e.to_string())?;
    Ok(format!("Ld{}!", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()))
}

fn shell_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name").map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned()))
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let memory: u64 = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines().find_map(|l| {
                l.strip_prefix("MemTotal:").and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
        })
        .unwrap_or(0);
    format!("{cores} cores ({cpu}), {:.0} GiB RAM, {}", memory as f64 / 1048576.0, shell_line("uname", &["-sr"]))
}

pub fn command(argv: &[String]) -> Result<(), String> {
    let args = Args::parse(argv)?;
    let mut plan = Plan::new(args.flag("quick"));
    plan.fanout_endpoints = args.number("fanout-endpoints", plan.fanout_endpoints)?;
    plan.fanout_per_endpoint = args.number("fanout-per-endpoint", plan.fanout_per_endpoint)?;
    plan.stream_count = args.number("stream-count", plan.stream_count)?;
    // Each connected session holds a connection: the client and the endpoint process each need a descriptor per
    // session (children inherit this limit).
    let sessions = plan.fanout_endpoints * plan.fanout_per_endpoint;
    if let Some(limit) = open_file_limit()
        && limit < sessions as u64 * 2 + 256
    {
        return Err(format!(
            "the open-file limit is {limit}; the fan-out of {sessions} sessions needs {} (raise it: ulimit -n 4096)",
            sessions * 2 + 256
        ));
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let bin_dir = exe.parent().ok_or("no binary directory")?.to_path_buf();
    let cli = bin_dir.join("pssession");
    if !cli.exists() {
        return Err(format!("{} is missing: build it first (cargo build --release -p pssession)", cli.display()));
    }
    let python = args
        .string("python")
        .map(str::to_owned)
        .or_else(|| std::env::var("PSSESSION_PYTHON").ok())
        .unwrap_or_else(|| "python3".to_owned());
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("py/pypsrp_load.py");
    let out = args.string("out").map(PathBuf::from).unwrap_or_else(|| bin_dir.join("../load/results.md"));
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let jsonl_path = out.with_extension("jsonl");
    let mut jsonl = std::fs::File::create(&jsonl_path).map_err(|e| format!("{}: {e}", jsonl_path.display()))?;
    let mut record = |kind: &str, value: &Value| {
        let _ = writeln!(jsonl, "{}", json!({ "kind": kind, "result": value }));
    };
    // A part that fails is reported in its table and the run goes on; the run fails at the end.
    let mut failures: Vec<String> = Vec::new();

    let user = "loaduser".to_owned();
    let password = random_password()?;
    let env = [("PSSESSION_LOAD_USER", user.as_str()), ("PSSESSION_LOAD_PASSWORD", password.as_str())];
    let started_at = shell_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let load_before = load_average();
    let started = Instant::now();

    // The comparison buffers a disconnected command's whole output (the endpoint's per-command buffer), so that
    // Connect + Receive measures buffered output; the fan-out endpoints share the process.
    let buffer_mib = ((plan.disconnected_count as usize * plan.disconnected_size) >> 20) + 16;
    let mut server = ServerProcess::start(&exe, 1 + plan.fanout_endpoints, buffer_mib, &env)?;
    let uri = server.uris[0].clone();
    let server_pid = server.child.id().to_string();
    // A client run with the endpoint process's CPU time over it added to its JSON.
    let with_endpoint_cpu = |run: &dyn Fn() -> Result<Value, String>| -> Result<Value, String> {
        let before = proc_status::cpu_seconds(&server_pid).ok_or("the endpoint process is gone")?;
        let mut value = run()?;
        let after = proc_status::cpu_seconds(&server_pid).ok_or("the endpoint process is gone")?;
        value["endpoint_cpu_seconds"] = json!(after - before);
        Ok(value)
    };
    eprintln!("load: endpoint process up, {} endpoints; comparison on {uri}", server.uris.len());

    let https_uri = server.https_uri.clone();
    let ours = |part: &Part| -> Result<Value, String> {
        let mut command = Command::new(&exe);
        command.args(["client", part.scenario, "--uri", part.uri]).args([
            "--iterations",
            &part.iterations.to_string(),
            "--count",
            &part.count.to_string(),
            "--size",
            &part.size.to_string(),
            "--concurrency",
            &part.concurrency.to_string(),
        ]);
        command.envs(env);
        child_json(&mut command, None)
    };
    let theirs = |part: &Part| -> Result<Value, String> {
        let request = json!({
            "uri": part.uri, "user": user, "password": password, "scenario": part.scenario,
            "iterations": part.iterations, "count": part.count, "size": part.size, "settle_ms": 500,
            "concurrency": part.concurrency,
        });
        child_json(Command::new(&python).arg(&script), Some(&request))
    };

    let mut comparison = Vec::new();
    let mut cpu_rows = Vec::new();
    let big_mb = plan.big_count as usize * plan.big_size / 1_000_000;
    let parts = [
        Part {
            label: format!("open + `Write-Output hello` + close, {} iterations", plan.open_run_close_iterations),
            iterations: plan.open_run_close_iterations,
            ..Part::new("open_run_close", &uri)
        },
        Part {
            label: format!(
                "the same, {} at once ({} iterations; pypsrp: threads)",
                plan.concurrency, plan.concurrent_iterations
            ),
            iterations: plan.concurrent_iterations,
            concurrency: plan.concurrency,
            ..Part::new("open_run_close", &uri)
        },
        Part {
            label: format!(
                "receive {big_mb} MB (`Get-TestData -Count {} -Size {}`), {} runs",
                plan.big_count, plan.big_size, plan.big_runs
            ),
            iterations: plan.big_runs,
            count: plan.big_count,
            size: plan.big_size,
            bytes: true,
            ..Part::new("big_output", &uri)
        },
        Part {
            label: format!(
                "receive {big_mb} MB over HTTPS (TLS; NTLM without message sealing), {} runs",
                plan.big_runs
            ),
            iterations: plan.big_runs,
            count: plan.big_count,
            size: plan.big_size,
            bytes: true,
            ..Part::new("big_output", &https_uri)
        },
        Part {
            label: format!(
                "Get-PSSession + Connect-PSSession + receive {} MB buffered while disconnected, {} iterations",
                plan.disconnected_count as usize * plan.disconnected_size / 1_000_000,
                plan.disconnected_iterations
            ),
            iterations: plan.disconnected_iterations,
            count: plan.disconnected_count,
            size: plan.disconnected_size,
            bytes: true,
            ..Part::new("disconnected", &uri)
        },
    ];
    for part in &parts {
        let Part { label, bytes, .. } = part;
        eprintln!("load: {label}: pssession");
        let a = with_endpoint_cpu(&|| ours(part));
        eprintln!("load: {label}: pypsrp");
        let b = with_endpoint_cpu(&|| theirs(part));
        for (client, answer) in [("pssession", &a), ("pypsrp", &b)] {
            match answer {
                Ok(value) => record(&format!("{client}: {label}"), value),
                Err(e) => record(&format!("{client}: {label}"), &json!({ "error": e })),
            }
        }
        let rows = a.and_then(|a| ScenarioResult::from_json(&a)).and_then(|a| {
            let b = b.and_then(|b| ScenarioResult::from_json(&b))?;
            let row = if *bytes {
                report::comparison_row(label, &a, &b, ScenarioResult::megabytes_per_second, "MB/s")
            } else {
                report::comparison_row(label, &a, &b, ScenarioResult::operations_per_second, "op/s")
            };
            Ok((row, report::cpu_row(label, &a, &b)))
        });
        match rows {
            Ok((row, cpu)) => {
                eprintln!("{row}");
                comparison.push(row);
                cpu_rows.push(cpu);
            }
            Err(e) => {
                comparison.push(failed_row(label, &e, 8));
                cpu_rows.push(failed_row(label, &e, 6));
                failures.push(format!("{label}: {e}"));
            }
        }
    }
    let server_after_comparison = server.stats().unwrap_or_else(|e| json!({ "error": e }));
    record("endpoint after comparison", &server_after_comparison);

    // Fan-out.
    let fan_uris = server.uris[1..].join(",");
    eprintln!("load: fan-out: creating and disconnecting {sessions} sessions on {} endpoints", plan.fanout_endpoints);
    let setup = child_json(
        Command::new(&exe)
            .args(["fanout-setup", "--uris", &fan_uris, "--per-endpoint", &plan.fanout_per_endpoint.to_string()])
            .envs(env),
        None,
    );
    let mut fanout_rows = Vec::new();
    match &setup {
        Ok(value) => record("fanout setup", value),
        Err(e) => {
            fanout_rows.push(failed_row("setup", e, 9));
            failures.push(format!("fan-out setup: {e}"));
        }
    }
    for throttle in plan.throttle_limits {
        if setup.is_err() {
            break;
        }
        eprintln!("load: fan-out: ThrottleLimit {throttle}");
        let result = child_json(
            Command::new(&exe)
                .args([
                    "fanout",
                    "--uris",
                    &fan_uris,
                    "--throttle",
                    &throttle.to_string(),
                    "--expect",
                    &sessions.to_string(),
                ])
                .envs(env),
            None,
        );
        match result {
            Ok(result) => {
                record(&format!("fanout throttle {throttle}"), &result);
                let row = report::fanout_row(&result, plan.fanout_endpoints);
                eprintln!("{row}");
                fanout_rows.push(row);
            }
            Err(e) => {
                fanout_rows.push(failed_row(&throttle.to_string(), &e, 9));
                failures.push(format!("fan-out, ThrottleLimit {throttle}: {e}"));
            }
        }
    }
    // Where an idle session's memory goes: N bare clients, then their authenticated connections.
    let idle = child_json(
        Command::new(&exe).args(["idle-cost", "--uris", &uri, "--count", &sessions.to_string()]).envs(env),
        None,
    );
    let idle_line = match &idle {
        Ok(idle) => {
            record("idle cost", idle);
            format!(
                "\nFor comparison, {:.0} KiB per client is resident before any request (`Client::new`: the client and \
                 its transport) and {:.0} KiB more once it has authenticated and made one request (`idle-cost`, {} \
                 clients on one endpoint, no session).\n",
                idle["client_kib"].as_f64().unwrap_or(f64::NAN),
                idle["connection_kib"].as_f64().unwrap_or(f64::NAN),
                idle["clients"],
            )
        }
        Err(e) => {
            failures.push(format!("idle cost: {e}"));
            format!("\nThe idle-cost breakdown failed: {}\n", one_line(e))
        }
    };
    let server_after_fanout = server.stats().unwrap_or_else(|e| json!({ "error": e }));
    record("endpoint after fan-out", &server_after_fanout);

    // Streaming through the CLI.
    eprintln!("load: streaming through `pssession receive`");
    let stream = match stream_runs(&exe, &cli, &uri, &env, &plan) {
        Ok([stream_cli, stream_library]) => {
            record("stream cli", &stream_cli);
            record("stream library", &stream_library);
            stream_markdown(&stream_cli, &stream_library)
        }
        Err(e) => {
            failures.push(format!("streaming: {e}"));
            format!("\nStreaming failed: {}\n", one_line(&e))
        }
    };
    let server_end = server.stats().unwrap_or_else(|e| json!({ "error": e }));
    record("endpoint at the end", &server_end);
    if let Err(e) = server.stop() {
        failures.push(e);
    }

    let load_after = load_average();
    let mut md = String::new();
    md.push_str(&format!(
        "Measured {started_at} by `cargo xtask bench --load{}` in {:.0} s on {}; load average (1, 5, 15 min) {load_before} \
         before, {load_after} after. One endpoint process (the embedded WinRM endpoint, {} endpoints on loopback, HTTP \
         with NTLM and message encryption); every client a process of its own. Endpoint process peak RSS {}.\n\n",
        if plan.quick { " --quick" } else { "" },
        started.elapsed().as_secs_f64(),
        machine(),
        1 + plan.fanout_endpoints,
        report::mib(server_end["vmhwm_kib"].as_u64().unwrap_or_default()),
    ));
    md.push_str("pssession (the `pssession` library, release build) and pypsrp 0.9 against the same endpoint:\n\n");
    md.push_str(COMPARISON_HEADER);
    md.push('\n');
    for row in &comparison {
        md.push_str(row);
        md.push('\n');
    }
    md.push_str(
        "\nCPU time per iteration: each client's own (all threads) in its timed sections; the endpoint process's \
         over the client's whole run (setup included), divided by the iterations:\n\n",
    );
    md.push_str(CPU_HEADER);
    md.push('\n');
    for row in &cpu_rows {
        md.push_str(row);
        md.push('\n');
    }
    md.push_str(&format!(
        "\nFan-out: {sessions} disconnected sessions on {} endpoints, found (one client per endpoint) and connected \
         (a client per session, as `pssession connect`) through `fanout::fan_out`; each ThrottleLimit in a fresh \
         client process:\n\n",
        plan.fanout_endpoints
    ));
    md.push_str(FANOUT_HEADER);
    md.push('\n');
    for row in &fanout_rows {
        md.push_str(row);
        md.push('\n');
    }
    md.push_str(&idle_line);
    md.push_str(&stream);
    println!("\n{md}");
    std::fs::write(&out, &md).map_err(|e| format!("{}: {e}", out.display()))?;
    eprintln!("load: wrote {} and {}", out.display(), jsonl_path.display());
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!("{} part(s) failed:\n{}", failures.len(), failures.join("\n")))
    }
}

/// A child run with its resident size sampled every 100 ms; its stdout is read and counted (then thrown away)
/// by a thread here, its last line kept.
struct Sampled {
    seconds: f64,
    samples: Vec<(f64, u64)>,
    vmhwm_kib: u64,
    capped: bool,
    success: bool,
    stdout_bytes: u64,
    stdout_lines: u64,
    last_line: String,
    stderr_tail: String,
}

fn sample(command: &mut Command, cap_kib: u64) -> Result<Sampled, String> {
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {command:?}: {e}"))?;
    let pid = child.id().to_string();
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let counter = std::thread::spawn(move || {
        let (mut bytes, mut lines) = (0u64, 0u64);
        let mut last = Vec::new();
        let mut buffer = vec![0u8; 1 << 16];
        while let Ok(n) = stdout.read(&mut buffer) {
            if n == 0 {
                break;
            }
            bytes += n as u64;
            lines += buffer[..n].iter().filter(|b| **b == b'\n').count() as u64;
            // The last line, when short (the JSON of a `client` run); a megabyte line is not kept.
            last.extend_from_slice(&buffer[..n]);
            if last.len() > 1 << 20 {
                last.clear();
            }
            if let Some(end) = last[..last.len().saturating_sub(1)].iter().rposition(|b| *b == b'\n') {
                last.drain(..=end);
            }
        }
        (bytes, lines, String::from_utf8_lossy(&last).trim().to_owned())
    });
    let mut stderr = child.stderr.take().ok_or("no stderr")?;
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let mut samples: Vec<(f64, u64)> = Vec::new();
    let mut vmhwm_kib = 0u64;
    let mut capped = false;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if let Some(rss) = proc_status::field_kib(&pid, "VmRSS") {
            samples.push((started.elapsed().as_secs_f64(), rss));
            if rss > cap_kib && !capped {
                // Above the cap: stop this child (ours) rather than exhaust the machine; reported.
                capped = true;
                let _ = child.kill();
            }
        }
        if let Some(hwm) = proc_status::field_kib(&pid, "VmHWM") {
            vmhwm_kib = vmhwm_kib.max(hwm);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let seconds = started.elapsed().as_secs_f64();
    let (stdout_bytes, stdout_lines, last_line) = counter.join().map_err(|_| "the stdout reader panicked")?;
    let stderr_text = errors.join().map_err(|_| "the stderr reader panicked")?;
    let skip = stderr_text.chars().count().saturating_sub(400);
    Ok(Sampled {
        seconds,
        samples,
        vmhwm_kib,
        capped,
        success: status.success(),
        stdout_bytes,
        stdout_lines,
        last_line,
        stderr_tail: stderr_text.chars().skip(skip).collect(),
    })
}

impl Sampled {
    fn json(&self, payload: u64, cap_kib: u64) -> Value {
        json!({
            "payload_bytes": payload,
            "stdout_bytes": self.stdout_bytes,
            "stdout_lines": self.stdout_lines,
            "seconds": self.seconds,
            "capped": self.capped,
            "cap_kib": cap_kib,
            "success": self.success,
            "samples": self.samples,
            "peak_rss_sampled_kib": self.samples.iter().map(|s| s.1).max().unwrap_or_default(),
            "vmhwm_kib": self.vmhwm_kib,
            "stderr_tail": self.stderr_tail,
        })
    }
}

/// The CLI: `pssession new`, `invoke --in-disconnected-session` of the big command, then `pssession receive
/// --output json`, sampled. Then the same amount through the library's streaming path (`client stream`), sampled the same way.
fn stream_runs(exe: &Path, cli: &Path, uri: &str, env: &[(&str, &str); 2], plan: &Plan) -> Result<[Value; 2], String> {
    let (user, password) = (env[0].1, env[1].1);
    let payload = plan.stream_count as u64 * plan.stream_size as u64;
    let state = std::env::temp_dir().join(format!("pssession-load-{}", std::process::id()));
    std::fs::create_dir_all(&state).map_err(|e| e.to_string())?;
    let pssession = |args: &[&str]| {
        let mut command = Command::new(cli);
        command
            .args(args)
            .args(["--credential", user])
            .env("XDG_STATE_HOME", &state)
            .env("PSSESSION_PASSWORD", password);
        command
    };
    let check = |mut command: Command| -> Result<(), String> {
        let output = command.stdin(Stdio::null()).output().map_err(|e| e.to_string())?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!("{command:?} failed: {}", String::from_utf8_lossy(&output.stderr)))
        }
    };
    let script = format!("Get-TestData -Count {} -Size {}", plan.stream_count, plan.stream_size);
    check(pssession(&["new", "--connection-uri", uri, "--name", "LoadStream"]))?;
    check(pssession(&["invoke", "--name", "LoadStream", "--script-block", &script, "--in-disconnected-session"]))?;
    // JSON Lines: every object printed in full (a table would cut each 10,000-character payload to the terminal).
    let through_cli =
        sample(&mut pssession(&["receive", "--name", "LoadStream", "--output", "json"]), plan.stream_rss_cap_kib)?;
    let _ = check(pssession(&["remove", "--name", "LoadStream"]));
    let _ = std::fs::remove_dir_all(&state);
    let cli_json = through_cli.json(payload, plan.stream_rss_cap_kib);
    // One line per object, each at least its payload long.
    let lines_expected = plan.stream_count as u64;
    if !through_cli.capped
        && (!through_cli.success || through_cli.stdout_bytes < payload || through_cli.stdout_lines != lines_expected)
    {
        return Err(format!(
            "`pssession receive` gave {} lines, {} bytes of output (expected {lines_expected} lines, at least {payload} \
             bytes): {cli_json}",
            through_cli.stdout_lines, through_cli.stdout_bytes
        ));
    }

    let mut library = Command::new(exe);
    library
        .args(["client", "stream", "--uri", uri])
        .args(["--count", &plan.stream_count.to_string(), "--size", &plan.stream_size.to_string()])
        .envs(env.iter().copied());
    let through_library = sample(&mut library, plan.stream_rss_cap_kib)?;
    let mut library_json = through_library.json(payload, plan.stream_rss_cap_kib);
    if !through_library.capped {
        let answer: Value = serde_json::from_str(&through_library.last_line)
            .map_err(|e| format!("`client stream` printed {:?}: {e}", through_library.last_line))?;
        if !through_library.success || answer["payload_bytes"].as_u64() != Some(payload) {
            return Err(format!("`client stream` failed: {answer} {library_json}"));
        }
        library_json["client"] = answer;
    }
    Ok([cli_json, library_json])
}

fn stream_row(label: &str, stream: &Value) -> String {
    let samples: Vec<(f64, u64)> = stream["samples"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| Some((s[0].as_f64()?, s[1].as_u64()?)))
        .collect();
    let seconds = stream["seconds"].as_f64().unwrap_or(f64::NAN);
    let payload = stream["payload_bytes"].as_u64().unwrap_or_default();
    let at = |fraction: f64| {
        samples
            .iter()
            .find(|(t, _)| *t >= fraction * seconds)
            .or(samples.last())
            .map_or_else(|| "–".to_owned(), |(_, kib)| report::mib(*kib))
    };
    let peak = stream["vmhwm_kib"].as_u64().unwrap_or_default();
    let early = samples.iter().find(|(t, _)| *t >= 0.1 * seconds).map_or(0, |s| s.1);
    // Flat: after the first tenth of the run the resident size grows by less than 32 MiB (a few 500 KB envelopes,
    // the decryption and defragmentation buffers).
    let flat = peak.saturating_sub(early) < 32 << 10;
    let outcome = if stream["capped"].as_bool() == Some(true) {
        format!("stopped at the {} cap", report::mib(stream["cap_kib"].as_u64().unwrap_or_default()))
    } else {
        format!("{:.1} MB/s", payload as f64 / 1e6 / seconds)
    };
    format!(
        "| {label} | {} MB | {} | {outcome} | {} | {} | {} | {} | {} | {} | {} |\n",
        payload / 1_000_000,
        report::duration(seconds),
        samples.len(),
        at(0.1),
        at(0.25),
        at(0.5),
        at(0.75),
        report::mib(peak),
        if flat { "yes" } else { "**no**" },
    )
}

fn stream_markdown(cli: &Value, library: &Value) -> String {
    format!(
        "\nStreaming: a disconnected session's `Get-TestData` output (10,000-character payloads) received by a child \
         process whose `VmRSS` is sampled every 100 ms: the CLI `pssession receive` (stdout read and discarded by the \
         driver), and the library's streaming path (`Session::receive_pipeline`, each object deserialized, checked and \
         dropped). Time and rate are the child's whole life (start, NTLM, Get-PSSession, Connect-PSSession, receive):\n\n\
         | Receiver | Payload | Time | Rate | Samples | RSS at 10 % | 25 % | 50 % | 75 % | Peak (VmHWM) | Flat (< 32 MiB \
         growth after 10 %) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|:-:|\n{}{}",
        stream_row("`pssession receive` (CLI)", cli),
        stream_row("library `receive_pipeline`", library),
    )
}
