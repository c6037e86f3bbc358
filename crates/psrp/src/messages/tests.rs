use super::*;
use crate::clixml::{PsDateTime, PsVersion, from_clixml, to_clixml};

fn round_trip<T: MessageBody + PartialEq + std::fmt::Debug>(body: &T) {
    let bytes = body.encode();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "PowerShell writes a BOM");
    assert_eq!(&T::decode(&bytes).unwrap(), body);
}

#[test]
fn pool_bodies_round_trip() {
    round_trip(&SessionCapability::current());
    round_trip(&SessionCapability { time_zone: Some(vec![1, 2, 3]), ..SessionCapability::current() });
    round_trip(&InitRunspacePool::new(1, 5));
    round_trip(&ConnectRunspacePool { runspaces: None });
    round_trip(&ConnectRunspacePool { runspaces: Some((1, 5)) });
    round_trip(&RunspacePoolInitData { min_runspaces: 1, max_runspaces: 1 });
    round_trip(&RunspacePoolStateMessage { state: 2, error: None });
    round_trip(&RunspacePoolStateMessage {
        state: 5,
        error: Some(ErrorRecord::new(
            "broken",
            "System.Management.Automation.RuntimeException",
            "Broken",
            ErrorCategory(0),
        )),
    });
    round_trip(&RunspaceAvailability { response: Availability::Count(1), call_id: 1 });
    round_trip(&RunspaceAvailability { response: Availability::Resized(true), call_id: 2 });
    round_trip(&GetAvailableRunspaces { call_id: 3 });
    round_trip(&ResetRunspaceState { call_id: 4 });
    round_trip(&SetMaxRunspaces { runspaces: 4, call_id: 5 });
    round_trip(&SetMinRunspaces { runspaces: 2, call_id: 6 });
    round_trip(&ApplicationPrivateData::with_version_table(vec![
        ("PSVersion".into(), PsValue::Version(PsVersion::parse("5.1.14393.2248").unwrap())),
        ("PSEdition".into(), PsValue::from("Desktop")),
    ]));
}

#[test]
fn capability_negotiation_follows_powershell() {
    let ours = SessionCapability::current();
    let old = SessionCapability { protocol_version: PsVersion::new(2, 1), ..SessionCapability::current() };
    assert!(ours.is_compatible_with(&old));
    assert_eq!(ours.negotiated_version(&old), PsVersion::new(2, 1));
    let newer = SessionCapability { protocol_version: PsVersion::new(2, 4), ..SessionCapability::current() };
    assert!(ours.is_compatible_with(&newer));
    assert_eq!(ours.negotiated_version(&newer), PsVersion::new(2, 3));
    assert!(!ours.is_compatible_with(&SessionCapability { ps_version: PsVersion::new(3, 0), ..ours.clone() }));
    assert!(!ours.is_compatible_with(&SessionCapability { protocol_version: PsVersion::new(3, 0), ..ours.clone() }));
}

#[test]
fn pipeline_bodies_round_trip() {
    let mut create = CreatePipeline::new(vec![
        PowerShellCommand::command("Get-Process").with_arg(Some("Name"), "pwsh".into()).with_arg(None, PsValue::I32(1)),
        PowerShellCommand::script("$input | Select-Object -First 1"),
    ]);
    create.pipeline.extra_commands = vec![vec![PowerShellCommand::command("Get-Date")]];
    create.no_input = false;
    round_trip(&create);
    round_trip(&PipelineStateMessage { state: 4, error: None });
    let mut failure = ErrorRecord::new(
        "The term 'foo' is not recognized as a name of a cmdlet, function, script file, or executable program.",
        "System.Management.Automation.CommandNotFoundException",
        "CommandNotFoundException",
        ErrorCategory::OBJECT_NOT_FOUND,
    );
    failure.target_name = "foo".into();
    failure.target_type = "String".into();
    failure.target_object = "foo".into();
    assert_eq!(failure.category_message(), "ObjectNotFound: (foo:String) [], CommandNotFoundException");
    round_trip(&PipelineStateMessage { state: 5, error: Some(failure.clone()) });
    round_trip(&failure);
    round_trip(&InformationRecord {
        message_data: "hello".into(),
        source: "Write-Information".into(),
        time_generated: PsDateTime::parse("2018-06-13T23:46:28.00516+00:00").unwrap(),
        tags: vec!["a".into()],
        user: "host\\user".into(),
        computer: "host".into(),
        process_id: 1,
        native_thread_id: 2,
        managed_thread_id: 3,
    });
    round_trip(&ProgressRecord {
        activity: "Copying".into(),
        activity_id: 1,
        status_description: "50%".into(),
        current_operation: None,
        parent_activity_id: -1,
        percent_complete: 50,
        completed: false,
        seconds_remaining: -1,
    });
    let warning = InformationalRecord { stream: MessageType::WarningRecord, message: "careful".into() };
    assert_eq!(InformationalRecord::from_value(MessageType::WarningRecord, &warning.to_value()).unwrap(), warning);
}

#[test]
fn windows_shapes_are_reproduced() {
    // RUNSPACEPOOL_INIT_DATA and SESSION_CAPABILITY exactly as Windows sent them (protocol.md §5.4).
    assert_eq!(
        to_clixml(&RunspacePoolInitData { min_runspaces: 1, max_runspaces: 1 }.to_value()),
        r#"<Obj RefId="0"><MS><I32 N="MinRunspaces">1</I32><I32 N="MaxRunspaces">1</I32></MS></Obj>"#
    );
    assert_eq!(
        to_clixml(&SessionCapability::current().to_value()),
        r#"<Obj RefId="0"><MS><Version N="protocolversion">2.3</Version><Version N="PSVersion">2.0</Version><Version N="SerializationVersion">1.1.0.1</Version></MS></Obj>"#
    );
    assert_eq!(to_clixml(&ConnectRunspacePool { runspaces: None }.to_value()), "<S></S>");
    // A bare `<S />` (pypsrp) reads as the default-pool form too.
    assert_eq!(ConnectRunspacePool::decode(b"<S />").unwrap(), ConnectRunspacePool { runspaces: None });
}

#[test]
fn malformed_bodies_are_typed_errors() {
    assert!(matches!(SessionCapability::decode(b"<S>x</S>"), Err(BodyError::NotAnObject(_))));
    assert!(matches!(
        RunspacePoolInitData::decode(br#"<Obj RefId="0"><MS><I32 N="MinRunspaces">1</I32></MS></Obj>"#),
        Err(BodyError::Property { property: "MaxRunspaces", .. })
    ));
    assert!(matches!(CreatePipeline::decode(b"<Obj"), Err(BodyError::Clixml(_))));
    assert!(from_clixml(b"<Nil />").is_ok());
}

#[test]
fn host_and_key_bodies_round_trip() {
    let call = HostCall { call_id: 7, method: HostMethod::READ_LINE, parameters: vec![PsValue::from("prompt")] };
    assert_eq!(HostCall::from_value(MessageType::PipelineHostCall, &call.to_value()).unwrap(), call);
    assert_eq!(HostMethod::READ_LINE.name(), Some("ReadLine"));
    assert_eq!(HostMethod::from_name("PromptForChoiceMultipleSelection"), Some(HostMethod(56)));
    assert_eq!(HostMethod(0).name(), None);
    assert!(HostMethod::READ_LINE.expects_response() && !HostMethod::WRITE_LINE2.expects_response());
    let response =
        HostResponse { call_id: 7, method: HostMethod::READ_LINE, result: Some("typed".into()), error: None };
    assert_eq!(HostResponse::from_value(MessageType::PipelineHostResponse, &response.to_value()).unwrap(), response);
    round_trip(&UserEvent {
        event_identifier: 1,
        source_identifier: "Timer".into(),
        time_generated: PsDateTime::parse("2024-05-01T12:30:45Z").unwrap(),
        sender: PsValue::Null,
        source_args: PsValue::Null,
        message_data: "tick".into(),
        computer_name: Some("srv".into()),
        runspace_id: uuid::Uuid::from_u128(5),
    });
    round_trip(&GetCommandMetadata {
        names: vec!["Get-*".into()],
        command_type: 0x1FF,
        namespace: None,
        argument_list: Some(vec![PsValue::I32(1)]),
    });
    round_trip(&PublicKey { public_key: "AQID".into() });
    round_trip(&EncryptedSessionKey { encrypted_session_key: "AQID".into() });
    round_trip(&PublicKeyRequest);
}
