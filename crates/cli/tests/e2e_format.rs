//! Output objects as PowerShell shows them and as JSON Lines, end to end against the embedded endpoint:
//! `invoke --output json` prints one JSON value per object that equals the object's CLIXML converted, numbers
//! as numbers and dates as ISO 8601 text; other streams go to stderr as JSON objects naming their stream; the
//! default text output prints a Process as the Process table.

mod e2e_support;

use e2e_support::{ALICE, Endpoints, Machine, Setup};
use pssession_psrp::clixml::from_clixml;

fn invoke(machine: &Machine, uri: &str, script: &str, output: &str) -> e2e_support::Run {
    machine.run(&["invoke", "--connection-uri", uri, "--script-block", script, "--output", output])
}

#[test]
fn json_lines_round_trip_the_objects_the_server_sent() {
    let endpoints = Endpoints::start(Setup::default());
    let uri = endpoints.http_uri(0);
    let machine = Machine::new("format-json", ALICE);
    let script = "Get-TestData -Count 3 -Size 2; 'text'; 42; 2.5";
    let json = invoke(&machine, &uri, script, "json");
    let lines: Vec<serde_json::Value> = json
        .ok()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not one JSON value per line ({e}): {line}")))
        .collect();
    assert_eq!(lines.len(), 6, "{}", json.stdout);
    for (i, line) in lines[..3].iter().enumerate() {
        assert_eq!(line["Sequence"], serde_json::json!(i + 1), "numbers stay numbers: {line}");
        assert!(line["Payload"].is_string(), "{line}");
    }
    assert_eq!(lines[3..], [serde_json::json!("text"), serde_json::json!(42), serde_json::json!(2.5)]);
    // The same objects as raw CLIXML, one per line, convert to exactly those values.
    let clixml = invoke(&machine, &uri, script, "clixml");
    let converted: Vec<serde_json::Value> = clixml
        .ok()
        .lines()
        .map(|line| from_clixml(line.as_bytes()).expect("one CLIXML object per line").to_json())
        .collect();
    assert_eq!(converted, lines);
}

#[test]
fn dates_are_iso_text_and_other_streams_are_json_on_stderr() {
    let endpoints = Endpoints::start(Setup::default());
    let uri = endpoints.http_uri(0);
    let machine = Machine::new("format-streams", ALICE);
    let run = invoke(&machine, &uri, "Get-Date; Write-Warning 'careful'; Write-Error 'bad'; 1", "json");
    let stderr = run.failed();
    let stdout: Vec<serde_json::Value> =
        run.stdout.lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
    let date = stdout[0].as_str().unwrap_or_else(|| panic!("a date is text: {}", stdout[0]));
    let bytes = date.as_bytes();
    assert!(
        bytes.len() >= 19 && bytes[4] == b'-' && bytes[7] == b'-' && bytes[10] == b'T' && bytes[13] == b':',
        "not ISO 8601: {date}"
    );
    assert_eq!(stdout[1], serde_json::json!(1));
    let records: Vec<serde_json::Value> =
        stderr.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    let streams: Vec<&str> = records.iter().filter_map(|r| r["Stream"].as_str()).collect();
    assert_eq!(streams, ["Warning", "Error"], "{stderr}");
    assert_eq!(records[0]["Message"], "careful");
    assert_eq!(records[1]["Message"], "bad");
    assert!(records[1]["Record"].is_object(), "the error record itself: {}", records[1]);
}

#[test]
fn a_process_prints_as_the_process_table() {
    let endpoints = Endpoints::start(Setup::default());
    let uri = endpoints.http_uri(0);
    let machine = Machine::new("format-text", ALICE);
    let run = invoke(&machine, &uri, "Get-Process | Select-Object -First 3", "text");
    let stdout = run.ok();
    assert!(!stdout.contains("System.Diagnostics.Process"), "a Process printed as its ToString:\n{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[1], "Handles  NPM(K)    PM(K)      WS(K)     CPU(s)     Id  SI ProcessName", "{stdout}");
    assert_eq!(lines[2], "-------  ------    -----      -----     ------     --  -- -----------");
    assert_eq!(lines.len(), 7, "blank, header, dashes, three processes, blank:\n{stdout}");
    let table = invoke(&machine, &uri, "Get-TestData -Count 2 -Size 3", "text");
    assert_eq!(table.ok(), "\nSequence Payload\n-------- -------\n       1 bbb\n       2 ccc\n\n");
    let list = invoke(&machine, &uri, "Get-TestData -Count 1 -Size 3", "list");
    assert_eq!(list.ok(), "\nSequence : 1\nPayload  : bbb\n\n");
}

#[test]
fn custom_objects_nest_in_json_and_print_as_tables() {
    let endpoints = Endpoints::start(Setup::default());
    let uri = endpoints.http_uri(0);
    let machine = Machine::new("format-custom", ALICE);
    let script = "[pscustomobject]@{ Name = 'n'; Inner = [pscustomobject]@{ X = 1; Y = 'y' }; List = @(1, 'two'); Map = @{ k = 2 } }";
    let json = invoke(&machine, &uri, script, "json");
    let value: serde_json::Value = serde_json::from_str(json.ok().trim_end()).expect("one JSON value");
    assert_eq!(
        value,
        serde_json::json!({ "Name": "n", "Inner": { "X": 1, "Y": "y" }, "List": [1, "two"], "Map": { "k": 2 } })
    );
    // In order, as the literal wrote them.
    assert!(
        json.stdout.starts_with(r#"{"Name":"n","Inner":{"X":1,"Y":"y"},"List":[1,"two"],"Map""#),
        "{}",
        json.stdout
    );
    let text = invoke(&machine, &uri, script, "text");
    assert_eq!(
        text.ok(),
        "\nName Inner       List     Map\n---- -----       ----     ---\nn    @{X=1; Y=y} {1, two} {[k, 2]}\n\n"
    );
    // The Process objects carry PSStandardMembers, which JSON leaves out as ConvertTo-Json does.
    let process = invoke(&machine, &uri, "Get-Process | Select-Object -First 1", "json");
    let process: serde_json::Value = serde_json::from_str(process.ok().trim_end()).expect("one JSON value");
    assert!(process["Id"].is_number() && process.get("PSStandardMembers").is_none(), "{process}");
}

#[test]
fn a_slow_commands_first_rows_show_while_it_runs() {
    use std::io::BufRead as _;
    let endpoints = Endpoints::start(Setup::default());
    let uri = endpoints.http_uri(0);
    let machine = Machine::new("format-pause", ALICE);
    // Two rows, then a command that outlives the test: the table can only appear through the pause rule (the
    // widths fixed once no object came for a moment), never through the end of the output.
    let script = "Get-TestData -Count 2 -Size 3; Start-Sleep -Seconds 600";
    let mut child = machine.spawn(&["invoke", "--connection-uri", &uri, "--script-block", script]);
    let stdout = child.stdout.take().expect("stdout");
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    while seen.last().map(String::as_str) != Some("       2 ccc") {
        // A hang guard only: the rows come a moment after the command starts.
        match lines_rx.recv_timeout(std::time::Duration::from_secs(60)) {
            Ok(line) => seen.push(line),
            Err(e) => panic!("the rows did not show while the command ran ({e}); so far: {seen:?}"),
        }
    }
    assert_eq!(seen, ["", "Sequence Payload", "-------- -------", "       1 bbb", "       2 ccc"]);
    assert!(child.try_wait().expect("child status").is_none(), "the command should still be running");
    child.kill().expect("stop the client");
    child.wait().expect("reap the client");
}
