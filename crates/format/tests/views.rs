//! The formatter's layouts on objects shaped as Windows serializes them, each checked against what Windows
//! PowerShell 5.1 prints for the same object.

use pssession_format::{FormatOptions, Formatter, Shape};
use pssession_psrp::clixml::{PsValue, from_clixml};

fn render_with(options: FormatOptions, clixml: &[&str]) -> String {
    let mut formatter = Formatter::new(options);
    let mut out = String::new();
    for xml in clixml {
        let value = from_clixml(xml.as_bytes()).expect("valid CLIXML");
        formatter.write(&value, &mut out);
    }
    formatter.finish(&mut out);
    out
}

fn render(clixml: &[&str]) -> String {
    render_with(FormatOptions::default(), clixml)
}

/// A Process as Windows PowerShell serializes `Get-Process` output (the alias and script properties in `MS`).
fn process(name: &str, id: i32, handles: i32, ws: i64, cpu: f64) -> String {
    format!(
        r#"<Obj RefId="0"><TN RefId="0"><T>System.Diagnostics.Process</T><T>System.ComponentModel.Component</T><T>System.MarshalByRefObject</T><T>System.Object</T></TN><ToString>System.Diagnostics.Process ({name})</ToString><Props><I32 N="BasePriority">8</I32><I32 N="HandleCount">{handles}</I32><I32 N="Id">{id}</I32><S N="ProcessName">{name}</S><I32 N="SessionId">1</I32><I64 N="WorkingSet64">{ws}</I64></Props><MS><S N="Name">{name}</S><I32 N="SI">1</I32><I32 N="Handles">{handles}</I32><I64 N="VM">2199090491392</I64><I64 N="WS">{ws}</I64><I64 N="PM">2940928</I64><I64 N="NPM">14336</I64><Db N="CPU">{cpu}</Db></MS></Obj>"#
    )
}

#[test]
fn a_process_prints_as_the_process_table_not_as_its_to_string() {
    let out = render(&[
        &process("bash", 1234, 232, 12_537_856, 0.046875),
        &process("svchost", 804, 1455, 30_720_000, 1234.5),
    ]);
    assert!(!out.contains("System.Diagnostics.Process"), "a Process printed as its ToString:\n{out}");
    assert_eq!(
        out,
        "\nHandles  NPM(K)    PM(K)      WS(K)     CPU(s)     Id  SI ProcessName\n\
         -------  ------    -----      -----     ------     --  -- -----------\n    \
         232      14     2872      12244       0.05   1234   1 bash\n   \
         1455      14     2872      30000   1,234.50    804   1 svchost\n\n"
    );
}

#[test]
fn the_deserialized_prefix_finds_the_same_view() {
    let wire = process("bash", 1, 2, 3, 0.0);
    let prefixed = wire.replace("<T>System.Diagnostics.Process</T>", "<T>Deserialized.System.Diagnostics.Process</T>");
    assert_eq!(render(&[&wire]), render(&[&prefixed]));
}

#[test]
fn services_cut_the_display_name_with_dots() {
    let service = |status: &str, name: &str, display: &str| {
        format!(
            r#"<Obj RefId="0"><TN RefId="0"><T>System.ServiceProcess.ServiceController</T><T>System.Object</T></TN><ToString>System.ServiceProcess.ServiceController</ToString><Props><S N="Name">{name}</S><S N="DisplayName">{display}</S><Obj N="Status" RefId="1"><TN RefId="1"><T>System.ServiceProcess.ServiceControllerStatus</T><T>System.Enum</T><T>System.ValueType</T><T>System.Object</T></TN><ToString>{status}</ToString><I32>4</I32></Obj></Props></Obj>"#
        )
    };
    let out = render(&[
        &service("Running", "WinRM", "Windows Remote Management (WS-Management)"),
        &service("Stopped", "wuauserv", "Windows Update"),
    ]);
    assert_eq!(
        out,
        "\nStatus   Name               DisplayName\n\
         ------   ----               -----------\n\
         Running  WinRM              Windows Remote Management (WS-Manag...\n\
         Stopped  wuauserv           Windows Update\n\n"
    );
}

fn file(parent: &str, name: &str, mode: &str, length: Option<i64>) -> String {
    let (type_name, length) = match length {
        Some(n) => ("System.IO.FileInfo", format!(r#"<I64 N="Length">{n}</I64>"#)),
        None => ("System.IO.DirectoryInfo", String::new()),
    };
    format!(
        r#"<Obj RefId="0"><TN RefId="0"><T>{type_name}</T><T>System.IO.FileSystemInfo</T><T>System.Object</T></TN><ToString>{name}</ToString><Props><S N="Name">{name}</S>{length}<DT N="LastWriteTime">2024-01-15T15:45:09.1234567+01:00</DT></Props><MS><S N="PSParentPath">Microsoft.PowerShell.Core\FileSystem::{parent}</S><S N="Mode">{mode}</S></MS></Obj>"#
    )
}

#[test]
fn files_are_grouped_by_directory() {
    let out = render(&[
        &file(r"C:\Users\me", "Documents", "d-r---", None),
        &file(r"C:\Users\me", "notes.txt", "-a----", Some(1234)),
        &file(r"C:\Temp", "日本語.txt", "-a----", Some(5)),
    ]);
    assert_eq!(
        out,
        "\n    Directory: C:\\Users\\me\n\n\n\
         Mode                LastWriteTime         Length Name\n\
         ----                -------------         ------ ----\n\
         d-r---        1/15/2024   3:45 PM                Documents\n\
         -a----        1/15/2024   3:45 PM           1234 notes.txt\n\n\
         \n    Directory: C:\\Temp\n\n\n\
         Mode                LastWriteTime         Length Name\n\
         ----                -------------         ------ ----\n\
         -a----        1/15/2024   3:45 PM              5 日本語.txt\n\n"
    );
}

#[test]
fn hashtables_are_name_value_rows_with_nested_values_as_powershell_shows_them() {
    let out = render(&[
        r#"<Obj RefId="0"><TN RefId="0"><T>System.Collections.Hashtable</T><T>System.Object</T></TN><DCT><En><S N="Key">list</S><Obj N="Value" RefId="1"><TN RefId="1"><T>System.Object[]</T><T>System.Array</T><T>System.Object</T></TN><LST><I32>1</I32><I32>2</I32><I32>3</I32><I32>4</I32><I32>5</I32></LST></Obj></En><En><S N="Key">name</S><S N="Value">x</S></En></DCT></Obj>"#,
    ]);
    assert_eq!(
        out,
        "\nName                           Value\n\
         ----                           -----\n\
         list                           {1, 2, 3, 4...}\n\
         name                           x\n\n"
    );
}

fn custom(properties: &[(&str, &str)]) -> String {
    let members: String = properties.iter().map(|(name, value)| format!(r#"<S N="{name}">{value}</S>"#)).collect();
    format!(
        r#"<Obj RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T><T>System.Object</T></TN><MS>{members}</MS></Obj>"#
    )
}

#[test]
fn up_to_four_properties_make_a_table_more_make_a_list() {
    let four = custom(&[("A", "1"), ("B", "2"), ("C", "3"), ("D", "4")]);
    assert_eq!(render(&[&four]), "\nA B C D\n- - - -\n1 2 3 4\n\n");
    let five = custom(&[("A", "1"), ("B", "2"), ("C", "3"), ("D", "4"), ("Longer", "5")]);
    assert_eq!(
        render(&[&five, &five]),
        "\nA      : 1\nB      : 2\nC      : 3\nD      : 4\nLonger : 5\n\nA      : 1\nB      : 2\nC      : 3\nD      : 4\nLonger : 5\n\n"
    );
    let forced = render_with(FormatOptions { shape: Shape::Table, ..FormatOptions::default() }, &[&five]);
    assert_eq!(forced, "\nA B C D Longer\n- - - - ------\n1 2 3 4 5\n\n");
    let listed = render_with(FormatOptions { shape: Shape::List, ..FormatOptions::default() }, &[&four]);
    assert_eq!(listed, "\nA : 1\nB : 2\nC : 3\nD : 4\n\n");
}

#[test]
fn the_default_display_property_set_picks_the_columns() {
    let object = r#"<Obj RefId="0"><TN RefId="0"><T>Contoso.Widget</T><T>System.Object</T></TN><ToString>Contoso.Widget</ToString><Props><S N="Internal">x</S><S N="Name">gear</S><I32 N="Size">12</I32><S N="Owner">me</S><S N="Colour">red</S><S N="Notes">n</S></Props><MS><Obj N="PSStandardMembers" RefId="1"><MS><Obj N="DefaultDisplayPropertySet" RefId="2"><TN RefId="1"><T>System.Management.Automation.PSPropertySet</T><T>System.Management.Automation.PSMemberInfo</T><T>System.Object</T></TN><ToString>DefaultDisplayPropertySet</ToString><MS><Obj N="ReferencedPropertyNames" RefId="3"><TN RefId="2"><T>System.String[]</T><T>System.Array</T><T>System.Object</T></TN><LST><S>Size</S><S>Name</S></LST></Obj></MS></Obj></MS></Obj></MS></Obj>"#;
    assert_eq!(render(&[object]), "\nSize Name\n---- ----\n  12 gear\n\n");
}

#[test]
fn a_new_shape_starts_a_new_table_and_scalars_interrupt_tables() {
    let out = render(&[
        &custom(&[("A", "1")]),
        &custom(&[("A", "2")]),
        &custom(&[("B", "3")]),
        "<S>text</S>",
        &custom(&[("B", "4")]),
    ]);
    assert_eq!(out, "\nA\n-\n1\n2\n\n\nB\n-\n3\n\ntext\n\nB\n-\n4\n\n");
}

#[test]
fn tables_are_cut_to_the_terminal_and_measure_wide_characters() {
    let wide = custom(&[("Name", "日本語の長いファイル名です"), ("Kind", "x")]);
    let narrow = FormatOptions { width: 20, ..FormatOptions::default() };
    let out = render_with(narrow, &[&wide]);
    for line in out.lines() {
        assert!(unicode_width(line) <= 20, "line wider than the terminal: {line:?}");
    }
    // 26 cells of name + a separator + Kind do not fit in 20: Kind is dropped and the name cut with dots
    // (8 wide characters and "..." take 19 cells; a ninth would take 21).
    assert_eq!(out, "\nName\n----\n日本語の長いファ...\n\n");
    let fits = render(&[&wide]);
    assert_eq!(
        fits,
        "\nName                       Kind\n----                       ----\n日本語の長いファイル名です x\n\n"
    );
}

fn unicode_width(text: &str) -> usize {
    pssession_format::width::display_width(text)
}

#[test]
fn widths_come_from_the_first_rows_and_later_rows_are_cut() {
    let mut inputs: Vec<String> =
        (0..pssession_format::PREVIEW_ROWS).map(|_| custom(&[("Name", "ab"), ("X", "1")])).collect();
    inputs.push(custom(&[("Name", "much longer"), ("X", "2")]));
    let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let out = render(&refs);
    let last = out.lines().rev().find(|l| !l.is_empty()).expect("a row");
    assert_eq!(last, "m... 2");
}

#[test]
fn the_formatter_streams_before_the_end() {
    let mut formatter = Formatter::new(FormatOptions::default());
    let mut out = String::new();
    let row = from_clixml(custom(&[("A", "1")]).as_bytes()).expect("valid");
    for _ in 0..pssession_format::PREVIEW_ROWS {
        formatter.write(&row, &mut out);
    }
    assert!(out.starts_with("\nA\n-\n1\n"), "the first rows were held back after the preview: {out:?}");
    let before = out.len();
    formatter.write(&row, &mut out);
    assert_eq!(&out[before..], "1\n");
    assert!(!formatter.has_pending());
    let mut paused = Formatter::new(FormatOptions::default());
    let mut early = String::new();
    paused.write(&row, &mut early);
    assert!(early.is_empty() && paused.has_pending());
    paused.flush(&mut early);
    assert_eq!(early, "\nA\n-\n1\n");
}

#[test]
fn scalars_print_one_per_line_and_collections_are_enumerated() {
    let out = render(&[
        "<I32>42</I32>",
        "<DT>2024-01-15T15:45:09</DT>",
        r#"<Obj RefId="0"><TN RefId="0"><T>System.Object[]</T><T>System.Array</T><T>System.Object</T></TN><LST><S>a</S><B>true</B></LST></Obj>"#,
        "<Nil/>",
        r#"<Obj RefId="0"><TN RefId="0"><T>System.ConsoleColor</T><T>System.Enum</T><T>System.ValueType</T><T>System.Object</T></TN><ToString>Green</ToString><I32>10</I32></Obj>"#,
    ]);
    assert_eq!(out, "42\nMonday, January 15, 2024 3:45:09 PM\na\nTrue\nGreen\n");
    let _ = PsValue::Null;
}

#[test]
fn jobs_use_the_job_view() {
    let job = r#"<Obj RefId="0"><TN RefId="0"><T>System.Management.Automation.PSRemotingJob</T><T>System.Management.Automation.Job</T><T>System.Object</T></TN><ToString>System.Management.Automation.PSRemotingJob</ToString><Props><I32 N="Id">1</I32><S N="Name">Job1</S><S N="PSJobTypeName">RemoteJob</S><Obj N="State" RefId="1"><TN RefId="1"><T>System.Management.Automation.JobState</T><T>System.Enum</T><T>System.ValueType</T><T>System.Object</T></TN><ToString>Running</ToString><I32>1</I32></Obj><B N="HasMoreData">true</B><S N="Location">server1</S><S N="Command">Get-Process</S></Props></Obj>"#;
    assert_eq!(
        render(&[job]),
        "\nId     Name            PSJobTypeName   State         HasMoreData     Location             Command\n\
         --     ----            -------------   -----         -----------     --------             -------\n\
         1      Job1            RemoteJob       Running       True            server1              Get-Process\n\n"
    );
}

#[test]
fn an_empty_hashtable_prints_nothing_and_long_list_values_wrap() {
    let empty =
        r#"<Obj RefId="0"><TN RefId="0"><T>System.Collections.Hashtable</T><T>System.Object</T></TN><DCT /></Obj>"#;
    assert_eq!(render(&[empty, "<S>after</S>"]), "after\n");
    let long = custom(&[("A", "1"), ("B", "2"), ("C", "3"), ("D", "4"), ("Text", "abcdefghijklmnopqrstuvwxyz")]);
    let narrow = FormatOptions { width: 20, ..FormatOptions::default() };
    assert_eq!(
        render_with(narrow, &[&long]),
        "\nA    : 1\nB    : 2\nC    : 3\nD    : 4\nText : abcdefghijklm\n       nopqrstuvwxyz\n\n"
    );
}
