//! Identify: the request reader (server role) and the IdentifyResponse writer and parser.

use pssession_wsman::envelope::Limits;
use pssession_wsman::error::EnvelopeError;
use pssession_wsman::identify::{self, IdentifyResponse, is_identify_request, profile};

/// What `winrm id` and `Test-WSMan` send: an empty header and an empty `wsmid:Identify`.
const WINRM_IDENTIFY: &str = concat!(
    r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" "#,
    r#"xmlns:wsmid="http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd">"#,
    r#"<s:Header/><s:Body><wsmid:Identify/></s:Body></s:Envelope>"#
);

/// Openwsman's `wsman identify`: other prefixes, no header at all, whitespace.
const OPENWSMAN_IDENTIFY: &str = concat!(
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
    r#"<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" "#,
    r#"xmlns:wsmid="http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd">"#,
    "\n  <SOAP-ENV:Body>\n    <wsmid:Identify></wsmid:Identify>\n  </SOAP-ENV:Body>\n</SOAP-ENV:Envelope>\n"
);

#[test]
fn identify_requests_are_recognised_and_others_are_not() {
    let limits = Limits::default();
    assert_eq!(is_identify_request(WINRM_IDENTIFY.as_bytes(), &limits), Ok(true));
    assert_eq!(is_identify_request(OPENWSMAN_IDENTIFY.as_bytes(), &limits), Ok(true));
    assert_eq!(is_identify_request(&identify::request_bytes(), &limits), Ok(true));

    // An envelope with an Action is an ordinary operation even when its body says Identify.
    let with_action = WINRM_IDENTIFY.replace(
        "<s:Header/>",
        concat!(
            r#"<s:Header><a:Action xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing">"#,
            "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get</a:Action></s:Header>"
        ),
    );
    assert_eq!(is_identify_request(with_action.as_bytes(), &limits), Ok(false));
    // Identify in another namespace, and an empty body, are not Identify.
    let other_ns = WINRM_IDENTIFY.replace("identity/1/wsmanidentity.xsd", "identity/2/other.xsd");
    assert_eq!(is_identify_request(other_ns.as_bytes(), &limits), Ok(false));
    let empty_body = WINRM_IDENTIFY.replace("<wsmid:Identify/>", "");
    assert_eq!(is_identify_request(empty_body.as_bytes(), &limits), Ok(false));

    // Bytes without "Identify" are not parsed at all; bytes with it must be a readable envelope.
    assert_eq!(is_identify_request(b"<not xml", &limits), Ok(false));
    assert_eq!(is_identify_request(b"<Envelope><Identify/></Envelope>", &limits), Err(EnvelopeError::NotEnvelope));
    assert_eq!(
        is_identify_request(
            br#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header><Identify/></s:Header></s:Envelope>"#,
            &limits
        ),
        Err(EnvelopeError::MissingBody)
    );
    assert!(is_identify_request(b"<s:Envelope><Identify", &limits).is_err());
    let small = Limits { max_envelope: 16, ..Limits::default() };
    assert!(matches!(is_identify_request(WINRM_IDENTIFY.as_bytes(), &small), Err(EnvelopeError::TooLarge { .. })));
}

fn response() -> IdentifyResponse {
    IdentifyResponse {
        protocol_version: identify::PROTOCOL_VERSION.to_owned(),
        product_vendor: "Microsoft Corporation".to_owned(),
        product_version: "OS: 0.0.0 SP: 0.0 Stack: 3.0".to_owned(),
        security_profiles: vec![profile::HTTP_BASIC.to_owned(), profile::HTTP_SPNEGO_KERBEROS.to_owned()],
    }
}

#[test]
fn identify_response_is_written_as_winrm_writes_it() {
    // WinRM 3.0's answer to an unauthenticated Identify (Windows Server 2012 R2), byte for byte.
    let windows = concat!(
        r#"<s:Envelope xml:lang="en-US" xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header/><s:Body>"#,
        r#"<wsmid:IdentifyResponse xmlns:wsmid="http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd">"#,
        "<wsmid:ProtocolVersion>http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd</wsmid:ProtocolVersion>",
        "<wsmid:ProductVendor>Microsoft Corporation</wsmid:ProductVendor>",
        "<wsmid:ProductVersion>OS: 0.0.0 SP: 0.0 Stack: 3.0</wsmid:ProductVersion>",
        "<wsmid:SecurityProfiles>",
        "<wsmid:SecurityProfileName>http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/http/basic</wsmid:SecurityProfileName>",
        "<wsmid:SecurityProfileName>http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/http/spnego-kerberos</wsmid:SecurityProfileName>",
        "</wsmid:SecurityProfiles></wsmid:IdentifyResponse></s:Body></s:Envelope>"
    );
    assert_eq!(String::from_utf8(response().to_bytes()).unwrap(), windows);
    assert_eq!(IdentifyResponse::parse(windows.as_bytes(), &Limits::default()), Ok(response()));
}

#[test]
fn identify_response_round_trips_and_rejects_incomplete_bodies() {
    let limits = Limits::default();
    let mut r = response();
    r.product_vendor = "A & B <vendor>".to_owned();
    r.security_profiles.clear();
    let bytes = r.to_bytes();
    assert!(!String::from_utf8_lossy(&bytes).contains("SecurityProfiles"));
    assert_eq!(IdentifyResponse::parse(&bytes, &limits), Ok(r));

    let without_vendor = String::from_utf8(response().to_bytes())
        .unwrap()
        .replace("<wsmid:ProductVendor>Microsoft Corporation</wsmid:ProductVendor>", "");
    assert_eq!(
        IdentifyResponse::parse(without_vendor.as_bytes(), &limits),
        Err(EnvelopeError::MissingElement("ProductVendor"))
    );
    assert_eq!(
        IdentifyResponse::parse(WINRM_IDENTIFY.as_bytes(), &limits),
        Err(EnvelopeError::MissingElement("IdentifyResponse"))
    );
}
