//! HTTP Digest authentication (RFC 7616) — client side: MD5, SHA-256 and SHA-512/256 (and their `-sess`
//! variants), `qop=auth` with `nc`/`cnonce`, `userhash`, stale nonces.
//!
//! **The WinRM service does not accept Digest** (only Basic, Negotiate, Kerberos, CredSSP and client
//! certificates). Digest exists for other WS-Management servers and proxies. When the server's 401 carries no
//! `Digest` challenge, [`DigestClient`] fails with [`AuthError::DigestNotOffered`], whose message says so.
//!
//! Digest does not protect message bodies and, with MD5, is weak against offline guessing: use it over HTTPS.

use std::fmt;

use md5::Md5;
use sha2::{Sha256, Sha512_256};
use zeroize::Zeroizing;

use crate::context::WrappedMessage;
use crate::credentials::Credentials;
use crate::error::{AuthError, malformed};
use crate::http::{ClientAuth, MAX_HEADER_LEN};

const WHAT: &str = "Digest challenge";

/// The most challenges / parameters accepted in one header value.
pub const MAX_CHALLENGE_ITEMS: usize = 64;

/// The hash algorithm of a Digest challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DigestAlgorithm {
    /// `MD5` (RFC 2617 compatibility; the default when the challenge names none).
    Md5,
    /// `SHA-256`.
    Sha256,
    /// `SHA-512-256`.
    Sha512_256,
}

impl DigestAlgorithm {
    fn name(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Sha256 => "SHA-256",
            Self::Sha512_256 => "SHA-512-256",
        }
    }

    /// Lower-case hex of the hash of `parts` joined by `:`.
    fn hex(self, parts: &[&[u8]]) -> Zeroizing<String> {
        fn run<D: sha2::Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut d = D::new();
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    d.update(b":");
                }
                d.update(p);
            }
            d.finalize().to_vec()
        }
        let raw = Zeroizing::new(match self {
            Self::Md5 => run::<Md5>(parts),
            Self::Sha256 => run::<Sha256>(parts),
            Self::Sha512_256 => run::<Sha512_256>(parts),
        });
        Zeroizing::new(raw.iter().map(|b| format!("{b:02x}")).collect())
    }
}

/// One parsed `Digest` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestChallenge {
    /// `realm`.
    pub realm: String,
    /// `nonce`.
    pub nonce: String,
    /// `opaque`, echoed back.
    pub opaque: Option<String>,
    /// `algorithm`.
    pub algorithm: DigestAlgorithm,
    /// Whether the algorithm is a `-sess` variant.
    pub session: bool,
    /// Whether `qop` was present (and offered `auth`). Without it the RFC 2069 response form is used.
    pub qop_auth: bool,
    /// `stale=true`: the previous nonce expired; the credentials were fine.
    pub stale: bool,
    /// `userhash=true`: send `H(user:realm)` instead of the user name.
    pub userhash: bool,
}

/// A challenge as parsed from a `WWW-Authenticate` value: scheme, token68, parameters.
#[derive(Debug)]
struct RawChallenge {
    scheme: String,
    params: Vec<(String, String)>,
}

fn is_token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~/".contains(&c)
}

/// Splits a `WWW-Authenticate` value into challenges (RFC 9110 11.6.1), with quoted-string parameters.
fn parse_header(value: &str) -> Result<Vec<RawChallenge>, AuthError> {
    if value.len() > MAX_HEADER_LEN {
        return Err(AuthError::TooLarge { what: WHAT, len: value.len() });
    }
    let s = value.as_bytes();
    let mut i = 0;
    let mut out: Vec<RawChallenge> = Vec::new();
    let skip_ws = |i: &mut usize| {
        while s.get(*i).is_some_and(|c| *c == b' ' || *c == b'\t') {
            *i += 1;
        }
    };
    let mut items = 0usize;
    loop {
        // Separators between items.
        while s.get(i).is_some_and(|c| *c == b',' || *c == b' ' || *c == b'\t') {
            i += 1;
        }
        if i >= s.len() {
            return Ok(out);
        }
        items += 1;
        if items > MAX_CHALLENGE_ITEMS {
            return Err(malformed(WHAT, "too many challenges or parameters"));
        }
        let start = i;
        while s.get(i).is_some_and(|c| is_token_char(*c)) {
            i += 1;
        }
        if i == start {
            return Err(malformed(WHAT, "expected a token"));
        }
        let word = value.get(start..i).ok_or(malformed(WHAT, "not text"))?.to_owned();
        let mut j = i;
        skip_ws(&mut j);
        let is_param = s.get(j) == Some(&b'=') && {
            let mut k = j + 1;
            skip_ws(&mut k);
            s.get(k).is_some_and(|c| *c == b'"' || is_token_char(*c))
        };
        if is_param {
            let current = out.last_mut().ok_or(malformed(WHAT, "parameter before any scheme"))?;
            i = j + 1;
            skip_ws(&mut i);
            let value = if s.get(i) == Some(&b'"') {
                i += 1;
                let mut text = Vec::new();
                loop {
                    match s.get(i) {
                        None => return Err(malformed(WHAT, "unterminated quoted string")),
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(b'\\') => {
                            text.push(*s.get(i + 1).ok_or(malformed(WHAT, "unterminated quoted string"))?);
                            i += 2;
                        }
                        Some(c) => {
                            text.push(*c);
                            i += 1;
                        }
                    }
                }
                String::from_utf8(text).map_err(|_| malformed(WHAT, "parameter is not UTF-8"))?
            } else {
                let vstart = i;
                while s.get(i).is_some_and(|c| is_token_char(*c)) {
                    i += 1;
                }
                value.get(vstart..i).ok_or(malformed(WHAT, "not text"))?.to_owned()
            };
            current.params.push((word.to_ascii_lowercase(), value));
        } else {
            // A new scheme; a token68 may follow (base64 with '=' padding).
            out.push(RawChallenge { scheme: word, params: Vec::new() });
            skip_ws(&mut i);
            let t_start = i;
            while s.get(i).is_some_and(|c| is_token_char(*c)) {
                i += 1;
            }
            let mut k = i;
            skip_ws(&mut k);
            if i > t_start && s.get(k) == Some(&b'=') {
                // Either a parameter (handled by the next iteration) or token68 padding.
                let mut p = k;
                while s.get(p) == Some(&b'=') {
                    p += 1;
                }
                let mut q = p;
                skip_ws(&mut q);
                if q >= s.len() || s.get(q) == Some(&b',') {
                    i = p; // token68 with padding: not needed for Digest, skipped
                } else {
                    i = t_start;
                }
            } else if i > t_start && (k >= s.len() || s.get(k) == Some(&b',')) {
                // token68 without padding, or a bare word: skipped
            } else {
                i = t_start;
            }
        }
    }
}

impl DigestChallenge {
    /// All `Digest` challenges in a `WWW-Authenticate` value (other schemes are skipped). Challenges with an
    /// unknown algorithm or without `qop=auth` support (only `auth-int`) are skipped; a Digest challenge without
    /// `realm` or `nonce` is an error.
    pub fn parse_all(www_authenticate: &str) -> Result<Vec<Self>, AuthError> {
        let mut out = Vec::new();
        for raw in parse_header(www_authenticate)? {
            if !raw.scheme.eq_ignore_ascii_case("Digest") {
                continue;
            }
            let get = |name: &str| raw.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
            let realm = get("realm").ok_or(malformed(WHAT, "no realm"))?;
            let nonce = get("nonce").ok_or(malformed(WHAT, "no nonce"))?;
            let alg = get("algorithm").unwrap_or_else(|| "MD5".into()).to_ascii_uppercase();
            let (base, session) = match alg.strip_suffix("-SESS") {
                Some(base) => (base.to_owned(), true),
                None => (alg, false),
            };
            let algorithm = match base.as_str() {
                "MD5" => DigestAlgorithm::Md5,
                "SHA-256" => DigestAlgorithm::Sha256,
                "SHA-512-256" => DigestAlgorithm::Sha512_256,
                _ => continue,
            };
            let qop_auth = match get("qop") {
                None => false,
                Some(q) if q.split(',').any(|t| t.trim().eq_ignore_ascii_case("auth")) => true,
                Some(_) => continue, // auth-int only
            };
            if session && !qop_auth {
                continue; // -sess needs a cnonce, which only exists with qop
            }
            let flag = |name: &str| get(name).is_some_and(|v| v.eq_ignore_ascii_case("true"));
            out.push(Self {
                realm,
                nonce,
                opaque: get("opaque"),
                algorithm,
                session,
                qop_auth,
                stale: flag("stale"),
                userhash: flag("userhash"),
            });
        }
        Ok(out)
    }
}

/// The Digest client: answers the server's challenge for a fixed method and request URI (WinRM always POSTs to
/// one path), and signs later requests on the same nonce with [`DigestClient::authorization`].
pub struct DigestClient {
    user: String,
    password: Zeroizing<String>,
    method: String,
    uri: String,
    challenge: Option<DigestChallenge>,
    nonce_count: u32,
    started: bool,
    sent: bool,
}

impl fmt::Debug for DigestClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestClient")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("method", &self.method)
            .field("uri", &self.uri)
            .field("challenge", &self.challenge)
            .field("nonce_count", &self.nonce_count)
            .finish()
    }
}

impl DigestClient {
    /// A Digest client for requests `method uri` (e.g. `POST`, `/wsman`). The user is sent as `DOMAIN\user` when
    /// a domain is set.
    pub fn new(credentials: &Credentials, method: &str, uri: &str) -> Self {
        let user = if credentials.domain().is_empty() {
            credentials.user().to_owned()
        } else {
            format!("{}\\{}", credentials.domain(), credentials.user())
        };
        Self {
            user,
            password: Zeroizing::new(credentials.password().to_owned()),
            method: method.to_owned(),
            uri: uri.to_owned(),
            challenge: None,
            nonce_count: 0,
            started: false,
            sent: false,
        }
    }

    /// The `Authorization` value for the next request under the current challenge (`nc` incremented), for
    /// requests after the first on a connection.
    pub fn authorization(&mut self) -> Result<String, AuthError> {
        let challenge = self.challenge.clone().ok_or(AuthError::InvalidState("no Digest challenge yet"))?;
        let cnonce: [u8; 16] = crate::ntlm::random()?;
        let cnonce: String = cnonce.iter().map(|b| format!("{b:02x}")).collect();
        self.nonce_count = self.nonce_count.checked_add(1).ok_or(AuthError::InvalidState("nonce count exhausted"))?;
        Ok(self.response_header(&challenge, &cnonce, self.nonce_count))
    }

    /// The `Authorization` value for `challenge` with a given client nonce and nonce count.
    fn response_header(&self, c: &DigestChallenge, cnonce: &str, nc: u32) -> String {
        let alg = c.algorithm;
        let nc = format!("{nc:08x}");
        let mut ha1 = alg.hex(&[self.user.as_bytes(), c.realm.as_bytes(), self.password.as_bytes()]);
        if c.session {
            ha1 = alg.hex(&[ha1.as_bytes(), c.nonce.as_bytes(), cnonce.as_bytes()]);
        }
        let ha2 = alg.hex(&[self.method.as_bytes(), self.uri.as_bytes()]);
        let response = if c.qop_auth {
            alg.hex(&[ha1.as_bytes(), c.nonce.as_bytes(), nc.as_bytes(), cnonce.as_bytes(), b"auth", ha2.as_bytes()])
        } else {
            alg.hex(&[ha1.as_bytes(), c.nonce.as_bytes(), ha2.as_bytes()])
        };
        let mut h = String::from("Digest ");
        if c.userhash {
            let hashed = alg.hex(&[self.user.as_bytes(), c.realm.as_bytes()]);
            h.push_str(&format!("username=\"{}\", userhash=true", hashed.as_str()));
        } else if self.user.is_ascii() {
            h.push_str(&format!("username={}", quote(&self.user)));
        } else {
            // RFC 7616 3.4.4: non-ASCII user names go in username* (RFC 8187 encoding).
            let encoded: String = self
                .user
                .bytes()
                .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
                .collect();
            h.push_str(&format!("username*=UTF-8''{encoded}"));
        }
        h.push_str(&format!(", realm={}, uri={}", quote(&c.realm), quote(&self.uri)));
        h.push_str(&format!(", algorithm={}{}", alg.name(), if c.session { "-sess" } else { "" }));
        h.push_str(&format!(", nonce={}", quote(&c.nonce)));
        if c.qop_auth {
            h.push_str(&format!(", nc={nc}, cnonce=\"{cnonce}\", qop=auth"));
        }
        h.push_str(&format!(", response=\"{}\"", response.as_str()));
        if let Some(opaque) = &c.opaque {
            h.push_str(&format!(", opaque={}", quote(opaque)));
        }
        h
    }

    fn answer(&mut self, challenge: DigestChallenge) -> Result<Option<String>, AuthError> {
        self.challenge = Some(challenge);
        self.nonce_count = 0;
        self.sent = true;
        self.authorization().map(Some)
    }
}

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The strongest usable challenge.
fn choose(challenges: Vec<DigestChallenge>) -> Option<DigestChallenge> {
    challenges.into_iter().max_by_key(|c| (c.qop_auth, c.algorithm))
}

impl ClientAuth for DigestClient {
    fn scheme(&self) -> &'static str {
        "Digest"
    }

    /// The first request goes without `Authorization` (`Ok(None)`); the 401's challenge is answered. A 401 with
    /// `stale=true` is answered again with the new nonce; any other 401 after our answer is
    /// [`AuthError::Rejected`]. A 401 without a Digest challenge is [`AuthError::DigestNotOffered`].
    fn step(&mut self, www_authenticate: Option<&str>) -> Result<Option<String>, AuthError> {
        if !self.started {
            self.started = true;
            return Ok(None);
        }
        let value = www_authenticate.ok_or(AuthError::DigestNotOffered)?;
        let raw = parse_header(value)?;
        if !raw.iter().any(|c| c.scheme.eq_ignore_ascii_case("Digest")) {
            return Err(if self.sent { AuthError::Rejected } else { AuthError::DigestNotOffered });
        }
        let challenge = choose(DigestChallenge::parse_all(value)?)
            .ok_or(AuthError::Unsupported("the server's Digest challenges (algorithm or qop)"))?;
        if self.sent && !challenge.stale {
            return Err(AuthError::Rejected);
        }
        self.answer(challenge)
    }

    fn is_complete(&self) -> bool {
        self.sent
    }

    fn can_seal(&self) -> bool {
        false
    }

    fn wrap(&mut self, _plaintext: &[u8]) -> Result<WrappedMessage, AuthError> {
        Err(AuthError::SealingUnavailable)
    }

    fn unwrap(&mut self, _header: &[u8], _data: &[u8]) -> Result<Vec<u8>, AuthError> {
        Err(AuthError::SealingUnavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7616_section_3_9_1_md5_and_sha256() {
        // RFC 7616 3.9.1: Mufasa / "Circle of Life", realm http-auth@example.org, GET /dir/index.html.
        let creds = Credentials::new("Mufasa", "Circle of Life");
        let client = DigestClient::new(&creds, "GET", "/dir/index.html");
        let header = "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=SHA-256, \
             nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", \
             opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\", \
             Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=MD5, \
             nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", \
             opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
        let challenges = DigestChallenge::parse_all(header).unwrap();
        assert_eq!(challenges.len(), 2);
        let sha = client.response_header(&challenges[0], "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", 1);
        assert!(sha.contains("response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\""), "{sha}");
        let md5 = client.response_header(&challenges[1], "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", 1);
        assert!(md5.contains("response=\"8ca523f5e9506fed4657c9700eebdbec\""), "{md5}");
        assert!(md5.contains("nc=00000001") && md5.contains("qop=auth") && md5.contains("opaque=\"FQhe"));
        assert_eq!(choose(challenges).unwrap().algorithm, DigestAlgorithm::Sha256);
    }

    #[test]
    fn rfc7616_section_3_9_2_userhash() {
        // RFC 7616 3.9.2's user: userhash of "J\u{e4}s\u{f8}n Doe" in realm api@example.org with SHA-512-256.
        // The RFC's printed hash does not reproduce with any encoding of the input; this value is OpenSSL's
        // SHA-512/256 of the UTF-8 input (Python hashlib).
        let alg = DigestAlgorithm::Sha512_256;
        assert_eq!(
            alg.hex(&["J\u{e4}s\u{f8}n Doe".as_bytes(), b"api@example.org"]).as_str(),
            "793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b"
        );
        let creds = Credentials::new("J\u{e4}s\u{f8}n Doe", "Secret, or not?");
        let mut c = DigestClient::new(&creds, "GET", "/doe.json");
        c.step(None).unwrap();
        let h = c
            .step(Some(
                "Digest realm=\"api@example.org\", qop=\"auth\", algorithm=SHA-512-256, nonce=\"5TsQ\", userhash=true",
            ))
            .unwrap()
            .unwrap();
        assert!(h.contains("username=\"793263ca") && h.contains("userhash=true"), "{h}");
        let mut c = DigestClient::new(&creds, "GET", "/doe.json");
        c.step(None).unwrap();
        let h = c.step(Some("Digest realm=\"api@example.org\", qop=auth, nonce=\"5TsQ\"")).unwrap().unwrap();
        assert!(h.contains("username*=UTF-8''J%C3%A4s%C3%B8n%20Doe"), "{h}");
    }

    #[test]
    fn header_parsing_handles_mixed_schemes() {
        let v = "Negotiate YIIabc==, NTLM, Basic realm=\"WSMAN\", Digest realm=\"a, b\", nonce=n1, qop=\"auth\"";
        let c = DigestChallenge::parse_all(v).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].realm.as_str(), c[0].nonce.as_str(), c[0].algorithm), ("a, b", "n1", DigestAlgorithm::Md5));
        assert!(DigestChallenge::parse_all("Negotiate, NTLM").unwrap().is_empty());
        for bad in ["Digest realm=\"unterminated", "Digest nonce=x", "=x", "Digest realm=\"r\", nonce=\"n\\"] {
            assert!(DigestChallenge::parse_all(bad).is_err(), "{bad}");
        }
        // auth-int only and unknown algorithms are skipped
        assert!(DigestChallenge::parse_all("Digest realm=r, nonce=n, qop=auth-int").unwrap().is_empty());
        assert!(DigestChallenge::parse_all("Digest realm=r, nonce=n, algorithm=SHA-1").unwrap().is_empty());
    }

    #[test]
    fn not_offered_and_rejected() {
        let creds = Credentials::new("alice", "pw");
        let mut c = DigestClient::new(&creds, "POST", "/wsman");
        assert_eq!(c.step(None), Ok(None));
        let e = c.step(Some("Negotiate, Kerberos")).unwrap_err();
        assert_eq!(e, AuthError::DigestNotOffered);
        assert!(e.to_string().contains("the WinRM service does not accept Digest authentication"));
        assert_eq!(c.step(None), Err(AuthError::DigestNotOffered));
        let first = c.step(Some("Digest realm=r, nonce=n, qop=auth")).unwrap().unwrap();
        assert!(first.starts_with("Digest username=\"alice\""));
        let next = c.authorization().unwrap();
        assert!(next.contains("nc=00000002"));
        assert_eq!(c.step(Some("Digest realm=r, nonce=n2, qop=auth")), Err(AuthError::Rejected));
        let mut c = DigestClient::new(&creds, "POST", "/wsman");
        c.step(None).unwrap();
        c.step(Some("Digest realm=r, nonce=n, qop=auth")).unwrap();
        let again = c.step(Some("Digest realm=r, nonce=n2, qop=auth, stale=true")).unwrap().unwrap();
        assert!(again.contains("nonce=\"n2\"") && again.contains("nc=00000001"));
        assert!(!format!("{c:?}").contains("\"pw\""));
    }
}
