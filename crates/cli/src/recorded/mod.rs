//! Recorded WinRM traffic: loading traces, decoding them down to PSRP messages (`pssession trace decode`), and
//! replaying them against the library ([`replay`]).
//!
//! A trace is either the YAML format of pypsrp's recorded responses (a `messages` list of `request`/`response`
//! envelopes) or a directory of envelope files (`NAME.request.xml` / `NAME.response.xml` pairs, sorted by name;
//! a lone `*.xml` file is one side of an exchange, its role read from its Action).

mod decode;
mod render;
pub mod replay;

use std::fmt;
use std::path::Path;

use serde::Deserialize;

pub use decode::{DecodedEnvelope, DecodedExchange, DecodedMessage, DecodedTrace, Problem, RawStream, decode};
pub use render::{to_json, to_text};

/// One recorded exchange, undecoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawExchange {
    /// Where it came from (`FILE#INDEX` or the envelope file names), for error messages.
    pub location: String,
    /// The request envelope, if recorded.
    pub request: Option<String>,
    /// The response envelope; `None` when the server answered with no envelope (an HTTP error).
    pub response: Option<String>,
}

/// A recorded trace: exchanges in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// The file or directory it was read from.
    pub source: String,
    /// The exchanges in order.
    pub exchanges: Vec<RawExchange>,
}

/// Why a trace could not be read at all (decoding problems inside a readable trace are [`Problem`]s instead).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceError(pub String);

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TraceError {}

#[derive(Deserialize)]
struct YamlTrace {
    messages: Vec<YamlExchange>,
}

#[derive(Deserialize)]
struct YamlExchange {
    request: Option<String>,
    response: Option<String>,
}

impl Trace {
    /// Reads a YAML trace file or a directory of envelope files.
    pub fn load(path: &Path) -> Result<Trace, TraceError> {
        let source = path.display().to_string();
        if path.is_dir() {
            return Trace::from_directory(path);
        }
        let text = std::fs::read_to_string(path).map_err(|e| TraceError(format!("cannot read {source}: {e}")))?;
        Trace::from_yaml(&text, &source)
    }

    /// Parses the YAML trace format (`messages: [{request, response}]`).
    pub fn from_yaml(text: &str, source: &str) -> Result<Trace, TraceError> {
        let parsed: YamlTrace =
            serde_yaml_ng::from_str(text).map_err(|e| TraceError(format!("{source} is not a YAML trace: {e}")))?;
        let exchanges = parsed
            .messages
            .into_iter()
            .enumerate()
            .map(|(i, m)| RawExchange { location: format!("{source}#{i}"), request: m.request, response: m.response })
            .collect();
        Ok(Trace { source: source.to_owned(), exchanges })
    }

    /// Reads a directory of envelope files.
    pub fn from_directory(dir: &Path) -> Result<Trace, TraceError> {
        let source = dir.display().to_string();
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map_err(|e| TraceError(format!("cannot list {source}: {e}")))?
            .filter_map(|entry| entry.ok())
            .filter(|entry| entry.path().is_file())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".xml"))
            .collect();
        names.sort();
        if names.is_empty() {
            return Err(TraceError(format!("{source} holds no *.xml envelope files")));
        }
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name)).map_err(|e| TraceError(format!("cannot read {source}/{name}: {e}")))
        };
        let mut exchanges = Vec::new();
        for name in &names {
            if let Some(stem) = name.strip_suffix(".request.xml") {
                let response_name = format!("{stem}.response.xml");
                let response = if names.contains(&response_name) { Some(read(&response_name)?) } else { None };
                exchanges.push(RawExchange {
                    location: format!("{source}/{stem}"),
                    request: Some(read(name)?),
                    response,
                });
            } else if let Some(stem) = name.strip_suffix(".response.xml") {
                if !names.contains(&format!("{stem}.request.xml")) {
                    exchanges.push(RawExchange {
                        location: format!("{source}/{stem}"),
                        request: None,
                        response: Some(read(name)?),
                    });
                }
            } else {
                let text = read(name)?;
                let is_response = decode::looks_like_response(&text);
                exchanges.push(RawExchange {
                    location: format!("{source}/{name}"),
                    request: (!is_response).then(|| text.clone()),
                    response: is_response.then_some(text),
                });
            }
        }
        Ok(Trace { source, exchanges })
    }
}
