//! The HTTP face without sockets: [`Endpoint::handle`] on hand-built requests — Identify without
//! authentication, Content-Type checks, Basic logons.

mod server_support;

use std::sync::Arc;

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
    // The same request without a Content-Type is answered too (openwsman sends one, `curl -d` may not).
    let reply = e.handle(&mut Connection::plain("192.0.2.1"), post(identify::request_bytes(), &[])).await;
    assert_eq!(identify_of(&reply).product_vendor, PRODUCT_VENDOR);

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
