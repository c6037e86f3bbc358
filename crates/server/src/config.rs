//! WinRM service settings: the knobs Windows keeps under `WSMan:\localhost\Service` and `…\Shell`.

use std::time::Duration;

/// Settings of the WinRM layer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServiceConfig {
    /// The machine name reported in faults (`f:WSManFault/@Machine`) and as the owner's domain when the user has
    /// none. Default `localhost`.
    pub machine_name: String,
    /// The URL path the endpoint answers on (WinRM's "application name"). Default `/wsman`. Requests to other
    /// paths get HTTP 404.
    pub path: String,
    /// WinRM `AllowUnencrypted`: accept Basic and unencrypted bodies over plain HTTP. Default `false`.
    pub allow_unencrypted: bool,
    /// `MaxEnvelopeSizekb`: the largest envelope accepted and produced. Default 500 (Windows 8/2012 and later).
    pub max_envelope_size_kb: u32,
    /// The IdleTimeOut of a shell whose client names none (Windows: 7200 s).
    pub idle_timeout: Duration,
    /// `MaxIdleTimeOut`: larger requested idle timeouts are lowered to it. Default 2147483.647 s (Windows').
    pub max_idle_timeout: Duration,
    /// The longest a Receive waits for output, whatever OperationTimeout the client asks. Default 180 s.
    pub max_operation_timeout: Duration,
    /// The Receive wait when the request carries no OperationTimeout. Default 60 s.
    pub default_operation_timeout: Duration,
    /// Bytes buffered per pool or command before the writer blocks (or, disconnected in Drop mode, old output is
    /// discarded). Default 1 MiB.
    pub output_buffer_bytes: usize,
    /// Shells one user may hold (`MaxShellsPerUser`). Default 30.
    pub max_shells_per_user: usize,
    /// Open enumeration contexts per server; the oldest is released beyond this. Default 256.
    pub max_enumeration_contexts: usize,
    /// How long a connected shell's client may send nothing (no Receive, no keep-alive, no other request to the
    /// shell) before the shell counts it as lost and becomes Disconnected on its own, its commands still running,
    /// so that a later client can Connect. A Receive waiting for output counts as the client being there.
    /// `None` never gives a client up. Default 240 s: PowerShell's `ServerDefaultKeepAliveTimeoutMs`
    /// (BaseTransportManager.cs), one minute above its client's 180 s operation timeout.
    pub client_keepalive_timeout: Option<Duration>,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            machine_name: "localhost".to_owned(),
            path: "/wsman".to_owned(),
            allow_unencrypted: false,
            max_envelope_size_kb: 500,
            idle_timeout: Duration::from_secs(7200),
            max_idle_timeout: Duration::from_millis(2_147_483_647),
            max_operation_timeout: Duration::from_secs(180),
            default_operation_timeout: Duration::from_secs(60),
            output_buffer_bytes: 1 << 20,
            max_shells_per_user: 30,
            max_enumeration_contexts: 256,
            client_keepalive_timeout: Some(Duration::from_secs(240)),
        }
    }
}

impl ServiceConfig {
    /// `MaxEnvelopeSizekb` in bytes.
    pub fn max_envelope_size(&self) -> usize {
        self.max_envelope_size_kb as usize * 1024
    }
}
