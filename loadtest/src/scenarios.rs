//! `pssession-load client SCENARIO`: one scenario of the `pssession` library, repeated, timed per iteration, the
//! output checked object by object (a wrong or short answer fails the run). Prints one JSON line:
//! `{"client": "pssession", "scenario", "seconds": [...], "payload_bytes", "objects"}`.
//!
//! The same scenarios are `loadtest/py/pypsrp_load.py` for pypsrp; both deserialize every object they receive.
//!
//! * `open_run_close` — a new client (TCP connection, NTLM), New-PSSession, `Write-Output hello`, Remove-PSSession;
//!   with `--concurrency K`, K at a time on a multi-threaded runtime (throughput = operations / wall time).
//! * `big_output` — in one open session, `Get-TestData -Count C -Size S` received in full.
//! * `disconnected` — untimed: a session runs `Get-TestData -Count C -Size S` and is disconnected (the endpoint
//!   buffers the output); timed: a new client, Get-PSSession, Connect-PSSession, Receive-PSSession of it all.
//! * `stream` — like `disconnected` once, but each object is handed to a callback as it arrives
//!   (`Session::receive_pipeline`) and dropped after the check: the library's streaming path, whose resident size
//!   `run` samples from outside.

use std::time::{Duration, Instant};

use pssession_auth::Credentials;
use pssession_connect::authentication::{AuthenticationMechanism, AuthenticationOptions};
use pssession_connect::{
    Client, ConnectionTarget, OutputBufferingMode, PipelineEvent, PipelineOutput, PipelineSpec, Session, SessionFilter,
    SessionOptions,
};
use serde_json::json;

use crate::args::{Args, credentials, runtime};

/// Where to connect and as whom.
#[derive(Clone)]
pub struct Endpoint {
    pub uri: String,
    pub user: String,
    pub password: String,
}

impl Endpoint {
    /// A new client identity (its own connection and NTLM handshake), as a new PowerShell process would have.
    pub fn client(&self) -> Result<Client, String> {
        let target = ConnectionTarget::connection_uri(&self.uri).map_err(|e| e.to_string())?;
        // Negotiate to an IP address is NTLM (no Kerberos SPN for an address), sealed over HTTP: what pypsrp's
        // auth="ntlm", encryption="always" does; over HTTPS the bodies are not sealed (TLS protects them).
        let auth = AuthenticationOptions::new(
            AuthenticationMechanism::Negotiate,
            Credentials::new(self.user.as_str(), self.password.as_str()),
        );
        let mut options = SessionOptions::default();
        if self.uri.starts_with("https:") {
            // The endpoint's certificate is self-signed for this run (pypsrp: cert_validation=False).
            options.tls.dangerous().skip_ca_check(true).skip_cn_check(true);
        }
        Client::new(target, options, auth).map_err(|e| e.to_string())
    }
}

pub fn command(argv: &[String]) -> Result<(), String> {
    let args = Args::parse(argv)?;
    let scenario = args.positional(0, "scenario")?.to_owned();
    let (user, password) = credentials()?;
    let endpoint = Endpoint { uri: args.required("uri")?.to_owned(), user, password };
    let iterations: usize = args.number("iterations", 10)?;
    let count: i64 = args.number("count", 0)?;
    let size: usize = args.number("size", 0)?;
    let settle = Duration::from_millis(args.number("settle-ms", 500)?);
    let concurrency: usize = args.number("concurrency", 1)?;
    if concurrency > 1 {
        if scenario != "open_run_close" {
            return Err("--concurrency is for open_run_close".to_owned());
        }
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
        let (timings, check, wall) = runtime.block_on(open_run_close_concurrent(&endpoint, iterations, concurrency))?;
        print_answer(&scenario, &timings, check, Some((concurrency, wall)));
        return Ok(());
    }
    let runtime = runtime()?;
    let (timings, check) = runtime.block_on(async {
        match scenario.as_str() {
            "open_run_close" => open_run_close(&endpoint, iterations).await,
            "big_output" => big_output(&endpoint, iterations, count, size).await,
            "disconnected" => disconnected(&endpoint, iterations, count, size, settle).await,
            "stream" => stream(&endpoint, count, size).await,
            other => Err(format!("unknown scenario {other:?}")),
        }
    })?;
    print_answer(&scenario, &timings, check, None);
    Ok(())
}

/// The JSON line of a run; `concurrent` is (concurrency, wall seconds of the whole run).
fn print_answer(scenario: &str, timings: &[Timing], check: Check, concurrent: Option<(usize, f64)>) {
    let mut answer = json!({
        "client": "pssession",
        "scenario": scenario,
        "seconds": timings.iter().map(|t| t.seconds).collect::<Vec<_>>(),
        "cpu_seconds": timings.iter().map(|t| t.cpu_seconds).collect::<Vec<_>>(),
        "payload_bytes": check.payload_bytes,
        "objects": check.objects,
    });
    if let Some((concurrency, wall)) = concurrent {
        answer["concurrency"] = json!(concurrency);
        answer["wall_seconds"] = json!(wall);
    }
    println!("{answer}");
}

/// Wall and CPU time (this process, all threads) of one timed section.
pub struct Timing {
    pub seconds: f64,
    pub cpu_seconds: f64,
}

/// Starts timing a section.
struct Stopwatch {
    wall: Instant,
    cpu: f64,
}

impl Stopwatch {
    fn start() -> Self {
        Stopwatch { wall: Instant::now(), cpu: crate::proc_status::cpu_seconds("self").unwrap_or(f64::NAN) }
    }

    fn stop(self) -> Timing {
        let cpu = crate::proc_status::cpu_seconds("self").unwrap_or(f64::NAN);
        Timing { seconds: self.wall.elapsed().as_secs_f64(), cpu_seconds: cpu - self.cpu }
    }
}

/// What one iteration received, checked.
#[derive(Default, Clone, Copy)]
pub struct Check {
    pub objects: u64,
    pub payload_bytes: u64,
}

/// Deserializes every output of a `Get-TestData -Count count -Size size` run and checks sequence and payload.
struct TestDataReader {
    expected_size: usize,
    next_sequence: i64,
    payload_bytes: u64,
    error: Option<String>,
}

impl TestDataReader {
    fn new(expected_size: usize) -> Self {
        TestDataReader { expected_size, next_sequence: 1, payload_bytes: 0, error: None }
    }

    fn accept(&mut self, output: &PipelineOutput) {
        if self.error.is_some() {
            return;
        }
        match &output.event {
            PipelineEvent::Output(clixml) => {
                let checked = clixml.value().map_err(|e| e.to_string()).and_then(|value| {
                    let sequence = value.property("Sequence").and_then(|v| v.as_i64());
                    let payload = value.property("Payload").and_then(|v| v.as_str()).map(str::len);
                    match (sequence, payload) {
                        (Some(s), Some(p)) if s == self.next_sequence && p == self.expected_size => Ok(p),
                        other => {
                            Err(format!("object {}: got (Sequence, Payload length) {other:?}", self.next_sequence))
                        }
                    }
                });
                match checked {
                    Ok(length) => {
                        self.next_sequence += 1;
                        self.payload_bytes += length as u64;
                    }
                    Err(e) => self.error = Some(e),
                }
            }
            PipelineEvent::Error(record) => self.error = Some(format!("error record: {record}")),
            PipelineEvent::State { error: Some(error), .. } => self.error = Some(format!("pipeline failed: {error:?}")),
            _ => {}
        }
    }

    fn finish(self, count: i64) -> Result<Check, String> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let objects = self.next_sequence - 1;
        if objects != count {
            return Err(format!("received {objects} objects, expected {count}"));
        }
        Ok(Check { objects: objects as u64, payload_bytes: self.payload_bytes })
    }
}

fn test_data(count: i64, size: usize) -> PipelineSpec {
    PipelineSpec::script(format!("Get-TestData -Count {count} -Size {size}"))
}

/// One open + `Write-Output hello` + close, checked; its wall time.
async fn one_open_run_close(endpoint: Endpoint) -> Result<f64, String> {
    let started = Instant::now();
    let client = endpoint.client()?;
    let mut session = client.new_session("LoadOpenRunClose").await.map_err(|e| e.to_string())?;
    let outputs = session.invoke(&PipelineSpec::script("Write-Output hello")).await.map_err(|e| e.to_string())?;
    let mut texts = Vec::new();
    for output in &outputs {
        if let PipelineEvent::Output(clixml) = &output.event {
            let value = clixml.value().map_err(|e| e.to_string())?;
            texts.push(value.as_str().unwrap_or_default().to_owned());
        }
    }
    session.remove().await.map_err(|e| e.to_string())?;
    let seconds = started.elapsed().as_secs_f64();
    if texts != ["hello"] {
        return Err(format!("Write-Output hello gave {texts:?}"));
    }
    Ok(seconds)
}

async fn open_run_close(endpoint: &Endpoint, iterations: usize) -> Result<(Vec<Timing>, Check), String> {
    let mut seconds = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Stopwatch::start();
        one_open_run_close(endpoint.clone()).await?;
        seconds.push(started.stop());
    }
    Ok((seconds, Check { objects: 1, payload_bytes: 5 }))
}

/// `iterations` open + run + close, `concurrency` at a time, each on a task of the multi-threaded runtime. Each
/// timing is one operation's latency; the CPU of the whole run is shared out evenly (it cannot be told apart per
/// operation), and the wall time of the whole run is returned for the throughput.
async fn open_run_close_concurrent(
    endpoint: &Endpoint,
    iterations: usize,
    concurrency: usize,
) -> Result<(Vec<Timing>, Check, f64), String> {
    let started = Stopwatch::start();
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (endpoint, next) = (endpoint.clone(), std::sync::Arc::clone(&next));
        workers.spawn(async move {
            let mut latencies = Vec::new();
            while next.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < iterations {
                latencies.push(one_open_run_close(endpoint.clone()).await?);
            }
            Ok::<_, String>(latencies)
        });
    }
    let mut latencies = Vec::with_capacity(iterations);
    while let Some(joined) = workers.join_next().await {
        latencies.extend(joined.map_err(|e| format!("a worker failed: {e}"))??);
    }
    let whole = started.stop();
    if latencies.len() != iterations {
        return Err(format!("{} of {iterations} operations ran", latencies.len()));
    }
    let cpu_each = whole.cpu_seconds / iterations as f64;
    let timings = latencies.into_iter().map(|seconds| Timing { seconds, cpu_seconds: cpu_each }).collect();
    Ok((timings, Check { objects: 1, payload_bytes: 5 }, whole.seconds))
}

async fn big_output(
    endpoint: &Endpoint,
    iterations: usize,
    count: i64,
    size: usize,
) -> Result<(Vec<Timing>, Check), String> {
    let client = endpoint.client()?;
    let mut session = client.new_session("LoadBigOutput").await.map_err(|e| e.to_string())?;
    let mut seconds = Vec::with_capacity(iterations);
    let mut check = Check::default();
    for _ in 0..iterations {
        let started = Stopwatch::start();
        let pipeline = session.start(&test_data(count, size)).await.map_err(|e| e.to_string())?;
        let mut reader = TestDataReader::new(size);
        session.receive_pipeline(pipeline, |output| reader.accept(&output)).await.map_err(|e| e.to_string())?;
        seconds.push(started.stop());
        check = reader.finish(count)?;
    }
    session.remove().await.map_err(|e| e.to_string())?;
    Ok((seconds, check))
}

/// Starts `Get-TestData -Count count -Size size` in a new session `name` and leaves it disconnected, its output
/// buffered by the endpoint (Block).
async fn start_disconnected(endpoint: &Endpoint, name: &str, count: i64, size: usize) -> Result<(), String> {
    let office = endpoint.client()?;
    let mut session = office.new_session(name).await.map_err(|e| e.to_string())?;
    session
        .invoke_disconnected(&test_data(count, size), None, OutputBufferingMode::Block)
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Get-PSSession -Name `name` and Connect-PSSession, from a new client.
async fn find_and_connect(endpoint: &Endpoint, name: &str) -> Result<Session, String> {
    let home = endpoint.client()?;
    let filter = SessionFilter { names: vec![name.to_owned()], ..SessionFilter::default() };
    let found = home.get_sessions(&filter).await.map_err(|e| e.to_string())?;
    let [info] = found.as_slice() else {
        return Err(format!("Get-PSSession -Name {name} found {} sessions", found.len()));
    };
    home.connect(info).await.map_err(|e| e.to_string())
}

/// Receives everything `session` holds into a checked reader, object by object as it arrives.
async fn receive_checked(session: &mut Session, count: i64, size: usize) -> Result<Check, String> {
    let mut reader = TestDataReader::new(size);
    session.receive_each(|output| reader.accept(&output)).await.map_err(|e| e.to_string())?;
    reader.finish(count)
}

async fn disconnected(
    endpoint: &Endpoint,
    iterations: usize,
    count: i64,
    size: usize,
    settle: Duration,
) -> Result<(Vec<Timing>, Check), String> {
    let mut seconds = Vec::with_capacity(iterations);
    let mut check = Check::default();
    for iteration in 0..iterations {
        let name = format!("LoadDisconnected{}_{iteration}", std::process::id());
        start_disconnected(endpoint, &name, count, size).await?;
        // Let the command produce everything into the endpoint's buffer while nobody is connected.
        tokio::time::sleep(settle).await;

        let started = Stopwatch::start();
        let mut session = find_and_connect(endpoint, &name).await?;
        check = receive_checked(&mut session, count, size).await?;
        seconds.push(started.stop());
        session.remove().await.map_err(|e| e.to_string())?;
    }
    Ok((seconds, check))
}

async fn stream(endpoint: &Endpoint, count: i64, size: usize) -> Result<(Vec<Timing>, Check), String> {
    let name = format!("LoadLibraryStream{}", std::process::id());
    start_disconnected(endpoint, &name, count, size).await?;
    let started = Stopwatch::start();
    let mut session = find_and_connect(endpoint, &name).await?;
    let check = receive_checked(&mut session, count, size).await?;
    let timing = started.stop();
    session.remove().await.map_err(|e| e.to_string())?;
    Ok((vec![timing], check))
}
