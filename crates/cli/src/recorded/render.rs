//! Text and JSON renderings of a decoded trace (`pssession trace decode`).

use std::fmt::Write as _;

use pssession_format::{FormatOptions, Formatter};
use pssession_psrp::{Destination, MessageType};
use serde_json::{Value, json};
use uuid::Uuid;

use super::decode::{DecodedEnvelope, DecodedMessage, DecodedTrace};

/// A GUID in canonical upper-case form.
fn guid(id: Uuid) -> String {
    id.hyphenated().to_string().to_uppercase()
}

fn destination(d: Destination) -> &'static str {
    match d {
        Destination::Client => "Client",
        Destination::Server => "Server",
    }
}

/// A PIPELINE_OUTPUT body as PowerShell's host would show it (each message on its own, 120 columns wide),
/// without the blank lines around tables.
fn output_text(m: &DecodedMessage) -> Option<String> {
    if m.message_type != MessageType::PipelineOutput {
        return None;
    }
    let mut formatter = Formatter::new(FormatOptions::default());
    let mut text = String::new();
    formatter.write(&m.body, &mut text);
    formatter.finish(&mut text);
    Some(text.trim_matches('\n').to_owned())
}

fn message_json(m: &DecodedMessage) -> Value {
    let mut value = message_json_fields(m);
    if let (Some(text), Value::Object(map)) = (output_text(m), &mut value) {
        map.insert("output_text".to_owned(), Value::String(text));
    }
    value
}

fn message_json_fields(m: &DecodedMessage) -> Value {
    json!({
        "type": m.message_type.spec_name(),
        "destination": destination(m.destination),
        "rpid": guid(m.rpid),
        "pid": guid(m.pid),
        "object_id": m.object_id,
        "stream": m.stream,
        "body": m.body.to_json(),
    })
}

fn envelope_json(e: Option<&DecodedEnvelope>) -> Value {
    let Some(e) = e else { return Value::Null };
    let mut object = json!({
        "action": e.action,
        "resource_uri": e.resource_uri,
        "shell_id": e.shell_id,
        "command_id": e.command_id,
        "fault_code": e.fault_code,
        "messages": e.messages.iter().map(message_json).collect::<Vec<_>>(),
    });
    if !e.invalid_headers.is_empty() {
        object["invalid_headers"] =
            e.invalid_headers.iter().map(|(h, v)| (h.clone(), Value::String(v.clone()))).collect();
    }
    if !e.streams.is_empty() {
        object["streams"] = e
            .streams
            .iter()
            .map(|s| json!({"name": s.name, "command_id": s.command_id, "text": String::from_utf8_lossy(&s.data)}))
            .collect();
    }
    object
}

/// The JSON document of `--output json`: a list of exchanges, each with `request` and `response` objects (`null`
/// when not recorded or not parsable — the latter is listed in [`DecodedTrace::problems`]).
pub fn to_json(trace: &DecodedTrace) -> Value {
    trace
        .exchanges
        .iter()
        .map(|x| json!({"request": envelope_json(x.request.as_ref()), "response": envelope_json(x.response.as_ref())}))
        .collect()
}

/// The last segment of an Action URI (`…/shell/Receive` → `Receive`).
fn short(action: &str) -> &str {
    action.rsplit('/').next().unwrap_or(action)
}

fn message_line(out: &mut String, m: &DecodedMessage, full: bool) {
    let arrow = match m.destination {
        Destination::Server => "->",
        Destination::Client => "<-",
    };
    let _ = write!(
        out,
        "    {arrow} {:<26} to {:<6} RPID {} PID {} ObjectId {} [{}]",
        m.message_type.spec_name(),
        destination(m.destination),
        guid(m.rpid),
        guid(m.pid),
        m.object_id,
        m.stream
    );
    if m.bom {
        out.push_str(" BOM");
    }
    out.push('\n');
    if full {
        let _ = writeln!(out, "       {}", m.body.to_json());
    }
    if let Some(text) = output_text(m) {
        for line in text.lines() {
            let _ = writeln!(out, "       | {line}");
        }
    }
}

/// The text rendering: one line per exchange (request Action URI, ResourceURI, target; then the response's
/// Action or fault code), then its PSRP messages indented; `full` adds each message's body as JSON.
pub fn to_text(trace: &DecodedTrace, full: bool) -> String {
    let mut out = String::new();
    for x in &trace.exchanges {
        let _ = write!(out, "#{}", x.index);
        match &x.request {
            Some(r) => {
                let _ = write!(out, " {}", r.action);
                if let Some(resource) = &r.resource_uri {
                    let _ = write!(out, " {resource}");
                }
                if let Some(shell) = &r.shell_id {
                    let _ = write!(out, " ShellId={shell}");
                }
                if let Some(command) = &r.command_id {
                    let _ = write!(out, " CommandId={command}");
                }
                for (header, value) in &r.invalid_headers {
                    let _ = write!(out, " (invalid {header} {value:?})");
                }
            }
            None => out.push_str(" (no request)"),
        }
        match &x.response {
            Some(r) => match r.fault_code {
                Some(code) => {
                    let _ = write!(out, " => fault {code} (0x{code:08X})");
                }
                None if r.action.ends_with("/fault") => {
                    let _ = write!(out, " => fault");
                }
                None => {
                    let _ = write!(out, " => {}", short(&r.action));
                }
            },
            None if x.response_recorded => out.push_str(" => (unreadable response)"),
            None => out.push_str(" => (no response envelope)"),
        }
        out.push('\n');
        for envelope in [&x.request, &x.response].into_iter().flatten() {
            for m in &envelope.messages {
                message_line(&mut out, m, full);
            }
            for s in &envelope.streams {
                let _ = write!(out, "    {} {} bytes", s.name, s.data.len());
                if let Some(command) = &s.command_id {
                    let _ = write!(out, " CommandId={command}");
                }
                if full {
                    let _ = write!(out, ": {:?}", String::from_utf8_lossy(&s.data));
                }
                out.push('\n');
            }
        }
    }
    out
}
