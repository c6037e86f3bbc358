//! The load driver's pieces with tiny sizes: the endpoint process, every pssession scenario and its pypsrp twin
//! (each checks every object it receives), the fan-out with its ThrottleLimit check, and the checks failing when
//! the answer is not what was asked for.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};

use serde_json::{Value, json};

const USER: &str = "loadtest";
const PASSWORD: &str = "Driver-Test-9!";

fn driver() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pssession-load"));
    command.env("PSSESSION_LOAD_USER", USER).env("PSSESSION_LOAD_PASSWORD", PASSWORD);
    command
}

struct Endpoints {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    uris: Vec<String>,
}

impl Endpoints {
    fn start(count: usize) -> Self {
        let mut child = driver()
            .args(["serve", "--endpoints", &count.to_string(), "--output-buffer-mib", "4"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start serve");
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("ready line");
        let ready: Value = serde_json::from_str(&line).expect("JSON ready line");
        let uris: Vec<String> =
            ready["uris"].as_array().expect("uris").iter().map(|u| u.as_str().expect("uri").to_owned()).collect();
        assert_eq!(uris.len(), count);
        Endpoints { child, stdin, stdout, uris }
    }

    fn shells(&mut self) -> u64 {
        let stdin = self.stdin.as_mut().expect("stdin");
        stdin.write_all(b"stats\n").expect("ask");
        stdin.flush().expect("flush");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("stats line");
        let stats: Value = serde_json::from_str(&line).expect("JSON stats");
        assert!(stats["vmhwm_kib"].as_u64().expect("VmHWM") > 0);
        stats["shells"].as_u64().expect("shells")
    }
}

impl Drop for Endpoints {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

fn json_of(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.lines().last().expect("a line")).expect("JSON")
}

fn ours(uri: &str, scenario: &str, iterations: usize, count: i64, size: usize) -> Output {
    driver()
        .args(["client", scenario, "--uri", uri, "--iterations", &iterations.to_string()])
        .args(["--count", &count.to_string(), "--size", &size.to_string(), "--settle-ms", "200"])
        .output()
        .expect("run client")
}

fn assert_series(answer: &Value, iterations: usize, objects: u64, payload: u64) {
    assert_eq!(answer["seconds"].as_array().expect("seconds").len(), iterations, "{answer}");
    assert_eq!(answer["cpu_seconds"].as_array().expect("cpu").len(), iterations, "{answer}");
    assert!(answer["seconds"].as_array().expect("seconds").iter().all(|s| s.as_f64().expect("number") > 0.0));
    assert_eq!(answer["objects"], json!(objects), "{answer}");
    assert_eq!(answer["payload_bytes"], json!(payload), "{answer}");
}

#[test]
fn pssession_and_pypsrp_scenarios_receive_every_object_they_ask_for() {
    let mut endpoints = Endpoints::start(1);
    let uri = endpoints.uris[0].clone();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("py/pypsrp_load.py");
    let cases: [(&str, usize, i64, usize); 3] =
        [("open_run_close", 2, 0, 0), ("big_output", 2, 40, 3000), ("disconnected", 2, 30, 2000)];
    for (scenario, iterations, count, size) in cases {
        let (objects, payload) = if count == 0 { (1, 5) } else { (count as u64, count as u64 * size as u64) };
        let answer = json_of(&ours(&uri, scenario, iterations, count, size));
        assert_eq!(answer["client"], "pssession");
        assert_series(&answer, iterations, objects, payload);
        let request = json!({
            "uri": uri, "user": USER, "password": PASSWORD, "scenario": scenario, "iterations": iterations,
            "count": count, "size": size, "settle_ms": 200,
        });
        let answer = pssession_testkit::run_python_json(&script, &request);
        assert_eq!(answer["client"], "pypsrp");
        assert_series(&answer, iterations, objects, payload);
    }
    // Several at once: every operation is timed and checked, and the run's wall time is reported.
    let answer = json_of(
        &driver()
            .args(["client", "open_run_close", "--uri", &uri, "--iterations", "6", "--concurrency", "3"])
            .output()
            .expect("run client"),
    );
    assert_series(&answer, 6, 1, 5);
    assert_eq!(answer["concurrency"], json!(3));
    assert!(answer["wall_seconds"].as_f64().expect("wall") > 0.0);
    let request = json!({
        "uri": uri, "user": USER, "password": PASSWORD, "scenario": "open_run_close", "iterations": 6,
        "count": 0, "size": 0, "settle_ms": 0, "concurrency": 3,
    });
    let answer = pssession_testkit::run_python_json(&script, &request);
    assert_series(&answer, 6, 1, 5);
    assert!(answer["wall_seconds"].as_f64().expect("wall") > 0.0);
    let answer = json_of(&ours(&uri, "stream", 1, 25, 4000));
    assert_series(&answer, 1, 25, 100_000);
    // Every scenario removes what it created.
    assert_eq!(endpoints.shells(), 0);
}

#[test]
fn a_short_or_wrong_answer_fails_the_scenario() {
    let endpoints = Endpoints::start(1);
    // Get-TestData refuses a negative count: an error record, not the objects asked for.
    let output = ours(&endpoints.uris[0], "big_output", 1, -1, 10);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("error record"), "{output:?}");
    // A wrong password is an authentication failure, not a measurement.
    let output = driver()
        .env("PSSESSION_LOAD_PASSWORD", "wrong")
        .args(["client", "open_run_close", "--uri", &endpoints.uris[0], "--iterations", "1"])
        .output()
        .expect("run client");
    assert!(!output.status.success());
}

#[test]
fn the_fan_out_connects_every_session_within_the_throttle_limit() {
    let mut endpoints = Endpoints::start(3);
    let uris = endpoints.uris.join(",");
    let setup =
        json_of(&driver().args(["fanout-setup", "--uris", &uris, "--per-endpoint", "4"]).output().expect("setup"));
    assert_eq!(setup["created"], json!(12));
    assert_eq!(endpoints.shells(), 12);
    for throttle in [1usize, 3] {
        let answer = json_of(
            &driver()
                .args(["fanout", "--uris", &uris, "--throttle", &throttle.to_string(), "--expect", "12"])
                .output()
                .expect("fanout"),
        );
        assert_eq!(answer["sessions"], json!(12), "{answer}");
        let observed = answer["max_concurrent"].as_u64().expect("max_concurrent");
        assert!(observed >= 1 && observed <= throttle as u64, "{answer}");
        assert!(answer["rss_connected_kib"].as_u64().expect("rss") > 0);
        assert!(answer["vmhwm_kib"].as_u64().expect("hwm") >= answer["rss_connected_kib"].as_u64().expect("rss"));
        assert_eq!(answer["disconnect_failures"], json!(0), "{answer}");
    }
    // The sessions are disconnected again (connectable), and a wrong expectation fails the run.
    let output =
        driver().args(["fanout", "--uris", &uris, "--throttle", "2", "--expect", "13"]).output().expect("fanout");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("found 12 sessions, expected 13"), "{output:?}");
}
