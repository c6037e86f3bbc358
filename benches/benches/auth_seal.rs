//! NTLM WinRM message encryption of a 500 KB envelope (seal on one side, unseal on the other) and the cost of a
//! complete in-process handshake (initiator and acceptor, NTLM and SPNEGO/NTLM).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pssession_auth::{
    AcceptorContext, Credentials, InitiatorContext, NtlmAcceptor, NtlmClient, SpnegoAcceptor, SpnegoClient,
    UserDatabase,
};

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
            criterion::BatchSize::LargeInput,
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
    group.finish();
}

criterion_group!(benches, seal, handshakes);
criterion_main!(benches);
