//! Talking to the KDC: the [`KdcTransport`] seam and its TCP implementation (RFC 4120 section 7.2.2: a 4-byte
//! big-endian length before each message). This is the one place of the crate that opens sockets; callers that
//! want their own transport (a KDC proxy, a test double) implement the trait.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::error::AuthError;
use crate::kerberos::error::KerberosError;

use super::config::Krb5Config;

/// The largest KDC reply accepted (tickets with large PACs stay far below).
pub const MAX_KDC_REPLY: usize = 1024 * 1024;

/// Sends one request to a KDC of `realm` and returns its reply (both without the TCP length prefix).
pub trait KdcTransport: Send {
    /// One request/reply exchange.
    fn exchange(&mut self, realm: &str, request: &[u8]) -> Result<Vec<u8>, AuthError>;
}

/// KDC over TCP: explicit `host:port` addresses, else the `kdc` entries of the realm in `krb5.conf`.
#[derive(Debug, Clone)]
pub struct TcpKdc {
    explicit: Vec<String>,
    config: Krb5Config,
    timeout: Duration,
}

impl TcpKdc {
    /// A transport using the KDCs `krb5.conf` names for each realm.
    pub fn from_config(config: Krb5Config) -> Self {
        Self { explicit: Vec::new(), config, timeout: Duration::from_secs(10) }
    }

    /// A transport that always uses these `host:port` addresses (port 88 when absent).
    pub fn explicit(addresses: Vec<String>) -> Self {
        let explicit =
            addresses.into_iter().map(|a| if a.contains(':') { a } else { format!("{a}:88") }).collect::<Vec<_>>();
        Self { explicit, config: Krb5Config::default(), timeout: Duration::from_secs(10) }
    }

    /// The connect/read/write timeout per KDC (default 10 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn exchange_with(&self, address: &str, request: &[u8]) -> std::io::Result<Vec<u8>> {
        let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
        for addr in address.to_socket_addrs()? {
            match TcpStream::connect_timeout(&addr, self.timeout) {
                Ok(mut stream) => {
                    stream.set_read_timeout(Some(self.timeout))?;
                    stream.set_write_timeout(Some(self.timeout))?;
                    let len = u32::try_from(request.len())
                        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "request too large"))?;
                    let mut framed = len.to_be_bytes().to_vec();
                    framed.extend_from_slice(request);
                    stream.write_all(&framed)?;
                    let mut len = [0u8; 4];
                    stream.read_exact(&mut len)?;
                    let len = u32::from_be_bytes(len) as usize;
                    if len > MAX_KDC_REPLY {
                        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "KDC reply too large"));
                    }
                    let mut reply = vec![0u8; len];
                    stream.read_exact(&mut reply)?;
                    return Ok(reply);
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

impl KdcTransport for TcpKdc {
    fn exchange(&mut self, realm: &str, request: &[u8]) -> Result<Vec<u8>, AuthError> {
        let addresses = if self.explicit.is_empty() { self.config.kdcs_of(realm)? } else { self.explicit.clone() };
        let mut errors = Vec::new();
        for address in &addresses {
            match self.exchange_with(address, request) {
                Ok(reply) => return Ok(reply),
                Err(e) => errors.push(format!("{address}: {e}")),
            }
        }
        Err(AuthError::Kerberos(KerberosError::KdcUnreachable { realm: realm.to_owned(), attempts: errors }))
    }
}
