//! Where a WinRM endpoint is: the URI rules of Connect-PSSession's `-ComputerName`/`-Port`/`-UseSSL`/
//! `-ApplicationName` and `-ConnectionUri` parameters (PowerShell's `WSManConnectionInfo`).
//!
//! * `-ComputerName` builds `<scheme>://<host>:<port>/<application>`: port 0 or none means WinRM's default, 5985 for
//!   HTTP and 5986 for HTTPS; the application name defaults to `wsman`; IPv6 literals are bracketed.
//! * `-ConnectionUri` must be absolute with scheme `http` or `https`; a URI without a port uses **80/443** (not
//!   5985/5986); a URI whose path is `/` and has no query gets the path `/wsman`; any other path is kept verbatim.

use std::fmt;
use std::net::Ipv6Addr;

use http::Uri;
use http::uri::{Authority, PathAndQuery, Scheme};

/// WinRM's default HTTP port.
pub const DEFAULT_HTTP_PORT: u16 = 5985;
/// WinRM's default HTTPS port.
pub const DEFAULT_HTTPS_PORT: u16 = 5986;
/// The default application name (the URI path).
pub const DEFAULT_APPLICATION_NAME: &str = "wsman";

/// A resolved WinRM endpoint address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointUri {
    uri: Uri,
    tls: bool,
    host: String,
    port: u16,
}

impl EndpointUri {
    /// The endpoint of `-ComputerName` with `-Port` (0 or `None` for the default), `-UseSSL` and
    /// `-ApplicationName` (`None` for `wsman`).
    pub fn from_computer_name(
        computer_name: &str,
        port: Option<u16>,
        use_ssl: bool,
        application_name: Option<&str>,
    ) -> Result<Self, UriError> {
        let host = computer_name.trim();
        if host.is_empty() {
            return Err(UriError::EmptyComputerName);
        }
        let port = match port {
            None | Some(0) if use_ssl => DEFAULT_HTTPS_PORT,
            None | Some(0) => DEFAULT_HTTP_PORT,
            Some(port) => port,
        };
        let application = application_name.map(|a| a.trim().trim_matches('/')).unwrap_or(DEFAULT_APPLICATION_NAME);
        let application = if application.is_empty() { DEFAULT_APPLICATION_NAME } else { application };
        let scheme = if use_ssl { "https" } else { "http" };
        let text = format!("{scheme}://{}:{port}/{application}", bracket_ipv6(host));
        let uri: Uri = text.parse().map_err(|_| UriError::Invalid(text.clone()))?;
        Self::resolved(uri)
    }

    /// The endpoint of `-ConnectionUri`.
    pub fn from_connection_uri(connection_uri: &str) -> Result<Self, UriError> {
        let text = connection_uri.trim();
        let uri: Uri = text.parse().map_err(|_| UriError::Invalid(text.to_owned()))?;
        let scheme = uri.scheme().ok_or_else(|| UriError::NotAbsolute(text.to_owned()))?.clone();
        let tls = scheme_is_tls(&scheme).ok_or_else(|| UriError::UnsupportedScheme(scheme.to_string()))?;
        let authority = uri.authority().ok_or_else(|| UriError::NotAbsolute(text.to_owned()))?;
        if authority.host().is_empty() {
            return Err(UriError::NotAbsolute(text.to_owned()));
        }
        let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let path_and_query = match uri.path_and_query() {
            Some(pq) if pq.path() == "/" && pq.query().is_none() => PathAndQuery::from_static("/wsman"),
            Some(pq) => pq.clone(),
            None => PathAndQuery::from_static("/wsman"),
        };
        let authority: Authority =
            format!("{}:{port}", authority.host()).parse().map_err(|_| UriError::Invalid(text.to_owned()))?;
        let uri = Uri::builder()
            .scheme(scheme)
            .authority(authority)
            .path_and_query(path_and_query)
            .build()
            .map_err(|_| UriError::Invalid(text.to_owned()))?;
        Self::resolved(uri)
    }

    /// Validates an absolute URI that already has its port and path, e.g. a redirect's `Location`.
    pub fn from_absolute(uri: Uri) -> Result<Self, UriError> {
        let text = uri.to_string();
        if uri.authority().and_then(Authority::port_u16).is_none() {
            return Self::from_connection_uri(&text);
        }
        Self::resolved(uri)
    }

    fn resolved(uri: Uri) -> Result<Self, UriError> {
        let text = uri.to_string();
        let tls = uri
            .scheme()
            .and_then(scheme_is_tls)
            .ok_or_else(|| UriError::UnsupportedScheme(uri.scheme_str().unwrap_or_default().to_owned()))?;
        let authority = uri.authority().ok_or_else(|| UriError::NotAbsolute(text.clone()))?;
        let port = authority.port_u16().ok_or_else(|| UriError::Invalid(text.clone()))?;
        let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_owned();
        Ok(EndpointUri { uri, tls, host, port })
    }

    /// The full URI requests are posted to.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// Whether the endpoint uses HTTPS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Host name or address, without IPv6 brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The `host:port` (IPv6 bracketed) used in the Host header and in a proxy CONNECT.
    pub fn authority(&self) -> String {
        format!("{}:{}", bracket_ipv6(&self.host), self.port)
    }

    /// The path and query requests are posted to.
    pub fn path_and_query(&self) -> &str {
        self.uri.path_and_query().map_or("/wsman", PathAndQuery::as_str)
    }
}

impl fmt::Display for EndpointUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.uri.fmt(f)
    }
}

fn scheme_is_tls(scheme: &Scheme) -> Option<bool> {
    match scheme.as_str().to_ascii_lowercase().as_str() {
        "http" => Some(false),
        "https" => Some(true),
        _ => None,
    }
}

fn bracket_ipv6(host: &str) -> String {
    if host.parse::<Ipv6Addr>().is_ok() { format!("[{host}]") } else { host.to_owned() }
}

/// Why an endpoint address was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UriError {
    /// `-ComputerName` was empty.
    EmptyComputerName,
    /// The text is not a URI.
    Invalid(String),
    /// `-ConnectionUri` must be absolute (`<scheme>://<host>[:<port>]/<application>`).
    NotAbsolute(String),
    /// Only `http` and `https` are WinRM transports (PowerShell's `InvalidSchemeValue`).
    UnsupportedScheme(String),
}

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UriError::EmptyComputerName => f.write_str("the computer name is empty"),
            UriError::Invalid(text) => write!(f, "{text:?} is not a valid URI"),
            UriError::NotAbsolute(text) => {
                write!(f, "{text:?} is not an absolute URI; use <scheme>://<computer>:<port>/<application>")
            }
            UriError::UnsupportedScheme(scheme) => {
                write!(f, "the scheme {scheme:?} is not supported; the transport must be http or https")
            }
        }
    }
}

impl std::error::Error for UriError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn computer(name: &str, port: Option<u16>, ssl: bool, app: Option<&str>) -> String {
        EndpointUri::from_computer_name(name, port, ssl, app).unwrap().to_string()
    }

    fn connection(uri: &str) -> String {
        EndpointUri::from_connection_uri(uri).unwrap().to_string()
    }

    #[test]
    fn computer_name_uses_winrm_default_ports_and_application() {
        assert_eq!(computer("server01", None, false, None), "http://server01:5985/wsman");
        assert_eq!(computer("server01", Some(0), true, None), "https://server01:5986/wsman");
        assert_eq!(computer("server01", Some(8080), false, Some("/custom/")), "http://server01:8080/custom");
        assert_eq!(computer("::1", None, true, None), "https://[::1]:5986/wsman");
        assert_eq!(computer("192.0.2.7", None, false, None), "http://192.0.2.7:5985/wsman");
        assert_eq!(EndpointUri::from_computer_name(" ", None, false, None), Err(UriError::EmptyComputerName));
    }

    #[test]
    fn connection_uri_without_port_uses_80_and_443() {
        assert_eq!(connection("http://server01"), "http://server01:80/wsman");
        assert_eq!(connection("https://server01/"), "https://server01:443/wsman");
        assert_eq!(connection("http://localhost:5985/WSMAN"), "http://localhost:5985/WSMAN");
        assert_eq!(connection("https://[2001:db8::1]:5986/wsman"), "https://[2001:db8::1]:5986/wsman");
        assert_eq!(connection("http://s:1/?PSVersion=7.4"), "http://s:1/?PSVersion=7.4");
        assert_eq!(connection("http://s:1/app/sub"), "http://s:1/app/sub");
        let ipv6 = EndpointUri::from_connection_uri("https://[2001:db8::1]/").unwrap();
        assert_eq!((ipv6.host(), ipv6.port(), ipv6.authority().as_str()), ("2001:db8::1", 443, "[2001:db8::1]:443"));
    }

    #[test]
    fn connection_uri_must_be_absolute_http_or_https() {
        assert!(matches!(EndpointUri::from_connection_uri("ftp://server01/"), Err(UriError::UnsupportedScheme(_))));
        assert!(matches!(EndpointUri::from_connection_uri("/wsman"), Err(UriError::NotAbsolute(_))));
        assert!(EndpointUri::from_connection_uri("server01:5985").is_err());
        assert!(matches!(EndpointUri::from_connection_uri("http://exa mple/"), Err(UriError::Invalid(_))));
    }
}
