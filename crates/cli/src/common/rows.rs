//! The session tables (`Id Name ComputerName … Availability`) and their JSON form.

use super::*;

/// One row of the session table.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Row {
    /// Local Id.
    pub id: u32,
    /// Name.
    pub name: String,
    /// InstanceId.
    pub instance_id: Uuid,
    /// ComputerName.
    pub computer_name: String,
    /// ComputerType (`RemoteMachine`), shown by `get` only, as Get-PSSession's table has it and the tables of the
    /// other cmdlets do not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub computer_type: Option<String>,
    /// State.
    pub state: String,
    /// ConfigurationName.
    pub configuration_name: String,
    /// Availability.
    pub availability: String,
}

impl Row {
    /// The row of a stored session.
    pub fn from_record(record: &SessionRecord) -> Self {
        Row {
            id: record.id,
            name: record.name.clone(),
            instance_id: record.instance_id,
            computer_name: record.computer_name.clone(),
            computer_type: None,
            state: format!("{:?}", record.state),
            configuration_name: record.configuration_name.clone(),
            availability: format!("{:?}", record.availability),
        }
    }

    /// The row with Get-PSSession's `ComputerType` column: `RemoteMachine`, as for every session on a computer
    /// (PowerShell's other values are for containers and Hyper-V VMs, which WS-Man does not reach).
    pub fn with_computer_type(self) -> Self {
        Row { computer_type: Some(REMOTE_MACHINE.to_owned()), ..self }
    }
}

/// Get-PSSession's `ComputerType` of a session on a computer.
pub const REMOTE_MACHINE: &str = "RemoteMachine";

/// Prints rows as PowerShell's table or as JSON.
pub fn print_rows(rows: &[Row], format: OutputFormat) {
    match format {
        OutputFormat::Json => match serde_json::to_string_pretty(rows) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("pssession: {e}"),
        },
        OutputFormat::Table => {
            if rows.is_empty() {
                return;
            }
            print!("{}", render_table(rows));
        }
    }
}

/// The table text (`Id Name ComputerName State ConfigurationName Availability`), with Get-PSSession's
/// `ComputerType` column after `ComputerName` when the rows have one ([`Row::with_computer_type`]).
pub fn render_table(rows: &[Row]) -> String {
    let with_type = rows.iter().any(|r| r.computer_type.is_some());
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut cells = vec![r.id.to_string(), r.name.clone(), r.computer_name.clone()];
            if with_type {
                cells.push(r.computer_type.clone().unwrap_or_default());
            }
            cells.extend([r.state.clone(), r.configuration_name.clone(), r.availability.clone()]);
            cells
        })
        .collect();
    // Id and Availability are right-aligned, as in PowerShell's view.
    if with_type {
        render_columns(
            &["Id", "Name", "ComputerName", "ComputerType", "State", "ConfigurationName", "Availability"],
            &[0, 6],
            &cells,
        )
    } else {
        render_columns(&["Id", "Name", "ComputerName", "State", "ConfigurationName", "Availability"], &[0, 5], &cells)
    }
}

/// A PowerShell-style table: a blank line, headers, dashes under each header, the rows, a blank line. Columns
/// are as wide as their widest cell; those listed in `right_aligned` are right-aligned.
pub fn render_columns(headers: &[&str], right_aligned: &[usize], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..headers.len())
        .map(|i| {
            rows.iter().filter_map(|c| c.get(i)).map(|c| c.chars().count()).chain([headers[i].len()]).max().unwrap_or(0)
        })
        .collect();
    let line = |values: &[&str]| {
        let mut out = String::new();
        for (i, width) in widths.iter().enumerate() {
            let value = values.get(i).copied().unwrap_or("");
            let cell = if right_aligned.contains(&i) { format!("{value:>width$}") } else { format!("{value:<width$}") };
            out.push_str(&cell);
            out.push(' ');
        }
        let mut out = out.trim_end_matches(' ').to_owned();
        out.push('\n');
        out
    };
    let mut out = String::from("\n");
    out.push_str(&line(headers));
    let dashes: Vec<String> = headers.iter().map(|h| "-".repeat(h.len())).collect();
    out.push_str(&line(&dashes.iter().map(String::as_str).collect::<Vec<_>>()));
    for row in rows {
        out.push_str(&line(&row.iter().map(String::as_str).collect::<Vec<_>>()));
    }
    out.push('\n');
    out
}
