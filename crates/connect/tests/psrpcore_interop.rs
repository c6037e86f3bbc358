//! The client state machines (`pssession_psrp::client`) against psrpcore 0.3.1's sans-IO server: psrpcore parses
//! our creationXml, CREATE_PIPELINE (commands, parameters, NoInput) and connectXml (Min/MaxRunspaces), and our
//! client opens, receives its typed output, warning, verbose and state records, and connects.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use bytes::Bytes;
use pssession_connect::psrp::client::{
    ClientEvent, ClientRunspacePool, CommandSpec, PipelineEvent, PipelineSpec, RunspacePoolConfig, RunspacePoolState,
};
use serde_json::{Value, json};
use uuid::Uuid;

struct Peer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Peer {
    fn start() -> Peer {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/psrpcore_server.py");
        let mut child = Command::new(pssession_testkit::python())
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the psrpcore peer");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Peer { child, stdin, stdout }
    }

    fn ask(&mut self, request: Value) -> Value {
        writeln!(self.stdin, "{request}").expect("write to the peer");
        self.stdin.flush().expect("flush");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("read from the peer");
        assert!(!line.is_empty(), "the psrpcore peer died (see stderr)");
        serde_json::from_str(&line).expect("JSON answer")
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn b64(data: &[u8]) -> String {
    base64_simd::STANDARD.encode_to_string(data)
}

fn unb64(value: &Value) -> Bytes {
    Bytes::from(base64_simd::STANDARD.decode_to_vec(value.as_str().expect("base64 text").as_bytes()).expect("base64"))
}

#[test]
fn psrpcore_server_accepts_our_messages_and_we_understand_its_answers() {
    let mut peer = Peer::start();
    let pool_id = Uuid::parse_str("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0").expect("uuid");
    let mut pool = ClientRunspacePool::new(pool_id, RunspacePoolConfig::default()).expect("pool");

    let answer = peer.ask(json!({"op": "create", "data": b64(&pool.creation_payload().expect("creation"))}));
    assert_eq!(answer["events"], json!(["SessionCapabilityEvent", "InitRunspacePoolEvent"]));
    let events = pool.receive(unb64(&answer["data"])).expect("psrpcore's opening data");
    assert!(matches!(events[0], ClientEvent::SessionCapability(_)), "{events:?}");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ClientEvent::ApplicationPrivateData(d) if d.as_str().contains("PSVersionTable")))
    );
    assert_eq!(pool.state(), RunspacePoolState::Opened);

    let pipeline_id = Uuid::parse_str("11111111-2222-3333-4444-555555555555").expect("uuid");
    let spec = PipelineSpec::commands(vec![
        CommandSpec::command("Get-Item").parameter("Path", "C:\\<temp> & 'x'").argument("positional"),
        CommandSpec::script("$input | Select-Object -First 1"),
    ]);
    pool.create_pipeline(pipeline_id, &spec).expect("pipeline");
    let create = pool.next_payload().expect("CREATE_PIPELINE");
    let answer = peer.ask(json!({"op": "pipeline", "pipeline_id": pipeline_id.to_string(), "data": b64(&create.data)}));
    assert_eq!(
        answer["commands"],
        json!([
            {"text": "Get-Item", "is_script": false, "parameters": [["Path", "C:\\<temp> & 'x'"], [null, "positional"]]},
            {"text": "$input | Select-Object -First 1", "is_script": true, "parameters": []},
        ])
    );
    assert_eq!(answer["no_input"], json!(true));

    let events = pool.receive(unb64(&answer["data"])).expect("psrpcore's pipeline data");
    let rendered: Vec<String> = events
        .iter()
        .map(|e| match e {
            ClientEvent::Pipeline { pipeline_id: p, event } => {
                assert_eq!(*p, pipeline_id);
                match event {
                    PipelineEvent::Output(v) => format!("output:{v}"),
                    PipelineEvent::Warning(v) => format!("warning:{v}"),
                    PipelineEvent::Verbose(v) => format!("verbose:{v}"),
                    PipelineEvent::State { state, error } => format!("state:{state}:{error:?}"),
                    other => format!("{other:?}"),
                }
            }
            other => format!("{other:?}"),
        })
        .filter(|r| !r.starts_with("state:Running"))
        .collect();
    assert_eq!(rendered, ["output:first", "output:42", "warning:careful", "verbose:chatty", "state:Completed:None"]);

    // Disconnect on both sides, then a new client object connects with PowerShell's connectXml (min = max = 1).
    pool.disconnect_started().expect("disconnect");
    pool.disconnect_completed().expect("disconnected");
    let answer = peer.ask(json!({"op": "disconnect"}));
    assert!(answer["state"].as_str().unwrap_or_default().contains("Connecting"), "{answer}");
    let mut fresh = ClientRunspacePool::new(pool_id, RunspacePoolConfig::default()).expect("pool");
    let answer = peer.ask(json!({"op": "connect", "data": b64(&fresh.connect_payload(1, 1).expect("connectXml"))}));
    assert_eq!(answer["events"], json!(["SessionCapabilityEvent", "ConnectRunspacePoolEvent"]));
    assert_eq!((answer["min"].as_i64(), answer["max"].as_i64()), (Some(1), Some(1)));
    let events = fresh.receive(unb64(&answer["data"])).expect("psrpcore's connect data");
    assert!(
        events.iter().any(|e| matches!(e, ClientEvent::RunspacePoolInitData { min_runspaces: 1, max_runspaces: 1 })),
        "{events:?}"
    );
    assert_eq!(fresh.state(), RunspacePoolState::Opened);
}
