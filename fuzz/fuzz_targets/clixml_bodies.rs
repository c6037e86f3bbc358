//! Every typed PSRP message-body parser on the same arbitrary bytes: typed errors, never a panic; whatever parses
//! rebuilds into a body that parses back to the same struct.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pssession_psrp::MessageType;
use pssession_psrp::clixml::from_clixml;
use pssession_psrp::messages::*;

fn check<T: MessageBody + PartialEq + std::fmt::Debug>(data: &[u8]) {
    if let Ok(body) = T::decode(data) {
        let again = T::decode(&body.encode()).unwrap_or_else(|e| panic!("rebuilt {:?} does not parse: {e}", body));
        assert_eq!(again, body);
    }
}

fuzz_target!(|data: &[u8]| {
    check::<SessionCapability>(data);
    check::<InitRunspacePool>(data);
    check::<ConnectRunspacePool>(data);
    check::<RunspacePoolInitData>(data);
    check::<ApplicationPrivateData>(data);
    check::<RunspacePoolStateMessage>(data);
    check::<RunspaceAvailability>(data);
    check::<GetAvailableRunspaces>(data);
    check::<ResetRunspaceState>(data);
    check::<SetMaxRunspaces>(data);
    check::<SetMinRunspaces>(data);
    check::<CreatePipeline>(data);
    check::<PipelineStateMessage>(data);
    check::<ErrorRecord>(data);
    check::<InformationRecord>(data);
    check::<ProgressRecord>(data);
    check::<UserEvent>(data);
    check::<GetCommandMetadata>(data);
    check::<PublicKey>(data);
    check::<EncryptedSessionKey>(data);
    check::<PublicKeyRequest>(data);
    if let Ok(value) = from_clixml(data) {
        for stream in [MessageType::DebugRecord, MessageType::VerboseRecord, MessageType::WarningRecord] {
            if let Ok(record) = InformationalRecord::from_value(stream, &value) {
                assert_eq!(InformationalRecord::from_value(stream, &record.to_value()).ok(), Some(record));
            }
        }
        for kind in [MessageType::PipelineHostCall, MessageType::RunspacePoolHostCall] {
            if let Ok(call) = HostCall::from_value(kind, &value) {
                assert_eq!(HostCall::from_value(kind, &call.to_value()).ok(), Some(call));
            }
        }
        for kind in [MessageType::PipelineHostResponse, MessageType::RunspacePoolHostResponse] {
            if let Ok(response) = HostResponse::from_value(kind, &value) {
                assert_eq!(HostResponse::from_value(kind, &response.to_value()).ok(), Some(response));
            }
        }
    }
});
