//! The Kerberos acceptor: decrypts the service ticket with a keytab key, checks the ticket's validity, the
//! authenticator (client name, clock skew, GSS checksum and channel bindings), answers mutual authentication with
//! an AP-REP carrying an acceptor subkey, then protects messages (RFC 4121).

use std::fmt;
use std::sync::Arc;

use crate::cbt::ChannelBindings;
use crate::context::{AcceptorContext, WrappedMessage};
use crate::credentials::{ClientIdentity, constant_time_eq};
use crate::error::AuthError;
use crate::ntlm::ChannelBindingPolicy;

use super::asn1::{
    AP_MUTUAL_REQUIRED, ApReq, Authenticator, EncApRepPart, EncTicketPart, EncryptedData, PrincipalName,
    TICKET_INVALID, ap_rep,
};
use super::files::Keytab;
use super::gss::{self, MessageProtection, TOK_AP_REP, TOK_AP_REQ};
use super::{now, split_winrm, usage};

/// The accepted clock difference between client and server (Kerberos' customary five minutes).
pub const MAX_CLOCK_SKEW: i64 = 300;

/// How an AP-REQ arrived: GSS-framed (Kerberos and SPNEGO) or bare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Gss,
    Raw,
}

/// A Kerberos acceptor for one connection, with the service keys of a keytab.
pub struct KerberosAcceptor {
    keytab: Arc<Keytab>,
    service: Option<PrincipalName>,
    channel_bindings: Option<(ChannelBindings, ChannelBindingPolicy)>,
    identity: Option<ClientIdentity>,
    protection: Option<MessageProtection>,
    failed: bool,
}

impl fmt::Debug for KerberosAcceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KerberosAcceptor")
            .field("service", &self.service.as_ref().map(ToString::to_string))
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl KerberosAcceptor {
    /// An acceptor for tickets to any principal of `keytab`.
    pub fn new(keytab: Arc<Keytab>) -> Self {
        Self { keytab, service: None, channel_bindings: None, identity: None, protection: None, failed: false }
    }

    /// Accepts only tickets for this service (`HTTP/host`).
    pub fn with_service(mut self, service: &str) -> Self {
        self.service = Some(PrincipalName::new(super::asn1::name_type::SRV_HST, service));
        self
    }

    /// Checks the client's channel bindings (our TLS certificate's `tls-server-end-point`).
    pub fn with_channel_bindings(mut self, bindings: ChannelBindings, policy: ChannelBindingPolicy) -> Self {
        self.channel_bindings = Some((bindings, policy));
        self
    }

    /// The keytab whose keys this acceptor decrypts tickets with.
    pub fn keytab(&self) -> &Keytab {
        &self.keytab
    }

    /// A fresh acceptor with the same keytab and settings (one per connection).
    pub fn fresh(&self) -> Self {
        Self {
            keytab: self.keytab.clone(),
            service: self.service.clone(),
            channel_bindings: self.channel_bindings.clone(),
            identity: None,
            protection: None,
            failed: false,
        }
    }

    fn accept(&mut self, token: &[u8]) -> Result<Vec<u8>, AuthError> {
        let (framing, message) = if token.first() == Some(&0x60) {
            match gss::unframe(token)? {
                (TOK_AP_REQ, m) => (Framing::Gss, m),
                _ => return Err(AuthError::kerberos("expected an AP-REQ")),
            }
        } else {
            (Framing::Raw, token)
        };
        let ap_req = ApReq::decode(message)?;
        let ticket = &ap_req.ticket;
        if let Some(service) = &self.service
            && !service.same_as(&ticket.sname)
        {
            return Err(AuthError::kerberos(format!("ticket is for {} and not for {service}", ticket.sname)));
        }
        let entry = self
            .keytab
            .find(&ticket.sname, Some(&ticket.realm), ticket.enc_part.etype, ticket.enc_part.kvno)
            .ok_or_else(|| {
            AuthError::kerberos(format!(
                "no key in the keytab for {}@{} (enctype {}, kvno {:?})",
                ticket.sname, ticket.realm, ticket.enc_part.etype, ticket.enc_part.kvno
            ))
        })?;
        let part = ticket
            .enc_part
            .open(&entry.key, usage::TICKET)
            .map_err(|_| AuthError::kerberos("the ticket does not decrypt with the keytab key (wrong key or kvno)"))?;
        let part = EncTicketPart::decode(&part)?;
        let (secs, _) = now();
        if part.flags & TICKET_INVALID != 0 {
            return Err(AuthError::kerberos("the ticket is not valid yet (postdated)"));
        }
        if part.starttime - MAX_CLOCK_SKEW > secs || part.endtime + MAX_CLOCK_SKEW < secs {
            return Err(AuthError::kerberos("the ticket has expired or is not yet valid"));
        }
        let authenticator = Authenticator::decode(&ap_req.authenticator.open(&part.key, usage::AP_REQ_AUTH)?)?;
        if authenticator.crealm != part.crealm || !authenticator.cname.same_as(&part.cname) {
            return Err(AuthError::kerberos("the authenticator names another client than the ticket"));
        }
        if (authenticator.ctime - secs).abs() > MAX_CLOCK_SKEW {
            return Err(AuthError::kerberos("clock skew too great between client and server"));
        }
        let mut mutual = ap_req.ap_options & AP_MUTUAL_REQUIRED != 0;
        match &authenticator.cksum {
            Some((gss::GSS_CHECKSUM_TYPE, c)) => {
                let (bnd, gss_flags) = gss::parse_authenticator_checksum(c)?;
                mutual |= gss_flags & gss::flags::MUTUAL != 0;
                self.check_bindings(&bnd)?;
            }
            _ if framing == Framing::Gss => {
                return Err(AuthError::kerberos("GSS AP-REQ without the 0x8003 authenticator checksum"));
            }
            _ => self.check_bindings(&[0; 16])?,
        }
        let initiator_key = authenticator.subkey.clone().unwrap_or_else(|| part.key.clone());
        let peer_seq = authenticator.seq_number.unwrap_or(0);
        self.identity = Some(ClientIdentity { domain: part.crealm.clone(), user: part.cname.to_string() });
        if !mutual {
            self.protection = Some(MessageProtection::new(initiator_key, false, false, peer_seq, peer_seq));
            return Ok(Vec::new());
        }
        let subkey = initiator_key.random_like()?;
        let mut seq_bytes = [0u8; 4];
        getrandom::fill(&mut seq_bytes).map_err(|_| AuthError::Random)?;
        let our_seq = u32::from_be_bytes(seq_bytes) & 0x3fff_ffff;
        let rep_part = EncApRepPart {
            ctime: authenticator.ctime,
            cusec: authenticator.cusec,
            subkey: Some(subkey.clone()),
            seq_number: Some(our_seq),
        };
        let enc = EncryptedData::seal(&part.key, usage::AP_REP_ENC_PART, &rep_part.encode(), None)?;
        self.protection = Some(MessageProtection::new(subkey, true, false, our_seq, peer_seq));
        let rep = ap_rep(&enc);
        Ok(match framing {
            Framing::Gss => gss::frame(TOK_AP_REP, &rep),
            Framing::Raw => rep,
        })
    }

    fn check_bindings(&self, bnd: &[u8; 16]) -> Result<(), AuthError> {
        let Some((bindings, policy)) = &self.channel_bindings else { return Ok(()) };
        if *bnd == [0; 16] {
            return match policy {
                ChannelBindingPolicy::Required => Err(AuthError::ChannelBindingsMismatch),
                ChannelBindingPolicy::WhenSupported => Ok(()),
            };
        }
        if constant_time_eq(bnd, &bindings.ntlm_hash()) { Ok(()) } else { Err(AuthError::ChannelBindingsMismatch) }
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
        self.protection.as_mut()
    }
}

impl AcceptorContext for KerberosAcceptor {
    /// Accepts the AP-REQ; returns the AP-REP (empty token when the client did not ask for mutual
    /// authentication is returned as `None`).
    fn step(&mut self, input: &[u8]) -> Result<Option<Vec<u8>>, AuthError> {
        if self.failed || self.protection.is_some() {
            return Err(AuthError::InvalidState("Kerberos context not expecting tokens"));
        }
        match self.accept(input) {
            Ok(out) => Ok((!out.is_empty()).then_some(out)),
            Err(e) => {
                self.failed = true;
                self.identity = None;
                self.protection = None;
                Err(e)
            }
        }
    }

    fn is_complete(&self) -> bool {
        self.protection.is_some()
    }

    fn client_identity(&self) -> Option<&ClientIdentity> {
        if self.is_complete() { self.identity.as_ref() } else { None }
    }

    fn wrap(&mut self, plaintext: &[u8]) -> Result<WrappedMessage, AuthError> {
        let p = self.protection.as_mut().ok_or(AuthError::InvalidState("wrap before completion"))?;
        let len = p.winrm_header_len();
        Ok(split_winrm(p.wrap(plaintext)?, len))
    }

    fn unwrap(&mut self, header: &[u8], data: &[u8]) -> Result<Vec<u8>, AuthError> {
        let p = self.protection.as_mut().ok_or(AuthError::InvalidState("unwrap before completion"))?;
        p.unwrap(&[header, data].concat())
    }
}
