//! Exactly-once Receive (a pssession extension): a Receive numbered with `wsmv:SequenceId` (and no
//! `wsmv:OperationID`) gets the same response again when it repeats its number, frees it when it asks for the next
//! one, and a Disconnect's `PSSESSION_RECEIVE_ACK` frees it before another client connects. Receives without a
//! number (pypsrp) and PowerShell's robust-connection headers (OperationID + SequenceId) work as before.

mod server_support;

use pssession_server::ServiceConfig;
use pssession_server::plugin::BufferMode;
use pssession_wsman::envelope::{Request, RequestBody, Response, ResponseBody};
use pssession_wsman::header::option;
use pssession_wsman::ops::Receive;
use server_support::*;

const TIMED_OUT: u32 = 0x8033_8029;
const INVALID_PARAMETER: u32 = 0x8033_803A;

/// A Receive on `command` numbered `sequence` (and, like PowerShell, with an OperationID when `operation_id`).
fn numbered_receive(client: &Client, shell: &str, command: &str, sequence: u64, operation_id: bool) -> Vec<u8> {
    let body = RequestBody::Receive(Receive { streams: "stdout".to_owned(), command_id: Some(command.to_owned()) });
    let mut header = client.header(&body, PS_URI, Some(shell));
    header.sequence_id = Some(sequence);
    if operation_id {
        header.operation_id = Some(format!("uuid:{}", guid()));
    }
    Request::new(header, body).to_bytes()
}

async fn exchange(service: &pssession_server::Service, envelope: &[u8]) -> Response {
    parse(&service.handle_envelope(&user("alice"), envelope).await.body)
}

/// The stream data of a ReceiveResponse.
fn data(response: &Response) -> Vec<Vec<u8>> {
    match &response.body {
        ResponseBody::Receive(r) => r.streams.iter().map(|s| s.data.to_vec()).collect(),
        other => panic!("expected a ReceiveResponse, got {other:?}"),
    }
}

/// A service with one shell and one running command that echoes what is sent to it.
async fn echoing() -> (pssession_server::Service, Client, String, String) {
    let (service, _) = service(ServiceConfig::default());
    let client = Client::new();
    let shell = guid();
    let command = guid();
    call(&service, &user("alice"), &client.create(&shell, b"")).await;
    call(&service, &user("alice"), &client.command(&shell, &command, b"run")).await;
    // The command's first output is its arguments; take it unnumbered.
    call(&service, &user("alice"), &client.receive(&shell, Some(&command))).await;
    (service, client, shell, command)
}

#[tokio::test(start_paused = true)]
async fn a_repeated_number_gets_the_same_response_and_the_next_number_frees_it() {
    let (service, client, shell, command) = echoing().await;
    let alice = user("alice");
    call(&service, &alice, &client.send(&shell, Some(&command), b"first")).await;
    let response = exchange(&service, &numbered_receive(&client, &shell, &command, 1, false)).await;
    assert_eq!(data(&response), vec![b"first".to_vec()]);
    assert_eq!(response.header.sequence_id, Some(1), "the number is echoed: this server retains responses");

    // The response was lost in flight: the same number gets the same output, however often.
    for _ in 0..2 {
        let again = exchange(&service, &numbered_receive(&client, &shell, &command, 1, false)).await;
        assert_eq!(data(&again), vec![b"first".to_vec()]);
    }
    // Asking for the next number acknowledges it: only new output comes.
    call(&service, &alice, &client.send(&shell, Some(&command), b"second")).await;
    let next = exchange(&service, &numbered_receive(&client, &shell, &command, 2, false)).await;
    assert_eq!(data(&next), vec![b"second".to_vec()]);
    // Number 1 is gone, and skipping ahead is refused.
    for wrong in [1, 4] {
        let body = call(&service, &alice, &numbered_receive(&client, &shell, &command, wrong, false)).await;
        assert_eq!(fault_code(&body), INVALID_PARAMETER, "SequenceId {wrong}");
    }
    // Nothing new: the long poll times out, and the number stays the next one to ask for.
    let body = call(&service, &alice, &numbered_receive(&client, &shell, &command, 3, false)).await;
    assert_eq!(fault_code(&body), TIMED_OUT);
    call(&service, &alice, &client.send(&shell, Some(&command), b"third")).await;
    let third = exchange(&service, &numbered_receive(&client, &shell, &command, 3, false)).await;
    assert_eq!(data(&third), vec![b"third".to_vec()]);
}

#[tokio::test(start_paused = true)]
async fn receives_without_a_number_and_powershell_robust_connection_headers_work_as_before() {
    let (service, client, shell, command) = echoing().await;
    let alice = user("alice");
    // pypsrp: no SequenceId. Each Receive takes new output, nothing is echoed or retained.
    call(&service, &alice, &client.send(&shell, Some(&command), b"a")).await;
    let reply = service.handle_envelope(&alice, &client.receive(&shell, Some(&command))).await;
    let response = parse(&reply.body);
    assert_eq!(data(&response), vec![b"a".to_vec()]);
    assert_eq!(response.header.sequence_id, None);
    assert!(!String::from_utf8_lossy(&reply.body).contains("SequenceId"));
    // PowerShell: OperationID + SequenceId 1 on every request (MS-WSMV robust connections, which this server
    // ignores): every Receive takes new output.
    for text in [b"b".as_slice(), b"c"] {
        call(&service, &alice, &client.send(&shell, Some(&command), text)).await;
        let response = exchange(&service, &numbered_receive(&client, &shell, &command, 1, true)).await;
        assert_eq!(data(&response), vec![text.to_vec()]);
        assert_eq!(response.header.sequence_id, None);
    }
}

#[tokio::test(start_paused = true)]
async fn the_next_client_is_handed_what_the_last_one_did_not_acknowledge() {
    let (service, office, shell, command) = echoing().await;
    let alice = user("alice");
    call(&service, &alice, &office.send(&shell, Some(&command), b"in flight")).await;
    exchange(&service, &numbered_receive(&office, &shell, &command, 1, false)).await;
    // The office's response was lost, and it disconnects without acknowledging it.
    call(&service, &alice, &office.disconnect(&shell, None, Some(BufferMode::Block))).await;
    let home = Client::new();
    call(&service, &alice, &home.connect(&shell, None, Some(b"x"))).await;
    call(&service, &alice, &home.connect(&shell, Some(&command), None)).await;
    // Another client session numbers from 1: it gets the unacknowledged response.
    let response = exchange(&service, &numbered_receive(&home, &shell, &command, 1, false)).await;
    assert_eq!(data(&response), vec![b"in flight".to_vec()]);
    call(&service, &alice, &home.send(&shell, Some(&command), b"after")).await;
    let response = exchange(&service, &numbered_receive(&home, &shell, &command, 2, false)).await;
    assert_eq!(data(&response), vec![b"after".to_vec()]);
}

#[tokio::test(start_paused = true)]
async fn a_disconnect_acknowledgement_frees_what_the_client_processed() {
    let (service, office, shell, command) = echoing().await;
    let alice = user("alice");
    call(&service, &alice, &office.send(&shell, Some(&command), b"processed")).await;
    exchange(&service, &numbered_receive(&office, &shell, &command, 1, false)).await;
    // The office processed response 1 and says so on Disconnect.
    let body = RequestBody::Disconnect(pssession_wsman::ops::Disconnect { idle_timeout: None, buffer_mode: None });
    let header = office.header(&body, PS_URI, Some(&shell)).with_option(
        option::RECEIVE_ACK,
        &format!("pool=0 {command}=1 junk not-a-guid=5"),
        false,
    );
    call(&service, &alice, &Request::new(header, body).to_bytes()).await;
    let home = Client::new();
    call(&service, &alice, &home.connect(&shell, None, Some(b"x"))).await;
    call(&service, &alice, &home.connect(&shell, Some(&command), None)).await;
    // Nothing is handed out twice: the next client waits for new output.
    let body = call(&service, &alice, &numbered_receive(&home, &shell, &command, 1, false)).await;
    assert_eq!(fault_code(&body), TIMED_OUT);
    call(&service, &alice, &home.send(&shell, Some(&command), b"new")).await;
    let response = exchange(&service, &numbered_receive(&home, &shell, &command, 1, false)).await;
    assert_eq!(data(&response), vec![b"new".to_vec()]);
}
