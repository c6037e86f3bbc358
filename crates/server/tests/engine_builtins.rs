//! Every built-in command, and the shapes of the records they write.

mod engine_support;

use engine_support::{errors, eval, outputs, run, run_spec, runspace, texts};
use pssession_server::engine::{
    CommandSpec, ErrorCategory, MergeSettings, PipelineEvent, PipelineSpec, PipelineState, ProgressRecordType, Value,
};

#[tokio::test]
async fn write_output_enumerates_unless_no_enumerate() {
    assert_eq!(eval("Write-Output 1 2 3").await, ["1", "2", "3"]);
    assert_eq!(eval("Write-Output 1,2,3").await, ["1", "2", "3"]);
    // Remaining arguments are enumerated one level, like PowerShell: the array 1,2 stays one object.
    assert_eq!(eval("Write-Output 1,2 3").await, ["1 2", "3"]);
    let rs = runspace();
    let (events, _) = run(&rs, "Write-Output -NoEnumerate 1,2").await;
    assert_eq!(outputs(&events).len(), 1);
    assert_eq!(eval("echo a | Write-Output").await, ["a"]);
}

#[tokio::test]
async fn write_error_is_non_terminating() {
    let rs = runspace();
    let (events, state) =
        run(&rs, "Write-Error 'bad thing' -Category InvalidData -ErrorId MyId -TargetObject 5; 'after'").await;
    assert_eq!(state, PipelineState::Completed);
    assert_eq!(texts(&events), ["after"]);
    let errors = errors(&events);
    assert_eq!(errors.len(), 1);
    let e = &errors[0];
    assert_eq!(e.message, "bad thing");
    assert_eq!(e.fully_qualified_error_id, "MyId");
    assert_eq!(e.category, ErrorCategory::InvalidData);
    assert_eq!(e.exception_type, "Microsoft.PowerShell.Commands.WriteErrorException");
    assert_eq!(e.activity, "Write-Error");
    assert_eq!(e.target_name, "5");
    assert_eq!(e.target_type, "Int32");
    assert_eq!(e.category_message(), "InvalidData: (5:Int32) [Write-Error], WriteErrorException");
    let info = e.invocation.as_ref().expect("invocation");
    assert_eq!(info.my_command, "Write-Error");
    assert_eq!((info.script_line_number, info.offset_in_line), (1, 1));
    assert!(info.position_message.starts_with("At line:1 char:1\n+ Write-Error"), "{}", info.position_message);
}

#[tokio::test]
async fn write_error_default_id_and_error_action() {
    let rs = runspace();
    let (events, _) = run(&rs, "Write-Error oops").await;
    assert_eq!(errors(&events)[0].fully_qualified_error_id, "Microsoft.PowerShell.Commands.WriteErrorException");
    let (events, _) = run(&rs, "Write-Error oops -ErrorAction SilentlyContinue; 'ok'").await;
    assert!(errors(&events).is_empty());
    assert_eq!(texts(&events), ["ok"]);
    let (events, state) = run(&rs, "Write-Error stop -ErrorAction Stop; 'not reached'").await;
    assert!(texts(&events).is_empty());
    assert!(matches!(state, PipelineState::Failed(r) if r.message == "stop"));
}

#[tokio::test]
async fn warning_verbose_debug_follow_preferences() {
    let rs = runspace();
    let (events, _) = run(&rs, "Write-Warning w; Write-Verbose v; Write-Debug d").await;
    let kinds: Vec<_> = events
        .iter()
        .map(|e| match e {
            PipelineEvent::Warning(r) => format!("warning:{}:{}", r.message, r.command),
            PipelineEvent::Verbose(r) => format!("verbose:{}", r.message),
            PipelineEvent::Debug(r) => format!("debug:{}", r.message),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(kinds, ["warning:w:Write-Warning"]);
    let (events, _) =
        run(&rs, "Write-Verbose v -Verbose; Write-Debug d -Debug; Write-Warning w -WarningAction SilentlyContinue")
            .await;
    assert!(
        matches!(&events[..], [PipelineEvent::Verbose(v), PipelineEvent::Debug(d)] if v.message == "v" && d.message == "d")
    );
    let (events, _) = run(&rs, "$VerbosePreference = 'Continue'; Write-Verbose again").await;
    assert!(matches!(&events[..], [PipelineEvent::Verbose(v)] if v.message == "again"));
}

#[tokio::test]
async fn information_and_host() {
    let rs = runspace();
    let (events, _) = run(&rs, "Write-Information 'info' -Tags a,b; Write-Host 'to host' 42 -NoNewline").await;
    let [PipelineEvent::Information(info), PipelineEvent::Information(host)] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(info.source, "Write-Information");
    assert_eq!(info.tags, ["a", "b"]);
    assert_eq!(info.message_data.to_ps_string(), "info");
    assert_eq!(info.computer, "testhost");
    assert_eq!(info.user, "tester");
    assert_eq!(info.process_id, 4242);
    assert_eq!(
        info.time_generated_ticks,
        pssession_server::engine::clock::ticks_from_unix_seconds(engine_support::NOW_UNIX)
    );
    assert_eq!(host.source, "Write-Host");
    assert_eq!(host.tags, ["PSHOST"]);
    assert_eq!(host.message_data.member("Message").to_ps_string(), "to host 42");
    assert_eq!(host.message_data.member("NoNewLine").to_ps_string(), "True");
}

#[tokio::test]
async fn write_progress_fields() {
    let rs = runspace();
    let (events, _) = run(
        &rs,
        "Write-Progress -Activity Copy -Status 'Half way' -PercentComplete 50 -Id 3 -ParentId 1 -CurrentOperation f.txt -SecondsRemaining 9; Write-Progress Copy -Completed",
    )
    .await;
    let [PipelineEvent::Progress(p), PipelineEvent::Progress(done)] = &events[..] else { panic!("{events:?}") };
    assert_eq!(p.activity, "Copy");
    assert_eq!(p.status_description, "Half way");
    assert_eq!((p.activity_id, p.parent_activity_id, p.percent_complete, p.seconds_remaining), (3, 1, 50, 9));
    assert_eq!(p.current_operation.as_deref(), Some("f.txt"));
    assert_eq!(p.record_type, ProgressRecordType::Processing);
    assert_eq!(done.record_type, ProgressRecordType::Completed);
    assert_eq!(
        (done.status_description.as_str(), done.percent_complete, done.parent_activity_id),
        ("Processing", -1, -1)
    );
    let (events, _) = run(&rs, "$ProgressPreference = 'SilentlyContinue'; Write-Progress x").await;
    assert!(events.is_empty());
}

#[tokio::test]
async fn get_date_uses_the_injected_clock() {
    let rs = runspace();
    let (events, _) = run(&rs, "Get-Date; (Get-Date).Year").await;
    let values = outputs(&events);
    assert_eq!(
        values[0],
        Value::DateTime(pssession_server::engine::clock::ticks_from_unix_seconds(engine_support::NOW_UNIX))
    );
    assert_eq!(values[0].to_ps_string(), "11/22/2026 15:43:20");
    assert_eq!(values[1], Value::Int(2026));
}

#[tokio::test]
async fn get_process_reads_proc() {
    let rs = runspace();
    let own = std::process::id();
    let (events, state) = run(&rs, &format!("Get-Process -Id {own}")).await;
    assert_eq!(state, PipelineState::Completed);
    let values = outputs(&events);
    assert_eq!(values.len(), 1, "{events:?}");
    let p = &values[0];
    assert_eq!(p.member("Id"), Value::Int(own as i32));
    let Value::Object(object) = p else { panic!() };
    assert_eq!(object.type_names[0], "System.Diagnostics.Process");
    assert!(p.member("WorkingSet64").to_i64().is_some_and(|ws| ws > 0));
    // PSStandardMembers names the Process view's properties, each of which the object carries.
    let display = p.member("PSStandardMembers").member("DefaultDisplayPropertySet").member("ReferencedPropertyNames");
    let Value::Array(names) = display else { panic!("no DefaultDisplayPropertySet: {display:?}") };
    let names: Vec<String> = names.iter().map(Value::to_ps_string).collect();
    assert_eq!(names, ["Handles", "NPM", "PM", "WS", "CPU", "Id", "SI", "ProcessName"]);
    assert!(names.iter().all(|n| !p.member(n).is_null() || n == "CPU"), "{p:?}");
    let name = p.member("ProcessName").to_ps_string();
    let (events, _) = run(&rs, &format!("Get-Process -Name '{name}' | Where-Object {{ $_.Id -eq {own} }}")).await;
    assert_eq!(outputs(&events).len(), 1);
    let (events, state) = run(&rs, "Get-Process -Name no-such-process-xyz").await;
    assert_eq!(state, PipelineState::Completed);
    assert_eq!(
        errors(&events)[0].fully_qualified_error_id,
        "NoProcessFoundForGivenName,Microsoft.PowerShell.Commands.GetProcessCommand"
    );
    assert!(eval("(Get-Process).Count -gt 0").await == ["True"]);
}

#[tokio::test]
async fn get_command_lists_builtins() {
    let names = eval("Get-Command | ForEach-Object { $_.Name }").await;
    for expected in ["Write-Output", "Start-Job", "Receive-Job", "Get-TestData", "Get-Process"] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing from {names:?}");
    }
    assert_eq!(
        eval("Get-Command *-Job | % Name").await,
        ["Start-Job", "Get-Job", "Receive-Job", "Wait-Job", "Remove-Job", "Stop-Job"]
    );
    assert_eq!(eval("(Get-Command Get-Date).Source").await, ["Microsoft.PowerShell.Utility"]);
}

#[tokio::test]
async fn select_object_properties() {
    assert_eq!(eval("Get-TestData 3 | Select-Object -ExpandProperty Sequence").await, ["1", "2", "3"]);
    assert_eq!(eval("Get-TestData 1 -Size 4 | Select-Object Sequence | % { $_.Payload -eq $null }").await, ["True"]);
    assert_eq!(eval("Get-TestData 1 -Size 4 | % Payload").await, ["bbbb"]);
}

#[tokio::test]
async fn where_object_simplified_syntax() {
    assert_eq!(eval("Get-TestData 5 | Where-Object Sequence -GT 3 | % Sequence").await, ["4", "5"]);
    assert_eq!(eval("Get-TestData 3 | ? Sequence -eq 2 | % Sequence").await, ["2"]);
    assert_eq!(
        eval("Get-Command | Where-Object Name -Like '*-Job' | Select-Object -First 1 | % Name").await,
        ["Start-Job"]
    );
    assert_eq!(eval("Get-TestData 2 | Where-Object Sequence | % Sequence").await, ["1", "2"]);
}

#[tokio::test]
async fn out_null_and_out_default() {
    assert!(eval("1..3 | Out-Null").await.is_empty());
    assert_eq!(eval("1..2 | Out-Default").await, ["1", "2"]);
    assert_eq!(eval("1..2 | Out-String").await, ["1\n2\n"]);
    assert_eq!(eval("'a', 'b' | Out-String -Stream").await, ["a", "b"]);
    assert!(eval("@() | Out-String").await.is_empty());
}

#[tokio::test]
async fn unknown_command_in_a_script_is_a_statement_error() {
    let rs = runspace();
    let (events, state) = run(&rs, "'a'\nGet-Nothing -X 1\n'b'").await;
    assert_eq!(state, PipelineState::Completed);
    assert_eq!(texts(&events), ["a", "b"]);
    let errors = errors(&events);
    let e = &errors[0];
    assert_eq!(
        e.message,
        "The term 'Get-Nothing' is not recognized as the name of a cmdlet, function, script file, or operable program. \
         Check the spelling of the name, or if a path was included, verify that the path is correct and try again."
    );
    assert_eq!(e.fully_qualified_error_id, "CommandNotFoundException");
    assert_eq!(e.exception_type, "System.Management.Automation.CommandNotFoundException");
    assert_eq!(e.category, ErrorCategory::ObjectNotFound);
    assert_eq!(e.reason, "CommandNotFoundException");
    assert_eq!((e.target_name.as_str(), e.target_type.as_str()), ("Get-Nothing", "String"));
    assert_eq!(e.target_object, Some(Value::string("Get-Nothing")));
    let info = e.invocation.as_ref().expect("invocation");
    assert_eq!((info.script_line_number, info.offset_in_line), (2, 1));
    assert_eq!(info.line, "Get-Nothing -X 1");
    assert_eq!(info.position_message, "At line:2 char:1\n+ Get-Nothing -X 1\n+ ~~~~~~~~~~~");
}

#[tokio::test]
async fn unknown_command_fails_a_command_pipeline() {
    let rs = runspace();
    let (events, state) = run_spec(&rs, PipelineSpec::command(CommandSpec::new("Get-Nothing"))).await;
    assert!(events.is_empty());
    let PipelineState::Failed(e) = state else { panic!("{state:?}") };
    assert_eq!(e.fully_qualified_error_id, "CommandNotFoundException");
    assert_eq!(e.category.number(), 13);
}

#[tokio::test]
async fn parameter_binding_errors() {
    let rs = runspace();
    let (events, _) = run(&rs, "Write-Output -Bogus 1").await;
    let e = &errors(&events)[0];
    assert_eq!(e.fully_qualified_error_id, "NamedParameterNotFound,Microsoft.PowerShell.Commands.WriteOutputCommand");
    assert_eq!(e.message, "A parameter cannot be found that matches parameter name 'Bogus'.");
    assert_eq!(e.category, ErrorCategory::InvalidArgument);
    let (events, _) = run(&rs, "Start-Sleep -Seconds abc").await;
    assert!(errors(&events)[0].fully_qualified_error_id.starts_with("CannotConvertArgumentNoMessage,"));
    let (events, _) = run(&rs, "Get-Date extra").await;
    assert!(errors(&events)[0].fully_qualified_error_id.starts_with("PositionalParameterNotFound,"));
    let (events, _) = run(&rs, "Write-Progress -Activity").await;
    assert!(errors(&events)[0].fully_qualified_error_id.starts_with("MissingArgument,"));
    // Unique prefixes bind, ambiguous ones do not.
    assert_eq!(eval("Get-TestData -Co 2 | % Sequence").await, ["1", "2"]);
    let (events, _) = run(&rs, "Write-Progress -S x").await;
    assert!(errors(&events)[0].fully_qualified_error_id.starts_with("AmbiguousParameter,"));
}

#[tokio::test]
async fn command_spec_with_parameters_and_merge() {
    let rs = runspace();
    let spec = PipelineSpec {
        statements: vec![vec![CommandSpec {
            merge: MergeSettings { error: true, ..MergeSettings::default() },
            ..CommandSpec::new("Write-Error").with_parameter("Message", Value::string("merged"))
        }]],
        expects_input: false,
    };
    let (events, state) = run_spec(&rs, spec).await;
    assert_eq!(state, PipelineState::Completed);
    let [PipelineEvent::Output(Value::Object(record))] = &events[..] else { panic!("{events:?}") };
    assert_eq!(record.type_names[0], "System.Management.Automation.ErrorRecord");
    assert_eq!(record.to_string.as_deref(), Some("merged"));

    let spec = PipelineSpec {
        statements: vec![
            vec![
                CommandSpec::new("Get-TestData").with_argument(Value::Int(3)),
                CommandSpec::new("Select-Object").with_parameter("First", Value::Int(2)),
            ],
            vec![CommandSpec::script("'second statement'")],
        ],
        expects_input: false,
    };
    let (events, _) = run_spec(&rs, spec).await;
    assert_eq!(texts(&events).len(), 3);
    assert_eq!(outputs(&events)[1].member("Sequence"), Value::Long(2));
}

#[tokio::test]
async fn invoke_expression_runs_text_as_pypsrp_execute_ps_sends_it() {
    // pypsrp's Client.execute_ps: Invoke-Expression -Command <script> | Out-String -Stream.
    let rs = runspace();
    let spec = PipelineSpec {
        statements: vec![vec![
            CommandSpec::new("Invoke-Expression").with_parameter("Command", Value::string("$x = 20; $x + 22; 'done'")),
            // A switch without a value, as PowerShell's AddParameter("Stream") and pypsrp send it.
            CommandSpec::new("Out-String").with_parameter("Stream", Value::Null),
        ]],
        expects_input: false,
    };
    let (events, state) = run_spec(&rs, spec).await;
    assert_eq!(state, PipelineState::Completed);
    assert_eq!(texts(&events), ["42", "done"]);
    // Positional, aliased, and from the pipeline.
    assert_eq!(eval("iex '1 + 1'").await, ["2"]);
    assert_eq!(eval("'3 * 3', '\"x\"' | Invoke-Expression").await, ["9", "x"]);
    // A text that does not parse is PowerShell's ParseException record, and the statement fails.
    let (events, _) = run(&rs, "Invoke-Expression '1 +'; 'after'").await;
    let errors = errors(&events);
    assert_eq!(errors.len(), 1, "{events:?}");
    assert_eq!(errors[0].exception_type, "System.Management.Automation.ParseException");
    assert_eq!(texts(&events), ["after"]);
}

#[tokio::test]
async fn for_each_object_refuses_text_given_by_name_to_process() {
    // A remoting client's `add_cmdlet("ForEach-Object").add_parameter("Process", "<text>")`: PowerShell cannot
    // bind text to -Process (a ScriptBlock) and says so, instead of running nothing.
    let rs = runspace();
    let spec = PipelineSpec {
        statements: vec![vec![
            CommandSpec::new("Get-TestData").with_argument(Value::Int(2)),
            CommandSpec::new("ForEach-Object").with_parameter("Process", Value::string("$_.Sequence * 10")),
        ]],
        expects_input: false,
    };
    let (events, state) = run_spec(&rs, spec).await;
    // The pipeline fails with the binding error, as PowerShell fails a pipeline whose command does not bind.
    let PipelineState::Failed(record) = state else { panic!("expected a failed pipeline, got {state:?}") };
    assert!(record.fully_qualified_error_id.starts_with("CannotConvertArgument"), "{record:?}");
    assert!(record.message.contains("System.Management.Automation.ScriptBlock"), "{}", record.message);
    assert!(texts(&events).is_empty(), "{events:?}");
    // A lone positional name is still -MemberName (`% Sequence`).
    assert_eq!(eval("Get-TestData 2 | % Sequence").await, ["1", "2"]);
}
