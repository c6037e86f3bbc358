//! Session states and availability against the embedded endpoint (real sockets, NTLM over HTTP), through the CLI
//! and the library: Busy / None / Available, connecting a session that is not disconnected is a no-op, another
//! user can neither see nor connect nor remove a session, an expired session gives a clear error and is marked
//! Broken in the store.

mod e2e_support;

use std::time::Duration;

use e2e_support::{ALICE, BOB, Endpoints, Machine, Setup, client, mask, output_texts};
use expect_test::expect;
use pssession_connect::{Availability, Error, OutputBufferingMode, PipelineSpec, SessionFilter, SessionState};
use pssession_server::ServiceConfig;

#[test]
fn busy_none_and_available() {
    let endpoints = Endpoints::start(Setup::default());
    let uri = endpoints.http_uri(0);
    let office = Machine::new("avail-office", ALICE);
    office.run(&["new", "--name", "Held", "--connection-uri", &uri]).ok();
    office.run(&["new", "--name", "Free", "--connection-uri", &uri]).ok();

    // Another client of the same user connects to Held and keeps it: Held is Busy for everybody else.
    let mut held = endpoints
        .runtime
        .block_on(async {
            let laptop = client(&uri, ALICE);
            let found =
                laptop.get_sessions(&SessionFilter { names: vec!["Held".to_owned()], ..Default::default() }).await?;
            assert_eq!(found[0].availability, Availability::None);
            laptop.connect(&found[0]).await
        })
        .expect("the laptop connects");
    assert_eq!((held.state(), held.availability()), (SessionState::Opened, Availability::Available));

    let home = Machine::new("avail-home", ALICE);
    let out = home.run(&["get", "--connection-uri", &uri]);
    expect![[r#"

        Id Name ComputerName ComputerType  State        ConfigurationName    Availability
        -- ---- ------------ ------------  -----        -----------------    ------------
         1 Held 127.0.0.1    RemoteMachine Disconnected Microsoft.PowerShell         Busy
         2 Free 127.0.0.1    RemoteMachine Disconnected Microsoft.PowerShell         None

    "#]]
    .assert_eq(out.ok());
    let out = home.run(&["connect", "--connection-uri", &uri, "--name", "Held"]);
    expect![[r#"
        pssession: Cannot connect PSSession "Held", either because it is not in the Disconnected state, or it is not available for connection.
            + FullyQualifiedErrorId : PSSessionConnectFailed,Microsoft.PowerShell.Commands.ConnectPSSessionCommand
    "#]]
    .assert_eq(out.failed());
    // One Busy session among several: the others are connected, the failure is reported, the exit status is 1.
    let connects = endpoints.counters.connects();
    let out = home.run(&["connect", "--connection-uri", &uri, "--name", "*"]);
    assert!(out.failed().contains("Cannot connect PSSession \"Held\""), "{}", out.stderr);
    expect![[r#"

        Id Name ComputerName State  ConfigurationName    Availability
        -- ---- ------------ -----  -----------------    ------------
         2 Free 127.0.0.1    Opened Microsoft.PowerShell    Available

    "#]]
    .assert_eq(&out.stdout);
    assert_eq!(endpoints.counters.connects(), connects + 1);

    // Connecting the session that is not disconnected does nothing and raises no error; it stays usable.
    endpoints.runtime.block_on(async {
        held.reconnect().await.expect("no-op");
        assert_eq!((held.state(), held.availability()), (SessionState::Opened, Availability::Available));
        let out = held.invoke(&PipelineSpec::script("'still mine'")).await.expect("invoke");
        assert_eq!(output_texts(&out), ["still mine"]);
        held.disconnect(None, OutputBufferingMode::None).await.expect("disconnect");
    });
    assert_eq!(endpoints.counters.connects(), connects + 1, "the no-op connect sent no Connect");

    // Released: Held is None again and can be connected from the CLI.
    let json = home.run(&["get", "--connection-uri", &uri, "--name", "Held", "--output", "json"]).json();
    assert_eq!(json[0]["Availability"], "None", "{json}");
    let out = home.run(&["connect", "--connection-uri", &uri, "--name", "Held", "--output", "json"]);
    assert_eq!(out.json()[0]["Availability"], "Available");
}

#[test]
fn another_user_can_neither_see_nor_connect_nor_remove() {
    let endpoints = Endpoints::start(Setup::default());
    let uri = endpoints.http_uri(0);
    let alice = Machine::new("user-alice", ALICE);
    alice.run(&["new", "--name", "Secret", "--connection-uri", &uri]).ok();
    let id = alice.store()[0].instance_id.to_string();

    let bob = Machine::new("user-bob", BOB);
    let out = bob.run(&["get", "--connection-uri", &uri]);
    assert_eq!(out.ok(), "", "bob sees nothing");
    assert_eq!(bob.run(&["get", "--connection-uri", &uri, "--output", "json"]).json(), serde_json::json!([]));
    for selector in [["--name", "Secret"], ["--instance-id", id.as_str()]] {
        let out = bob.run(&["connect", "--connection-uri", &uri, selector[0], selector[1]]);
        assert_eq!(out.failed(), "pssession: no session matches\n");
        let out = bob.run(&["remove", "--connection-uri", &uri, selector[0], selector[1]]);
        assert_eq!(out.failed(), "pssession: no session matches\n");
    }
    // Even with alice's store (InstanceId and endpoint known), bob's credentials do not reach her session.
    std::fs::create_dir_all(bob.state.join("pssession")).expect("dir");
    std::fs::copy(alice.state.join("pssession/sessions.json"), bob.state.join("pssession/sessions.json"))
        .expect("copy store");
    let out = bob.run(&["connect", "--id", "1"]);
    expect![[r#"
        pssession: session 1 (Secret) no longer exists on 127.0.0.1
        pssession: no session matches
    "#]]
    .assert_eq(out.failed());
    // The library refuses too: Connect and Delete by InstanceId as bob.
    let result = endpoints.runtime.block_on(async {
        let mine = client(&uri, ALICE).get_sessions(&SessionFilter::default()).await.expect("alice lists").remove(0);
        let bobs = client(&uri, BOB);
        let connect = bobs.connect(&mine).await.map(|_| ());
        let remove = bobs.remove(mine.instance_id).await;
        (connect, remove)
    });
    assert!(matches!(result.0, Err(Error::SessionNotFound { .. })), "{:?}", result.0);
    assert!(matches!(result.1, Err(Error::SessionNotFound { .. })), "{:?}", result.1);
    assert_eq!(endpoints.counters.connects(), 0);
    assert_eq!(endpoints.shell_count(0), 1);
    // Alice still can.
    let out = alice.run(&["connect", "--id", "1", "--output", "json"]);
    assert_eq!(out.json()[0]["State"], "Opened");

    // A wrong password is refused.
    let intruder = Machine::new("user-wrong", (ALICE.0, "not-the-password"));
    let out = intruder.run(&["get", "--connection-uri", &uri]);
    expect![[r#"
        pssession: 127.0.0.1: authentication failed: Default authentication was rejected by the server: wrong user name or password
        pssession: no computer could be queried
    "#]]
    .assert_eq(&mask(out.failed()));
}

#[test]
fn an_expired_session_is_reported_and_marked_broken() {
    let mut config = ServiceConfig::default();
    config.idle_timeout = Duration::from_secs(1);
    let endpoints = Endpoints::start(Setup { config, ..Setup::default() });
    let uri = endpoints.http_uri(0);
    let office = Machine::new("expired", ALICE);
    office.run(&["new", "--name", "Short", "--connection-uri", &uri]).ok();
    office.run(&["new", "--name", "Long", "--connection-uri", &uri, "--idle-timeout-sec", "600"]).ok();
    endpoints.wait_until("the idle timeout to delete a shell", |c| c.closes() == 1);
    assert_eq!(endpoints.shell_count(0), 1, "the server deleted the idle session");

    let out = office.run(&["connect", "--name", "Short"]);
    expect![[r#"
        pssession: session 1 (Short) no longer exists on 127.0.0.1
        pssession: no session matches
    "#]]
    .assert_eq(out.failed());
    let out = office.run(&["get"]);
    expect![[r#"

        Id Name  ComputerName ComputerType  State        ConfigurationName    Availability
        -- ----  ------------ ------------  -----        -----------------    ------------
         1 Short 127.0.0.1    RemoteMachine Broken       Microsoft.PowerShell         None
         2 Long  127.0.0.1    RemoteMachine Disconnected Microsoft.PowerShell         None

    "#]]
    .assert_eq(out.ok());
    let out = office.run(&["receive", "--name", "Short"]);
    assert!(out.failed().contains("session 1 (Short) no longer exists"), "{}", out.stderr);
    // The session that asked for a longer idle timeout is still there.
    office.run(&["connect", "--name", "Long"]).ok();

    // Expiring between discovery and connection: the server's fault reads as PowerShell's.
    let closed = endpoints.counters.closes();
    let result = endpoints.runtime.block_on(async {
        let c = client(&uri, ALICE);
        let mut session = c.new_session("Brief").await?;
        session.disconnect(None, OutputBufferingMode::None).await?;
        let found = c.get_sessions(&SessionFilter { names: vec!["Brief".to_owned()], ..Default::default() }).await?;
        endpoints.counters.wait_until("the idle timeout to delete the shell", |c| c.closes() == closed + 1).await;
        client(&uri, ALICE).connect(&found[0]).await.map(|_| ())
    });
    let error = result.expect_err("expired");
    assert!(matches!(error, Error::SessionNotFound { .. }), "{error:?}");
    expect![[r#"
        The session with InstanceId <GUID> was not found on the server. It may have been removed or its idle timeout may have expired.
    "#]]
    .assert_eq(&format!("{}\n", mask(&error.to_string())));
}
