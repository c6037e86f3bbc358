//! Envelope size accounting: how many PSRP payload bytes fit one Send, Command or Create under the negotiated
//! `MaxEnvelopeSize`.
//!
//! The skeleton (the envelope with an empty payload) is measured exactly as [`crate::envelope::Request::write`]
//! produces it; the room left, minus a [`SAFETY_MARGIN`], is divided by base64's 4/3 growth. Windows refuses an
//! envelope larger than the MaxEnvelopeSize it advertised (`153600` bytes before Windows 8/2012, `512000` after),
//! answering `w:EncodingLimit`.

use bytes::Bytes;

use crate::envelope::{Request, RequestBody};
use crate::header::Header;
use crate::ops::{CommandLine, CreateShell, Send, SendStream};

/// Windows' MaxEnvelopeSize before Windows 8/2012 (150 KiB) and pypsrp's starting value.
pub const MAX_ENVELOPE_SIZE_LEGACY: usize = 153_600;
/// Windows' default MaxEnvelopeSize since Windows 8/2012 (500 KiB).
pub const MAX_ENVELOPE_SIZE_DEFAULT: usize = 512_000;
/// The smallest MaxEnvelopeSize a server accepts (below it: `w:EncodingLimit`).
pub const MIN_ENVELOPE_SIZE: usize = 8192;
/// Bytes kept free below the limit for header variations (a longer MessageID, an added option), as pypsrp does.
pub const SAFETY_MARGIN: usize = 256;

/// Raw bytes whose base64 text fits in `room` bytes.
pub const fn base64_capacity(room: usize) -> usize {
    room / 4 * 3
}

/// Payload bytes that fit an envelope of `max_envelope_size` whose skeleton is `skeleton_len` bytes long.
pub const fn max_payload(max_envelope_size: usize, skeleton_len: usize) -> usize {
    base64_capacity(max_envelope_size.saturating_sub(skeleton_len).saturating_sub(SAFETY_MARGIN))
}

fn skeleton_len(header: &Header, body: RequestBody) -> usize {
    Request::new(header.clone(), body).to_bytes().len()
}

/// Payload bytes that fit one Send of stream `stream` (`stdin`/`pr`) with `header`.
pub fn send_payload_budget(
    max_envelope_size: usize,
    header: &Header,
    stream: &str,
    command_id: Option<&str>,
    end: bool,
) -> usize {
    let body = RequestBody::Send(Send {
        streams: vec![SendStream {
            name: stream.to_owned(),
            command_id: command_id.map(str::to_owned),
            end,
            data: Bytes::new(),
        }],
    });
    max_payload(max_envelope_size, skeleton_len(header, body))
}

/// Payload bytes that fit the `rsp:Arguments` of one Command with `header`.
pub fn command_payload_budget(
    max_envelope_size: usize,
    header: &Header,
    command_id: &str,
    command: Option<&str>,
) -> usize {
    let body = RequestBody::Command(CommandLine::powershell(command_id, command, &[]));
    max_payload(max_envelope_size, skeleton_len(header, body))
}

/// Payload bytes that fit the `creationXml` of `create` (its current `creation_xml` is ignored) with `header`.
pub fn create_payload_budget(max_envelope_size: usize, header: &Header, create: &CreateShell) -> usize {
    let mut shell = create.clone();
    shell.creation_xml = Some(Bytes::new());
    max_payload(max_envelope_size, skeleton_len(header, RequestBody::Create(shell)))
}
