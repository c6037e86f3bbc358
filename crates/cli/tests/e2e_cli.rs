//! The `pssession` binary against the embedded endpoint over real sockets (HTTP, NTLM, message encryption): every
//! Connect-PSSession parameter set (`--session`, `--name`, `--id`, `--instance-id` from the store;
//! `--computer-name` and `--connection-uri` with `--name` or `--instance-id`), get/invoke/receive/disconnect/remove,
//! `--what-if`/`--confirm`, `--output json`, with snapshots of the tables and messages (ids and ports masked).

mod e2e_support;

use std::time::Duration;

use e2e_support::{ALICE, Endpoints, Machine, Setup, mask};
use expect_test::expect;
use pssession_auth::Credentials;
use pssession_connect::authentication::{AuthenticationMechanism, AuthenticationOptions};
use pssession_connect::{Client, ConnectionTarget, SessionFilter, SessionOptions};

fn uri_args(uris: &[String]) -> Vec<&str> {
    let mut args = vec!["--connection-uri"];
    args.extend(uris.iter().map(String::as_str));
    args
}

fn args<'a>(first: &[&'a str], rest: &[&'a str]) -> Vec<&'a str> {
    first.iter().chain(rest).copied().collect()
}

/// The InstanceId of the stored session called `name` on the endpoint `uri`.
fn instance_id(machine: &Machine, name: &str, uri: &str) -> String {
    machine
        .store()
        .iter()
        .find(|r| r.name == name && r.connection_uri.eq_ignore_ascii_case(uri))
        .unwrap_or_else(|| panic!("{name} at {uri} not in the store"))
        .instance_id
        .to_string()
}

#[test]
fn every_connect_parameter_set_through_the_cli() {
    let endpoints = Endpoints::start(Setup { servers: 2, ..Setup::default() });
    let (u0, u1) = (endpoints.http_uri(0), endpoints.http_uri(1));
    let office = Machine::new("office", ALICE);

    // New-PSSession on two computers, and a second session on the first.
    let out = office.run(&args(&["new", "--name", "ITTask"], &uri_args(&[u0.clone(), u1.clone()])));
    expect![[r#"

        Id Name   ComputerName State        ConfigurationName    Availability
        -- ----   ------------ -----        -----------------    ------------
         1 ITTask 127.0.0.1    Disconnected Microsoft.PowerShell         None
         2 ITTask 127.0.0.1    Disconnected Microsoft.PowerShell         None

    "#]]
    .assert_eq(out.ok());
    office.run(&["new", "--name", "Other", "--connection-uri", &u0]).ok();
    assert_eq!(endpoints.counters.creates(), 3);

    // A job in the session, left running while nobody is connected.
    let out = office.run(&[
        "invoke",
        "--id",
        "1",
        "--script-block",
        "'started'; Start-Sleep -Seconds 2; 'finished'",
        "--in-disconnected-session",
    ]);
    out.ok();

    // -Name, -Session (name, Id, InstanceId), -Id, -InstanceId against the local store.
    let out = office.run(&["connect", "--name", "Other"]);
    expect![[r#"

        Id Name  ComputerName State  ConfigurationName    Availability
        -- ----  ------------ -----  -----------------    ------------
         3 Other 127.0.0.1    Opened Microsoft.PowerShell    Available

    "#]]
    .assert_eq(out.ok());
    let other_id = instance_id(&office, "Other", &u0);
    let connects = endpoints.counters.connects();
    let out = office.run(&["connect", "--session", "2", "--session", &other_id]);
    let table = out.ok();
    assert!(table.contains(" 2 ITTask") && table.contains(" 3 Other"), "{table}");
    assert_eq!(endpoints.counters.connects(), connects + 2);
    office.run(&["connect", "--session", "Other"]).ok();
    office.run(&["connect", "--id", "2,3"]).ok();
    office.run(&["connect", "--instance-id", &other_id]).ok();
    assert_eq!(endpoints.counters.connects(), connects + 6);

    // Session 1 runs a command: connecting reattaches it (Busy while it runs).
    let out = office.run(&["cnsn", "--id", "1"]);
    expect![[r#"

        Id Name   ComputerName State  ConfigurationName    Availability
        -- ----   ------------ -----  -----------------    ------------
         1 ITTask 127.0.0.1    Opened Microsoft.PowerShell         Busy

    "#]]
    .assert_eq(out.ok());

    // Another machine of the same user: Get-PSSession -ComputerName, then connect by computer name.
    let home = Machine::new("home", ALICE);
    let port = endpoints.http_port(0).to_string();
    let out = home.run(&["get", "--computer-name", "127.0.0.1", "--port", &port]);
    let table = out.ok();
    assert!(table.contains(" 1 ") && table.contains(" 2 "), "{table}");
    assert_eq!(table.matches("Disconnected").count(), 2, "{table}");
    let out = home.run(&["connect", "--computer-name", "127.0.0.1", "--port", &port, "--name", "Other"]);
    assert!(out.ok().contains("Other"), "{}", out.stdout);
    let out = home.run(&["connect", "--cn", "127.0.0.1", "--port", &port, "--instance-id", &other_id]);
    assert!(out.ok().contains("Other"), "{}", out.stdout);

    // -ConnectionUri (several) with -Name and with -InstanceId.
    let out = home.run(&args(&["connect", "--name", "IT*"], &uri_args(&[u0.clone(), u1.clone()])));
    let table = out.ok();
    assert_eq!(table.matches("ITTask").count(), 2, "{table}");
    let it1 = instance_id(&office, "ITTask", &u1);
    let out = home.run(&args(&["connect", "--instance-id", &it1], &uri_args(&[u0.clone(), u1.clone()])));
    assert_eq!(out.ok().matches("ITTask").count(), 1, "{}", out.stdout);

    // --output json from the server's view.
    let json = home.run(&args(&["get", "--output", "json"], &uri_args(&[u0.clone(), u1.clone()]))).json();
    let rows = json.as_array().expect("array");
    assert_eq!(rows.len(), 3, "{json}");
    for row in rows {
        assert_eq!(row["State"], "Disconnected", "{row}");
        assert_eq!(row["Availability"], "None", "{row}");
        assert_eq!(row["ConfigurationName"], "Microsoft.PowerShell", "{row}");
        assert_eq!(row["ComputerType"], "RemoteMachine", "{row}");
        assert!(uuid::Uuid::parse_str(row["InstanceId"].as_str().expect("id")).is_ok(), "{row}");
    }
    let mut names: Vec<&str> = rows.iter().map(|r| r["Name"].as_str().expect("name")).collect();
    names.sort_unstable();
    assert_eq!(names, ["ITTask", "ITTask", "Other"]);

    // Receive-PSSession from the other machine: the job's output, produced while nobody was connected.
    endpoints.wait_until("the job to finish", |c| c.finished("'finished'"));
    let it0 = instance_id(&office, "ITTask", &u0);
    let out = home.run(&args(&["receive", "--instance-id", &it0], &uri_args(std::slice::from_ref(&u0))));
    assert_eq!(out.ok(), "started\nfinished\n", "{}", out.stderr);

    // Disconnect-PSSession -IdleTimeoutSec -OutputBufferingMode: the server records both.
    let out = home.run(&[
        "disconnect",
        "--session",
        &other_id,
        "--idle-timeout-sec",
        "600",
        "--output-buffering-mode",
        "Drop",
        "--output",
        "json",
    ]);
    assert_eq!(out.json()[0]["State"], "Disconnected");
    let server_view = || {
        let shells = endpoints.runtime.block_on(async {
            let target = ConnectionTarget::connection_uri(&u0).expect("uri");
            let auth =
                AuthenticationOptions::new(AuthenticationMechanism::Negotiate, Credentials::new(ALICE.0, ALICE.1));
            let client = Client::new(target, SessionOptions::default(), auth).expect("client");
            client.get_sessions(&SessionFilter { names: vec!["Other".to_owned()], ..Default::default() }).await
        });
        let shell = shells.expect("get_sessions").remove(0).shell;
        (shell.idle_timeout, shell.buffer_mode)
    };
    assert_eq!(server_view(), (Some(Duration::from_secs(600)), Some("Drop".to_owned())));
    // Connecting again (and leaving it disconnected, as the CLI does) keeps both settings.
    home.run(&["connect", "--session", &other_id]).ok();
    assert_eq!(server_view(), (Some(Duration::from_secs(600)), Some("Drop".to_owned())));
    let out = home.run(&["disconnect", "--session", &other_id, "--idle-timeout-sec", "30"]);
    expect![[r#"
        pssession: The IdleTimeout value 30 seconds is not valid: it must be at least 60 seconds.
    "#]]
    .assert_eq(out.failed());

    // Remove-PSSession: gone on the server and from the store.
    let before = endpoints.shell_count(0);
    office.run(&["remove", "--session", "Other"]).ok();
    assert_eq!(endpoints.shell_count(0), before - 1);
    assert!(office.store().iter().all(|r| r.name != "Other"));
    let out = office.run(&["connect", "--name", "Other"]);
    expect![[r#"
        pssession: no session in the local store matches
    "#]]
    .assert_eq(out.failed());

    // Store-only parameters cannot be combined with a computer.
    let out = office.run(&["connect", "--session", "1", "--connection-uri", &u0]);
    expect![[r#"
        pssession: --id and --session refer to the local session store; use --name or --instance-id with --computer-name or --connection-uri
    "#]]
    .assert_eq(&mask(out.failed()));
    let out = office.run(&["get", "--output", "json"]);
    let stored: Vec<String> = out.json().as_array().expect("array").iter().map(|r| mask(&r.to_string())).collect();
    expect![[r#"
        [
            "{\"Availability\":\"None\",\"ComputerName\":\"127.0.0.1\",\"ComputerType\":\"RemoteMachine\",\"ConfigurationName\":\"Microsoft.PowerShell\",\"Id\":1,\"InstanceId\":\"<GUID>\",\"Name\":\"ITTask\",\"State\":\"Disconnected\"}",
            "{\"Availability\":\"None\",\"ComputerName\":\"127.0.0.1\",\"ComputerType\":\"RemoteMachine\",\"ConfigurationName\":\"Microsoft.PowerShell\",\"Id\":2,\"InstanceId\":\"<GUID>\",\"Name\":\"ITTask\",\"State\":\"Disconnected\"}",
        ]
    "#]]
    .assert_debug_eq(&stored);
}

#[test]
fn what_if_and_confirm() {
    let endpoints = Endpoints::start(Setup::default());
    let uri = endpoints.http_uri(0);
    let office = Machine::new("whatif", ALICE);
    office.run(&["new", "--name", "A", "--connection-uri", &uri]).ok();
    office.run(&["new", "--name", "B", "--connection-uri", &uri]).ok();

    let out = office.run(&["connect", "--name", "A", "--what-if"]);
    expect![[r#"
        What if: Performing the operation "Connect-PSSession" on target "Name: A, ComputerName: 127.0.0.1".
    "#]]
    .assert_eq(out.ok());
    let out = office.run(&["connect", "--connection-uri", &uri, "--name", "*", "--wi"]);
    assert_eq!(out.ok().lines().filter(|l| l.starts_with("What if: ")).count(), 2, "{}", out.stdout);
    assert_eq!(endpoints.counters.connects(), 0, "--what-if must not connect");

    // No, and end of input (no answer): nothing happens.
    let out = office.run_with_input(&["connect", "--name", "A", "--confirm"], "n\n");
    assert_eq!(out.ok(), "");
    expect![[r#"

        Confirm
        Are you sure you want to perform this action?
        Performing the operation "Connect-PSSession" on target "Name: A, ComputerName: 127.0.0.1".
        [Y] Yes  [A] Yes to All  [N] No  [L] No to All (default is "Y"): "#]]
    .assert_eq(&out.stderr);
    office.run_with_input(&["connect", "--name", "A", "--confirm"], "").ok();
    assert_eq!(endpoints.counters.connects(), 0);
    // Yes (also the default on an empty line).
    office.run_with_input(&["connect", "--name", "A", "--confirm"], "y\n").ok();
    assert_eq!(endpoints.counters.connects(), 1);
    office.run_with_input(&["connect", "--name", "A", "--cf"], "\n").ok();
    assert_eq!(endpoints.counters.connects(), 2);
    // Yes to All asks once for both; No to All once for none; Yes then No connects one.
    let out = office.run_with_input(&["connect", "--name", "A,B", "--confirm"], "a\n");
    assert_eq!(out.stderr.matches("Are you sure").count(), 1, "{}", out.stderr);
    assert_eq!(endpoints.counters.connects(), 4);
    let out = office.run_with_input(&["connect", "--name", "A,B", "--confirm"], "l\n");
    assert_eq!(out.stderr.matches("Are you sure").count(), 1, "{}", out.stderr);
    assert_eq!(endpoints.counters.connects(), 4);
    let out = office.run_with_input(&["connect", "--name", "A,B", "--confirm"], "y\nn\n");
    assert_eq!(out.ok().matches(" Opened ").count(), 1, "{}", out.stdout);
    assert_eq!(endpoints.counters.connects(), 5);
}

#[test]
fn configuration_and_application_names_select_and_reach_the_right_sessions() {
    let endpoints = Endpoints::start(Setup { extra_configuration: Some("ITTasks".to_owned()), ..Setup::default() });
    let uri = endpoints.http_uri(0);
    let port = endpoints.http_port(0).to_string();
    let office = Machine::new("config-office", ALICE);
    office.run(&["new", "--name", "Default", "--connection-uri", &uri]).ok();
    let out = office.run(&["new", "--name", "Tasks", "--connection-uri", &uri, "--configuration-name", "ITTasks"]);
    assert!(out.ok().contains(" Tasks 127.0.0.1    Disconnected ITTasks "), "{}", out.stdout);

    // -ConfigurationName filters what is listed and connected, with or without the URI prefix.
    let home = Machine::new("config-home", ALICE);
    let remote = ["--computer-name", "127.0.0.1", "--port", port.as_str(), "--application-name", "wsman"];
    let names = |out: &e2e_support::Run| -> Vec<String> {
        out.json().as_array().expect("rows").iter().map(|r| r["Name"].as_str().expect("name").to_owned()).collect()
    };
    let out = home.run(&args(&["get", "--output", "json", "--configuration-name", "ITTasks"], &remote));
    assert_eq!(names(&out), ["Tasks"]);
    let out = home.run(&args(
        &["get", "--output", "json", "--configuration-name", "http://schemas.microsoft.com/powershell/ITTasks"],
        &remote,
    ));
    assert_eq!(names(&out), ["Tasks"]);
    let out = home.run(&args(
        &["connect", "--output", "json", "--configuration-name", "Microsoft.PowerShell", "--name", "*"],
        &remote,
    ));
    assert_eq!(names(&out), ["Default"]);

    // Without -ConfigurationName every session is listed, and each is connected at its own configuration.
    let out = home.run(&args(&["connect", "--output", "json", "--name", "*"], &remote));
    let json = out.json();
    let mut seen: Vec<(String, String)> = json
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| (r["Name"].as_str().expect("n").to_owned(), r["ConfigurationName"].as_str().expect("c").to_owned()))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [("Default".to_owned(), "Microsoft.PowerShell".to_owned()), ("Tasks".to_owned(), "ITTasks".to_owned())]
    );
    // The endpoint finds a shell only through its own configuration's ResourceURI.
    let wrong = endpoints.runtime.block_on(async {
        let auth = AuthenticationOptions::new(AuthenticationMechanism::Negotiate, Credentials::new(ALICE.0, ALICE.1));
        let at = |configuration: &str| {
            let target = ConnectionTarget::connection_uri(&uri).expect("uri").with_configuration_name(configuration);
            Client::new(target, SessionOptions::default(), auth.clone()).expect("client")
        };
        let filter = SessionFilter { names: vec!["Tasks".to_owned()], ..Default::default() };
        let tasks = at("ITTasks").get_sessions(&filter).await.expect("listed").remove(0);
        let wrong = at("Microsoft.PowerShell").connect(&tasks).await.map(|_| ());
        let right = async {
            let mut session = at("ITTasks").connect(&tasks).await?;
            session.disconnect(None, pssession_connect::OutputBufferingMode::None).await
        }
        .await;
        (wrong, right)
    });
    assert!(matches!(wrong.0, Err(pssession_connect::Error::SessionNotFound { .. })), "{:?}", wrong.0);
    assert!(wrong.1.is_ok(), "{:?}", wrong.1);
    // The stored ITTasks session is reached at its configuration later.
    let out = home.run(&["receive", "--name", "Tasks"]);
    assert_eq!(out.ok(), "");
    let out = home.run(&["connect", "--name", "Tasks", "--output", "json"]);
    assert_eq!(out.json()[0]["ConfigurationName"], "ITTasks");
    assert!(out.json()[0].get("ComputerType").is_none(), "only get has ComputerType");
}

#[test]
fn what_if_and_confirm_for_disconnect_and_remove() {
    let endpoints = Endpoints::start(Setup::default());
    let uri = endpoints.http_uri(0);
    let office = Machine::new("whatif-remove", ALICE);
    office.run(&["new", "--name", "Keep", "--connection-uri", &uri]).ok();
    office.run(&["new", "--name", "Drop", "--connection-uri", &uri]).ok();

    let out = office.run(&["remove", "--name", "*", "--what-if"]);
    expect![[r#"
        What if: Performing the operation "Remove-PSSession" on target "Name: Keep, ComputerName: 127.0.0.1".
        What if: Performing the operation "Remove-PSSession" on target "Name: Drop, ComputerName: 127.0.0.1".
    "#]]
    .assert_eq(out.ok());
    assert_eq!(endpoints.shell_count(0), 2);
    let out = office.run(&["disconnect", "--name", "Keep", "--idle-timeout-sec", "900", "--what-if"]);
    assert!(out.ok().starts_with("What if: Performing the operation \"Disconnect-PSSession\""), "{}", out.stdout);
    assert_eq!(endpoints.counters.connects(), 0);

    // Confirm: No for Keep, Yes for Drop.
    let out = office.run_with_input(&["remove", "--name", "*", "--confirm"], "n\ny\n");
    assert_eq!(out.stderr.matches("Are you sure").count(), 2, "{}", out.stderr);
    out.ok();
    assert_eq!(endpoints.shell_count(0), 1);
    let names: Vec<String> = office.store().into_iter().map(|r| r.name).collect();
    assert_eq!(names, ["Keep"]);
    office.run_with_input(&["disconnect", "--name", "Keep", "--confirm"], "y\n").ok();
    assert_eq!(endpoints.counters.connects(), 1);
}

#[test]
fn verbose_logs_the_transport_on_stderr_and_never_the_password() {
    let mut config = pssession_server::ServiceConfig::default();
    config.allow_unencrypted = true;
    let endpoints = Endpoints::start(Setup { config, ..Setup::default() });
    let uri = endpoints.http_uri(0);
    let office = Machine::new("verbose", ALICE);
    office.run(&["new", "--name", "Logged", "--connection-uri", &uri]).ok();

    // Without -v: nothing on stderr.
    let quiet = office.run(&["get", "--connection-uri", &uri]);
    quiet.ok();
    assert_eq!(quiet.stderr, "");

    // -v before the subcommand: the transport's debug events.
    let out = office.run(&["-v", "get", "--connection-uri", &uri]);
    assert!(out.ok().contains("Logged"), "{}", out.stdout);
    assert!(out.stderr.contains("DEBUG"), "{}", out.stderr);
    assert!(out.stderr.contains("WS-Man HTTP round trip"), "{}", out.stderr);
    assert!(out.stderr.contains("connection opened"), "{}", out.stderr);
    assert!(!out.stdout.contains("WS-Man HTTP round trip"), "logs go to stderr only");
    assert!(!out.stderr.contains(ALICE.1), "the password was logged: {}", out.stderr);

    // -vv after the subcommand (the flag is global), on every subcommand that talks to an endpoint.
    for command in [
        vec!["connect", "--name", "Logged", "-vv"],
        vec!["receive", "--name", "Logged", "-vv"],
        vec!["remove", "--name", "Logged", "-vv"],
    ] {
        let out = office.run(&command);
        out.ok();
        assert!(out.stderr.contains("WS-Man HTTP round trip"), "{command:?}: {}", out.stderr);
        assert!(!out.stderr.contains(ALICE.1), "{command:?} logged the password: {}", out.stderr);
        assert!(!out.stdout.contains(ALICE.1), "{command:?} printed the password");
    }

    // Basic over HTTP sends the password in every Authorization header: header values are never logged.
    let basic = ["-vv", "get", "--connection-uri", &uri, "--authentication", "Basic", "--no-encryption"];
    let out = office.run(&basic);
    out.ok();
    assert!(out.stderr.contains("Basic"), "the round trips name the scheme: {}", out.stderr);
    let header = base64_simd::STANDARD.encode_to_string(format!("{}:{}", ALICE.0, ALICE.1));
    assert!(!out.stderr.contains(ALICE.1), "the password was logged: {}", out.stderr);
    assert!(!out.stderr.contains(&header), "the Authorization header was logged: {}", out.stderr);
}

#[test]
fn several_sessions_draw_no_progress_line_when_stderr_is_not_a_terminal() {
    let endpoints = Endpoints::start(Setup { servers: 2, ..Setup::default() });
    let (u0, u1) = (endpoints.http_uri(0), endpoints.http_uri(1));
    let office = Machine::new("progress", ALICE);
    office.run(&args(&["new", "--name", "Many"], &uri_args(&[u0.clone(), u1.clone()]))).ok();
    office.run(&["new", "--name", "More", "--connection-uri", &u0]).ok();

    // Across computers and across several sessions, stderr (a pipe here) gets nothing but errors: no
    // `Connecting 1/3` line, no carriage return.
    for command in [
        args(&["get"], &uri_args(&[u0.clone(), u1.clone()])),
        vec!["connect", "--name", "M*"],
        vec!["disconnect", "--name", "M*", "--idle-timeout-sec", "600"],
        vec!["receive", "--name", "M*"],
        vec!["remove", "--name", "M*"],
    ] {
        let out = office.run(&command);
        out.ok();
        assert_eq!(out.stderr, "", "{command:?}");
    }
    assert_eq!(endpoints.shell_count(0) + endpoints.shell_count(1), 0);
}

#[test]
fn the_state_directory_never_holds_the_password() {
    let endpoints = Endpoints::start(Setup::default());
    let uri = endpoints.http_uri(0);
    let office = Machine::new("secrets", ALICE);
    office.run(&["new", "--name", "Secret", "--connection-uri", &uri]).ok();
    office.run(&["connect", "--name", "Secret"]).ok();
    office.run(&["disconnect", "--name", "Secret", "--idle-timeout-sec", "900"]).ok();
    office.run(&["get", "--connection-uri", &uri]).ok();
    assert_eq!(office.store().len(), 1, "the flow left its session in the store");

    // Every file the CLI wrote, in every encoding a password could take on the way: as typed, as Windows'
    // UTF-16LE (what NTLM hashes), and base64 of the Basic `user:password` and of the password alone.
    let (user, password) = ALICE;
    let utf16: Vec<u8> = password.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let forbidden: Vec<(&str, Vec<u8>)> = vec![
        ("the password", password.as_bytes().to_vec()),
        ("the UTF-16LE password", utf16),
        ("the Basic credentials", base64_simd::STANDARD.encode_to_string(format!("{user}:{password}")).into_bytes()),
        ("the base64 password", base64_simd::STANDARD.encode_to_string(password).into_bytes()),
    ];
    let mut files = Vec::new();
    let mut dirs = vec![office.state.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() { dirs.push(path) } else { files.push(path) }
        }
    }
    assert!(files.iter().any(|f| f.ends_with("pssession/sessions.json")), "no store among {files:?}");
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        for (what, needle) in &forbidden {
            assert!(!bytes.windows(needle.len()).any(|w| w == needle.as_slice()), "{} holds {what}", file.display());
        }
    }
}
