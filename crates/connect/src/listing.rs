//! What Get-PSSession -ComputerName finds: [`SessionInfo`] per session with its [`ShellInfo`] and commands
//! ([`CommandInfo`]), and the [`SessionFilter`] that selects them.

use std::time::Duration;

use pssession_wsman::shell::{ShellProperties, ShellState};
use uuid::Uuid;

use crate::state::{Availability, SessionState};

/// What the server reports about a session's shell (Create, Get, Enumerate).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShellInfo {
    /// ShellId.
    pub shell_id: Option<Uuid>,
    /// Name.
    pub name: Option<String>,
    /// ResourceUri.
    pub resource_uri: Option<String>,
    /// Owner.
    pub owner: Option<String>,
    /// ClientIP.
    pub client_ip: Option<String>,
    /// State (`Connected`, `Disconnected`).
    pub state: Option<String>,
    /// IdleTimeOut.
    pub idle_timeout: Option<Duration>,
    /// MaxIdleTimeOut.
    pub max_idle_timeout: Option<Duration>,
    /// BufferMode.
    pub buffer_mode: Option<String>,
    /// ShellInactivity.
    pub shell_inactivity: Option<Duration>,
    /// ShellRunTime.
    pub shell_run_time: Option<Duration>,
    /// Locale.
    pub locale: Option<String>,
    /// DataLocale.
    pub data_locale: Option<String>,
}

impl ShellInfo {
    /// What this library keeps of the shell properties the server reported.
    pub fn from_properties(properties: &ShellProperties) -> Self {
        let duration = |d: Option<pssession_wsman::duration::XsDuration>| d.map(|d| d.to_std());
        ShellInfo {
            shell_id: Uuid::parse_str(properties.shell_id.trim()).ok(),
            name: properties.name.clone(),
            resource_uri: properties.resource_uri.clone(),
            owner: properties.owner.clone(),
            client_ip: properties.client_ip.clone(),
            state: properties.state.as_ref().map(|s| match s {
                ShellState::Connected => "Connected".to_owned(),
                ShellState::Disconnected => "Disconnected".to_owned(),
                other => other.as_str().to_owned(),
            }),
            idle_timeout: duration(properties.idle_timeout),
            max_idle_timeout: duration(properties.max_idle_timeout),
            buffer_mode: properties.buffer_mode.map(|m| m.as_str().to_owned()),
            shell_inactivity: duration(properties.shell_inactivity),
            shell_run_time: duration(properties.shell_run_time),
            locale: properties.locale.clone(),
            data_locale: properties.data_locale.clone(),
        }
    }
}

/// A command (pipeline) of a session, as a command enumeration reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandInfo {
    /// CommandId.
    pub command_id: Uuid,
    /// CommandLine.
    pub command_line: String,
    /// CommandState (`Running`, `Done`, …).
    pub state: String,
}

/// A session as Get-PSSession -ComputerName reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// InstanceId (= ShellId = RunspacePool id).
    pub instance_id: Uuid,
    /// Name.
    pub name: String,
    /// The computer, as the client named it.
    pub computer_name: String,
    /// ConfigurationName (without the prefix).
    pub configuration_name: String,
    /// State relative to this client.
    pub state: SessionState,
    /// Availability.
    pub availability: Availability,
    /// What the server reported about the shell.
    pub shell: ShellInfo,
    /// Commands (pipelines) of the session.
    pub commands: Vec<CommandInfo>,
}

/// Which sessions Get-PSSession returns (`-Name`, `-InstanceId`, `-ConfigurationName`, `-State`). Empty lists
/// match everything; names may use the `*` and `?` wildcards and ignore case, like PowerShell's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionFilter {
    /// Names (wildcards allowed). A session without a name (one made by another tool) matches none, not even `*`.
    pub names: Vec<String>,
    /// InstanceIds.
    pub instance_ids: Vec<Uuid>,
    /// Configuration names (wildcards allowed; the `http://schemas.microsoft.com/powershell/` prefix is optional).
    pub configuration_names: Vec<String>,
    /// State wanted (`-State`). Sessions listed from a computer are all `Disconnected` relative to this client, so
    /// any other state selects none of them.
    pub state: Option<SessionState>,
    /// Availability wanted (`None` = connectable, `Busy` = connected to another client).
    pub availability: Option<Availability>,
}

impl SessionFilter {
    /// Whether `info` passes the filter.
    pub fn matches(&self, info: &SessionInfo) -> bool {
        (self.names.is_empty() || (!info.name.is_empty() && self.names.iter().any(|n| wildcard_match(n, &info.name))))
            && (self.instance_ids.is_empty() || self.instance_ids.contains(&info.instance_id))
            && (self.configuration_names.is_empty()
                || self.configuration_names.iter().any(|c| {
                    let c = c.strip_prefix(crate::options::RESOURCE_URI_PREFIX).unwrap_or(c);
                    wildcard_match(c, &info.configuration_name)
                }))
            && self.state.is_none_or(|s| s == info.state)
            && self.availability.is_none_or(|a| a == info.availability)
    }
}

/// PowerShell-style wildcard matching (`*`, `?`), ignoring ASCII case.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().map(|c| c.to_ascii_lowercase()).collect();
    let t: Vec<char> = text.chars().map(|c| c.to_ascii_lowercase()).collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_like_powershell() {
        assert!(wildcard_match("IT*", "ITTask"));
        assert!(wildcard_match("*task", "ITTask"));
        assert!(wildcard_match("I?T*k", "ITTask"));
        assert!(wildcard_match("*", ""));
        assert!(!wildcard_match("IT", "ITTask"));
        assert!(!wildcard_match("?", ""));
    }

    #[test]
    fn filters_like_get_pssession() {
        let info = SessionInfo {
            instance_id: Uuid::from_u128(5),
            name: "ITTask".to_owned(),
            computer_name: "s".to_owned(),
            configuration_name: "ITTasks".to_owned(),
            state: SessionState::Disconnected,
            availability: Availability::Busy,
            shell: ShellInfo::default(),
            commands: Vec::new(),
        };
        assert!(SessionFilter::default().matches(&info));
        let f = |filter: SessionFilter| filter.matches(&info);
        assert!(f(SessionFilter {
            configuration_names: vec!["http://schemas.microsoft.com/powershell/IT*".to_owned()],
            ..Default::default()
        }));
        assert!(!f(SessionFilter {
            configuration_names: vec!["Microsoft.PowerShell".to_owned()],
            ..Default::default()
        }));
        assert!(f(SessionFilter { instance_ids: vec![Uuid::from_u128(5)], ..Default::default() }));
        assert!(!f(SessionFilter { instance_ids: vec![Uuid::from_u128(6)], ..Default::default() }));
        assert!(f(SessionFilter { state: Some(SessionState::Disconnected), ..Default::default() }));
        assert!(!f(SessionFilter { state: Some(SessionState::Opened), ..Default::default() }));
        assert!(!f(SessionFilter { availability: Some(Availability::None), ..Default::default() }));
        assert!(f(SessionFilter { names: vec!["x".to_owned(), "itt?sk".to_owned()], ..Default::default() }));
    }
}
