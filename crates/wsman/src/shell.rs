//! `rsp:Shell` properties as Windows reports them (CreateResponse, Get, Enumerate) and their exact text forms.

use std::fmt;

use crate::duration::XsDuration;
use crate::error::EnvelopeError;
use crate::header::ns;
use crate::xml::{Element, Writer};

/// Output buffering mode of a disconnected shell (`rsp:BufferMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BufferMode {
    /// The pipeline blocks when the buffer is full (Windows' default).
    Block,
    /// The oldest output is dropped when the buffer is full.
    Drop,
}

impl BufferMode {
    /// The wire text (`Block`, `Drop`).
    pub fn as_str(self) -> &'static str {
        match self {
            BufferMode::Block => "Block",
            BufferMode::Drop => "Drop",
        }
    }

    /// Parses the wire text (case-insensitive).
    pub fn parse(text: &str) -> Result<Self, EnvelopeError> {
        match text.trim() {
            t if t.eq_ignore_ascii_case("Block") => Ok(BufferMode::Block),
            t if t.eq_ignore_ascii_case("Drop") => Ok(BufferMode::Drop),
            t => Err(EnvelopeError::InvalidValue { field: "BufferMode", value: t.to_owned() }),
        }
    }
}

impl fmt::Display for BufferMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `rsp:State` of a shell.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ShellState {
    /// A client is connected.
    Connected,
    /// No client is connected; the shell can be connected to (Get-PSSession Availability `None`).
    Disconnected,
    /// Any other text.
    Other(String),
}

impl ShellState {
    /// The wire text.
    pub fn as_str(&self) -> &str {
        match self {
            ShellState::Connected => "Connected",
            ShellState::Disconnected => "Disconnected",
            ShellState::Other(s) => s,
        }
    }

    /// Reads the wire text.
    pub fn parse(text: &str) -> Self {
        match text.trim() {
            "Connected" => ShellState::Connected,
            "Disconnected" => ShellState::Disconnected,
            t => ShellState::Other(t.to_owned()),
        }
    }
}

/// One `rsp:Variable` of `rsp:Environment`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentVariable {
    /// The `Name` attribute.
    pub name: String,
    /// The text.
    pub value: String,
}

/// The properties of a shell (MS-WSMV 2.2.4.37 `ShellType`), in Windows' element order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShellProperties {
    /// `rsp:ShellId`.
    pub shell_id: String,
    /// `rsp:Name` (required by PowerShell's Get-PSSession).
    pub name: Option<String>,
    /// `rsp:ResourceUri`.
    pub resource_uri: Option<String>,
    /// `rsp:Owner` (`DOMAIN\user`).
    pub owner: Option<String>,
    /// `rsp:ClientIP`.
    pub client_ip: Option<String>,
    /// `rsp:ProcessId`.
    pub process_id: Option<u32>,
    /// `rsp:Environment`.
    pub environment: Vec<EnvironmentVariable>,
    /// `rsp:WorkingDirectory`.
    pub working_directory: Option<String>,
    /// `rsp:Lifetime`.
    pub lifetime: Option<XsDuration>,
    /// `rsp:IdleTimeOut` (`PT7200.000S`).
    pub idle_timeout: Option<XsDuration>,
    /// `rsp:InputStreams` (`stdin pr`).
    pub input_streams: Option<String>,
    /// `rsp:OutputStreams` (`stdout`).
    pub output_streams: Option<String>,
    /// `rsp:MaxIdleTimeOut` (`PT2147483.647S`).
    pub max_idle_timeout: Option<XsDuration>,
    /// `rsp:Locale`.
    pub locale: Option<String>,
    /// `rsp:DataLocale`.
    pub data_locale: Option<String>,
    /// `rsp:CompressionMode` (`NoCompression`, `XpressCompression`).
    pub compression_mode: Option<String>,
    /// `rsp:ProfileLoaded` (`Yes`/`No`).
    pub profile_loaded: Option<String>,
    /// `rsp:Encoding` (`UTF8`).
    pub encoding: Option<String>,
    /// `rsp:BufferMode`.
    pub buffer_mode: Option<BufferMode>,
    /// `rsp:State`.
    pub state: Option<ShellState>,
    /// `rsp:ShellRunTime` (`P0DT0H1M2S`).
    pub shell_run_time: Option<XsDuration>,
    /// `rsp:ShellInactivity` (`P0DT0H1M2S`).
    pub shell_inactivity: Option<XsDuration>,
    /// `rsp:MemoryUsed` (`46MB`; Get and Enumerate only).
    pub memory_used: Option<String>,
    /// `rsp:ChildProcesses` (Get and Enumerate only).
    pub child_processes: Option<u32>,
}

fn text_of(el: &Element, local: &str) -> Option<String> {
    el.child(ns::SHELL, local).map(|c| c.text.trim().to_owned())
}

fn duration_of(el: &Element, local: &'static str) -> Result<Option<XsDuration>, EnvelopeError> {
    match el.child_ci(ns::SHELL, local) {
        None => Ok(None),
        Some(c) => XsDuration::parse(&c.text)
            .map(Some)
            .map_err(|_| EnvelopeError::InvalidValue { field: local, value: c.text.clone() }),
    }
}

fn number_of<T: std::str::FromStr>(el: &Element, local: &'static str) -> Result<Option<T>, EnvelopeError> {
    match el.child(ns::SHELL, local) {
        None => Ok(None),
        Some(c) => c
            .text
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| EnvelopeError::InvalidValue { field: local, value: c.text.clone() }),
    }
}

pub(crate) fn parse_environment(el: &Element) -> Vec<EnvironmentVariable> {
    el.child(ns::SHELL, "Environment")
        .map(|env| {
            env.children_named(ns::SHELL, "Variable")
                .map(|v| EnvironmentVariable {
                    name: v.attr("Name").unwrap_or_default().to_owned(),
                    value: v.text.clone(),
                })
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn write_environment(w: &mut Writer<'_>, vars: &[EnvironmentVariable]) {
    if vars.is_empty() {
        return;
    }
    w.open("rsp:Environment", &[]);
    for v in vars {
        w.leaf("rsp:Variable", &[("Name", &v.name)], &v.value);
    }
    w.close("rsp:Environment");
}

impl ShellProperties {
    /// Reads an `rsp:Shell` element of a response.
    pub(crate) fn from_element(el: &Element) -> Result<Self, EnvelopeError> {
        Ok(ShellProperties {
            shell_id: text_of(el, "ShellId").ok_or(EnvelopeError::MissingElement("ShellId"))?,
            name: text_of(el, "Name"),
            resource_uri: text_of(el, "ResourceUri"),
            owner: text_of(el, "Owner"),
            client_ip: text_of(el, "ClientIP"),
            process_id: number_of(el, "ProcessId")?,
            environment: parse_environment(el),
            working_directory: text_of(el, "WorkingDirectory"),
            lifetime: duration_of(el, "Lifetime")?,
            idle_timeout: duration_of(el, "IdleTimeOut")?,
            input_streams: text_of(el, "InputStreams"),
            output_streams: text_of(el, "OutputStreams"),
            max_idle_timeout: duration_of(el, "MaxIdleTimeOut")?,
            locale: text_of(el, "Locale"),
            data_locale: text_of(el, "DataLocale"),
            compression_mode: text_of(el, "CompressionMode"),
            profile_loaded: text_of(el, "ProfileLoaded"),
            encoding: text_of(el, "Encoding"),
            buffer_mode: el.child(ns::SHELL, "BufferMode").map(|c| BufferMode::parse(&c.text)).transpose()?,
            state: el.child(ns::SHELL, "State").map(|c| ShellState::parse(&c.text)),
            shell_run_time: duration_of(el, "ShellRunTime")?,
            shell_inactivity: duration_of(el, "ShellInactivity")?,
            memory_used: text_of(el, "MemoryUsed"),
            child_processes: number_of(el, "ChildProcesses")?,
        })
    }

    /// Writes `<rsp:Shell xmlns:rsp="…">…</rsp:Shell>` as Windows does.
    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        w.open("rsp:Shell", &[("xmlns:rsp", ns::SHELL)]);
        w.leaf("rsp:ShellId", &[], &self.shell_id);
        w.opt_leaf("rsp:Name", self.name.as_deref());
        w.opt_leaf("rsp:ResourceUri", self.resource_uri.as_deref());
        w.opt_leaf("rsp:Owner", self.owner.as_deref());
        w.opt_leaf("rsp:ClientIP", self.client_ip.as_deref());
        w.opt_leaf("rsp:ProcessId", self.process_id.map(|p| p.to_string()).as_deref());
        write_environment(w, &self.environment);
        w.opt_leaf("rsp:WorkingDirectory", self.working_directory.as_deref());
        w.opt_leaf("rsp:Lifetime", self.lifetime.map(XsDuration::to_seconds_string).as_deref());
        w.opt_leaf("rsp:IdleTimeOut", self.idle_timeout.map(XsDuration::to_seconds_string).as_deref());
        w.opt_leaf("rsp:InputStreams", self.input_streams.as_deref());
        w.opt_leaf("rsp:OutputStreams", self.output_streams.as_deref());
        w.opt_leaf("rsp:MaxIdleTimeOut", self.max_idle_timeout.map(XsDuration::to_seconds_string).as_deref());
        w.opt_leaf("rsp:Locale", self.locale.as_deref());
        w.opt_leaf("rsp:DataLocale", self.data_locale.as_deref());
        w.opt_leaf("rsp:CompressionMode", self.compression_mode.as_deref());
        w.opt_leaf("rsp:ProfileLoaded", self.profile_loaded.as_deref());
        w.opt_leaf("rsp:Encoding", self.encoding.as_deref());
        w.opt_leaf("rsp:BufferMode", self.buffer_mode.map(BufferMode::as_str));
        w.opt_leaf("rsp:State", self.state.as_ref().map(ShellState::as_str));
        w.opt_leaf("rsp:ShellRunTime", self.shell_run_time.map(XsDuration::to_dhms_string).as_deref());
        w.opt_leaf("rsp:ShellInactivity", self.shell_inactivity.map(XsDuration::to_dhms_string).as_deref());
        w.opt_leaf("rsp:MemoryUsed", self.memory_used.as_deref());
        w.opt_leaf("rsp:ChildProcesses", self.child_processes.map(|c| c.to_string()).as_deref());
        w.close("rsp:Shell");
    }
}
