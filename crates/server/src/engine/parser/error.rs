//! Parse errors, shaped like PowerShell's `ParseError` (an error id, a message and a position).

use std::fmt;

/// A script that could not be parsed.
///
/// `error_id` is the identifier PowerShell's parser uses for the same mistake where one exists (for example
/// `TerminatorExpectedAtEndOfString` or `MissingEndCurlyBrace`); it becomes the `FullyQualifiedErrorId` of the
/// `ParseException` error record. Constructs the engine deliberately does not support get `NotSupported`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParseError {
    /// PowerShell's error id for this mistake.
    pub error_id: &'static str,
    /// The human-readable message.
    pub message: String,
    /// Byte offset in the script where the problem was detected.
    pub offset: usize,
    /// 1-based line of `offset`.
    pub line: usize,
    /// 1-based column (in characters) of `offset`.
    pub column: usize,
    /// The text of the line containing `offset`.
    pub line_text: String,
}

impl ParseError {
    pub(crate) fn new(source: &str, offset: usize, error_id: &'static str, message: String) -> ParseError {
        let offset = offset.min(source.len());
        let (line, column, line_text) = position_of(source, offset);
        ParseError { error_id, message, offset, line, column, line_text }
    }

    /// PowerShell's position message: `At line:L char:C` followed by the line and a `~` marker.
    pub fn position_message(&self) -> String {
        position_message(self.line, self.column, &self.line_text, 1)
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "At line:{} char:{}: {} ({})", self.line, self.column, self.message, self.error_id)
    }
}

impl std::error::Error for ParseError {}

/// Line (1-based), column (1-based, in characters) and line text of a byte offset.
pub(crate) fn position_of(source: &str, offset: usize) -> (usize, usize, String) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let column = source[line_start..offset].chars().count() + 1;
    let line_end = source[line_start..].find('\n').map_or(source.len(), |i| line_start + i);
    let line_text = source[line_start..line_end].trim_end_matches('\r').to_string();
    (line, column, line_text)
}

/// `At line:L char:C` + newline + `+ <line>` + newline + `+ <spaces><tildes>`, as PowerShell prints it.
pub(crate) fn position_message(line: usize, column: usize, line_text: &str, width: usize) -> String {
    let pad = " ".repeat(column.saturating_sub(1));
    let marks = "~".repeat(width.max(1));
    format!("At line:{line} char:{column}\n+ {line_text}\n+ {pad}{marks}")
}
