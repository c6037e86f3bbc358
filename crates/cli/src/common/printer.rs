//! Objects as they arrive: PowerShell's formatting or JSON Lines on stdout, the other streams on stderr.

use super::*;

/// How pipeline output objects are printed (`receive`, `invoke`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ObjectFormat {
    /// As PowerShell's host shows them: each type's view, else a table up to four properties and a list above.
    #[default]
    Text,
    /// Always tables (`Format-Table`).
    Table,
    /// Always lists (`Format-List`).
    List,
    /// One JSON value per object on stdout (JSON Lines); the other streams as JSON objects on stderr.
    Json,
    /// Each object's raw CLIXML, one per line.
    Clixml,
}

impl ObjectFormat {
    /// How the session rows a command prints besides objects are shown: JSON for `json`, else the table.
    pub fn rows(self) -> OutputFormat {
        match self {
            ObjectFormat::Json => OutputFormat::Json,
            _ => OutputFormat::Table,
        }
    }
}

/// The environment variable with the terminal's width (shells set it); 120 columns when absent.
pub const COLUMNS_ENV: &str = "COLUMNS";

/// The width tables are cut to: `$COLUMNS` when set (shells do not export it, so it is the user's explicit choice),
/// else the terminal's width when stdout is one, else 120 (a Windows console's default, and what a pipe or file
/// gets, as PowerShell's host gives redirected output).
pub fn terminal_width() -> usize {
    let explicit = std::env::var(COLUMNS_ENV).ok().and_then(|c| c.trim().parse().ok()).filter(|&w: &usize| w > 0);
    explicit
        .or_else(|| {
            terminal_size::terminal_size_of(std::io::stdout()).map(|(w, _)| usize::from(w.0)).filter(|&w| w > 0)
        })
        .unwrap_or(120)
}

/// How long a table waits for more rows before fixing its column widths, as PowerShell's table writer does.
pub const TABLE_GROUPING_PAUSE: Duration = Duration::from_millis(300);

/// Prints pipeline events one at a time as they arrive, like a PowerShell host: output objects to stdout
/// through [`pssession_format::Formatter`] (or as JSON Lines, or raw CLIXML), the other streams to stderr with
/// their prefixes (as JSON objects with their stream name in JSON mode). What a table holds back is printed by
/// [`OutputPrinter::finish`], which dropping the printer also does.
pub struct OutputPrinter {
    format: ObjectFormat,
    /// One deserializer for the stream: objects of one shape are read by matching the first one's markup.
    de: Deserializer,
    formatter: Formatter,
    /// The text of the current object, reused from one object to the next.
    text: String,
    /// Since when the formatter has held rows back.
    pending_since: Option<Instant>,
    failed: bool,
}

impl OutputPrinter {
    /// A printer in this format, cut to the terminal's width.
    pub fn new(format: ObjectFormat) -> Self {
        let shape = match format {
            ObjectFormat::Table => Shape::Table,
            ObjectFormat::List => Shape::List,
            _ => Shape::Auto,
        };
        OutputPrinter {
            format,
            de: Deserializer::default(),
            formatter: Formatter::new(FormatOptions { width: terminal_width(), shape }),
            text: String::new(),
            pending_since: None,
            failed: false,
        }
    }

    /// Whether an error record or a failed state was printed.
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Prints one event.
    pub fn print(&mut self, output: &PipelineOutput) {
        match &output.event {
            PipelineEvent::Output(value) => self.print_object(value),
            PipelineEvent::Error(record) => {
                self.failed = true;
                self.print_record("Error", record, || render_error_record(record));
            }
            PipelineEvent::Warning(record) => self.print_record("Warning", record, || format!("WARNING: {record}")),
            PipelineEvent::Verbose(record) => self.print_record("Verbose", record, || format!("VERBOSE: {record}")),
            PipelineEvent::Debug(record) => self.print_record("Debug", record, || format!("DEBUG: {record}")),
            PipelineEvent::Information(record) => self.print_record("Information", record, || record.to_string()),
            PipelineEvent::Progress(record) if self.format == ObjectFormat::Json => {
                self.print_record("Progress", record, String::new)
            }
            PipelineEvent::State { error: Some(error), .. } => {
                self.failed = true;
                if self.format == ObjectFormat::Json {
                    let line = serde_json::json!({
                        "Stream": "Error",
                        "Message": error.message,
                        "FullyQualifiedErrorId": error.fully_qualified_error_id,
                    });
                    write_stderr(&format!("{line}\n"));
                } else {
                    self.flush_table();
                    write_stderr(&format!("{error}\n"));
                }
            }
            _ => {}
        }
    }

    fn print_object(&mut self, value: &pssession_psrp::client::Clixml) {
        self.text.clear();
        match self.format {
            ObjectFormat::Clixml => {
                self.text.push_str(value.as_str());
                self.text.push('\n');
            }
            ObjectFormat::Json => match value.value_with(&mut self.de) {
                Ok(object) => write_json_line(&object, &mut self.text),
                Err(e) => {
                    let line = serde_json::json!({
                        "Stream": "Output",
                        "Message": format!("unreadable output object: {e}"),
                        "Clixml": value.as_str(),
                    });
                    write_stderr(&format!("{line}\n"));
                }
            },
            ObjectFormat::Text | ObjectFormat::Table | ObjectFormat::List => {
                match value.value_with(&mut self.de) {
                    Ok(object) => self.formatter.write(&object, &mut self.text),
                    Err(_) => {
                        // Not readable as an object: its text as the record readers see it, on a line of its own.
                        self.formatter.finish(&mut self.text);
                        self.text.push_str(&value.to_display_string_with(&mut self.de));
                        self.text.push('\n');
                    }
                }
                if self.formatter.has_pending() {
                    let since = *self.pending_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= TABLE_GROUPING_PAUSE {
                        self.formatter.flush(&mut self.text);
                    }
                }
                if !self.formatter.has_pending() {
                    self.pending_since = None;
                }
            }
        }
        write_stdout(&self.text);
    }

    /// A record of another stream: its text on stderr, or `{"Stream": …, "Message": …, "Record": …}` in JSON mode.
    fn print_record(&mut self, stream: &str, record: &pssession_psrp::client::Clixml, text: impl FnOnce() -> String) {
        if self.format == ObjectFormat::Json {
            let value = record.value_with(&mut self.de).map(|v| v.to_json()).unwrap_or(serde_json::Value::Null);
            let message = match stream {
                "Progress" => serde_json::Value::Null,
                _ => serde_json::Value::String(record.to_display_string_with(&mut self.de)),
            };
            let line = serde_json::json!({ "Stream": stream, "Message": message, "Record": value });
            write_stderr(&format!("{line}\n"));
        } else {
            // Rows held back for their widths were produced before this record: they go out first.
            self.flush_table();
            write_stderr(&format!("{}\n", text()));
        }
    }

    /// Fixes a held-back table's widths once no object has come for [`TABLE_GROUPING_PAUSE`], as PowerShell's
    /// table writer does, so a slow command's first rows show before it ends.
    pub fn flush_after_pause(&mut self) {
        if self.pending_since.is_some_and(|since| since.elapsed() >= TABLE_GROUPING_PAUSE) {
            self.flush_table();
        }
    }

    fn flush_table(&mut self) {
        if self.formatter.has_pending() {
            self.text.clear();
            self.formatter.flush(&mut self.text);
            write_stdout(&self.text);
            self.pending_since = None;
        }
    }

    /// Prints what the formatter holds back and closes its last table or list.
    pub fn finish(&mut self) {
        self.text.clear();
        self.formatter.finish(&mut self.text);
        write_stdout(&self.text);
        self.pending_since = None;
    }
}

impl Drop for OutputPrinter {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Runs `receive` (whose sink prints through `printer`), giving the printer a chance every
/// [`TABLE_GROUPING_PAUSE`] to print a table it holds back ([`OutputPrinter::flush_after_pause`]).
pub async fn with_table_pauses<F: std::future::Future>(
    printer: &std::cell::RefCell<OutputPrinter>,
    receive: F,
) -> F::Output {
    let mut receive = std::pin::pin!(receive);
    loop {
        tokio::select! {
            output = &mut receive => return output,
            // The sink borrows the printer only while `receive` is polled, never across this arm.
            () = tokio::time::sleep(TABLE_GROUPING_PAUSE) => printer.borrow_mut().flush_after_pause(),
        }
    }
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a panic.
fn write_stdout(text: &str) {
    use std::io::Write as _;
    if !text.is_empty() {
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
    }
}

fn write_stderr(text: &str) {
    use std::io::Write as _;
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// An error record as Windows PowerShell's host prints it: the message, then the category and the error id.
/// Anything that is not a readable ErrorRecord prints as its text.
pub fn render_error_record(record: &pssession_psrp::client::Clixml) -> String {
    use pssession_psrp::messages::ErrorRecord;
    let Ok(typed) = record.value().map_err(|_| ()).and_then(|v| ErrorRecord::from_value(&v).map_err(|_| ())) else {
        return record.to_string();
    };
    let mut text = record.to_string();
    if !typed.reason.is_empty() || !typed.activity.is_empty() {
        text.push_str(&format!("\n    + CategoryInfo          : {}", typed.category_message()));
    }
    if !typed.fully_qualified_error_id.is_empty() {
        text.push_str(&format!("\n    + FullyQualifiedErrorId : {}", typed.fully_qualified_error_id));
    }
    text
}
