//! The codec alone, no I/O: a client's Receive written as WinRM expects it, read back as a server would, answered
//! with a ReceiveResponse carrying output, and that answer read as the client does.
//!
//! `cargo run -p pssession-wsman --example receive_round_trip`

use bytes::Bytes;
use pssession_wsman::envelope::{Limits, Request, RequestBody, Response, ResponseBody, parse_request, parse_response};
use pssession_wsman::header::{Header, action};
use pssession_wsman::ops::Receive;
use pssession_wsman::receive::{CommandState, ReceiveResponse, Stream};

const SHELL: &str = "B6631D8E-65A0-49F2-9053-A1B156C95777";
const COMMAND: &str = "1A9C9F1C-2B5E-4C5B-8B0C-2F6E3E5D4C3B";
const RESOURCE: &str = "http://schemas.microsoft.com/powershell/Microsoft.PowerShell";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Client: a Receive on one command's stdout.
    let body = RequestBody::Receive(Receive { streams: "stdout".to_owned(), command_id: Some(COMMAND.to_owned()) });
    let header = Header::request(action::RECEIVE, "http://server01:5985/wsman", RESOURCE, "uuid:5F8D1E4B-1")
        .with_shell_id(SHELL)
        .with_max_envelope_size(512_000);
    let request = Request::new(header, body).to_bytes();
    println!("request: {} bytes\n{}\n", request.len(), String::from_utf8_lossy(&request));

    // Server: parse it (bounded by the limits), and answer with output and the command's end.
    let parsed = parse_request(&request, &Limits::default())?;
    let RequestBody::Receive(receive) = &parsed.body else { return Err("not a Receive".into()) };
    let answer = ReceiveResponse {
        streams: vec![Stream {
            name: receive.streams.clone(),
            command_id: receive.command_id.clone(),
            end: false,
            data: Bytes::from_static(b"PSRP fragments go here"),
        }],
        command_state: Some(CommandState {
            command_id: receive.command_id.clone(),
            state: "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done".to_owned(),
            exit_code: Some(0),
        }),
    };
    let response = Response::reply(&parsed.header, ResponseBody::Receive(answer), "uuid:9A7C2E11-2").to_bytes();

    // Client: read the answer back.
    match parse_response(&response, &Limits::default())?.body {
        ResponseBody::Receive(r) => {
            for stream in &r.streams {
                println!("stream {} of command {:?}: {:?}", stream.name, stream.command_id, stream.data);
            }
            println!("done: {}", r.command_state.is_some_and(|c| c.is_done()));
        }
        other => return Err(format!("unexpected answer {other:?}").into()),
    }
    Ok(())
}
