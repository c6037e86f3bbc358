//! Cross-client interop through the embedded endpoint (HTTP, NTLM, message encryption): a pool created and
//! disconnected by pypsrp is found, connected and received by the `pssession` CLI, and a session disconnected by
//! `pssession` is found and connected by pypsrp (`RunspacePool.get_runspace_pools`, `connect`,
//! `create_disconnected_power_shells`, `PowerShell.connect`).

mod e2e_support;

use std::path::Path;

use e2e_support::{ALICE, Endpoints, Machine, Setup};
use serde_json::{Value, json};

fn pypsrp(endpoints: &Endpoints, request: Value) -> Value {
    let mut request = request;
    request["host"] = json!("127.0.0.1");
    request["port"] = json!(endpoints.http_port(0));
    request["user"] = json!(ALICE.0);
    request["password"] = json!(ALICE.1);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/pypsrp_e2e.py");
    pssession_testkit::run_python_json(&script, &request)
}

#[test]
fn a_pool_disconnected_by_pypsrp_is_found_connected_and_received_by_pssession() {
    let endpoints = Endpoints::start(Setup::default());
    let uri = endpoints.http_uri(0);
    let short = pypsrp(
        &endpoints,
        json!({
            "scenario": "start_and_disconnect",
            "name": "PyTask",
            "script": "1..5 | ForEach-Object { Start-Sleep -Milliseconds 100; \"item $_\" }",
        }),
    );
    let long = pypsrp(
        &endpoints,
        json!({ "scenario": "start_and_disconnect", "name": "PyLong", "script": "Start-Sleep -Seconds 3; 'late'" }),
    );
    let short_id = short["instance_id"].as_str().expect("id").to_owned();

    let home = Machine::new("py-home", ALICE);
    let json = home.run(&["get", "--connection-uri", &uri, "--output", "json"]).json();
    let rows = json.as_array().expect("rows");
    assert_eq!(rows.len(), 2, "{json}");
    let row = rows.iter().find(|r| r["Name"] == "PyTask").expect("PyTask listed");
    assert_eq!(row["InstanceId"].as_str().expect("id").to_uppercase(), short_id);
    assert_eq!((&row["State"], &row["Availability"]), (&json!("Disconnected"), &json!("None")));

    // Receive-PSSession: the output pypsrp's command produced while nobody was connected (it waits for the end).
    let out = home.run(&["receive", "--connection-uri", &uri, "--instance-id", &short_id]);
    assert_eq!(out.ok(), "item 1\nitem 2\nitem 3\nitem 4\nitem 5\n", "{}", out.stderr);

    // Connect-PSSession to the pool whose command still runs: reattached (Busy), then received from the store.
    let out = home.run(&["connect", "--connection-uri", &uri, "--name", "PyLong", "--output", "json"]);
    let row = &out.json()[0];
    assert_eq!((&row["State"], &row["Availability"]), (&json!("Opened"), &json!("Busy")), "{row}");
    assert_eq!(row["InstanceId"].as_str().expect("id").to_uppercase(), long["instance_id"].as_str().expect("id"));
    let out = home.run(&["receive", "--name", "PyLong"]);
    assert_eq!(out.ok(), "late\n", "{}", out.stderr);
    assert_eq!(endpoints.counters.connects(), 3);
}

#[test]
fn a_session_disconnected_by_pssession_is_found_and_connected_by_pypsrp() {
    let endpoints = Endpoints::start(Setup::default());
    let uri = endpoints.http_uri(0);
    let office = Machine::new("py-office", ALICE);
    office.run(&["new", "--name", "RsTask", "--connection-uri", &uri]).ok();
    office
        .run(&[
            "invoke",
            "--name",
            "RsTask",
            "--script-block",
            "1..3 | ForEach-Object { \"rs $_\" }; Start-Sleep -Milliseconds 500; 'end'",
            "--in-disconnected-session",
        ])
        .ok();
    let instance_id = office.store()[0].instance_id.to_string().to_uppercase();

    let connects = endpoints.counters.connects();
    let result = pypsrp(&endpoints, json!({ "scenario": "connect_and_receive", "instance_id": instance_id }));
    assert_eq!(result["listed"], json!(1), "{result}");
    assert_eq!(result["found"], json!(1), "{result}");
    assert_eq!(result["pipelines"], json!(1), "{result}");
    assert_eq!(result["output"], json!(["rs 1", "rs 2", "rs 3", "end"]), "{result}");
    assert_eq!(result["after"], json!(["pypsrp was here"]), "{result}");
    assert_eq!(endpoints.counters.connects(), connects + 1);
    // pypsrp closed it: gone for pssession too.
    assert_eq!(office.run(&["get", "--connection-uri", &uri]).ok(), "");
}

#[test]
fn a_nameless_pool_made_by_pypsrp_is_listed_received_and_connected_by_instance_id() {
    let endpoints = Endpoints::start(Setup::default());
    let uri = endpoints.http_uri(0);
    let quick = pypsrp(
        &endpoints,
        json!({ "scenario": "start_and_disconnect", "script": "1..3 | ForEach-Object { \"nameless $_\" }" }),
    );
    let slow = pypsrp(
        &endpoints,
        json!({ "scenario": "start_and_disconnect", "script": "'first'; Start-Sleep -Seconds 1; 'second'" }),
    );
    let quick_id = quick["instance_id"].as_str().expect("id").to_owned();
    let slow_id = slow["instance_id"].as_str().expect("id").to_owned();

    // Get-PSSession lists both, with an empty Name; a --name filter, even `*`, matches neither.
    let home = Machine::new("py-nameless", ALICE);
    let json = home.run(&["get", "--connection-uri", &uri, "--output", "json"]).json();
    let rows = json.as_array().expect("rows");
    assert_eq!(rows.len(), 2, "{json}");
    for row in rows {
        assert_eq!(
            (&row["Name"], &row["State"], &row["Availability"]),
            (&json!(""), &json!("Disconnected"), &json!("None"))
        );
    }
    assert_eq!(home.run(&["get", "--connection-uri", &uri, "--name", "*"]).ok(), "");

    // Receive-PSSession by InstanceId collects what the nameless pool produced.
    let out = home.run(&["receive", "--connection-uri", &uri, "--instance-id", &quick_id]);
    assert_eq!(out.ok(), "nameless 1\nnameless 2\nnameless 3\n", "{}", out.stderr);

    // Connect-PSSession by InstanceId reattaches the other one; its output is then received from the store.
    let out = home.run(&["connect", "--connection-uri", &uri, "--instance-id", &slow_id, "--output", "json"]);
    let row = &out.json()[0];
    assert_eq!(row["InstanceId"].as_str().expect("id").to_uppercase(), slow_id, "{row}");
    assert_eq!(row["State"], json!("Opened"), "{row}");
    let out = home.run(&["receive", "--instance-id", &slow_id]);
    assert_eq!(out.ok(), "first\nsecond\n", "{}", out.stderr);
}
