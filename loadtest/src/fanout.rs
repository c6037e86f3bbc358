//! The fan-out: many disconnected sessions across many endpoints, found with Get-PSSession and connected with
//! Connect-PSSession through `pssession_connect::fanout::fan_out`, at most ThrottleLimit at once.
//!
//! `fanout-setup` creates and disconnects the sessions (a process of its own, so that its memory is not counted).
//! `fanout` is the measured client: one client per endpoint lists the sessions (Get-PSSession -ComputerName), then
//! each session is connected by a client of its own (what `pssession connect` does: one connection and WS-Man
//! SessionId per PSSession) and kept connected and idle. It prints wall times, this process's resident memory
//! (`VmRSS` before and after the connects, `VmHWM` peak), the most operations observed running at once (an error
//! when above the ThrottleLimit), then disconnects every session again (untimed) so that the next run finds them.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use pssession_connect::fanout::fan_out;
use pssession_connect::{OutputBufferingMode, Session, SessionFilter, SessionInfo};
use serde_json::json;

use crate::args::{Args, credentials, runtime};
use crate::proc_status;
use crate::scenarios::Endpoint;

/// The name prefix of the fan-out's sessions.
const PREFIX: &str = "Fan";

fn endpoints(args: &Args) -> Result<Vec<Endpoint>, String> {
    let (user, password) = credentials()?;
    Ok(args
        .list("uris")?
        .into_iter()
        .map(|uri| Endpoint { uri, user: user.clone(), password: password.clone() })
        .collect())
}

pub fn setup_command(argv: &[String]) -> Result<(), String> {
    let args = Args::parse(argv)?;
    let endpoints = endpoints(&args)?;
    let per_endpoint: usize = args.number("per-endpoint", 1)?;
    let throttle: usize = args.number("throttle", 32)?;
    let targets: Vec<(Endpoint, String)> = endpoints
        .iter()
        .enumerate()
        .flat_map(|(e, endpoint)| (0..per_endpoint).map(move |j| (endpoint.clone(), format!("{PREFIX}{e:02}_{j:04}"))))
        .collect();
    let started = Instant::now();
    let results = runtime()?.block_on(fan_out(
        targets,
        throttle,
        |(endpoint, name)| async move {
            let client = endpoint.client()?;
            let mut session = client.new_session(&name).await.map_err(|e| e.to_string())?;
            session.disconnect(None, OutputBufferingMode::None).await.map_err(|e| e.to_string())
        },
        |(_, name)| format!("creating {name} panicked"),
    ));
    let failures: Vec<String> =
        results.into_iter().filter_map(|((_, name), r)| r.err().map(|e| format!("{name}: {e}"))).collect();
    if let Some(first) = failures.first() {
        return Err(format!("{} sessions could not be created, first: {first}", failures.len()));
    }
    println!("{}", json!({ "created": endpoints.len() * per_endpoint, "seconds": started.elapsed().as_secs_f64() }));
    Ok(())
}

/// Counts operations running at once; the guard leaves on drop (also when an operation fails).
#[derive(Default)]
struct Concurrency {
    now: Cell<usize>,
    peak: Cell<usize>,
}

struct Running(Rc<Concurrency>);

impl Concurrency {
    fn enter(self: &Rc<Self>) -> Running {
        self.now.set(self.now.get() + 1);
        self.peak.set(self.peak.get().max(self.now.get()));
        Running(Rc::clone(self))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.now.set(self.0.now.get() - 1);
    }
}

pub fn command(argv: &[String]) -> Result<(), String> {
    let args = Args::parse(argv)?;
    let endpoints = endpoints(&args)?;
    let throttle: usize = args.number("throttle", 32)?;
    let expect: usize = args.number("expect", 0)?;
    runtime()?.block_on(measure(endpoints, throttle, expect))
}

async fn measure(endpoints: Vec<Endpoint>, throttle: usize, expect: usize) -> Result<(), String> {
    let rss_start = proc_status::own_rss_kib()?;
    let filter = SessionFilter { names: vec![format!("{PREFIX}*")], ..SessionFilter::default() };
    let concurrency = Rc::new(Concurrency::default());
    let started = Instant::now();

    // Get-PSSession -ComputerName, one client per endpoint.
    let listed = fan_out(
        endpoints,
        throttle,
        |endpoint| {
            let (filter, concurrency) = (filter.clone(), Rc::clone(&concurrency));
            async move {
                let _running = concurrency.enter();
                let client = endpoint.client()?;
                client.get_sessions(&filter).await.map_err(|e| format!("{}: {e}", endpoint.uri))
            }
        },
        |endpoint| format!("listing {} panicked", endpoint.uri),
    )
    .await;
    let mut found: Vec<(Endpoint, SessionInfo)> = Vec::new();
    for (endpoint, result) in listed {
        found.extend(result?.into_iter().map(|info| (endpoint.clone(), info)));
    }
    let discovered = started.elapsed();
    if found.len() != expect {
        return Err(format!("Get-PSSession found {} sessions, expected {expect}", found.len()));
    }
    let rss_before = proc_status::own_rss_kib()?;

    // Connect-PSSession, a client per session, kept connected.
    let connect_started = Instant::now();
    let connected = fan_out(
        found,
        throttle,
        |(endpoint, info)| {
            let concurrency = Rc::clone(&concurrency);
            async move {
                let _running = concurrency.enter();
                let client = endpoint.client()?;
                client.connect(&info).await.map_err(|e| format!("{}: {e}", info.name))
            }
        },
        |(_, info)| format!("connecting {} panicked", info.name),
    )
    .await;
    let connect_time = connect_started.elapsed();
    let wall = started.elapsed();
    let mut sessions: Vec<Rc<RefCell<Option<Session>>>> = Vec::with_capacity(connected.len());
    let mut failures = Vec::new();
    for (_, result) in connected {
        match result {
            Ok(session) => sessions.push(Rc::new(RefCell::new(Some(session)))),
            Err(e) => failures.push(e),
        }
    }
    // Connected and idle: what each costs once the connects are over.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_connected = proc_status::own_rss_kib()?;
    let peak = proc_status::own_peak_kib()?;
    let threads = proc_status::field_kib("self", "Threads").unwrap_or_default();
    let observed = concurrency.peak.get();
    let count = sessions.len();

    // Untimed: leave every session disconnected again, for the next run.
    let left = fan_out(
        sessions,
        throttle,
        |cell| async move {
            let taken = cell.borrow_mut().take();
            match taken {
                Some(mut session) => {
                    session.disconnect(None, OutputBufferingMode::None).await.map_err(|e| e.to_string())
                }
                None => Ok(()),
            }
        },
        |_| "disconnecting panicked".to_owned(),
    )
    .await;
    let disconnect_failures = left.iter().filter(|(_, r)| r.is_err()).count();

    let report = json!({
        "throttle_limit": throttle,
        "sessions": count,
        "failures": failures.len(),
        "first_failure": failures.first(),
        "discovery_seconds": discovered.as_secs_f64(),
        "connect_seconds": connect_time.as_secs_f64(),
        "wall_seconds": wall.as_secs_f64(),
        "max_concurrent": observed,
        "rss_start_kib": rss_start,
        "rss_before_connect_kib": rss_before,
        "rss_connected_kib": rss_connected,
        "vmhwm_kib": peak,
        "threads_connected": threads,
        "disconnect_failures": disconnect_failures,
    });
    println!("{report}");
    if observed > throttle {
        return Err(format!("{observed} operations ran at once, above the ThrottleLimit {throttle}"));
    }
    if !failures.is_empty() || count != expect {
        return Err(format!("{} of {expect} sessions failed to connect", expect - count));
    }
    Ok(())
}

/// `pssession-load idle-cost --uris U1,… --count N`: where an idle connected session's memory goes. Creates N
/// clients (round robin over the endpoints) and reads `VmRSS`; has each authenticate and make one request (a
/// Get-PSSession matching nothing) and reads it again. The growth per client of each step, beside the fan-out's
/// growth per connected session, splits the cost into the client (with its transport), its authenticated
/// connection, and the session itself.
pub fn idle_cost_command(argv: &[String]) -> Result<(), String> {
    let args = Args::parse(argv)?;
    let endpoints = endpoints(&args)?;
    let count: usize = args.number("count", 100)?;
    if endpoints.is_empty() || count == 0 {
        return Err("give --uris and a --count above 0".to_owned());
    }
    runtime()?.block_on(async {
        let rss_start = proc_status::own_rss_kib()?;
        let clients =
            (0..count).map(|i| endpoints[i % endpoints.len()].client()).collect::<Result<Vec<_>, String>>()?;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let rss_clients = proc_status::own_rss_kib()?;
        let filter = SessionFilter { names: vec!["NoSuchSession-*".to_owned()], ..SessionFilter::default() };
        let results = fan_out(
            clients.clone(),
            32,
            |client| {
                let filter = filter.clone();
                async move { client.get_sessions(&filter).await.map_err(|e| e.to_string()) }
            },
            |_| "the request panicked".to_owned(),
        )
        .await;
        if let Some(e) = results.iter().find_map(|(_, r)| r.as_ref().err()) {
            return Err(e.clone());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let rss_connected = proc_status::own_rss_kib()?;
        println!(
            "{}",
            json!({
                "clients": clients.len(),
                "rss_start_kib": rss_start,
                "rss_clients_kib": rss_clients,
                "rss_connected_kib": rss_connected,
                "client_kib": (rss_clients.saturating_sub(rss_start)) as f64 / count as f64,
                "connection_kib": (rss_connected.saturating_sub(rss_clients)) as f64 / count as f64,
                "threads": proc_status::field_kib("self", "Threads").unwrap_or_default(),
            })
        );
        Ok(())
    })
}
