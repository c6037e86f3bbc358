//! The Kerberos initiator: obtaining a service ticket (password via AS-REQ with encrypted-timestamp
//! pre-authentication then TGS-REQ, or an existing `FILE:` ccache from `kinit`), the AP-REQ with mutual
//! authentication, the AP-REP check and RFC 4121 message protection.

use std::fmt;

use crate::cbt::ChannelBindings;
use crate::context::{InitiatorContext, WrappedMessage};
use crate::credentials::Credentials;
use crate::error::AuthError;
use crate::kerberos::error::KerberosError;

use super::asn1::{
    AP_MUTUAL_REQUIRED, ApReq, Authenticator, EncApRepPart, EncKdcRepPart, EncryptedData, KDC_ERR_S_PRINCIPAL_UNKNOWN,
    KdcRep, KdcReply, PrincipalName, ReqBody, Ticket, decode_ap_rep, decode_etype_info2, decode_padata, kdc_req,
    msg_type, name_type, pa_enc_ts_enc, padata_type,
};
use super::config::Krb5Config;
use super::crypto::{AES128_CTS_HMAC_SHA1_96, AES256_CTS_HMAC_SHA1_96, DEFAULT_ITERATIONS, EncryptionKey};
use super::files::CredentialCache;
use super::gss::{self, MessageProtection, TOK_AP_REP, TOK_AP_REQ, TOK_ERROR};
use super::kdc::{KdcTransport, TcpKdc};
use super::{now, split_winrm, usage};

/// Encryption types requested, most preferred first.
const ETYPES: [i32; 2] = [AES256_CTS_HMAC_SHA1_96, AES128_CTS_HMAC_SHA1_96];
/// KDC options: forwardable, renewable-ok… kept minimal: forwardable | canonicalize.
const KDC_OPTIONS: u32 = 0x4000_0000 | 0x0001_0000;
/// Requested ticket lifetime; the KDC caps it by policy.
const TICKET_LIFETIME: i64 = 10 * 3600;

/// Where the client's Kerberos credentials come from.
#[derive(Clone)]
pub enum KerberosCredential {
    /// A password: `REALM\user`, `user@REALM` or `user` (realm from `default_realm`).
    Password(Credentials),
    /// The user's credential cache (`kinit`): `None` for `KRB5CCNAME`/`default_ccache_name`/`/tmp/krb5cc_<uid>`,
    /// or an explicit `FILE:` name.
    Cache(Option<String>),
}

impl fmt::Debug for KerberosCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Password(c) => f.debug_tuple("Password").field(c).finish(),
            Self::Cache(n) => f.debug_tuple("Cache").field(n).finish(),
        }
    }
}

/// A service ticket and what goes with it.
#[derive(Debug, Clone)]
pub struct ServiceTicket {
    /// The client realm.
    pub client_realm: String,
    /// The client principal.
    pub client: PrincipalName,
    /// The ticket.
    pub ticket: Ticket,
    /// Its session key.
    pub session_key: EncryptionKey,
}

/// Obtains service tickets from a KDC.
pub struct TicketAcquirer<'a> {
    kdc: &'a mut dyn KdcTransport,
    config: &'a Krb5Config,
}

impl<'a> TicketAcquirer<'a> {
    /// Acquisition through `kdc`, names resolved with `config`.
    pub fn new(kdc: &'a mut dyn KdcTransport, config: &'a Krb5Config) -> Self {
        Self { kdc, config }
    }

    /// The client principal and realm of password credentials.
    pub fn client_name(&self, credentials: &Credentials) -> Result<(String, PrincipalName), AuthError> {
        let (realm, user) = if !credentials.domain().is_empty() {
            let domain = credentials.domain().to_uppercase();
            // A NetBIOS domain (`WINRM\alice`) names the default realm it abbreviates (`WINRM.TEST`).
            let realm = match &self.config.default_realm {
                Some(d) if !domain.contains('.') && d.to_uppercase().starts_with(&format!("{domain}.")) => d.clone(),
                _ => domain,
            };
            (realm, credentials.user().to_owned())
        } else if let Some((user, realm)) = credentials.user().rsplit_once('@') {
            (realm.to_uppercase(), user.to_owned())
        } else {
            let realm =
                self.config.default_realm.clone().ok_or_else(|| {
                    AuthError::kerberos("no realm in the user name and no default_realm in krb5.conf")
                })?;
            (realm, credentials.user().to_owned())
        };
        Ok((realm, PrincipalName::new(name_type::PRINCIPAL, &user)))
    }

    /// AS exchange with the password: a ticket-granting ticket.
    pub fn tgt_with_password(&mut self, credentials: &Credentials) -> Result<ServiceTicket, AuthError> {
        let (realm, cname) = self.client_name(credentials)?;
        let krbtgt = PrincipalName { name_type: name_type::SRV_INST, components: vec!["krbtgt".into(), realm.clone()] };
        let nonce = random_u31()?;
        let (secs, _) = now();
        let body = ReqBody {
            kdc_options: KDC_OPTIONS,
            cname: Some(&cname),
            realm: &realm,
            sname: &krbtgt,
            till: secs + TICKET_LIFETIME,
            nonce,
            etypes: &ETYPES,
        }
        .encode();
        let default_salt = format!("{realm}{}", cname.components.concat()).into_bytes();
        // First without pre-authentication, to learn the salt and enctype (as Windows and MIT do).
        let reply = self.kdc.exchange(&realm, &kdc_req(msg_type::AS_REQ, &[], &body))?;
        let (rep, key) = match KdcReply::decode(&reply)? {
            KdcReply::Rep(rep) => {
                let hints = rep
                    .padata
                    .iter()
                    .find(|(t, _)| *t == padata_type::ETYPE_INFO2)
                    .map(|(_, v)| decode_etype_info2(v))
                    .transpose()?
                    .unwrap_or_default();
                let hint = hints.into_iter().find(|h| h.etype == rep.enc_part.etype);
                let key = password_key(rep.enc_part.etype, credentials, hint, &default_salt)?;
                (rep, key)
            }
            KdcReply::Error(e) if e.error_code == 25 => {
                let padata = e.e_data.as_deref().map(decode_padata).transpose()?.unwrap_or_default();
                let hints = padata
                    .iter()
                    .find(|(t, _)| *t == padata_type::ETYPE_INFO2)
                    .map(|(_, v)| decode_etype_info2(v))
                    .transpose()?
                    .unwrap_or_default();
                let hint = hints.into_iter().find(|h| ETYPES.contains(&h.etype));
                let etype = hint.as_ref().map_or(AES256_CTS_HMAC_SHA1_96, |h| h.etype);
                let key = password_key(etype, credentials, hint, &default_salt)?;
                let (secs, usec) = now();
                let ts = EncryptedData::seal(&key, usage::PA_ENC_TIMESTAMP, &pa_enc_ts_enc(secs, usec), None)?;
                let request = kdc_req(msg_type::AS_REQ, &[(padata_type::ENC_TIMESTAMP, ts.encode())], &body);
                match KdcReply::decode(&self.kdc.exchange(&realm, &request)?)? {
                    KdcReply::Rep(rep) => (rep, key),
                    KdcReply::Error(e) => return Err(e.to_auth_error()),
                }
            }
            KdcReply::Error(e) => return Err(e.to_auth_error()),
        };
        if rep.msg_type != msg_type::AS_REP {
            return Err(AuthError::kerberos("expected an AS-REP"));
        }
        // A wrong password shows here when the KDC did not require pre-authentication.
        let part = rep.enc_part.open(&key, usage::AS_REP_ENC_PART).map_err(|_| AuthError::LogonDenied)?;
        finish_kdc_rep(rep, &part, nonce)
    }

    /// TGS exchange: a ticket for `service`@`realm` from a TGT.
    pub fn service_ticket(
        &mut self,
        tgt: &ServiceTicket,
        service: &PrincipalName,
        realm: &str,
    ) -> Result<ServiceTicket, AuthError> {
        if realm != tgt.client_realm {
            return Err(AuthError::kerberos(format!(
                "the service is in realm {realm} but the client in {}; cross-realm referrals are not supported",
                tgt.client_realm
            )));
        }
        let nonce = random_u31()?;
        let (secs, usec) = now();
        let body = ReqBody {
            kdc_options: KDC_OPTIONS,
            cname: None,
            realm,
            sname: service,
            till: secs + TICKET_LIFETIME,
            nonce,
            etypes: &ETYPES,
        }
        .encode();
        let key = &tgt.session_key;
        let checksum = key.checksum(usage::TGS_REQ_AUTH_CKSUM, &[&body]);
        let authenticator = Authenticator {
            crealm: tgt.client_realm.clone(),
            cname: tgt.client.clone(),
            cksum: Some((key.checksum_type(), checksum.to_vec())),
            cusec: usec,
            ctime: secs,
            subkey: None,
            seq_number: None,
        };
        let ap_req = ApReq {
            ap_options: 0,
            ticket: tgt.ticket.clone(),
            authenticator: EncryptedData::seal(key, usage::TGS_REQ_AUTH, &authenticator.encode(), None)?,
        };
        let request = kdc_req(msg_type::TGS_REQ, &[(padata_type::TGS_REQ, ap_req.encode())], &body);
        let rep = match KdcReply::decode(&self.kdc.exchange(realm, &request)?)? {
            KdcReply::Rep(rep) if rep.msg_type == msg_type::TGS_REP => rep,
            KdcReply::Rep(_) => return Err(AuthError::kerberos("expected a TGS-REP")),
            KdcReply::Error(e) if e.error_code == KDC_ERR_S_PRINCIPAL_UNKNOWN => {
                return Err(AuthError::Kerberos(KerberosError::UnknownService {
                    service: service.to_string(),
                    realm: realm.to_owned(),
                }));
            }
            KdcReply::Error(e) => return Err(e.to_auth_error()),
        };
        let part = rep.enc_part.open(key, usage::TGS_REP_ENC_PART_SESSION)?;
        finish_kdc_rep(rep, &part, nonce)
    }
}

fn finish_kdc_rep(rep: KdcRep, part: &[u8], nonce: u32) -> Result<ServiceTicket, AuthError> {
    let part = EncKdcRepPart::decode(part)?;
    if part.nonce != nonce {
        return Err(AuthError::kerberos("KDC reply nonce does not match the request"));
    }
    Ok(ServiceTicket { client_realm: rep.crealm, client: rep.cname, ticket: rep.ticket, session_key: part.key })
}

fn password_key(
    etype: i32,
    credentials: &Credentials,
    hint: Option<super::asn1::EtypeInfo2>,
    default_salt: &[u8],
) -> Result<EncryptionKey, AuthError> {
    let (salt, params) = match hint {
        Some(h) => (h.salt.unwrap_or_else(|| default_salt.to_vec()), h.s2kparams),
        None => (default_salt.to_vec(), None),
    };
    let iterations = match params.as_deref() {
        None => DEFAULT_ITERATIONS,
        Some([a, b, c, d]) => u32::from_be_bytes([*a, *b, *c, *d]),
        Some(_) => return Err(AuthError::kerberos("malformed s2kparams")),
    };
    EncryptionKey::from_password(etype, credentials.password(), &salt, iterations)
}

fn random_u31() -> Result<u32, AuthError> {
    let mut b = [0u8; 4];
    getrandom::fill(&mut b).map_err(|_| AuthError::Random)?;
    Ok(u32::from_be_bytes(b) & 0x7fff_ffff)
}

/// Options of a [`KerberosClient`].
pub struct KerberosOptions {
    /// The `krb5.conf` in effect (default: [`Krb5Config::from_env`]).
    pub config: Krb5Config,
    /// The KDC transport (default: TCP to the KDCs of `config`).
    pub kdc: Option<Box<dyn KdcTransport>>,
    /// The service realm, when `[domain_realm]`/`default_realm` would not give the right one.
    pub service_realm: Option<String>,
}

impl fmt::Debug for KerberosOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KerberosOptions")
            .field("config", &self.config)
            .field("service_realm", &self.service_realm)
            .finish_non_exhaustive()
    }
}

impl Default for KerberosOptions {
    fn default() -> Self {
        Self { config: Krb5Config::from_env(), kdc: None, service_realm: None }
    }
}

impl KerberosOptions {
    /// Options with explicit KDC addresses (`host:port`) instead of those of `krb5.conf`.
    pub fn with_kdc(mut self, addresses: Vec<String>) -> Self {
        self.kdc = Some(Box::new(TcpKdc::explicit(addresses)));
        self
    }
}

enum State {
    Initial,
    ApReqSent { session_key: EncryptionKey, subkey: EncryptionKey, seq: u32, ctime: i64, cusec: u32 },
    Complete(Box<MessageProtection>),
    Failed,
}

/// A Kerberos initiator (the HTTP `Kerberos` scheme, or the mechanism inside Negotiate).
///
/// The first [`InitiatorContext::step`] obtains the service ticket: that call talks to the KDC (blocking TCP
/// through the [`KdcTransport`]) unless a valid ticket is in the ccache. Every later call is sans-IO.
pub struct KerberosClient {
    credential: KerberosCredential,
    target: PrincipalName,
    host: String,
    options: KerberosOptions,
    channel_bindings: Option<ChannelBindings>,
    state: State,
    client_name: Option<String>,
}

impl fmt::Debug for KerberosClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KerberosClient")
            .field("credential", &self.credential)
            .field("target", &self.target.to_string())
            .field("complete", &self.is_complete())
            .finish_non_exhaustive()
    }
}

impl KerberosClient {
    /// A client for `target_name`: an SPN such as `HTTP/host` or `WSMAN/host` (a bare host name means
    /// `HTTP/host`); `HTTP/host@REALM` also names the service realm.
    pub fn new(credential: KerberosCredential, target_name: &str, mut options: KerberosOptions) -> Self {
        let spn = if target_name.contains('/') { target_name.to_owned() } else { format!("HTTP/{target_name}") };
        let spn = match spn.split_once('@') {
            Some((name, realm)) => {
                options.service_realm.get_or_insert_with(|| realm.to_owned());
                name.to_owned()
            }
            None => spn,
        };
        let host = spn.split_once('/').map(|(_, h)| h.to_owned()).unwrap_or_default();
        Self {
            credential,
            target: PrincipalName::new(name_type::SRV_HST, &spn),
            host,
            options,
            channel_bindings: None,
            state: State::Initial,
            client_name: None,
        }
    }

    /// Binds the context to the TLS channel (`tls-server-end-point`), carried in the authenticator checksum.
    pub fn with_channel_bindings(mut self, bindings: Option<ChannelBindings>) -> Self {
        self.channel_bindings = bindings;
        self
    }

    /// The client principal (`user@REALM`) once the ticket is obtained.
    pub fn client_name(&self) -> Option<&str> {
        self.client_name.as_deref()
    }

    fn service_realm(&self, client_realm: &str) -> String {
        self.options
            .service_realm
            .clone()
            .or_else(|| self.options.config.realm_of_host(&self.host))
            .unwrap_or_else(|| client_realm.to_owned())
    }

    fn take_kdc(&mut self) -> Box<dyn KdcTransport> {
        self.options.kdc.take().unwrap_or_else(|| Box::new(TcpKdc::from_config(self.options.config.clone())))
    }

    /// Obtains the service ticket (KDC I/O unless cached).
    pub fn acquire(&mut self) -> Result<ServiceTicket, AuthError> {
        let mut kdc = self.take_kdc();
        let result = self.acquire_with(kdc.as_mut());
        self.options.kdc = Some(kdc);
        result
    }

    fn acquire_with(&self, kdc: &mut dyn KdcTransport) -> Result<ServiceTicket, AuthError> {
        let config = &self.options.config;
        match &self.credential {
            KerberosCredential::Password(credentials) => {
                let mut acq = TicketAcquirer::new(kdc, config);
                let tgt = acq.tgt_with_password(credentials)?;
                let realm = self.service_realm(&tgt.client_realm);
                acq.service_ticket(&tgt, &self.target, &realm)
            }
            KerberosCredential::Cache(name) => {
                let name = name.clone().unwrap_or_else(|| config.ccache_name());
                let cache = CredentialCache::read(&name)?;
                let (secs, _) = now();
                let realm = self.service_realm(&cache.realm);
                if let Some(c) = cache.service_ticket(&self.target, &realm, secs) {
                    return Ok(ServiceTicket {
                        client_realm: c.client_realm.clone(),
                        client: c.client.clone(),
                        ticket: c.ticket.clone(),
                        session_key: c.key.clone(),
                    });
                }
                let tgt = cache.tgt(secs).ok_or_else(|| {
                    AuthError::Kerberos(if cache.has_tgt() {
                        KerberosError::TicketExpired { cache: name.clone(), principal: cache.principal_text() }
                    } else {
                        KerberosError::NoTicket { cache: name.clone() }
                    })
                })?;
                let tgt = ServiceTicket {
                    client_realm: tgt.client_realm.clone(),
                    client: tgt.client.clone(),
                    ticket: tgt.ticket.clone(),
                    session_key: tgt.key.clone(),
                };
                TicketAcquirer::new(kdc, config).service_ticket(&tgt, &self.target, &realm)
            }
        }
    }

    /// Builds the GSS-framed AP-REQ for a service ticket (sans-IO).
    pub fn ap_req(&mut self, ticket: ServiceTicket) -> Result<Vec<u8>, AuthError> {
        let (secs, usec) = now();
        let subkey = ticket.session_key.random_like()?;
        let seq = random_u31()? & 0x3fff_ffff;
        let gss_flags =
            gss::flags::MUTUAL | gss::flags::REPLAY | gss::flags::SEQUENCE | gss::flags::CONF | gss::flags::INTEG;
        let checksum = gss::authenticator_checksum(self.channel_bindings.as_ref().map(|b| b.ntlm_hash()), gss_flags);
        let authenticator = Authenticator {
            crealm: ticket.client_realm.clone(),
            cname: ticket.client.clone(),
            cksum: Some((gss::GSS_CHECKSUM_TYPE, checksum)),
            cusec: usec,
            ctime: secs,
            subkey: Some(subkey.clone()),
            seq_number: Some(seq),
        };
        let ap_req = ApReq {
            ap_options: AP_MUTUAL_REQUIRED,
            authenticator: EncryptedData::seal(&ticket.session_key, usage::AP_REQ_AUTH, &authenticator.encode(), None)?,
            ticket: ticket.ticket,
        };
        self.client_name = Some(format!("{}@{}", ticket.client, ticket.client_realm));
        self.state = State::ApReqSent { session_key: ticket.session_key, subkey, seq, ctime: secs, cusec: usec };
        Ok(gss::frame(TOK_AP_REQ, &ap_req.encode()))
    }

    fn advance(&mut self, input: Option<&[u8]>) -> Result<Option<Vec<u8>>, AuthError> {
        match (&self.state, input) {
            (State::Initial, None) => {
                let ticket = self.acquire()?;
                self.ap_req(ticket).map(Some)
            }
            (State::ApReqSent { session_key, subkey, seq, ctime, cusec }, Some(token)) => {
                let message = match token.first() {
                    Some(0x60) => match gss::unframe(token)? {
                        (TOK_AP_REP, m) => m,
                        (TOK_ERROR, m) => return Err(ap_error(m)),
                        _ => return Err(AuthError::kerberos("unexpected GSS token in place of the AP-REP")),
                    },
                    Some(0x7e) => return Err(ap_error(token)),
                    _ => token,
                };
                let enc = decode_ap_rep(message)?;
                let part = EncApRepPart::decode(&enc.open(session_key, usage::AP_REP_ENC_PART)?)?;
                if part.ctime != *ctime || part.cusec != *cusec {
                    return Err(AuthError::kerberos("AP-REP does not answer our authenticator"));
                }
                let (key, acceptor_subkey) = match part.subkey {
                    Some(k) => (k, true),
                    None => (subkey.clone(), false),
                };
                let protection =
                    MessageProtection::new(key, acceptor_subkey, true, *seq, part.seq_number.unwrap_or(*seq));
                self.state = State::Complete(Box::new(protection));
                Ok(None)
            }
            (State::Complete(_), None) => Ok(None),
            (State::ApReqSent { .. }, None) => Err(AuthError::MissingToken { scheme: "Kerberos" }),
            _ => Err(AuthError::InvalidState("unexpected Kerberos input")),
        }
    }

    /// A GSS MIC token (RFC 4121 GetMIC) over `data`, once complete.
    pub fn get_mic(&mut self, data: &[u8]) -> Result<Vec<u8>, AuthError> {
        Ok(self.protection_mut().ok_or(AuthError::InvalidState("MIC before completion"))?.get_mic(data))
    }

    /// Verifies the peer's GSS MIC token over `data`, once complete.
    pub fn verify_mic(&mut self, data: &[u8], token: &[u8]) -> Result<(), AuthError> {
        self.protection_mut().ok_or(AuthError::InvalidState("MIC before completion"))?.verify_mic(data, token)
    }

    /// The message protection, once complete.
    pub(crate) fn protection_mut(&mut self) -> Option<&mut MessageProtection> {
        match &mut self.state {
            State::Complete(p) => Some(p),
            _ => None,
        }
    }
}

fn ap_error(message: &[u8]) -> AuthError {
    match KdcReply::decode(message) {
        Ok(KdcReply::Error(e)) => match e.to_auth_error() {
            AuthError::Kerberos(KerberosError::Kdc { code, name, text }) => AuthError::kerberos(format!(
                "the acceptor refused the AP-REQ: {}",
                KerberosError::Kdc { code, name, text }
            )),
            other => other,
        },
        _ => AuthError::kerberos("the acceptor answered with an undecodable error"),
    }
}

impl InitiatorContext for KerberosClient {
    fn step(&mut self, input: Option<&[u8]>) -> Result<Option<Vec<u8>>, AuthError> {
        if matches!(self.state, State::Failed) {
            return Err(AuthError::InvalidState("Kerberos context failed earlier"));
        }
        self.advance(input).inspect_err(|_| self.state = State::Failed)
    }

    fn is_complete(&self) -> bool {
        matches!(self.state, State::Complete(_))
    }

    fn wrap(&mut self, plaintext: &[u8]) -> Result<WrappedMessage, AuthError> {
        let p = self.protection_mut().ok_or(AuthError::InvalidState("wrap before completion"))?;
        let len = p.winrm_header_len();
        Ok(split_winrm(p.wrap(plaintext)?, len))
    }

    fn unwrap(&mut self, header: &[u8], data: &[u8]) -> Result<Vec<u8>, AuthError> {
        let p = self.protection_mut().ok_or(AuthError::InvalidState("unwrap before completion"))?;
        p.unwrap(&[header, data].concat())
    }
}
