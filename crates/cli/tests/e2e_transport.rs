//! The CLI's transport against the embedded endpoint: HTTPS with a generated certificate (untrusted by default;
//! `--trust-certificate`, `--skip-ca-check`, `--skip-cn-check`) and HTTP redirection (refused without
//! `--allow-redirection`, followed with it, ignored with `--computer-name`, at most 5 times).

mod e2e_support;

use e2e_support::{ALICE, Endpoints, Machine, Redirector, Setup, mask, write_file};
use expect_test::expect;

#[test]
fn tls_certificates_are_verified_unless_trusted_or_skipped() {
    let endpoints = Endpoints::start(Setup { https: true, ..Setup::default() });
    let uri = endpoints.https_uri(0);
    let office = Machine::new("tls", ALICE);
    let certificate = write_file(&office.state, "server.pem", endpoints.certificate_pem.as_deref().expect("pem"));
    let trust = certificate.to_str().expect("path");

    // Untrusted by default: nothing is sent.
    let out = office.run(&["new", "--name", "Tls", "--connection-uri", &uri]);
    expect![[r#"
        pssession: 127.0.0.1: TLS handshake with 127.0.0.1:<PORT> failed: invalid peer certificate: UnknownIssuer
    "#]]
    .assert_eq(&mask(out.failed()));
    assert_eq!(endpoints.counters.creates(), 0);

    // Trusted explicitly: New, Get, Connect, Receive over HTTPS.
    office.run(&["new", "--name", "Tls", "--connection-uri", &uri, "--trust-certificate", trust]).ok();
    office
        .run(&[
            "invoke",
            "--name",
            "Tls",
            "--script-block",
            "'over tls'",
            "--in-disconnected-session",
            "--trust-certificate",
            trust,
        ])
        .ok();
    let out = office.run(&["receive", "--name", "Tls", "--trust-certificate", trust]);
    assert_eq!(out.ok(), "over tls\n");
    // The stored session does not carry the trust decision: without it, connecting fails again.
    let out = office.run(&["connect", "--name", "Tls"]);
    assert!(out.failed().contains("invalid peer certificate: UnknownIssuer"), "{}", out.stderr);
    // -SkipCACheck, and -ComputerName with -UseSSL and -Port.
    let out = office.run(&["get", "--connection-uri", &uri, "--skip-ca-check", "--output", "json"]);
    assert_eq!(out.json()[0]["Name"], "Tls");
    let port = endpoints.servers[0].https_address().expect("https").port().to_string();
    let out = office.run(&[
        "connect",
        "--computer-name",
        "localhost",
        "--use-ssl",
        "--port",
        &port,
        "--name",
        "Tls",
        "--trust-certificate",
        trust,
    ]);
    assert!(out.ok().contains(" Tls "), "{}", out.stdout);

    // A certificate for another name: refused even when trusted, accepted with -SkipCNCheck.
    let other = Endpoints::start(Setup {
        https: true,
        certificate_names: vec!["other.example".to_owned()],
        ..Setup::default()
    });
    let other_uri = other.https_uri(0);
    let other_pem = write_file(&office.state, "other.pem", other.certificate_pem.as_deref().expect("pem"));
    let other_trust = other_pem.to_str().expect("path");
    let out = office.run(&["get", "--connection-uri", &other_uri, "--trust-certificate", other_trust]);
    expect![[r#"
        pssession: 127.0.0.1: TLS handshake with 127.0.0.1:<PORT> failed: invalid peer certificate: certificate not valid for name "127.0.0.1"; certificate is only valid for DnsName("other.example")
        pssession: no computer could be queried
    "#]].assert_eq(&mask(out.failed()));
    office
        .run(&[
            "new",
            "--name",
            "Named",
            "--connection-uri",
            &other_uri,
            "--trust-certificate",
            other_trust,
            "--skip-cn-check",
        ])
        .ok();
    assert_eq!(other.counters.creates(), 1);
}

#[test]
fn redirection_refused_allowed_and_limited() {
    let endpoints = Endpoints::start(Setup::default());
    let target = endpoints.http_uri(0);
    let office = Machine::new("redirect", ALICE);
    office.run(&["new", "--name", "Moved", "--connection-uri", &target]).ok();
    let redirector = Redirector::start(&endpoints.runtime, Some(target.clone()));

    // Refused by default, naming the location.
    let home = Machine::new("redirect-home", ALICE);
    let out = home.run(&["get", "--connection-uri", &redirector.uri]);
    expect![[r#"
        pssession: 127.0.0.1: the server redirected the request to http://127.0.0.1:<PORT>/wsman; redirection is not allowed (use -AllowRedirection)
        pssession: no computer could be queried
    "#]]
    .assert_eq(&mask(out.failed()));
    assert!(out.stderr.contains(&target), "{}", out.stderr);
    assert_eq!(redirector.hits(), 1);

    // -AllowRedirection follows it: found, connected, received.
    let out = home.run(&["get", "--connection-uri", &redirector.uri, "--allow-redirection", "--output", "json"]);
    assert_eq!(out.json()[0]["Name"], "Moved");
    let out = home.run(&["connect", "--connection-uri", &redirector.uri, "--allow-redirection", "--name", "Moved"]);
    assert!(out.ok().contains(" Moved "), "{}", out.stdout);
    assert_eq!(endpoints.counters.connects(), 1);

    // -AllowRedirection means nothing with -ComputerName (PowerShell forces the count to 0).
    let port = redirector.uri.trim_start_matches("http://127.0.0.1:").trim_end_matches("/wsman").to_owned();
    let out = home.run(&["get", "--computer-name", "127.0.0.1", "--port", &port, "--allow-redirection"]);
    assert!(out.failed().contains("redirection is not allowed"), "{}", out.stderr);

    // A redirect loop: followed 5 times (MaximumConnectionRedirectionCount), then an error.
    let looping = Redirector::start(&endpoints.runtime, None);
    let out = home.run(&["get", "--connection-uri", &looping.uri, "--allow-redirection"]);
    expect![[r#"
        pssession: 127.0.0.1: more than 5 redirections; the last one pointed to http://127.0.0.1:<PORT>/wsman
        pssession: no computer could be queried
    "#]]
    .assert_eq(&mask(out.failed()));
    assert_eq!(looping.hits(), 6, "the first request and 5 followed redirects");
}
