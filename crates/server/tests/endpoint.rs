//! The HTTP face without sockets: [`Endpoint::handle`] on hand-built requests — Identify without
//! authentication, Content-Type checks, Basic logons, and what is logged at `-v` (tracing debug).

mod server_support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use pssession_auth::{BasicClient, ClientAuth, Credentials, TransportSecurity, UserDatabase};
use pssession_server::ServiceConfig;
use pssession_server::endpoint::{
    AuthSettings, Connection, Endpoint, HttpReply, HttpRequest, PRODUCT_VENDOR, PRODUCT_VERSION, SOAP_CONTENT_TYPE,
};
use pssession_wsman::envelope::Limits;
use pssession_wsman::identify::{self, IdentifyResponse, profile};
use server_support::*;

const PASSWORD: &str = "Secret1!";

fn endpoint(config: ServiceConfig) -> Endpoint {
    let (service, _) = service(config);
    let mut users = UserDatabase::new();
    users.add(None, "alice", PASSWORD);
    Endpoint::new(service, AuthSettings::new(Arc::new(users)))
}

fn allow_unencrypted() -> ServiceConfig {
    let mut config = ServiceConfig::default();
    config.allow_unencrypted = true;
    config
}

fn post(body: Vec<u8>, headers: &[(&str, &str)]) -> HttpRequest {
    HttpRequest {
        method: "POST".to_owned(),
        target: "/wsman".to_owned(),
        headers: headers.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect(),
        body,
    }
}

fn basic(user: &str, password: &str) -> String {
    let mut client = BasicClient::new(&Credentials::new(user, password), TransportSecurity::Plaintext, true).unwrap();
    client.step(None).unwrap().expect("a Basic header")
}

fn header<'a>(reply: &'a HttpReply, name: &str) -> Vec<&'a str> {
    reply.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
}

fn identify_of(reply: &HttpReply) -> IdentifyResponse {
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(header(reply, "Content-Type"), [SOAP_CONTENT_TYPE]);
    IdentifyResponse::parse(&reply.body, &Limits::default()).expect("an IdentifyResponse")
}

#[tokio::test]
async fn identify_is_answered_without_authentication() {
    let content_type = [("Content-Type", SOAP_CONTENT_TYPE)];
    // Plain HTTP with AllowUnencrypted off: no Basic profile, yet Identify is answered.
    let e = endpoint(ServiceConfig::default());
    let reply = e.handle(&mut Connection::plain("192.0.2.1"), post(identify::request_bytes(), &content_type)).await;
    assert_eq!(
        identify_of(&reply),
        IdentifyResponse {
            protocol_version: identify::PROTOCOL_VERSION.to_owned(),
            product_vendor: PRODUCT_VENDOR.to_owned(),
            product_version: PRODUCT_VERSION.to_owned(),
            security_profiles: vec![profile::HTTP_SPNEGO_KERBEROS.to_owned()],
        }
    );

    // Basic is listed when it is accepted; over TLS the https profiles are.
    let e = endpoint(allow_unencrypted());
    let reply = e.handle(&mut Connection::plain("192.0.2.1"), post(identify::request_bytes(), &content_type)).await;
    assert_eq!(
        identify_of(&reply).security_profiles,
        [profile::HTTP_BASIC, profile::HTTP_SPNEGO_KERBEROS].map(str::to_owned)
    );
    let mut tls = Connection::tls("192.0.2.1", None, None);
    let reply = e.handle(&mut tls, post(identify::request_bytes(), &content_type)).await;
    assert_eq!(
        identify_of(&reply).security_profiles,
        [profile::HTTPS_BASIC, profile::HTTPS_SPNEGO_KERBEROS].map(str::to_owned)
    );
}

#[tokio::test]
async fn identify_with_credentials_is_authenticated_first() {
    let e = endpoint(allow_unencrypted());
    let mut conn = Connection::plain("192.0.2.1");
    let good = basic("alice", PASSWORD);
    let reply = e
        .handle(
            &mut conn,
            post(identify::request_bytes(), &[("Content-Type", SOAP_CONTENT_TYPE), ("Authorization", &good)]),
        )
        .await;
    assert_eq!(identify_of(&reply).product_version, PRODUCT_VERSION);
    // Credentials that do not verify are refused, as for any other request.
    let bad = basic("alice", "wrong");
    let reply = e
        .handle(
            &mut conn,
            post(identify::request_bytes(), &[("Content-Type", SOAP_CONTENT_TYPE), ("Authorization", &bad)]),
        )
        .await;
    assert_eq!(reply.status, 401);
}

#[tokio::test]
async fn other_requests_still_need_authentication() {
    let e = endpoint(allow_unencrypted());
    let create = Client::new().create(&guid(), b"");
    let reply =
        e.handle(&mut Connection::plain("192.0.2.1"), post(create, &[("Content-Type", SOAP_CONTENT_TYPE)])).await;
    assert_eq!(reply.status, 401);
    assert!(header(&reply, "WWW-Authenticate").contains(&"Negotiate"), "{:?}", reply.headers);
    // An Identify body under an Action is that Action's request, not an Identify.
    let disguised = String::from_utf8(identify::request_bytes()).unwrap().replace(
        "<s:Header/>",
        concat!(
            r#"<s:Header><a:Action xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing">"#,
            "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get</a:Action></s:Header>"
        ),
    );
    let reply = e
        .handle(
            &mut Connection::plain("192.0.2.1"),
            post(disguised.into_bytes(), &[("Content-Type", SOAP_CONTENT_TYPE)]),
        )
        .await;
    assert_eq!(reply.status, 401);
}

#[tokio::test]
async fn bodies_that_are_not_soap_are_unsupported_media() {
    let e = endpoint(allow_unencrypted());
    let good = basic("alice", PASSWORD);
    let create = Client::new().create(&guid(), b"");
    for content_type in [None, Some("application/x-www-form-urlencoded"), Some("text/xml"), Some("application/soap")] {
        let mut headers = vec![("Authorization", good.as_str())];
        headers.extend(content_type.map(|c| ("Content-Type", c)));
        let reply = e.handle(&mut Connection::plain("192.0.2.1"), post(create.clone(), &headers)).await;
        assert_eq!(reply.status, 415, "{content_type:?}");
        // Identify needs a SOAP body too.
        let mut headers = Vec::new();
        headers.extend(content_type.map(|c| ("Content-Type", c)));
        let reply = e.handle(&mut Connection::plain("192.0.2.1"), post(identify::request_bytes(), &headers)).await;
        assert_eq!(reply.status, 415, "Identify, {content_type:?}");
    }
    assert_eq!(e.service().shell_count(), 0);
    // Parameters and case do not matter; an empty body (an authentication round) needs no Content-Type.
    for content_type in ["application/soap+xml;charset=UTF-8", "Application/SOAP+XML; charset=utf-16"] {
        let headers = [("Authorization", good.as_str()), ("Content-Type", content_type)];
        let reply =
            e.handle(&mut Connection::plain("192.0.2.1"), post(Client::new().create(&guid(), b""), &headers)).await;
        assert_eq!(reply.status, 200, "{content_type}");
    }
    let reply = e.handle(&mut Connection::plain("192.0.2.1"), post(Vec::new(), &[])).await;
    assert_eq!(reply.status, 401);
}

/// One captured tracing event: its message and fields, as text.
#[derive(Debug, Clone)]
struct Event {
    message: String,
    fields: HashMap<String, String>,
}

/// The process-wide subscriber of this test binary: it records the debug events of the threads that asked for
/// them ([`Capture::start`]). A global subscriber, because tracing's per-callsite interest cache is process-wide:
/// thread-scoped subscribers in a multi-threaded test binary may miss events.
#[derive(Default)]
struct Capture {
    threads: Mutex<HashMap<std::thread::ThreadId, Vec<Event>>>,
}

static CAPTURE: std::sync::OnceLock<&'static Capture> = std::sync::OnceLock::new();

struct Fields<'a>(&'a mut Event);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.0.message = text;
        } else {
            self.0.fields.insert(field.name().to_owned(), text.trim_matches('"').to_owned());
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.0.message = value.to_owned();
        } else {
            self.0.fields.insert(field.name().to_owned(), value.to_owned());
        }
    }
}

impl tracing::Subscriber for &'static Capture {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        *metadata.level() <= tracing::Level::DEBUG
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut threads = self.threads.lock().unwrap();
        if let Some(events) = threads.get_mut(&std::thread::current().id()) {
            let mut captured = Event { message: String::new(), fields: HashMap::new() };
            event.record(&mut Fields(&mut captured));
            events.push(captured);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

impl Capture {
    /// Records this thread's debug events from now on.
    fn start() -> &'static Capture {
        let capture = *CAPTURE.get_or_init(|| {
            let capture: &'static Capture = Box::leak(Box::default());
            tracing::subscriber::set_global_default(capture).expect("no other global subscriber in this binary");
            capture
        });
        capture.threads.lock().unwrap().insert(std::thread::current().id(), Vec::new());
        capture
    }

    /// This thread's events with `message`, taken out of the record.
    fn take(&self, message: &str) -> Vec<HashMap<String, String>> {
        let mut threads = self.threads.lock().unwrap();
        let events = threads.entry(std::thread::current().id()).or_default();
        let (matching, rest): (Vec<Event>, Vec<Event>) = events.drain(..).partition(|e| e.message == message);
        *events = rest;
        matching.into_iter().map(|e| e.fields).collect()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn requests_faults_and_refused_logons_are_logged_at_debug() {
    let capture = Capture::start();
    let e = endpoint(allow_unencrypted());
    let soap = ("Content-Type", SOAP_CONTENT_TYPE);
    let good = basic("alice", PASSWORD);
    let client = Client::new();
    let shell = guid();
    let reply = e
        .handle(
            &mut Connection::plain("192.0.2.1"),
            post(client.create(&shell, b""), &[soap, ("Authorization", &good)]),
        )
        .await;
    assert_eq!(reply.status, 200);
    let requests = capture.take("request");
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0]["action"], "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create");
    assert_eq!(requests[0]["resource"], PS_URI);
    assert_eq!(requests[0]["user"], "alice");

    // A request on an unknown shell: the request names the shell, the fault its code and reason.
    let unknown = guid();
    let reply = e
        .handle(
            &mut Connection::plain("192.0.2.1"),
            post(client.receive(&unknown, None), &[soap, ("Authorization", &good)]),
        )
        .await;
    assert_eq!(reply.status, 500);
    let requests = capture.take("request");
    assert_eq!(requests[0]["shell"], unknown);
    let faults = capture.take("fault");
    assert_eq!(faults.len(), 1, "{faults:?}");
    assert_eq!(faults[0]["code"], "0x8033805b");
    assert_eq!(faults[0]["action"], "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive");
    assert!(faults[0]["reason"].contains("invalid selectors"), "{faults:?}");

    // A wrong Basic password is logged as a refused logon, like a refused NTLM one, without the secret.
    let bad = basic("alice", "Wrong-Passw0rd");
    let reply = e
        .handle(
            &mut Connection::plain("192.0.2.7"),
            post(client.create(&guid(), b""), &[soap, ("Authorization", &bad)]),
        )
        .await;
    assert_eq!(reply.status, 401);
    let refused = capture.take("authentication refused");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!((refused[0]["scheme"].as_str(), refused[0]["peer"].as_str()), ("basic", "192.0.2.7"));
    assert!(!format!("{refused:?}").contains("Wrong-Passw0rd"));

    let mut ntlm = pssession_auth::negotiate_client(Credentials::new("alice", "Wrong-Passw0rd"), None, None);
    let mut conn = Connection::plain("192.0.2.8");
    let first = ntlm.step(None).unwrap().unwrap();
    let reply = e.handle(&mut conn, post(Vec::new(), &[("Authorization", &first)])).await;
    assert_eq!(reply.status, 401);
    let challenge = header(&reply, "WWW-Authenticate")[0].to_owned();
    let second = ntlm.step(Some(&challenge)).unwrap().unwrap();
    let reply = e.handle(&mut conn, post(Vec::new(), &[("Authorization", &second)])).await;
    assert_eq!(reply.status, 401);
    let refused = capture.take("authentication refused");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!((refused[0]["scheme"].as_str(), refused[0]["peer"].as_str()), ("negotiate", "192.0.2.8"));

    // A body that is not SOAP.
    let reply =
        e.handle(&mut Connection::plain("192.0.2.9"), post(b"x=1".to_vec(), &[("Content-Type", "text/plain")])).await;
    assert_eq!(reply.status, 415);
    assert_eq!(capture.take("request refused: unsupported Content-Type")[0]["content_type"], "text/plain");
}

/// One NTLM-over-Negotiate client of the endpoint, sealing its bodies.
struct SealingClient {
    auth: Box<dyn pssession_auth::ClientAuth>,
}

impl SealingClient {
    /// Authenticates on `conn` (empty-bodied rounds, as pypsrp does before its first sealed body).
    async fn logon(e: &Endpoint, conn: &mut Connection) -> Self {
        let mut auth: Box<dyn pssession_auth::ClientAuth> =
            Box::new(pssession_auth::negotiate_client(Credentials::new("alice", PASSWORD), None, None));
        let mut token = auth.step(None).unwrap().unwrap();
        loop {
            let reply = e.handle(conn, post(Vec::new(), &[("Authorization", &token)])).await;
            let www = header(&reply, "WWW-Authenticate").first().map(|s| (*s).to_owned());
            if reply.status == 200 {
                if !auth.is_complete() {
                    assert_eq!(auth.step(www.as_deref()).unwrap(), None);
                }
                return SealingClient { auth };
            }
            assert_eq!(reply.status, 401);
            token = auth.step(www.as_deref()).unwrap().unwrap();
        }
    }

    /// `envelope` sealed: its Content-Type and body.
    fn seal(&mut self, envelope: &[u8]) -> (String, Vec<u8>) {
        use pssession_auth::winrm_sealing::Sealer;
        use pssession_wsman::multipart::{self, EncryptionProtocol};
        let sealed = multipart::encrypt(&mut Sealer(self.auth.as_mut()), EncryptionProtocol::Spnego, envelope).unwrap();
        (sealed.content_type, sealed.body)
    }

    /// Posts a sealed body without `Authorization`; the status and, on success, the unsealed answer.
    async fn post_sealed(&mut self, e: &Endpoint, conn: &mut Connection, sealed: &(String, Vec<u8>)) -> (u16, Vec<u8>) {
        use pssession_auth::winrm_sealing::Sealer;
        use pssession_wsman::multipart;
        let reply = e.handle(conn, post(sealed.1.clone(), &[("Content-Type", &sealed.0)])).await;
        if reply.status != 200 && reply.status != 500 {
            return (reply.status, Vec::new());
        }
        let content_type = header(&reply, "Content-Type")[0].to_owned();
        let limits = multipart::Limits::default();
        let plain = multipart::decrypt(&mut Sealer(self.auth.as_mut()), &content_type, &reply.body, &limits).unwrap();
        (reply.status, plain)
    }

    /// Seals and posts `envelope`.
    async fn send(&mut self, e: &Endpoint, conn: &mut Connection, envelope: &[u8]) -> (u16, Vec<u8>) {
        let sealed = self.seal(envelope);
        self.post_sealed(e, conn, &sealed).await
    }
}

#[tokio::test(start_paused = true)]
async fn a_client_that_reconnects_goes_on_sealing_with_its_context() {
    let e = endpoint(ServiceConfig::default());
    let client = Client::new();
    let shell = guid();
    let mut first = Connection::plain("192.0.2.1");
    let mut a = SealingClient::logon(&e, &mut first).await;
    let (status, answer) = a.send(&e, &mut first, &client.create(&shell, b"hello")).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    // Another client of the same user from the same address, one message in as well.
    let mut second = Connection::plain("192.0.2.1");
    let mut b = SealingClient::logon(&e, &mut second).await;
    assert_eq!(b.send(&e, &mut second, &client.get(&shell)).await.0, 200);
    assert_eq!(e.retained_contexts(), 2);

    // A's connection closes (idle keep-alive timeout); A goes on sealing with its context on a new one.
    drop(first);
    let mut third = Connection::plain("192.0.2.1");
    let (status, answer) = a.send(&e, &mut third, &client.receive(&shell, None)).await;
    assert_eq!(status, 200);
    match parse(&answer).body {
        pssession_wsman::envelope::ResponseBody::Receive(r) => assert_eq!(r.streams[0].data.as_ref(), b"hello"),
        other => panic!("{other:?}"),
    }
    // B was not disturbed, and keeps its own connection.
    assert_eq!(b.send(&e, &mut second, &client.get(&shell)).await.0, 200);
    assert_eq!(a.send(&e, &mut third, &client.get(&shell)).await.0, 200);

    // From another address the context is not offered, and the refusal changes nothing on it: the same sealed
    // bytes are then accepted from the client's address.
    let sealed = a.seal(&client.get(&shell));
    assert_eq!(a.post_sealed(&e, &mut Connection::plain("192.0.2.99"), &sealed).await.0, 401);
    let mut fourth = Connection::plain("192.0.2.1");
    assert_eq!(a.post_sealed(&e, &mut fourth, &sealed).await.0, 200);

    // Unused for the service's idle timeout, a retained context is dropped.
    let mut fifth = Connection::plain("192.0.2.1");
    let mut c = SealingClient::logon(&e, &mut fifth).await;
    drop(fifth);
    tokio::time::advance(ServiceConfig::default().idle_timeout + std::time::Duration::from_secs(1)).await;
    assert_eq!(c.send(&e, &mut Connection::plain("192.0.2.1"), &client.get(&shell)).await.0, 401);
}
