//! Ctrl-C and SIGTERM as a terminal user gives them: the CLI, spawned with the default signal dispositions, stops
//! waiting, disconnects the session with its command still running and says how to resume; what it printed before
//! the signal is all on stdout, and `pssession receive` collects the rest — every object exactly once across the
//! two processes. A second signal exits at once. Synchronisation is by the lines the processes print and by the
//! endpoint's output gate (the command holds its output after a few ticks until the test lets it go on, so it is
//! still running whenever the signal lands), never time.

mod e2e_support;

use std::io::BufReader;

use e2e_support::{ALICE, Endpoints, Machine, Setup, read_until, signal, ticks};
use serde_json::json;

fn interrupted_invoke_leaves_the_rest_to_receive(signal_name: &str, temporary: bool) {
    let endpoints = Endpoints::start(Setup::default());
    let uri = endpoints.http_uri(0);
    let office = Machine::new(&format!("interrupt-{signal_name}-{temporary}"), ALICE);
    let script = "1..40 | ForEach-Object { \"tick $_\" }";
    endpoints.counters.hold_output_after(5);
    let mut child = if temporary {
        office.spawn(&["invoke", "--connection-uri", &uri, "--session-name", "Ticks", "--script-block", script])
    } else {
        office.run(&["new", "--name", "Ticks", "--connection-uri", &uri]).ok();
        office.spawn(&["invoke", "--session", "Ticks", "--script-block", script])
    };
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut before = read_until(&mut stdout, |l| l == "tick 3");
    signal(&child, signal_name);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).expect("stdout");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr).expect("stderr");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(3), "exit status after a clean interrupt; stderr:\n{stderr}");
    assert!(
        stderr.contains("Resume with: pssession receive --session Ticks"),
        "the resume hint is on stderr:\n{stderr}"
    );
    before.extend(rest.lines().map(str::to_owned));
    let first = ticks(&before.join("\n"));
    assert!(first.len() >= 3 && first.len() < 40, "{first:?}");
    assert_eq!(endpoints.counters.pipelines_finished(), 0, "the command is still running, held at the gate");

    // Right after: Disconnected and connectable (not Busy), from another machine too.
    let home = Machine::new(&format!("interrupt-home-{signal_name}-{temporary}"), ALICE);
    let rows = home.run(&["get", "--connection-uri", &uri, "--output", "json"]).json();
    let row = rows.as_array().expect("rows").iter().find(|r| r["Name"] == "Ticks").expect("Ticks listed").clone();
    assert_eq!((&row["State"], &row["Availability"]), (&json!("Disconnected"), &json!("None")), "{row}");
    assert_eq!(
        office.store().iter().find(|r| r.name == "Ticks").map(|r| (r.state, r.availability)),
        Some((pssession_connect::SessionState::Disconnected, pssession_connect::Availability::None))
    );

    // The rest, exactly once: together the two processes printed 1..=40, in order, each once.
    endpoints.counters.release_output();
    let out = office.run(&["receive", "--session", "Ticks"]);
    let second = ticks(out.ok());
    let all: Vec<u32> = first.iter().chain(&second).copied().collect();
    assert_eq!(all, (1..=40).collect::<Vec<_>>(), "first {first:?}, then {second:?}");
}

#[test]
fn ctrl_c_during_invoke_in_a_session_disconnects_it_and_receive_collects_the_rest() {
    interrupted_invoke_leaves_the_rest_to_receive("INT", false);
}

#[test]
fn sigterm_during_a_temporary_invoke_keeps_the_session_disconnected_for_receive() {
    interrupted_invoke_leaves_the_rest_to_receive("TERM", true);
}

#[test]
fn ctrl_c_during_receive_disconnects_again_and_a_later_receive_goes_on() {
    let endpoints = Endpoints::start(Setup::default());
    let uri = endpoints.http_uri(0);
    let office = Machine::new("interrupt-receive", ALICE);
    office.run(&["new", "--name", "Long", "--connection-uri", &uri]).ok();
    endpoints.counters.hold_output_after(4);
    office
        .run(&[
            "invoke",
            "--session",
            "Long",
            "--in-disconnected-session",
            "--script-block",
            "1..40 | ForEach-Object { \"tick $_\" }",
        ])
        .ok();
    let mut child = office.spawn(&["receive", "--session", "Long"]);
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut lines = read_until(&mut stdout, |l| l == "tick 2");
    signal(&child, "INT");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).expect("stdout");
    lines.extend(rest.lines().map(str::to_owned));
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(3));
    assert_eq!(endpoints.counters.pipelines_finished(), 0, "the command is still running, held at the gate");
    endpoints.counters.release_output();
    let first = ticks(&lines.join("\n"));
    let second = ticks(office.run(&["receive", "--session", "Long"]).ok());
    let all: Vec<u32> = first.iter().chain(&second).copied().collect();
    assert_eq!(all, (1..=40).collect::<Vec<_>>(), "first {first:?}, then {second:?}");
}

#[test]
fn a_second_ctrl_c_exits_at_once_with_the_signal_status() {
    // An endpoint that accepts connections and never answers: the query hangs until the first Ctrl-C, which lets
    // it finish (so as not to leave a session connected), and the second exits at once.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let uri = format!("http://{}/wsman", silent.local_addr().expect("address"));
    let office = Machine::new("interrupt-twice", ALICE);
    let mut child = office.spawn(&["receive", "--connection-uri", &uri, "--name", "Anything"]);
    // The connection arriving is the event that the CLI is waiting on the endpoint.
    let (_connection, _) = silent.accept().expect("the CLI connects");
    signal(&child, "INT");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    read_until(&mut stderr, |l| l.contains("Press Ctrl-C again to exit at once"));
    signal(&child, "INT");
    let rest = read_until(&mut stderr, |l| l.contains("again: exiting without waiting"));
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(130), "{rest:?}");
}
