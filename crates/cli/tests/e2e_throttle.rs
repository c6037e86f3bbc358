//! `pssession connect --throttle-limit N` with 40 disconnected sessions on 4 endpoints (one process, real sockets,
//! NTLM over HTTP): the endpoints' plugin counts pool Connects in flight and holds each until N are in flight at
//! once (the connect gate), so the peak it sees is the client's real concurrency. It must reach N (the sessions are
//! connected in parallel, or the gate would never open) and never exceed it.

mod e2e_support;

use std::sync::atomic::Ordering;

use e2e_support::{ALICE, Endpoints, Machine, Setup, client};
use pssession_connect::OutputBufferingMode;

const SERVERS: usize = 4;
const PER_SERVER: usize = 10;

/// Creates `PER_SERVER` disconnected sessions `T<server>-<n>` on every endpoint, all at once.
fn create_sessions(endpoints: &Endpoints) {
    let uris: Vec<String> = (0..SERVERS).map(|i| endpoints.http_uri(i)).collect();
    endpoints.runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for (s, uri) in uris.iter().enumerate() {
            for n in 0..PER_SERVER {
                let uri = uri.clone();
                tasks.spawn(async move {
                    let mut session = client(&uri, ALICE).new_session(&format!("T{s}-{n}")).await?;
                    session.disconnect(None, OutputBufferingMode::None).await
                });
            }
        }
        while let Some(done) = tasks.join_next().await {
            done.expect("task").expect("session created and disconnected");
        }
    });
}

/// `pssession connect` of every session with `--throttle-limit throttle_limit`, the endpoints holding each pool
/// Connect until `concurrency` are in flight.
fn connect_all(endpoints: &Endpoints, machine: &Machine, throttle_limit: &str, concurrency: usize) -> String {
    endpoints.counters.peak.store(0, Ordering::SeqCst);
    endpoints.counters.hold_connects(concurrency, SERVERS * PER_SERVER);
    let mut args = vec!["connect", "--name", "T*", "--throttle-limit", throttle_limit, "--output", "json"];
    let uris: Vec<String> = (0..SERVERS).map(|i| endpoints.http_uri(i)).collect();
    args.push("--connection-uri");
    args.extend(uris.iter().map(String::as_str));
    let out = machine.run(&args);
    let json = out.json();
    let rows = json.as_array().expect("rows");
    assert_eq!(rows.len(), SERVERS * PER_SERVER, "{}", out.stderr);
    assert!(rows.iter().all(|r| r["State"] == "Opened"), "{json}");
    out.stderr
}

#[test]
fn connect_never_runs_more_than_throttle_limit_at_once() {
    let endpoints = Endpoints::start(Setup { servers: SERVERS, ..Setup::default() });
    create_sessions(&endpoints);
    let machine = Machine::new("throttle", ALICE);

    for (limit, expected) in [("5", 5), ("2", 2)] {
        let before = endpoints.counters.connects();
        connect_all(&endpoints, &machine, limit, expected);
        assert_eq!(endpoints.counters.connects() - before, SERVERS * PER_SERVER, "every session connected once");
        assert_eq!(endpoints.counters.peak(), expected, "--throttle-limit {limit}: peak concurrency");
    }
    // 0 means the default, 32: more than 5 at once, never more than 32 (the gate holds until 32 are in flight).
    connect_all(&endpoints, &machine, "0", 32);
    let peak = endpoints.counters.peak();
    assert!(peak > 5 && peak <= 32, "--throttle-limit 0: peak {peak}");
    assert_eq!(peak, 32, "--throttle-limit 0: the default concurrency");
    assert_eq!(endpoints.counters.gate_timeouts.load(Ordering::SeqCst), 0, "the expected concurrency was reached");
    // Every session was left disconnected again, ready for the next client.
    for i in 0..SERVERS {
        assert_eq!(endpoints.shell_count(i), PER_SERVER);
    }
}
