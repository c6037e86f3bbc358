//! Kerberos against a real MIT KDC brought up on loopback for each test (temporary directory, random port,
//! `krb5kdc -n` killed on drop). Needs the Debian packages `krb5-kdc`, `krb5-admin-server`, `krb5-user` and
//! `krb5-gss-samples` (`cargo xtask setup` installs them); a test fails loudly when they are missing.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use pssession_auth::kerberos::{CredentialCache, Keytab, Krb5Config};
use pssession_auth::{
    AcceptorContext, AuthError, ChannelBindingPolicy, ChannelBindings, ClientAuth, Credentials, HttpInitiator,
    InitiatorContext, KerberosAcceptor, KerberosClient, KerberosCredential, KerberosError, KerberosOptions,
    SpnegoAcceptor, SpnegoClient, UserDatabase,
};

use pssession_testkit::kdc::{PASSWORD, REALM};

/// The shared throwaway realm (`pssession_testkit::kdc`) with this suite's helpers.
struct Realm {
    inner: pssession_testkit::kdc::Realm,
    dir: PathBuf,
}

impl Realm {
    fn start() -> Self {
        let inner = pssession_testkit::kdc::Realm::start();
        let dir = inner.dir().to_path_buf();
        Self { inner, dir }
    }

    fn config(&self) -> Krb5Config {
        Krb5Config::parse(&std::fs::read_to_string(self.dir.join("krb5.conf")).unwrap())
    }

    fn options(&self) -> KerberosOptions {
        KerberosOptions { config: self.config(), kdc: None, service_realm: None }
    }

    fn keytab(&self) -> Arc<Keytab> {
        Arc::new(Keytab::read(&self.dir.join("http.keytab").display().to_string()).unwrap())
    }

    fn env(&self, cmd: &mut Command) {
        self.inner.env(cmd);
    }

    fn ccache(&self) -> String {
        self.inner.ccache()
    }

    fn kinit(&self) {
        self.inner.kinit();
    }

    fn password_client(&self, user: &str, password: &str, spn: &str) -> KerberosClient {
        KerberosClient::new(KerberosCredential::Password(Credentials::new(user, password)), spn, self.options())
    }
}

/// Runs initiator and acceptor to completion; returns how many tokens the initiator sent.
fn handshake(client: &mut dyn InitiatorContext, server: &mut dyn AcceptorContext) -> Result<usize, AuthError> {
    let mut token = client.step(None)?;
    let mut legs = 0;
    while let Some(t) = token {
        legs += 1;
        let reply = server.step(&t)?;
        token = match reply {
            Some(r) => client.step(Some(&r))?,
            None => None,
        };
        assert!(legs < 8, "handshake does not terminate");
    }
    Ok(legs)
}

fn seal_both_ways(client: &mut dyn InitiatorContext, server: &mut dyn AcceptorContext, header_len: usize) {
    let lens = [0usize, 1, 15, 16, 17, 1000, 40_025];
    for (i, len) in lens.into_iter().enumerate() {
        let msg: Vec<u8> = (0..len).map(|b| (b * 7 + i) as u8).collect();
        let w = client.wrap(&msg).unwrap();
        assert_eq!(w.header.len(), header_len);
        assert_eq!(w.data.len(), msg.len(), "WinRM data is as long as the plaintext");
        assert_eq!(server.unwrap(&w.header, &w.data).unwrap(), msg);
        let w = server.wrap(&msg).unwrap();
        assert_eq!(w.header.len(), header_len);
        assert_eq!(client.unwrap(&w.header, &w.data).unwrap(), msg);
        if i + 1 == lens.len() {
            // Last: a failed unwrap may desynchronise NTLM's RC4 stream.
            let mut bad = w.clone();
            bad.data.push(0);
            assert!(client.unwrap(&bad.header, &bad.data).is_err());
        }
    }
}

#[test]
fn password_kerberos_to_keytab_acceptor_seals_both_ways() {
    let realm = Realm::start();
    let mut client = realm.password_client(&format!("{REALM}\\alice"), PASSWORD, "HTTP/localhost");
    let mut server = KerberosAcceptor::new(realm.keytab()).with_service("HTTP/localhost");
    assert_eq!(handshake(&mut client, &mut server).unwrap(), 1, "Kerberos is a single round trip");
    assert!(client.is_complete() && server.is_complete());
    assert_eq!(client.client_name(), Some("alice@WINRM.TEST"));
    let id = server.client_identity().unwrap();
    assert_eq!((id.user.as_str(), id.domain.as_str()), ("alice", REALM));
    seal_both_ways(&mut client, &mut server, 60);
    // GSS MICs in both directions.
    let mic = client.get_mic(b"payload").unwrap();
    server.verify_mic(b"payload", &mic).unwrap();
    let mic = server.get_mic(b"payload").unwrap();
    assert!(client.verify_mic(b"other", &mic).is_err());
}

#[test]
fn spn_override_and_upn_user_name() {
    let realm = Realm::start();
    let mut client = realm.password_client(&format!("alice@{REALM}"), PASSWORD, "WSMAN/localhost");
    let mut server = KerberosAcceptor::new(realm.keytab()).with_service("WSMAN/localhost");
    handshake(&mut client, &mut server).unwrap();
    assert!(server.is_complete());
    // An acceptor bound to another service refuses the WSMAN ticket.
    // A NetBIOS-style domain resolves to the default realm; `@REALM` on the SPN names the service realm.
    let mut client = realm.password_client("WINRM\\alice", PASSWORD, "HTTP/localhost@WINRM.TEST");
    handshake(&mut client, &mut KerberosAcceptor::new(realm.keytab())).unwrap();
    assert_eq!(client.client_name(), Some("alice@WINRM.TEST"));
    let mut client = realm.password_client("alice", PASSWORD, "WSMAN/localhost");
    let mut http_only = KerberosAcceptor::new(realm.keytab()).with_service("HTTP/localhost");
    assert!(matches!(handshake(&mut client, &mut http_only), Err(AuthError::Kerberos(_))));
}

#[test]
fn wrong_password_is_denied() {
    let realm = Realm::start();
    let mut client = realm.password_client(&format!("{REALM}\\alice"), "not-the-password", "HTTP/localhost");
    assert_eq!(client.step(None), Err(AuthError::LogonDenied));
    let mut client = realm.password_client(&format!("{REALM}\\mallory"), PASSWORD, "HTTP/localhost");
    assert_eq!(client.step(None), Err(AuthError::LogonDenied));
}

#[test]
fn unknown_service_is_an_error() {
    let realm = Realm::start();
    let mut client = realm.password_client("alice", PASSWORD, "HTTP/nowhere.localhost");
    match client.step(None) {
        Err(AuthError::Kerberos(e @ KerberosError::UnknownService { .. })) => {
            assert_eq!(
                e,
                KerberosError::UnknownService { service: "HTTP/nowhere.localhost".to_owned(), realm: REALM.to_owned() }
            );
            // What to do about it: name the service principal.
            assert!(e.to_string().contains("--service-principal-name"), "{e}");
        }
        other => panic!("expected an unknown service principal, got {other:?}"),
    }
}

#[test]
fn wrong_keytab_key_is_rejected() {
    let realm = Realm::start();
    // Re-key HTTP/localhost in a keytab of its own: the tickets the KDC issues stay under the old key.
    let stale = realm.dir.join("stale.keytab");
    let out = Command::new("kadmin.local")
        .args(["-r", REALM, "-q", &format!("ktadd -k {} -norandkey HTTP/localhost", stale.display())])
        .env("KRB5_CONFIG", realm.dir.join("krb5.conf"))
        .env("KRB5_KDC_PROFILE", realm.dir.join("kdc.conf"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut bytes = std::fs::read(&stale).unwrap();
    // Flip a bit of the last key byte of every entry: the parse stays valid, the keys are wrong.
    let parsed = Keytab::parse(&bytes).unwrap();
    assert!(!parsed.entries().is_empty());
    for entry in parsed.entries() {
        let key = entry.key.value();
        let pos = bytes.windows(key.len()).position(|w| w == key).unwrap();
        bytes[pos + key.len() - 1] ^= 1;
    }
    let wrong = Arc::new(Keytab::parse(&bytes).unwrap());
    let mut client = realm.password_client("alice", PASSWORD, "HTTP/localhost");
    let mut server = KerberosAcceptor::new(wrong);
    match handshake(&mut client, &mut server) {
        Err(AuthError::Kerberos(m)) => assert!(m.to_string().contains("does not decrypt"), "{m}"),
        other => panic!("a ticket under another key must be refused, got {other:?}"),
    }
    assert!(!server.is_complete() && server.client_identity().is_none());
    // A tampered AP-REQ is refused by the right keytab too.
    let mut client = realm.password_client("alice", PASSWORD, "HTTP/localhost");
    let mut token = client.step(None).unwrap().unwrap();
    let n = token.len();
    token[n - 20] ^= 0x40;
    assert!(KerberosAcceptor::new(realm.keytab()).step(&token).is_err());
}

#[test]
fn channel_bindings_are_checked() {
    let realm = Realm::start();
    let ours = ChannelBindings::from_application_data(b"tls-server-end-point:aaaa".to_vec());
    let theirs = ChannelBindings::from_application_data(b"tls-server-end-point:bbbb".to_vec());
    let acceptor = |policy| KerberosAcceptor::new(realm.keytab()).with_channel_bindings(ours.clone(), policy);
    let client = |cb: Option<ChannelBindings>| {
        realm.password_client("alice", PASSWORD, "HTTP/localhost").with_channel_bindings(cb)
    };
    handshake(&mut client(Some(ours.clone())), &mut acceptor(ChannelBindingPolicy::Required)).unwrap();
    assert_eq!(
        handshake(&mut client(Some(theirs)), &mut acceptor(ChannelBindingPolicy::WhenSupported)),
        Err(AuthError::ChannelBindingsMismatch)
    );
    assert_eq!(
        handshake(&mut client(None), &mut acceptor(ChannelBindingPolicy::Required)),
        Err(AuthError::ChannelBindingsMismatch)
    );
    handshake(&mut client(None), &mut acceptor(ChannelBindingPolicy::WhenSupported)).unwrap();
}

#[test]
fn ticket_cache_after_kinit() {
    let realm = Realm::start();
    realm.kinit();
    let mut client =
        KerberosClient::new(KerberosCredential::Cache(Some(realm.ccache())), "HTTP/localhost", realm.options());
    let mut server = KerberosAcceptor::new(realm.keytab());
    handshake(&mut client, &mut server).unwrap();
    assert_eq!(server.client_identity().unwrap().user, "alice");
    seal_both_ways(&mut client, &mut server, 60);
    // The TGT is there; seen from after its end time it is expired, which the client reports as such (run kinit
    // again) rather than as no ticket at all.
    let cache = CredentialCache::read(&realm.ccache()).unwrap();
    assert!(cache.has_tgt() && cache.tgt(0).is_some() && cache.tgt(i64::MAX).is_none());
    assert_eq!(cache.principal_text(), format!("alice@{REALM}"));
    // No cache: a clear error naming kinit.
    let missing = format!("FILE:{}", realm.dir.join("absent").display());
    let mut client =
        KerberosClient::new(KerberosCredential::Cache(Some(missing.clone())), "HTTP/localhost", realm.options());
    match client.step(None) {
        Err(AuthError::Kerberos(e @ KerberosError::NoTicket { .. })) => {
            assert_eq!(e, KerberosError::NoTicket { cache: missing.clone() });
            assert!(e.to_string().contains("kinit"), "{e}");
        }
        other => panic!("expected no ticket, got {other:?}"),
    }
    // A cache type this implementation cannot read says so and how to get one it can.
    let kcm = KerberosCredential::Cache(Some("KCM:1000".to_owned()));
    match KerberosClient::new(kcm, "HTTP/localhost", realm.options()).step(None) {
        Err(AuthError::Kerberos(e @ KerberosError::UnsupportedCache { .. })) => {
            assert!(e.to_string().contains("FILE:"), "{e}");
        }
        other => panic!("expected an unsupported cache type, got {other:?}"),
    }
}

#[test]
fn a_dir_collection_from_kinit_is_read_through_its_primary() {
    let realm = Realm::start();
    let dir = realm.dir.join("ccache-dir");
    std::fs::create_dir_all(&dir).unwrap();
    let collection = format!("DIR:{}", dir.display());
    realm.inner.kinit_into(&collection, &format!("alice@{REALM}"), PASSWORD);
    let mut client =
        KerberosClient::new(KerberosCredential::Cache(Some(collection)), "HTTP/localhost", realm.options());
    let mut server = KerberosAcceptor::new(realm.keytab());
    handshake(&mut client, &mut server).unwrap();
    assert_eq!(server.client_identity().unwrap().user, "alice");
    // `DIR::file` names one cache of the collection.
    let primary = std::fs::read_to_string(dir.join("primary")).unwrap();
    let single = format!("DIR::{}", dir.join(primary.trim()).display());
    let mut client = KerberosClient::new(KerberosCredential::Cache(Some(single)), "HTTP/localhost", realm.options());
    handshake(&mut client, &mut KerberosAcceptor::new(realm.keytab())).unwrap();
    // An empty collection has no ticket.
    let empty = realm.dir.join("empty-dir");
    std::fs::create_dir_all(&empty).unwrap();
    let collection = format!("DIR:{}", empty.display());
    let mut client =
        KerberosClient::new(KerberosCredential::Cache(Some(collection.clone())), "HTTP/localhost", realm.options());
    assert_eq!(client.step(None), Err(AuthError::Kerberos(KerberosError::NoTicket { cache: collection })));
}

#[test]
fn an_unreachable_kdc_and_a_realm_without_kdc_are_told_apart() {
    let realm = Realm::start();
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let options = realm.options().with_kdc(vec![closed.clone()]);
    let mut client = KerberosClient::new(
        KerberosCredential::Password(Credentials::new("alice", PASSWORD)),
        "HTTP/localhost",
        options,
    );
    match client.step(None) {
        Err(AuthError::Kerberos(KerberosError::KdcUnreachable { realm: r, attempts })) => {
            assert_eq!(r, REALM);
            assert!(attempts.len() == 1 && attempts[0].starts_with(&closed), "{attempts:?}");
        }
        other => panic!("expected an unreachable KDC, got {other:?}"),
    }
    let mut client = realm.password_client("alice@ELSEWHERE.TEST", PASSWORD, "HTTP/localhost");
    assert_eq!(
        client.step(None),
        Err(AuthError::Kerberos(KerberosError::NoKdc { realm: "ELSEWHERE.TEST".to_owned() }))
    );
}

/// `KRB5_CONFIG`, `KRB5CCNAME` and `KRB5_KTNAME` are honoured. The environment cannot be changed inside the test
/// process, so the test runs itself as a child with the variables set.
#[test]
fn ticket_cache_and_keytab_from_environment() {
    if std::env::var_os("PSSESSION_KRB_CHILD").is_some() {
        let options = KerberosOptions::default();
        let keytab = Arc::new(Keytab::read(&options.config.keytab_name()).unwrap());
        let mut client = KerberosClient::new(KerberosCredential::Cache(None), "localhost", options);
        let mut server = KerberosAcceptor::new(keytab);
        handshake(&mut client, &mut server).unwrap();
        println!("child ok: {}", client.client_name().unwrap());
        return;
    }
    let realm = Realm::start();
    realm.kinit();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    realm.env(&mut cmd);
    let out = cmd
        .args(["--exact", "ticket_cache_and_keytab_from_environment", "--nocapture", "--test-threads=1"])
        .env("PSSESSION_KRB_CHILD", "1")
        .env("KRB5_KTNAME", format!("FILE:{}", realm.dir.join("http.keytab").display()))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.contains("child ok: alice@WINRM.TEST"), "{stdout}");
}

fn users() -> Arc<UserDatabase> {
    let mut db = UserDatabase::new();
    db.add(Some(REALM), "alice", PASSWORD);
    Arc::new(db)
}

#[test]
fn negotiate_selects_kerberos() {
    let realm = Realm::start();
    let creds = Credentials::new(&format!("{REALM}\\alice"), PASSWORD);
    let kerberos = realm.password_client(&format!("{REALM}\\alice"), PASSWORD, "HTTP/localhost");
    let mut client = SpnegoClient::new(creds, Some("HTTP/localhost".into()), None).with_kerberos(kerberos);
    let mut server = SpnegoAcceptor::new(users()).with_kerberos(KerberosAcceptor::new(realm.keytab()));
    assert_eq!(handshake(&mut client, &mut server).unwrap(), 1);
    assert!(client.uses_kerberos() && server.uses_kerberos());
    assert!(client.is_complete() && server.is_complete());
    assert_eq!(server.client_identity().unwrap().domain, REALM);
    seal_both_ways(&mut client, &mut server, 60);

    // Through the HTTP layer: one 401-free leg, the AP-REP arrives on the final 200.
    let creds = Credentials::new(&format!("{REALM}\\alice"), PASSWORD);
    let kerberos = realm.password_client(&format!("{REALM}\\alice"), PASSWORD, "HTTP/localhost");
    let mut http = HttpInitiator::new("Negotiate", SpnegoClient::new(creds, None, None).with_kerberos(kerberos));
    let mut server = SpnegoAcceptor::new(users()).with_kerberos(KerberosAcceptor::new(realm.keytab()));
    let authorization = http.step(None).unwrap().unwrap();
    let token = STANDARD.decode(authorization.strip_prefix("Negotiate ").unwrap()).unwrap();
    let reply = server.step(&token).unwrap().unwrap();
    assert!(server.is_complete() && !http.is_complete());
    let www = format!("Negotiate {}", STANDARD.encode(reply));
    assert_eq!(http.step(Some(&www)).unwrap(), None);
    assert!(http.is_complete());
    let w = http.wrap(b"<s:Envelope/>").unwrap();
    assert_eq!(server.unwrap(&w.header, &w.data).unwrap(), b"<s:Envelope/>");

    // Implicit credentials: Kerberos only, from the ccache.
    realm.kinit();
    let kerberos =
        KerberosClient::new(KerberosCredential::Cache(Some(realm.ccache())), "HTTP/localhost", realm.options());
    let mut client = SpnegoClient::kerberos_only(kerberos);
    let mut server = SpnegoAcceptor::new(users()).with_kerberos(KerberosAcceptor::new(realm.keytab()));
    handshake(&mut client, &mut server).unwrap();
    seal_both_ways(&mut client, &mut server, 60);
}

#[test]
fn negotiate_falls_back_to_ntlm() {
    let realm = Realm::start();
    let creds = || Credentials::new(&format!("{REALM}\\alice"), PASSWORD);
    // 1. No ticket for the SPN: the client offers NTLM alone.
    let kerberos = realm.password_client(&format!("{REALM}\\alice"), PASSWORD, "HTTP/unknown.localhost");
    let mut client = SpnegoClient::new(creds(), None, None).with_kerberos(kerberos);
    let mut server = SpnegoAcceptor::new(users()).with_kerberos(KerberosAcceptor::new(realm.keytab()));
    handshake(&mut client, &mut server).unwrap();
    assert!(!client.uses_kerberos() && !server.uses_kerberos());
    assert!(matches!(client.kerberos_error(), Some(AuthError::Kerberos(_))));
    seal_both_ways(&mut client, &mut server, 16);
    // 2. The acceptor has no keytab: it picks NTLM (the client's second choice) and both MICs are checked.
    let kerberos = realm.password_client(&format!("{REALM}\\alice"), PASSWORD, "HTTP/localhost");
    let mut client = SpnegoClient::new(creds(), None, None).with_kerberos(kerberos);
    let mut server = SpnegoAcceptor::new(users());
    assert_eq!(handshake(&mut client, &mut server).unwrap(), 3);
    assert!(!client.uses_kerberos() && client.is_complete() && server.is_complete());
    seal_both_ways(&mut client, &mut server, 16);
    // 3. Kerberos only and no ticket: an error, no silent downgrade.
    let kerberos = realm.password_client(&format!("{REALM}\\alice"), "wrong", "HTTP/localhost");
    let mut client = SpnegoClient::kerberos_only(kerberos);
    assert_eq!(client.step(None), Err(AuthError::LogonDenied));
}

#[test]
fn bare_kerberos_token_under_negotiate() {
    let realm = Realm::start();
    let mut client = realm.password_client("alice", PASSWORD, "HTTP/localhost");
    let mut server = SpnegoAcceptor::new(users()).with_kerberos(KerberosAcceptor::new(realm.keytab()));
    handshake(&mut client, &mut server).unwrap();
    assert!(server.uses_kerberos());
    seal_both_ways(&mut client, &mut server, 60);
}

// ---- MIT GSSAPI peers: gss-server / gss-client of krb5-gss-samples ----

const TOKEN_NOOP: u8 = 1;
const TOKEN_CONTEXT: u8 = 2;
const TOKEN_DATA: u8 = 4;
const TOKEN_MIC: u8 = 8;
const TOKEN_CONTEXT_NEXT: u8 = 16;
const TOKEN_WRAPPED: u8 = 32;
const TOKEN_ENCRYPTED: u8 = 64;
const TOKEN_SEND_MIC: u8 = 128;

fn send_token(s: &mut impl Write, flags: u8, data: &[u8]) {
    let mut out = vec![flags];
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
    s.write_all(&out).unwrap();
}

fn recv_token(s: &mut impl Read) -> (u8, Vec<u8>) {
    let mut head = [0u8; 5];
    s.read_exact(&mut head).unwrap();
    let mut data = vec![0u8; u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize];
    s.read_exact(&mut data).unwrap();
    (head[0], data)
}

fn require_tool(tool: &str) {
    assert!(
        Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| o.status.success()),
        "{tool} not found: install krb5-gss-samples (cargo xtask setup)"
    );
}

/// Our initiator against MIT's acceptor: MIT accepts our AP-REQ and unwraps our Wrap tokens (RRC 28); we verify
/// the MIC tokens MIT signs with its acceptor subkey.
#[test]
fn mit_gss_server_accepts_our_initiator() {
    require_tool("gss-server");
    let realm = Realm::start();
    let keytab = realm.dir.join("http.keytab");
    let log = realm.dir.join("gss-server.log");
    // -inetd: the server talks on its stdin, here one end of a socket pair (no port to race for).
    let (mut s, theirs) = UnixStream::pair().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut server = Command::new("gss-server")
        .args(["-inetd", "-verbose", "-logfile", &log.display().to_string()])
        .args(["-keytab", &keytab.display().to_string(), "HTTP@localhost"])
        .env("KRB5_CONFIG", realm.dir.join("krb5.conf"))
        .stdin(Stdio::from(std::os::fd::OwnedFd::from(theirs)))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut client = realm.password_client("alice", PASSWORD, "HTTP/localhost");
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        send_token(&mut s, TOKEN_NOOP | TOKEN_CONTEXT_NEXT, b"");
        send_token(&mut s, TOKEN_CONTEXT, &client.step(None).unwrap().unwrap());
        let (flags, ap_rep) = recv_token(&mut s);
        assert_eq!(flags, TOKEN_CONTEXT);
        assert_eq!(client.step(Some(&ap_rep)), Ok(None));
        assert!(client.is_complete());
        for msg in [&b"hello from pssession"[..], &[0x55; 1000][..], b"x"] {
            let w = client.wrap(msg).unwrap();
            let token = [w.header, w.data].concat();
            send_token(&mut s, TOKEN_DATA | TOKEN_WRAPPED | TOKEN_ENCRYPTED | TOKEN_SEND_MIC, &token);
            let (flags, mic) = recv_token(&mut s);
            assert_eq!(flags, TOKEN_MIC);
            client.verify_mic(msg, &mic).unwrap();
        }
    }));
    if run.is_err() {
        let _ = s.shutdown(std::net::Shutdown::Both);
        let _ = server.kill();
        let _ = server.wait();
        panic!("exchange with gss-server failed; its log: {}", std::fs::read_to_string(&log).unwrap_or_default());
    }
    send_token(&mut s, TOKEN_NOOP, b"");
    let status = server.wait().unwrap();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(status.success(), "gss-server: {text}");
    assert!(text.contains("Accepted connection using mechanism OID { 1 2 840 113554 1 2 2 }"), "{text}");
    assert!(text.contains("hello from pssession"), "{text}");
}

/// MIT's initiator (after `kinit`) against our acceptor: we accept MIT's AP-REQ, unwrap MIT's Wrap tokens
/// (RRC 0) and MIT verifies our MIC tokens.
#[test]
fn mit_gss_client_is_accepted_by_our_acceptor() {
    require_tool("gss-client");
    let realm = Realm::start();
    realm.kinit();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut cmd = Command::new("gss-client");
    realm.env(&mut cmd);
    let client = cmd
        .args(["-port", &port.to_string(), "-mcount", "3", "localhost", "HTTP@localhost", "sealed by MIT"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (mut s, _) = listener.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut acceptor = KerberosAcceptor::new(realm.keytab());
    let (flags, _) = recv_token(&mut s);
    assert_eq!(flags, TOKEN_NOOP | TOKEN_CONTEXT_NEXT);
    let (flags, ap_req) = recv_token(&mut s);
    assert_eq!(flags, TOKEN_CONTEXT);
    let ap_rep = acceptor.step(&ap_req).unwrap().expect("MIT asks for mutual authentication");
    send_token(&mut s, TOKEN_CONTEXT, &ap_rep);
    assert_eq!(acceptor.client_identity().unwrap().user, "alice");
    let mut messages = 0;
    loop {
        let (flags, data) = recv_token(&mut s);
        if flags & TOKEN_NOOP != 0 {
            break;
        }
        assert!(flags & TOKEN_WRAPPED != 0, "flags {flags:#x}");
        let plain = acceptor.unwrap(&data, &[]).unwrap();
        assert_eq!(plain, b"sealed by MIT");
        messages += 1;
        if flags & TOKEN_SEND_MIC != 0 {
            let mic = acceptor.get_mic(&plain).unwrap();
            send_token(&mut s, TOKEN_MIC, &mic);
        }
    }
    assert_eq!(messages, 3);
    let out = client.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "gss-client: {} {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Signature verified"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn keytab_written_by_kadmin_parses() {
    let realm = Realm::start();
    let kt = realm.keytab();
    let names: Vec<String> = kt.entries().iter().map(|e| format!("{}@{}", e.principal, e.realm)).collect();
    assert!(names.contains(&"HTTP/localhost@WINRM.TEST".to_owned()), "{names:?}");
    assert!(kt.entries().iter().any(|e| e.key.enctype() == 18) && kt.entries().iter().any(|e| e.key.enctype() == 17));
}

/// An acceptor that sends its mechListMIC with accept-incomplete (as MIT does when it wants the initiator's): our
/// initiator verifies it and answers with its own, which the acceptor verifies.
#[test]
fn negotiate_mech_list_mic_exchange() {
    use pssession_auth::spnego::{NegState, NegToken};
    let realm = Realm::start();
    let kerberos = realm.password_client("alice", PASSWORD, "HTTP/localhost");
    let mut client = SpnegoClient::kerberos_only(kerberos);
    let init = client.step(None).unwrap().unwrap();
    let NegToken::Init { mech_types, mech_types_der, mech_token: Some(ap_req), .. } = NegToken::parse(&init).unwrap()
    else {
        panic!("expected NegTokenInit with an optimistic token");
    };
    let mut acceptor = KerberosAcceptor::new(realm.keytab());
    let ap_rep = acceptor.step(&ap_req).unwrap().unwrap();
    let resp = |mic: Vec<u8>| {
        NegToken::Resp {
            neg_state: Some(NegState::AcceptIncomplete),
            supported_mech: Some(mech_types[0].clone()),
            response_token: Some(ap_rep.clone()),
            mech_list_mic: Some(mic),
        }
        .encode()
    };
    // No MIC before the context exists.
    assert!(KerberosAcceptor::new(realm.keytab()).get_mic(b"x").is_err());
    let mic = acceptor.get_mic(&mech_types_der).unwrap();
    let ours = client.step(Some(&resp(mic))).unwrap().expect("the initiator answers with its mechListMIC");
    let NegToken::Resp { mech_list_mic: Some(their_mic), .. } = NegToken::parse(&ours).unwrap() else {
        panic!("expected a NegTokenResp with mechListMIC");
    };
    acceptor.verify_mic(&mech_types_der, &their_mic).unwrap();
    assert!(client.is_complete());
    let final_token = NegToken::Resp {
        neg_state: Some(NegState::AcceptCompleted),
        supported_mech: None,
        response_token: None,
        mech_list_mic: None,
    }
    .encode();
    assert_eq!(client.step(Some(&final_token)), Ok(None));
    let w = client.wrap(b"after MICs").unwrap();
    assert_eq!(acceptor.unwrap(&w.header, &w.data).unwrap(), b"after MICs");
    // A tampered acceptor MIC fails the initiator.
    let mut client = SpnegoClient::kerberos_only(realm.password_client("alice", PASSWORD, "HTTP/localhost"));
    let init = client.step(None).unwrap().unwrap();
    let NegToken::Init { mech_types_der, mech_token: Some(ap_req), .. } = NegToken::parse(&init).unwrap() else {
        panic!("expected NegTokenInit");
    };
    let mut acceptor = KerberosAcceptor::new(realm.keytab());
    let ap_rep = acceptor.step(&ap_req).unwrap().unwrap();
    let mut mic = acceptor.get_mic(&mech_types_der).unwrap();
    mic[20] ^= 1;
    let bad = NegToken::Resp {
        neg_state: Some(NegState::AcceptIncomplete),
        supported_mech: Some(pssession_auth::kerberos::gss::KRB5_OID.to_vec()),
        response_token: Some(ap_rep),
        mech_list_mic: Some(mic),
    }
    .encode();
    assert_eq!(client.step(Some(&bad)), Err(AuthError::MechListMicMismatch));
}

/// The HTTP-level constructors: `Kerberos` scheme with a password, `Negotiate` with the ccache named by the
/// realm's `default_ccache_name` (implicit credentials).
#[test]
fn http_kerberos_and_implicit_negotiate_clients() {
    let realm = Realm::start();
    let drive = |http: &mut dyn ClientAuth, server: &mut dyn AcceptorContext, scheme: &str| {
        let authorization = http.step(None).unwrap().unwrap();
        let token = STANDARD.decode(authorization.strip_prefix(&format!("{scheme} ")).unwrap()).unwrap();
        let reply = server.step(&token).unwrap().unwrap();
        assert_eq!(http.step(Some(&format!("{scheme} {}", STANDARD.encode(reply)))).unwrap(), None);
        assert!(http.is_complete() && server.is_complete());
        let w = server.wrap(b"reply").unwrap();
        assert_eq!(w.header.len(), 60);
        assert_eq!(http.unwrap(&w.header, &w.data).unwrap(), b"reply");
    };
    let mut http = pssession_auth::kerberos_client(
        KerberosCredential::Password(Credentials::new("alice", PASSWORD)),
        "HTTP/localhost",
        realm.options(),
        None,
    );
    assert_eq!(http.scheme(), "Kerberos");
    drive(&mut http, &mut KerberosAcceptor::new(realm.keytab()), "Kerberos");

    realm.kinit();
    let mut http = pssession_auth::negotiate_kerberos_client(None, "HTTP/localhost", realm.options(), None);
    let mut server = SpnegoAcceptor::new(users()).with_kerberos(KerberosAcceptor::new(realm.keytab()));
    drive(&mut http, &mut server, "Negotiate");
    assert_eq!(server.client_identity().unwrap().user, "alice");
}
