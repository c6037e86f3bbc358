//! WinRM message encryption of a 500 KB envelope (seal on one side, unseal on the other) with NTLM and with
//! Kerberos (AES256-CTS-HMAC-SHA1-96, RFC 4121 Wrap tokens), and the cost of a complete in-process handshake
//! (initiator and acceptor: NTLM, SPNEGO/NTLM, and the Kerberos AP exchange).
//!
//! Kerberos needs a service ticket: the setup brings up the throwaway MIT realm of `pssession_testkit::kdc`
//! (and panics, like the tests, when `krb5kdc` and friends are missing), obtains one ticket for
//! `HTTP/localhost` with alice's password, reads the keytab, then stops the KDC. Everything measured afterwards
//! is offline: the KDC round trips (AS and TGS exchanges) are never part of a measurement.

use std::hint::black_box;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use pssession_auth::kerberos::crypto::AES256_CTS_HMAC_SHA1_96;
use pssession_auth::kerberos::{Krb5Config, ServiceTicket};
use pssession_auth::{
    AcceptorContext, Credentials, InitiatorContext, KerberosAcceptor, KerberosClient, KerberosCredential,
    KerberosOptions, Keytab, NtlmAcceptor, NtlmClient, SpnegoAcceptor, SpnegoClient, UserDatabase,
};
use pssession_testkit::kdc::{PASSWORD, REALM, Realm};

const ENVELOPE_LEN: usize = 500 * 1024;

fn users() -> Arc<UserDatabase> {
    let mut db = UserDatabase::new();
    db.add(Some("EXAMPLE"), "alice", "Passw0rd!");
    Arc::new(db)
}

fn handshake(client: &mut dyn InitiatorContext, server: &mut dyn AcceptorContext) {
    let mut token = client.step(None).expect("first token");
    while let Some(t) = token {
        match server.step(&t).expect("acceptor step") {
            Some(reply) => token = client.step(Some(&reply)).expect("initiator step"),
            None => break,
        }
    }
    assert!(client.is_complete() && server.is_complete());
}

fn ntlm_pair() -> (NtlmClient, NtlmAcceptor) {
    let mut c = NtlmClient::new(Credentials::new("EXAMPLE\\alice", "Passw0rd!"), Some("HTTP/host".into()), None);
    let mut s = NtlmAcceptor::new(users());
    handshake(&mut c, &mut s);
    (c, s)
}

/// What an established Kerberos context needs, obtained once from a KDC that is gone by the time it is used.
struct KerberosFixture {
    config: Krb5Config,
    keytab: Arc<Keytab>,
    ticket: ServiceTicket,
}

const SPN: &str = "HTTP/localhost";

fn kerberos() -> &'static KerberosFixture {
    static FIXTURE: OnceLock<KerberosFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let realm = Realm::start();
        let config = Krb5Config::parse(&realm.krb5_conf());
        let keytab = Arc::new(Keytab::read(&realm.keytab_path().display().to_string()).expect("read the keytab"));
        // AS-REQ then TGS-REQ against the KDC: the only KDC traffic of the whole bench.
        let ticket = kerberos_client(&config).acquire().expect("service ticket from the test KDC");
        assert_eq!(ticket.session_key.enctype(), AES256_CTS_HMAC_SHA1_96, "the test realm issues AES256 keys");
        drop(realm); // Stops krb5kdc: nothing below can reach a KDC.
        KerberosFixture { config, keytab, ticket }
    })
}

/// A client for `HTTP/localhost`; its credential only matters to [`KerberosClient::acquire`], which the measured
/// code never calls (the AP-REQ is built from the fixture's ticket).
fn kerberos_client(config: &Krb5Config) -> KerberosClient {
    let options = KerberosOptions { config: config.clone(), kdc: None, service_realm: None };
    KerberosClient::new(
        KerberosCredential::Password(Credentials::new(&format!("{REALM}\\alice"), PASSWORD)),
        SPN,
        options,
    )
}

fn kerberos_acceptor(f: &KerberosFixture) -> KerberosAcceptor {
    KerberosAcceptor::new(f.keytab.clone()).with_service(SPN)
}

/// AP-REQ (from the cached ticket) → acceptor (keytab) → AP-REP → client verification.
fn kerberos_ap_exchange(client: &mut KerberosClient, server: &mut KerberosAcceptor, ticket: ServiceTicket) {
    let ap_req = client.ap_req(ticket).expect("AP-REQ");
    let ap_rep = server.step(&ap_req).expect("acceptor step").expect("an AP-REP (mutual authentication)");
    assert_eq!(client.step(Some(&ap_rep)).expect("AP-REP verification"), None);
    assert!(client.is_complete() && server.is_complete());
}

fn kerberos_pair() -> (KerberosClient, KerberosAcceptor) {
    let f = kerberos();
    let mut c = kerberos_client(&f.config);
    let mut s = kerberos_acceptor(f);
    kerberos_ap_exchange(&mut c, &mut s, f.ticket.clone());
    (c, s)
}

fn envelope() -> Vec<u8> {
    let unit =
        b"<rsp:Stream Name=\"stdout\" CommandId=\"1B3C\">AAAAAAAAAAEAAAAAAAAAAAMAAAC3AQAAAAIQBAAAAAA=</rsp:Stream>";
    unit.iter().copied().cycle().take(ENVELOPE_LEN).collect()
}

fn seal(c: &mut Criterion) {
    let body = envelope();
    let mut group = c.benchmark_group("auth_seal");
    group.throughput(Throughput::Bytes(ENVELOPE_LEN as u64));
    group.measurement_time(Duration::from_secs(5));
    let (mut client, _server) = ntlm_pair();
    group.bench_function("ntlm_wrap_500k", |b| b.iter(|| black_box(client.wrap(black_box(&body)).expect("wrap"))));
    // Unsealing needs a fresh message per iteration (sequence numbers and RC4 state advance): seal outside the
    // measured routine.
    let (mut client, mut server) = ntlm_pair();
    group.bench_function("ntlm_unwrap_500k", |b| {
        b.iter_batched(
            || client.wrap(&body).expect("wrap"),
            |w| black_box(server.unwrap(&w.header, &w.data).expect("unwrap")),
            BatchSize::LargeInput,
        )
    });
    let (mut client, _server) = kerberos_pair();
    assert_eq!(client.wrap(&body).expect("wrap").header.len(), 60, "AES Wrap token header");
    group.bench_function("kerberos_wrap_500k", |b| b.iter(|| black_box(client.wrap(black_box(&body)).expect("wrap"))));
    // As for NTLM: a fresh message per iteration (sequence numbers), sealed outside the measured routine.
    let (mut client, mut server) = kerberos_pair();
    group.bench_function("kerberos_unwrap_500k", |b| {
        b.iter_batched(
            || client.wrap(&body).expect("wrap"),
            |w| black_box(server.unwrap(&w.header, &w.data).expect("unwrap")),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn handshakes(c: &mut Criterion) {
    let mut group = c.benchmark_group("auth_handshake");
    let creds = Credentials::new("EXAMPLE\\alice", "Passw0rd!");
    let db = users();
    group.bench_function("ntlm", |b| {
        b.iter(|| {
            let mut client = NtlmClient::new(creds.clone(), Some("HTTP/host".into()), None);
            let mut server = NtlmAcceptor::new(db.clone());
            handshake(&mut client, &mut server);
        })
    });
    group.bench_function("spnego_ntlm", |b| {
        b.iter(|| {
            let mut client = SpnegoClient::new(creds.clone(), Some("HTTP/host".into()), None);
            let mut server = SpnegoAcceptor::new(db.clone());
            handshake(&mut client, &mut server);
        })
    });
    // The AP exchange alone (the service ticket is already held, as on every connection after the first):
    // building and sealing the authenticator, decrypting ticket and authenticator with the keytab key, the
    // AP-REP with its acceptor subkey, and the client's check of it. Fresh contexts per iteration.
    let f = kerberos();
    group.bench_function("kerberos_ap_exchange", |b| {
        b.iter_batched(
            || (kerberos_client(&f.config), kerberos_acceptor(f), f.ticket.clone()),
            |(mut client, mut server, ticket)| {
                kerberos_ap_exchange(&mut client, &mut server, ticket);
                black_box((client, server))
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, seal, handshakes);
criterion_main!(benches);
