//! Output produced while nobody is connected arrives exactly once and in order: a command emitting 1000 numbered
//! objects is started in a disconnected session, picked up mid-way by `pssession receive` from another machine (a
//! fresh session store), and every number 1..=1000 is printed once, ascending — also when the output outgrows the
//! server's buffer (Block mode holds the command until a client connects). "Mid-way" is made by events, not time:
//! the command is held at an output gate, or by the full buffer, until the other machine has connected.

mod e2e_support;

use e2e_support::{ALICE, Endpoints, Machine, Setup};
use pssession_auth::Credentials;
use pssession_connect::authentication::{AuthenticationMechanism, AuthenticationOptions};
use pssession_connect::{Client, ConnectionTarget, SessionFilter, SessionOptions};
use pssession_server::ServiceConfig;

const COUNT: usize = 1000;

fn check_sequence(stdout: &str, payload: usize) {
    let mut expected = 1;
    for line in stdout.lines() {
        let (number, rest) = line.split_once(' ').unwrap_or((line, ""));
        let number: usize = number.parse().unwrap_or_else(|_| panic!("not a numbered line: {line:.80}"));
        assert_eq!(number, expected, "line {expected} is {number}: lost, duplicated or reordered output");
        assert_eq!(rest.len(), payload, "payload of {number}");
        expected += 1;
    }
    assert_eq!(expected - 1, COUNT, "objects received");
}

/// What keeps the command running until the other machine receives.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Held {
    /// The endpoint holds its output back after this many objects until the receiving client has connected.
    AtGateAfter(usize),
    /// The endpoint's full buffer (Block mode) holds it.
    ByFullBuffer,
}

fn start_then_receive(endpoints: &Endpoints, script: &str, mode: &str, held: Held) -> String {
    let uri = endpoints.http_uri(0);
    let office = Machine::new("output-office", ALICE);
    office.run(&["new", "--name", "Numbers", "--connection-uri", &uri]).ok();
    if let Held::AtGateAfter(count) = held {
        endpoints.counters.hold_output_after(count);
    }
    let out = office.run(&[
        "invoke",
        "--name",
        "Numbers",
        "--script-block",
        script,
        "--in-disconnected-session",
        "--output-buffering-mode",
        mode,
    ]);
    out.ok();
    match held {
        Held::AtGateAfter(_) => endpoints.wait_until("the command to reach the output gate", |c| c.output_held()),
        Held::ByFullBuffer => endpoints.runtime.block_on(endpoints.output_blocked(0)),
    }
    // Mid-way: the command is still running when the other machine connects.
    let found = endpoints.runtime.block_on(async {
        let target = ConnectionTarget::connection_uri(&uri).expect("uri");
        let auth = AuthenticationOptions::new(AuthenticationMechanism::Negotiate, Credentials::new(ALICE.0, ALICE.1));
        let client = Client::new(target, SessionOptions::default(), auth).expect("client");
        client.get_sessions(&SessionFilter::default()).await.expect("get_sessions")
    });
    assert_eq!(found[0].commands.len(), 1);
    assert!(found[0].commands[0].state.ends_with("Running"), "{:?}", found[0].commands);
    assert_eq!(endpoints.counters.pipelines_finished(), 0, "{held:?}: the command is held");
    let home = Machine::new("output-home", ALICE);
    let connects = endpoints.counters.connects();
    let out = std::thread::scope(|scope| {
        let receiving = scope.spawn(|| home.run(&["receive", "--connection-uri", &uri, "--name", "Numbers"]));
        if held != Held::ByFullBuffer {
            // The rest of the output is produced while the other machine receives.
            endpoints.wait_until("the other machine to connect", |c| c.connects() > connects);
            endpoints.counters.release_output();
        }
        receiving.join().expect("receive")
    });
    out.ok().to_owned()
}

#[test]
fn output_produced_while_disconnected_arrives_once_and_in_order() {
    let endpoints = Endpoints::start(Setup::default());
    // 1000 objects at 500/s: the first ones produced while nobody is connected, the rest while receiving.
    let stdout = start_then_receive(
        &endpoints,
        "Get-TestData -Count 1000 -RatePerSecond 500 | ForEach-Object { '' + $_.Sequence + ' ' }",
        "Block",
        Held::AtGateAfter(100),
    );
    check_sequence(&stdout, 0);
}

#[test]
fn output_larger_than_the_server_buffer_blocks_then_arrives_once_and_in_order() {
    let mut config = ServiceConfig::default();
    config.output_buffer_bytes = 64 * 1024;
    let endpoints = Endpoints::start(Setup { config, ..Setup::default() });
    // ~2 MB of output against a 64 KiB buffer: the command is held while disconnected (Block), nothing is lost.
    let stdout = start_then_receive(
        &endpoints,
        "Get-TestData -Count 1000 -Size 2000 | ForEach-Object { '' + $_.Sequence + ' ' + $_.Payload }",
        "Block",
        Held::ByFullBuffer,
    );
    check_sequence(&stdout, 2000);
}
