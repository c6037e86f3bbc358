//! WS-Management Identify (DMTF DSP0226, schema DSP8012): the one operation without an Action header, which a
//! server answers before, and without, authentication.
//!
//! The request is an envelope with an empty (or absent) header and a `wsmid:Identify` body; the response carries
//! the protocol version, the product and the security profiles the endpoint accepts. WinRM's answer to an
//! unauthenticated Identify has an empty header and reports `OS: 0.0.0`:
//!
//! ```xml
//! <s:Envelope xml:lang="en-US" xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header/><s:Body>
//!   <wsmid:IdentifyResponse xmlns:wsmid="http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd">
//!     <wsmid:ProtocolVersion>http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd</wsmid:ProtocolVersion>
//!     <wsmid:ProductVendor>Microsoft Corporation</wsmid:ProductVendor>
//!     <wsmid:ProductVersion>OS: 0.0.0 SP: 0.0 Stack: 3.0</wsmid:ProductVersion>
//!     <wsmid:SecurityProfiles>
//!       <wsmid:SecurityProfileName>http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/http/spnego-kerberos</wsmid:SecurityProfileName>
//!     </wsmid:SecurityProfiles>
//!   </wsmid:IdentifyResponse>
//! </s:Body></s:Envelope>
//! ```

use crate::envelope::Limits;
use crate::error::EnvelopeError;
use crate::header::ns;
use crate::xml::{self, Writer};

/// The Identify namespace (`wsmid:`).
pub const NS: &str = "http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd";

/// The WS-Management protocol version WinRM reports.
pub const PROTOCOL_VERSION: &str = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd";

/// Security profile URIs of DSP0226 annex C.
pub mod profile {
    /// Basic over plain HTTP.
    pub const HTTP_BASIC: &str = "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/http/basic";
    /// SPNEGO (Kerberos or NTLM) over plain HTTP.
    pub const HTTP_SPNEGO_KERBEROS: &str = "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/http/spnego-kerberos";
    /// Basic over HTTPS.
    pub const HTTPS_BASIC: &str = "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/basic";
    /// SPNEGO over HTTPS.
    pub const HTTPS_SPNEGO_KERBEROS: &str =
        "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/spnego-kerberos";
    /// TLS client certificates.
    pub const HTTPS_MUTUAL: &str = "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/mutual";
}

/// Whether `xml` is an Identify request: a SOAP envelope whose body holds `wsmid:Identify` and whose header
/// names no Action (an envelope with an Action is an ordinary operation, whatever its body).
///
/// `Ok(false)` for any other well-formed envelope, and without parsing for bytes that do not contain
/// `Identify` (a server runs this check ahead of every request); an error when bytes that do are not a readable
/// envelope.
pub fn is_identify_request(xml: &[u8], limits: &Limits) -> Result<bool, EnvelopeError> {
    if memchr::memmem::find(xml, b"Identify").is_none() {
        return Ok(false);
    }
    let root = xml::parse(xml, limits)?;
    if !root.is(ns::SOAP, "Envelope") {
        return Err(EnvelopeError::NotEnvelope);
    }
    let body = root.child(ns::SOAP, "Body").ok_or(EnvelopeError::MissingBody)?;
    let has_action = root
        .child(ns::SOAP, "Header")
        .and_then(|h| h.child(ns::ADDRESSING, "Action"))
        .is_some_and(|a| !a.text.trim().is_empty());
    Ok(!has_action && body.child(NS, "Identify").is_some())
}

/// The Identify request envelope WinRM's own client sends (client role).
pub fn request_bytes() -> Vec<u8> {
    format!(
        "<s:Envelope xmlns:s=\"{}\" xmlns:wsmid=\"{NS}\"><s:Header/><s:Body><wsmid:Identify/></s:Body></s:Envelope>",
        ns::SOAP
    )
    .into_bytes()
}

/// The body of an IdentifyResponse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentifyResponse {
    /// `wsmid:ProtocolVersion` (WinRM: [`PROTOCOL_VERSION`]).
    pub protocol_version: String,
    /// `wsmid:ProductVendor`.
    pub product_vendor: String,
    /// `wsmid:ProductVersion` (WinRM: `OS: 0.0.0 SP: 0.0 Stack: 3.0` when unauthenticated).
    pub product_version: String,
    /// `wsmid:SecurityProfiles/wsmid:SecurityProfileName`, in order; none written when empty.
    pub security_profiles: Vec<String>,
}

impl IdentifyResponse {
    /// The whole response envelope, with the empty header of WinRM's answer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1024);
        let mut w = Writer { out: &mut out };
        w.raw("<s:Envelope xml:lang=\"en-US\" xmlns:s=\"");
        w.raw(ns::SOAP);
        w.raw("\"><s:Header/><s:Body>");
        w.open("wsmid:IdentifyResponse", &[("xmlns:wsmid", NS)]);
        w.leaf("wsmid:ProtocolVersion", &[], &self.protocol_version);
        w.leaf("wsmid:ProductVendor", &[], &self.product_vendor);
        w.leaf("wsmid:ProductVersion", &[], &self.product_version);
        if !self.security_profiles.is_empty() {
            w.open("wsmid:SecurityProfiles", &[]);
            for p in &self.security_profiles {
                w.leaf("wsmid:SecurityProfileName", &[], p);
            }
            w.close("wsmid:SecurityProfiles");
        }
        w.close("wsmid:IdentifyResponse");
        w.raw("</s:Body></s:Envelope>");
        out
    }

    /// Parses a response envelope (client role).
    pub fn parse(xml: &[u8], limits: &Limits) -> Result<Self, EnvelopeError> {
        let root = xml::parse(xml, limits)?;
        if !root.is(ns::SOAP, "Envelope") {
            return Err(EnvelopeError::NotEnvelope);
        }
        let body = root.child(ns::SOAP, "Body").ok_or(EnvelopeError::MissingBody)?;
        let response = body.child(NS, "IdentifyResponse").ok_or(EnvelopeError::MissingElement("IdentifyResponse"))?;
        let text = |local: &'static str| -> Result<String, EnvelopeError> {
            Ok(response.child_text(NS, local).ok_or(EnvelopeError::MissingElement(local))?.trim().to_owned())
        };
        let security_profiles = response
            .child(NS, "SecurityProfiles")
            .map(|p| p.children_named(NS, "SecurityProfileName").map(|n| n.text.trim().to_owned()).collect())
            .unwrap_or_default();
        Ok(IdentifyResponse {
            protocol_version: text("ProtocolVersion")?,
            product_vendor: text("ProductVendor")?,
            product_version: text("ProductVersion")?,
            security_profiles,
        })
    }
}
