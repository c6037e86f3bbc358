//! `pssession trace decode`: every recorded Windows trace decodes with no problem through the library function
//! behind the command, a directory of envelope files decodes like a YAML trace, and the CLI's text and JSON
//! output for one small trace are pinned by snapshots (`UPDATE_EXPECT=1` after review).

use std::process::Command;

use expect_test::expect;
use pssession_cli::recorded::{Trace, decode, to_json};
use pssession_connect::psrp::MessageType;

#[test]
fn every_recorded_windows_trace_decodes_without_problems() {
    let traces = pssession_testkit::windows_traces();
    assert!(traces.len() >= 58, "only {} traces", traces.len());
    let mut messages = 0;
    let mut faults = 0;
    for (name, _) in &traces {
        let path = pssession_testkit::fixture(&format!("pypsrp-windows-traces/{name}.yml"));
        let trace = Trace::load(&path).expect("trace loads");
        let decoded = decode(&trace);
        assert!(decoded.problems.is_empty(), "{name}: {:#?}", decoded.problems);
        assert_eq!(decoded.exchanges.len(), trace.exchanges.len(), "{name}");
        for x in &decoded.exchanges {
            let request = x.request.as_ref().unwrap_or_else(|| panic!("{name}#{}: no request", x.index));
            assert!(request.action.starts_with("http://"), "{name}#{}", x.index);
            if let Some(response) = &x.response {
                messages += request.messages.len() + response.messages.len();
                faults += usize::from(response.fault_code.is_some());
            } else {
                assert!(!x.response_recorded, "{name}#{}: a recorded response did not parse", x.index);
            }
        }
    }
    assert!(messages > 500, "only {messages} PSRP messages decoded");
    assert!(faults >= 8, "only {faults} faults decoded");
}

#[test]
fn connect_trace_reassembles_per_direction_and_reads_ids_in_dotnet_order() {
    let path = pssession_testkit::fixture("pypsrp-windows-traces/test_psrp_disconnected_commands.yml");
    let decoded = decode(&Trace::load(&path).expect("trace"));
    assert!(decoded.problems.is_empty(), "{:?}", decoded.problems);
    // #13: Connect with connectXml; the response carries SESSION_CAPABILITY + RUNSPACEPOOL_INIT_DATA.
    let connect = &decoded.exchanges[13];
    let request = connect.request.as_ref().expect("request");
    let types: Vec<_> = request.messages.iter().map(|m| (m.message_type, m.object_id)).collect();
    assert_eq!(types, [(MessageType::SessionCapability, 1), (MessageType::ConnectRunspacePool, 2)]);
    assert_eq!(request.shell_id.as_deref(), Some("BCEF62AD-380E-4314-B2A4-EB6748019B41"));
    // pypsrp wrote the ShellId's bytes in RFC order; read as .NET does, the RPID is the byte-swapped form.
    assert_eq!(request.messages[0].rpid.to_string().to_uppercase(), "AD62EFBC-0E38-1443-B2A4-EB6748019B41");
    let response = connect.response.as_ref().expect("response");
    let types: Vec<_> = response.messages.iter().map(|m| (m.message_type, m.object_id)).collect();
    assert_eq!(types, [(MessageType::SessionCapability, 5), (MessageType::RunspacePoolInitData, 6)]);
    // #16: the buffered output of the command, after its Connect.
    let receive = decoded.exchanges[16].response.as_ref().expect("response");
    assert_eq!(receive.command_id.as_deref(), Some("DB4E8DCF-51CC-423F-A7DF-5D0EA0D6FA08"));
    let outputs: Vec<String> = receive
        .messages
        .iter()
        .filter(|m| m.message_type == MessageType::PipelineOutput)
        .map(|m| m.body.to_string())
        .collect();
    assert_eq!(outputs, ["a"]);
}

#[test]
fn a_directory_of_envelope_files_decodes_like_a_trace() {
    let dir = pssession_testkit::fixture("vectors/windows-traces-pypsrp/xml");
    let decoded = decode(&Trace::load(&dir).expect("directory"));
    assert!(decoded.problems.is_empty(), "{:?}", decoded.problems);
    assert_eq!(decoded.exchanges.len(), 20);
    let json = to_json(&decoded);
    assert_eq!(json[8]["request"]["action"], "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Connect");
    assert_eq!(json[8]["response"]["messages"][1]["type"], "RUNSPACEPOOL_INIT_DATA");
    assert_eq!(json[8]["response"]["messages"][1]["body"]["MinRunspaces"], 1);

    let faults = decode(&Trace::load(&pssession_testkit::fixture("vectors/faults")).expect("faults"));
    let codes: Vec<_> =
        to_json(&faults).as_array().expect("list").iter().map(|x| x["response"]["fault_code"].clone()).collect();
    assert_eq!(codes, [2150858767u32, 2150858793, 2150858843, 2150858843].map(serde_json::Value::from));
    // The request with pypsrp's invalid OperationTimeout is still decoded, the value reported.
    assert_eq!(
        faults.exchanges[0].request.as_ref().expect("request").invalid_headers,
        [("OperationTimeout".to_owned(), "PT-1S".to_owned())]
    );
}

fn pssession(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pssession")).args(args).output().expect("run pssession");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn small_trace() -> String {
    pssession_testkit::fixture("pypsrp-windows-traces/test_psrp_open_runspace.yml").display().to_string()
}

#[test]
fn cli_text_output() {
    let (code, stdout, stderr) = pssession(&["trace", "decode", &small_trace()]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    expect![[r#"
        #0 http://schemas.xmlsoap.org/ws/2004/09/transfer/Create http://schemas.microsoft.com/powershell/Microsoft.PowerShell ShellId=76056A84-51DC-4F24-9262-CA2A55464B2B => CreateResponse
            -> SESSION_CAPABILITY         to Server RPID 846A0576-DC51-244F-9262-CA2A55464B2B PID 00000000-0000-0000-0000-000000000000 ObjectId 1 [creationXml]
            -> INIT_RUNSPACEPOOL          to Server RPID 846A0576-DC51-244F-9262-CA2A55464B2B PID 00000000-0000-0000-0000-000000000000 ObjectId 2 [creationXml]
        #1 http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive http://schemas.microsoft.com/powershell/Microsoft.PowerShell ShellId=76056A84-51DC-4F24-9262-CA2A55464B2B => ReceiveResponse
            <- SESSION_CAPABILITY         to Client RPID 00000000-0000-0000-0000-000000000000 PID 00000000-0000-0000-0000-000000000000 ObjectId 1 [stdout] BOM
            <- APPLICATION_PRIVATE_DATA   to Client RPID 846A0576-DC51-244F-9262-CA2A55464B2B PID 00000000-0000-0000-0000-000000000000 ObjectId 2 [stdout] BOM
        #2 http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive http://schemas.microsoft.com/powershell/Microsoft.PowerShell ShellId=76056A84-51DC-4F24-9262-CA2A55464B2B => ReceiveResponse
            <- RUNSPACEPOOL_STATE         to Client RPID 846A0576-DC51-244F-9262-CA2A55464B2B PID 00000000-0000-0000-0000-000000000000 ObjectId 3 [stdout] BOM
        #3 http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete http://schemas.microsoft.com/powershell/Microsoft.PowerShell ShellId=76056A84-51DC-4F24-9262-CA2A55464B2B => DeleteResponse
    "#]].assert_eq(&stdout);
}

#[test]
fn cli_json_output() {
    let (code, stdout, stderr) = pssession(&["trace", "decode", "--output", "json", &small_trace()]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    expect![[r#"
        [
          {
            "request": {
              "action": "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create",
              "command_id": null,
              "fault_code": null,
              "messages": [
                {
                  "body": {
                    "PSVersion": "2.0",
                    "SerializationVersion": "1.1.0.1",
                    "protocolversion": "2.3"
                  },
                  "destination": "Server",
                  "object_id": 1,
                  "pid": "00000000-0000-0000-0000-000000000000",
                  "rpid": "846A0576-DC51-244F-9262-CA2A55464B2B",
                  "stream": "creationXml",
                  "type": "SESSION_CAPABILITY"
                },
                {
                  "body": {
                    "ApartmentState": 2,
                    "ApplicationArguments": null,
                    "HostInfo": {
                      "_isHostNull": true,
                      "_isHostRawUINull": true,
                      "_isHostUINull": true,
                      "_useRunspaceHost": true
                    },
                    "MaxRunspaces": 1,
                    "MinRunspaces": 1,
                    "PSThreadOptions": 0
                  },
                  "destination": "Server",
                  "object_id": 2,
                  "pid": "00000000-0000-0000-0000-000000000000",
                  "rpid": "846A0576-DC51-244F-9262-CA2A55464B2B",
                  "stream": "creationXml",
                  "type": "INIT_RUNSPACEPOOL"
                }
              ],
              "resource_uri": "http://schemas.microsoft.com/powershell/Microsoft.PowerShell",
              "shell_id": "76056A84-51DC-4F24-9262-CA2A55464B2B"
            },
            "response": {
              "action": "http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse",
              "command_id": null,
              "fault_code": null,
              "messages": [],
              "resource_uri": null,
              "shell_id": "76056A84-51DC-4F24-9262-CA2A55464B2B"
            }
          },
          {
            "request": {
              "action": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive",
              "command_id": null,
              "fault_code": null,
              "messages": [],
              "resource_uri": "http://schemas.microsoft.com/powershell/Microsoft.PowerShell",
              "shell_id": "76056A84-51DC-4F24-9262-CA2A55464B2B"
            },
            "response": {
              "action": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/ReceiveResponse",
              "command_id": null,
              "fault_code": null,
              "messages": [
                {
                  "body": {
                    "PSVersion": "2.0",
                    "SerializationVersion": "1.1.0.1",
                    "protocolversion": "2.3"
                  },
                  "destination": "Client",
                  "object_id": 1,
                  "pid": "00000000-0000-0000-0000-000000000000",
                  "rpid": "00000000-0000-0000-0000-000000000000",
                  "stream": "stdout",
                  "type": "SESSION_CAPABILITY"
                },
                {
                  "body": {
                    "ApplicationPrivateData": {
                      "PSVersionTable": {
                        "BuildVersion": "10.0.14393.2248",
                        "CLRVersion": "4.0.30319.42000",
                        "PSCompatibleVersions": [
                          "1.0",
                          "2.0",
                          "3.0",
                          "4.0",
                          "5.0",
                          "5.1.14393.2248"
                        ],
                        "PSEdition": "Desktop",
                        "PSRemotingProtocolVersion": "2.3",
                        "PSVersion": "5.1.14393.2248",
                        "SerializationVersion": "1.1.0.1",
                        "WSManStackVersion": "3.0"
                      }
                    }
                  },
                  "destination": "Client",
                  "object_id": 2,
                  "pid": "00000000-0000-0000-0000-000000000000",
                  "rpid": "846A0576-DC51-244F-9262-CA2A55464B2B",
                  "stream": "stdout",
                  "type": "APPLICATION_PRIVATE_DATA"
                }
              ],
              "resource_uri": null,
              "shell_id": "76056A84-51DC-4F24-9262-CA2A55464B2B"
            }
          },
          {
            "request": {
              "action": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive",
              "command_id": null,
              "fault_code": null,
              "messages": [],
              "resource_uri": "http://schemas.microsoft.com/powershell/Microsoft.PowerShell",
              "shell_id": "76056A84-51DC-4F24-9262-CA2A55464B2B"
            },
            "response": {
              "action": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/ReceiveResponse",
              "command_id": null,
              "fault_code": null,
              "messages": [
                {
                  "body": {
                    "RunspaceState": 2
                  },
                  "destination": "Client",
                  "object_id": 3,
                  "pid": "00000000-0000-0000-0000-000000000000",
                  "rpid": "846A0576-DC51-244F-9262-CA2A55464B2B",
                  "stream": "stdout",
                  "type": "RUNSPACEPOOL_STATE"
                }
              ],
              "resource_uri": null,
              "shell_id": "76056A84-51DC-4F24-9262-CA2A55464B2B"
            }
          },
          {
            "request": {
              "action": "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete",
              "command_id": null,
              "fault_code": null,
              "messages": [],
              "resource_uri": "http://schemas.microsoft.com/powershell/Microsoft.PowerShell",
              "shell_id": "76056A84-51DC-4F24-9262-CA2A55464B2B"
            },
            "response": {
              "action": "http://schemas.xmlsoap.org/ws/2004/09/transfer/DeleteResponse",
              "command_id": null,
              "fault_code": null,
              "messages": [],
              "resource_uri": null,
              "shell_id": "76056A84-51DC-4F24-9262-CA2A55464B2B"
            }
          }
        ]
    "#]]
    .assert_eq(&stdout);
}

#[test]
fn cli_reports_what_it_cannot_decode_with_its_location() {
    let dir = std::env::temp_dir().join(format!("pssession-trace-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let good =
        pssession_testkit::read_fixture("vectors/windows-traces-pypsrp/xml/06_reconnect_shell_same_client.request.xml");
    std::fs::write(dir.join("01_ok.request.xml"), good).expect("write");
    std::fs::write(dir.join("02_bad.request.xml"), "<s:Envelope").expect("write");
    let (code, stdout, stderr) = pssession(&["trace", "decode", &dir.display().to_string()]);
    std::fs::remove_dir_all(&dir).expect("cleanup");
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.starts_with("#0 http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Reconnect"), "{stdout}");
    assert!(stderr.contains("02_bad request: WS-Man envelope"), "{stderr}");
}

#[test]
fn output_messages_are_shown_as_powershell_would_print_them() {
    let trace = pssession_testkit::fixture("pypsrp-windows-traces/test_psrp_pshost_methods.yml").display().to_string();
    let (code, stdout, stderr) = pssession(&["trace", "decode", &trace]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    let shown: Vec<&str> = stdout.lines().filter(|l| l.starts_with("       | ")).collect();
    assert_eq!(
        shown,
        [
            "       | LCID             Name             DisplayName",
            "       | ----             ----             -----------",
            "       | 1033             en-US            English (United States)",
        ]
    );
    let (code, stdout, _) = pssession(&["trace", "decode", "--output", "json", &trace]);
    assert_eq!(code, 0);
    let decoded: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    let texts: Vec<&str> = decoded
        .as_array()
        .expect("exchanges")
        .iter()
        .filter_map(|x| x["response"]["messages"].as_array())
        .flatten()
        .filter_map(|m| m["output_text"].as_str())
        .collect();
    assert_eq!(texts, [shown.iter().map(|l| &l[9..]).collect::<Vec<_>>().join("\n")]);
}
