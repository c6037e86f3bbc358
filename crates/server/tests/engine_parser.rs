//! The script parser: accepted syntax, typed errors for bad input, and no panics on any input.

use proptest::prelude::*;
use pssession_server::engine::parser::{
    BinaryOp, CommandElement, CommandName, Expr, Literal, MAX_NESTING_DEPTH, MAX_SCRIPT_LEN, PipelineElement,
    StatementKind, parse_number, parse_script,
};

fn error_id(script: &str) -> &'static str {
    match parse_script(script) {
        Ok(ast) => panic!("{script:?} parsed: {ast:?}"),
        Err(e) => e.error_id,
    }
}

#[test]
fn commands_parameters_and_pipes() {
    let script =
        parse_script("Get-Process -Name a,b -Id:5 | Select-Object -First 2 -Verbose; gps\n'x'").expect("parses");
    assert_eq!(script.statements.len(), 3);
    let StatementKind::Pipeline(p) = &script.statements[0].kind else { panic!() };
    assert_eq!(p.elements.len(), 2);
    let PipelineElement::Command(call) = &p.elements[0] else { panic!() };
    assert_eq!(call.name, CommandName::Name("Get-Process".into()));
    assert_eq!(
        call.elements,
        [
            CommandElement::Parameter { name: "Name".into(), argument: None, extent: call_extent(&call.elements[0]) },
            CommandElement::Argument(Expr::Array(vec![
                Expr::Literal(Literal::String("a".into())),
                Expr::Literal(Literal::String("b".into()))
            ])),
            CommandElement::Parameter {
                name: "Id".into(),
                argument: Some(Expr::Literal(Literal::Int(5))),
                extent: call_extent(&call.elements[2])
            },
        ]
    );
}

fn call_extent(element: &CommandElement) -> pssession_server::engine::parser::Extent {
    match element {
        CommandElement::Parameter { extent, .. } => *extent,
        CommandElement::Argument(_) => panic!("not a parameter"),
    }
}

#[test]
fn example_3_commands_parse() {
    for script in [
        r"Start-Job -FilePath \\Server30\Scripts\Backup-SQLDatabase.ps1",
        "Get-Job",
        "$BackupSpecs = Receive-Job -JobName Job2",
        r"\\Server30\Scripts\New-SQLDatabase.ps1 -InitData $BackupSpecs.Initialization",
    ] {
        parse_script(script).unwrap_or_else(|e| panic!("{script}: {e}"));
    }
    let script =
        parse_script(r"\\Server30\Scripts\New-SQLDatabase.ps1 -InitData $BackupSpecs.Initialization").expect("ok");
    let StatementKind::Pipeline(p) = &script.statements[0].kind else { panic!() };
    let PipelineElement::Command(call) = &p.elements[0] else { panic!() };
    assert_eq!(call.name, CommandName::Name(r"\\Server30\Scripts\New-SQLDatabase.ps1".into()));
    assert_eq!(
        call.elements[1],
        CommandElement::Argument(Expr::Member(Box::new(Expr::Variable("BackupSpecs".into())), "Initialization".into()))
    );
}

#[test]
fn expressions_and_precedence() {
    let script = parse_script("1 + 2 * 3").expect("ok");
    let StatementKind::Pipeline(p) = &script.statements[0].kind else { panic!() };
    let PipelineElement::Expression(Expr::Binary(BinaryOp::Add, _, right)) = &p.elements[0] else { panic!("{p:?}") };
    assert!(matches!(**right, Expr::Binary(BinaryOp::Multiply, _, _)));
    for good in [
        "$x = 1..10",
        "@{ a = 1; 'b' = 2 }",
        "\"$x ${y} $($z + 1) `$literal\"",
        "if ($a -eq 1) { 'a' } elseif ($b) { 'b' } else { 'c' }",
        "while ($i -lt 3) { $i = $i + 1 }",
        "foreach ($n in 1..3) { $n }",
        "1..3 | ForEach-Object { $_ } | Where-Object { $_ -gt 1 }",
        "Write-Output `\n  continued # comment\n<# block\ncomment #> 'ok'",
        "& { 'x' }; & 'Get-Date'",
        "throw",
        "-not $x; !$y; -5; - $z",
        "$PSVersionTable.PSVersion.Major",
        "$a[0][-1]",
    ] {
        parse_script(good).unwrap_or_else(|e| panic!("{good:?}: {e}"));
    }
}

#[test]
fn numbers() {
    assert_eq!(parse_number("42"), Some(Literal::Int(42)));
    assert_eq!(parse_number("-2147483648"), Some(Literal::Int(i32::MIN)));
    assert_eq!(parse_number("2147483648"), Some(Literal::Long(2_147_483_648)));
    assert_eq!(parse_number("5L"), Some(Literal::Long(5)));
    assert_eq!(parse_number("0xFF"), Some(Literal::Int(255)));
    assert_eq!(parse_number("0xFFFFFFFF"), Some(Literal::Int(-1)));
    assert_eq!(parse_number("1.5"), Some(Literal::Double(1.5)));
    assert_eq!(parse_number("2e3"), Some(Literal::Double(2000.0)));
    assert_eq!(parse_number("1kb"), Some(Literal::Int(1024)));
    assert_eq!(parse_number("99999999999999999999"), Some(Literal::Double(1e20)));
    for bad in ["", "-", "abc", "1x", "0x", "0xZZ", "1.5L", "kb"] {
        assert_eq!(parse_number(bad), None, "{bad}");
    }
}

#[test]
fn bad_input_gives_typed_errors() {
    assert_eq!(error_id("'abc"), "TerminatorExpectedAtEndOfString");
    assert_eq!(error_id("\"abc"), "TerminatorExpectedAtEndOfString");
    assert_eq!(error_id("ForEach-Object { 1"), "MissingEndCurlyBrace");
    assert_eq!(error_id("(1 + 2"), "MissingEndParenthesisInExpression");
    assert_eq!(error_id("$(1"), "MissingEndParenthesisInSubexpression");
    assert_eq!(error_id("Get-Process |"), "EmptyPipeElement");
    assert_eq!(error_id("Get-Process | | x"), "EmptyPipeElement");
    assert_eq!(error_id("1 +"), "ExpectedValueExpression");
    assert_eq!(error_id("gps | 1"), "ExpressionsMustBeFirstInPipeline");
    assert_eq!(error_id("@{ a 1 }"), "MissingEqualsInHashLiteral");
    assert_eq!(error_id("0x"), "BadNumericConstant");
    assert_eq!(error_id("$a[1"), "MissingEndSquareBracket");
    assert_eq!(error_id("1 )"), "UnexpectedToken");
    assert_eq!(error_id("if 1"), "MissingOpenParenthesisInIfStatement");
    assert_eq!(error_id("$ = 1"), "InvalidVariableReference");
    for unsupported in [
        "[int]5",
        "[pscustomobject]5",
        "[pscustomobject] $h",
        "$x.ToString()",
        "gps > out.txt",
        "function f { }",
        "1 -match 2",
        "$x += 1",
        "@args",
        "Write-Output @args",
    ] {
        assert_eq!(error_id(unsupported), "NotSupported", "{unsupported}");
    }
    let e = parse_script("'ok'\n  Write-Output 'open").expect_err("fails");
    assert_eq!((e.line, e.column, e.line_text.as_str()), (2, 16, "  Write-Output 'open"));
    assert_eq!(e.position_message(), "At line:2 char:16\n+   Write-Output 'open\n+                ~");
}

#[test]
fn fuzz_regressions() {
    // A lone carriage return after a backtick once made the argument loop spin without progress.
    let _ = parse_script("\u{FFFD}`\r$");
    let _ = parse_script("x `\r");
    let _ = parse_script("x `");
}

#[test]
fn limits_are_enforced() {
    let long = "1;".repeat(MAX_SCRIPT_LEN / 2 + 1);
    assert_eq!(error_id(&long), "ScriptTooLong");
    let deep = format!("{}1{}", "(".repeat(MAX_NESTING_DEPTH + 1), ")".repeat(MAX_NESTING_DEPTH + 1));
    assert_eq!(error_id(&deep), "ScriptTooDeeplyNested");
    let deep_unary = format!("{}1", "!".repeat(10_000));
    assert_eq!(error_id(&deep_unary), "ScriptTooDeeplyNested");
    let deep_blocks = "{".repeat(10_000);
    assert_eq!(error_id(&deep_blocks), "ScriptTooDeeplyNested");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = parse_script(&text);
    }

    #[test]
    fn script_like_text_never_panics(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("$x"), Just("="), Just("|"), Just(";"), Just("\n"), Just("'"), Just("\""), Just("`"), Just("("),
                Just(")"), Just("{"), Just("}"), Just("@("), Just("@{"), Just("$("), Just(","), Just(".."), Just("-"),
                Just("-Name"), Just("-eq"), Just("Get-Job"), Just("1"), Just("0x"), Just("[" ), Just("]"), Just("."),
                Just("if"), Just("foreach"), Just("while"), Just("throw"), Just(" "), Just("#"), Just("<#"), Just("#>"),
                Just("&"), Just("!"), Just(":"), Just("${"), Just("é"), Just("\r\n"),
            ],
            0..40,
        )
    ) {
        let text: String = parts.concat();
        let _ = parse_script(&text);
    }
}
