//! PowerShell's output, outside PowerShell: deserialized PSRP objects rendered as the default host's
//! Out-Default shows them, or as JSON Lines for scripts. No I/O: everything is appended to a `String` the caller
//! prints.
//!
//! * [`Formatter`] — tables and lists the way PowerShell chooses them: a type's view when there is one
//!   ([`views`]: Process, Service, FileInfo/DirectoryInfo grouped by directory, Job, dictionaries as
//!   `Name`/`Value`; `Deserialized.` names match too), else the object's `PSStandardMembers.
//!   DefaultDisplayPropertySet`, else all its properties: up to four as a table, more as a list. Tables stream:
//!   widths come from the first [`PREVIEW_ROWS`] rows, a new header starts when the shape changes, lines are
//!   cut to the terminal with `...`, and East Asian wide characters count two cells. Scalars print one per line.
//! * [`write_json_line`] — one compact JSON value per object (properties by name in wire order, numbers as
//!   numbers, dates as ISO 8601 text, SecureStrings never shown), from `pssession_psrp`'s JSON rules.
//!
//! ```
//! use pssession_format::{FormatOptions, Formatter, write_json_line};
//! use pssession_psrp::clixml::{PsObject, PsValue};
//!
//! let service: PsValue = PsObject::with_type_names(["Deserialized.System.ServiceProcess.ServiceController"])
//!     .with_property("Status", "Running")
//!     .with_property("Name", "WinRM")
//!     .with_property("DisplayName", "Windows Remote Management (WS-Management)")
//!     .into();
//! let mut out = String::new();
//! let mut formatter = Formatter::new(FormatOptions::default());
//! formatter.write(&service, &mut out);
//! formatter.finish(&mut out);
//! assert_eq!(
//!     out,
//!     "\nStatus   Name               DisplayName\n\
//!      ------   ----               -----------\n\
//!      Running  WinRM              Windows Remote Management (WS-Manag...\n\n"
//! );
//!
//! let mut line = String::new();
//! write_json_line(&service, &mut line);
//! assert_eq!(line, "{\"Status\":\"Running\",\"Name\":\"WinRM\",\"DisplayName\":\"Windows Remote Management (WS-Management)\"}\n");
//! ```

#![forbid(unsafe_code)]

mod formatter;
pub mod text;
pub mod views;
pub mod width;

pub use formatter::{FormatOptions, Formatter, MAX_TABLE_PROPERTIES, PREVIEW_ROWS, Shape};

use pssession_psrp::clixml::PsValue;

/// Appends one JSON Lines record: the value's compact JSON ([`PsValue::write_json`]) and a newline.
pub fn write_json_line(value: &PsValue, out: &mut String) {
    value.write_json(out);
    out.push('\n');
}
