//! The script language: expressions, variables, control flow, as the engine runs them.

mod engine_support;

use engine_support::{eval, run, runspace, texts};
use pssession_server::engine::{PipelineEvent, PipelineState, Value};

#[tokio::test]
async fn literals_and_arithmetic() {
    assert_eq!(eval("1 + 2").await, ["3"]);
    assert_eq!(eval("7 / 2").await, ["3.5"]);
    assert_eq!(eval("0x10; 5L; 1kb; 1.5e3; -4").await, ["16", "5", "1024", "1500", "-4"]);
    assert_eq!(eval("'it''s'; \"a`tb\"; \"q\"\"q\"").await, ["it's", "a\tb", "q\"q"]);
    assert_eq!(eval("60*60*15").await, ["54000"]);
    assert_eq!(eval("'ab' * 3; 'x' + 1").await, ["ababab", "x1"]);
    assert_eq!(eval("$true; $false; $null").await, ["True", "False", ""]);
}

#[tokio::test]
async fn ranges_arrays_and_indexing() {
    assert_eq!(eval("1..5").await, ["1", "2", "3", "4", "5"]);
    assert_eq!(eval("3..1").await, ["3", "2", "1"]);
    assert_eq!(eval("$a = 'x', 'y', 'z'; $a[1]; $a[-1]; $a.Count").await, ["y", "z", "3"]);
    assert_eq!(eval("@(1,2,3).Length; @().Count").await, ["3", "0"]);
    assert_eq!(eval("(1,2,3,4) -gt 2").await, ["3", "4"]);
}

#[tokio::test]
async fn variables_persist_in_the_runspace() {
    let rs = runspace();
    let (_, state) = run(&rs, "$x = 40").await;
    assert_eq!(state, PipelineState::Completed);
    let (events, _) = run(&rs, "$x + 2; \"x is $x and $($x * 2)\"").await;
    assert_eq!(texts(&events), ["42", "x is 40 and 80"]);
}

#[tokio::test]
async fn hashtables_and_members() {
    assert_eq!(eval("$h = @{ Name = 'n'; Count = 3 }; $h.Name; $h['Count']; $h.Missing").await, ["n", "3", ""]);
    assert_eq!(eval("$PSVersionTable.PSVersion.Major; $PSVersionTable.PSEdition").await, ["5", "Desktop"]);
    assert_eq!(
        eval("$PSVersionTable.PSRemotingProtocolVersion; $PSVersionTable.SerializationVersion").await,
        ["2.3", "1.1.0.1"]
    );
}

#[tokio::test]
async fn custom_object_literals() {
    assert_eq!(eval("$o = [pscustomobject]@{ Name = 'n'; Count = 3 }; $o.Name; $o.Count").await, ["n", "3"]);
    assert_eq!(eval("[PSCustomObject]@{ B = 2; A = 1 }").await, ["@{B=2; A=1}"]);
    let (events, state) = run(&runspace(), "[pscustomobject]@{ Z = 1; A = @{ k = 'v' } }").await;
    assert_eq!(state, PipelineState::Completed);
    let Some(PipelineEvent::Output(Value::Object(object))) = events.first() else {
        panic!("not an object: {events:?}")
    };
    assert_eq!(object.type_names, ["System.Management.Automation.PSCustomObject", "System.Object"]);
    let names: Vec<&str> = object.properties.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["Z", "A"], "the literal's order");
    assert!(matches!(object.properties[1].1, Value::Hashtable(_)));
}

#[tokio::test]
async fn control_flow() {
    assert_eq!(eval("if (1 -eq 2) { 'a' } elseif ('x' -like 'X*') { 'b' } else { 'c' }").await, ["b"]);
    assert_eq!(eval("$i = 0; while ($i -lt 3) { $i; $i = $i + 1 }").await, ["0", "1", "2"]);
    assert_eq!(eval("foreach ($n in 1..3) { $n * 10 }").await, ["10", "20", "30"]);
    assert_eq!(eval("-not $false; !1; 1 -and 0; 0 -or 'x'").await, ["True", "False", "False", "True"]);
}

#[tokio::test]
async fn pipelines_with_script_blocks() {
    assert_eq!(eval("1..6 | Where-Object { $_ % 2 -eq 0 } | ForEach-Object { $_ * 2 }").await, ["4", "8", "12"]);
    assert_eq!(eval("1..3 | % { \"item $_\" }").await, ["item 1", "item 2", "item 3"]);
    assert_eq!(eval("1..3 | ForEach-Object { 'begin' } { $_ } { 'end' }").await, ["begin", "1", "2", "3", "end"]);
    assert_eq!(
        eval("1..10 | Select-Object -First 2; 1..10 | Select-Object -Last 2 -Skip 1").await,
        ["1", "2", "9", "10"]
    );
    assert_eq!(eval("& { 'called' }; & 'Write-Output' direct").await, ["called", "direct"]);
}

#[tokio::test]
async fn throw_fails_the_pipeline() {
    let rs = runspace();
    let (events, state) = run(&rs, "'before'; throw 'boom'; 'after'").await;
    assert_eq!(texts(&events), ["before"]);
    let PipelineState::Failed(record) = state else { panic!("{state:?}") };
    assert_eq!(record.message, "boom");
    assert_eq!(record.fully_qualified_error_id, "boom");
    assert_eq!(record.exception_type, "System.Management.Automation.RuntimeException");
}

#[tokio::test]
async fn runtime_errors_are_statement_errors() {
    let rs = runspace();
    let (events, state) = run(&rs, "1 / 0; 'next'").await;
    assert_eq!(state, PipelineState::Completed);
    assert_eq!(texts(&events), ["next"]);
    let errors: Vec<_> = events.iter().filter(|e| matches!(e, PipelineEvent::Error(_))).collect();
    assert_eq!(errors.len(), 1);
}

#[tokio::test]
async fn parse_error_fails_with_parse_exception() {
    let rs = runspace();
    let (events, state) = run(&rs, "Write-Output 'unterminated").await;
    assert!(events.is_empty());
    let PipelineState::Failed(record) = state else { panic!("{state:?}") };
    assert_eq!(record.exception_type, "System.Management.Automation.ParseException");
    assert_eq!(record.fully_qualified_error_id, "TerminatorExpectedAtEndOfString");
    assert_eq!(record.category.name(), "ParserError");
    assert_eq!(record.category.number(), 17);
    assert_eq!(
        record.message,
        "At line:1 char:14\n+ Write-Output 'unterminated\n+              ~\nThe string is missing the terminator: '."
    );
    let info = record.invocation.expect("position");
    assert_eq!((info.script_line_number, info.offset_in_line), (1, 14));
}

#[tokio::test]
async fn values_have_powershell_types() {
    let rs = runspace();
    let (events, _) = run(&rs, "1; 3000000000; 1.5; 'x'; Get-Date").await;
    let values = engine_support::outputs(&events);
    assert!(matches!(values[0], Value::Int(1)));
    assert!(matches!(values[1], Value::Long(3_000_000_000)));
    assert!(matches!(values[2], Value::Double(_)));
    assert!(matches!(values[3], Value::String(_)));
    assert!(matches!(values[4], Value::DateTime(_)));
}

#[test]
fn unbounded_recursion_fails_cleanly() {
    // A multi-thread runtime with tokio's default 2 MiB worker stacks, as the endpoint runs.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    runtime.block_on(async {
        let rs = runspace();
        let (events, state) = run(&rs, "$f = { 'level'; & $f }; & $f").await;
        assert_eq!(texts(&events).len(), 49, "the script itself is the first level");
        let PipelineState::Failed(record) = state else { panic!("{state:?}") };
        assert_eq!(record.fully_qualified_error_id, "CallDepthOverflow");
        assert_eq!(record.exception_type, "System.Management.Automation.ScriptCallDepthException");
        // Deep but legal nesting of pipelines inside script blocks works.
        let (events, state) = run(&rs, "1 | % { 2 | % { 3 | % { 4 | % { $_ * 10 } } } }").await;
        assert_eq!(state, PipelineState::Completed);
        assert_eq!(texts(&events), ["40"]);
    });
}
