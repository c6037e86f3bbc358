//! The streaming formatter: objects in, PowerShell's Out-Default text out, one object at a time.

use std::sync::Arc;

use pssession_psrp::clixml::{PsObject, PsValue};

use crate::text::{as_f64, cell_text, file_time, is_numeric, number_n2, one_line, round_half_even, scalar_text};
use crate::views::{self, Align, Column, ColumnValue, View};
use crate::width::{display_width, push_padded, truncate_end, truncate_start, wrap};

/// How many rows a table collects before it fixes its column widths, like the grouping queue of PowerShell's
/// table writer (which waits up to 300 ms; this crate has no clock, so a caller that wants that pause calls
/// [`Formatter::flush`] itself).
pub const PREVIEW_ROWS: usize = 30;

/// PowerShell's rule for an object with no view: up to this many properties make a table, more a list.
pub const MAX_TABLE_PROPERTIES: usize = 4;

/// Which layout objects get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Shape {
    /// PowerShell's choice: the type's view, else a table up to four properties and a list above.
    #[default]
    Auto,
    /// Always a table (`Format-Table`).
    Table,
    /// Always a list (`Format-List`).
    List,
}

/// What the formatter is told about the terminal and the layout wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FormatOptions {
    /// Columns of the terminal: table lines are cut to it, list values wrapped.
    pub width: usize,
    /// The layout.
    pub shape: Shape,
}

impl Default for FormatOptions {
    /// 120 columns (the default width of a Windows console), PowerShell's own choice of layout.
    fn default() -> Self {
        FormatOptions { width: 120, shape: Shape::Auto }
    }
}

/// Renders a stream of objects as PowerShell's default host does, appending text to a `String` the caller
/// prints. Memory stays bounded by [`PREVIEW_ROWS`] rows whatever the length of the stream.
///
/// ```
/// use pssession_format::{FormatOptions, Formatter};
/// use pssession_psrp::clixml::{PsObject, PsValue};
///
/// let mut formatter = Formatter::new(FormatOptions::default());
/// let mut out = String::new();
/// for (name, id) in [("svchost", 804), ("explorer", 5120)] {
///     let object = PsObject::custom([("Name", PsValue::from(name)), ("Id", PsValue::I32(id))]);
///     formatter.write(&object.into(), &mut out);
/// }
/// formatter.write(&PsValue::from("done"), &mut out);
/// formatter.finish(&mut out);
/// assert_eq!(out, "\nName       Id\n----       --\nsvchost   804\nexplorer 5120\n\ndone\n");
/// ```
#[derive(Debug)]
pub struct Formatter {
    options: FormatOptions,
    open: Option<Open>,
}

#[derive(Debug)]
enum Open {
    Table(Table),
    List,
}

/// What makes two objects rows of the same table.
#[derive(Debug, PartialEq)]
enum TableKey {
    View(&'static str),
    Properties(Vec<Arc<str>>),
}

#[derive(Debug)]
struct TableColumn {
    label: Arc<str>,
    width: Option<usize>,
    align: Align,
}

#[derive(Debug)]
struct Table {
    key: TableKey,
    group: Option<String>,
    columns: Vec<TableColumn>,
    /// Rows waiting for the widths to be fixed.
    pending: Vec<Vec<String>>,
    /// The fixed widths of the visible columns, once decided.
    widths: Option<Vec<usize>>,
}

/// How one value is laid out.
enum Kind<'a> {
    /// A line of its own.
    Scalar(String),
    /// Table rows or list entries.
    Rows(Rows<'a>),
}

/// An object shown as table rows or list entries.
enum Rows<'a> {
    View(&'static View, &'a PsObject),
    Dictionary(&'a PsObject),
    Properties(&'a PsObject, Vec<Arc<str>>),
}

impl Formatter {
    /// A formatter with these options.
    pub fn new(options: FormatOptions) -> Self {
        Formatter { options, open: None }
    }

    /// The options it was made with.
    pub fn options(&self) -> FormatOptions {
        self.options
    }

    /// Formats one object, appending what can already be printed to `out`. A collection is enumerated, as
    /// the pipeline does before Out-Default sees it.
    pub fn write(&mut self, value: &PsValue, out: &mut String) {
        if let PsValue::Object(object) = value
            && object.dictionary().is_none()
            && let Some(items) = object.items()
        {
            for item in items {
                self.write_one(item, out);
            }
            return;
        }
        self.write_one(value, out);
    }

    /// Whether rows are held back waiting for the column widths.
    pub fn has_pending(&self) -> bool {
        matches!(&self.open, Some(Open::Table(table)) if table.widths.is_none() && !table.pending.is_empty())
    }

    /// Fixes the widths of the table being collected from the rows seen so far and writes them out (what
    /// PowerShell does when the stream pauses); later rows of the same shape continue that table.
    pub fn flush(&mut self, out: &mut String) {
        if let Some(Open::Table(table)) = &mut self.open
            && !table.pending.is_empty()
        {
            table.fix_widths(self.options.width, out);
        }
    }

    /// Ends the output: writes what is held back and closes the last table or list.
    pub fn finish(&mut self, out: &mut String) {
        self.close(out);
    }

    fn close(&mut self, out: &mut String) {
        match self.open.take() {
            // A table that never got a row (an empty hashtable) prints nothing, as in PowerShell.
            Some(Open::Table(table)) if table.widths.is_none() && table.pending.is_empty() => {}
            Some(Open::Table(mut table)) => {
                table.fix_widths(self.options.width, out);
                out.push('\n');
            }
            Some(Open::List) => out.push('\n'),
            None => {}
        }
    }

    fn write_one(&mut self, value: &PsValue, out: &mut String) {
        if value.is_null() {
            return;
        }
        match classify(value) {
            Kind::Scalar(text) => {
                self.close(out);
                out.push_str(&text);
                out.push('\n');
            }
            Kind::Rows(rows) => {
                let as_table = match (self.options.shape, &rows) {
                    (Shape::Table, _) => true,
                    (Shape::List, _) => false,
                    (Shape::Auto, Rows::Properties(_, names)) => names.len() <= MAX_TABLE_PROPERTIES,
                    (Shape::Auto, _) => true,
                };
                if as_table {
                    self.write_table_rows(&rows, out);
                } else {
                    self.write_list_entries(&rows, out);
                }
            }
        }
    }

    fn write_table_rows(&mut self, rows: &Rows<'_>, out: &mut String) {
        let (key, group) = match rows {
            Rows::View(view, object) => (TableKey::View(view.name), group_value(view, object)),
            Rows::Dictionary(_) => (TableKey::View(views::DICTIONARY.name), None),
            Rows::Properties(_, names) => (TableKey::Properties(names.clone()), None),
        };
        let continues = matches!(&self.open, Some(Open::Table(table)) if table.key == key && table.group == group);
        if !continues {
            self.close(out);
            let columns = match rows {
                Rows::View(view, _) => view_columns(view),
                Rows::Dictionary(_) => view_columns(&views::DICTIONARY),
                Rows::Properties(object, names) => names
                    .iter()
                    .map(|name| TableColumn {
                        label: Arc::clone(name),
                        width: None,
                        align: if object.property(name).is_some_and(is_numeric) { Align::Right } else { Align::Left },
                    })
                    .collect(),
            };
            if let (Some(text), Rows::View(view, _)) = (&group, rows)
                && let Some(group_by) = view.group_by
            {
                out.push_str(&format!("\n    {}: {text}\n\n", group_by.label));
            }
            self.open = Some(Open::Table(Table { key, group, columns, pending: Vec::new(), widths: None }));
        }
        let Some(Open::Table(table)) = &mut self.open else { return };
        let width = self.options.width;
        match rows {
            Rows::View(view, object) => {
                table.add_row(view.columns.iter().map(|c| one_line(column_text(c, object))).collect(), width, out)
            }
            Rows::Dictionary(object) => {
                for (key, value) in object.dictionary().unwrap_or(&[]) {
                    table.add_row(vec![one_line(cell_text(key)), one_line(cell_text(value))], width, out);
                }
            }
            Rows::Properties(object, names) => table.add_row(
                names.iter().map(|name| one_line(object.property(name).map(cell_text).unwrap_or_default())).collect(),
                width,
                out,
            ),
        }
    }

    fn write_list_entries(&mut self, rows: &Rows<'_>, out: &mut String) {
        if !matches!(self.open, Some(Open::List)) {
            self.close(out);
            self.open = Some(Open::List);
        }
        let width = self.options.width;
        match rows {
            Rows::View(view, object) => {
                let entries: Vec<(&str, String)> =
                    view.columns.iter().map(|c| (c.label, column_text(c, object).trim().to_owned())).collect();
                write_list_object(&entries, width, out);
            }
            Rows::Dictionary(object) => {
                for (key, value) in object.dictionary().unwrap_or(&[]) {
                    write_list_object(&[("Name", cell_text(key)), ("Value", cell_text(value))], width, out);
                }
            }
            Rows::Properties(object, names) => {
                let entries: Vec<(&str, String)> = names
                    .iter()
                    .map(|name| (&**name, object.property(name).map(cell_text).unwrap_or_default()))
                    .collect();
                write_list_object(&entries, width, out);
            }
        }
    }
}

fn classify(value: &PsValue) -> Kind<'_> {
    let PsValue::Object(object) = value else { return Kind::Scalar(scalar_text(value)) };
    if object.dictionary().is_some() {
        return Kind::Rows(Rows::Dictionary(object));
    }
    if let Some(text) = crate::text::record_text(value) {
        return Kind::Scalar(text);
    }
    let type_names = object.type_names();
    if object.as_enum().is_some()
        || object.base.is_some()
        || object.items().is_some()
        || views::shown_as_text(type_names)
    {
        return Kind::Scalar(scalar_text(value));
    }
    if let Some(view) = views::find_view(type_names) {
        return Kind::Rows(Rows::View(view, object));
    }
    let names = display_property_names(object);
    if names.is_empty() {
        return Kind::Scalar(scalar_text(value));
    }
    Kind::Rows(Rows::Properties(object, names))
}

/// The properties an object without a view shows: its `PSStandardMembers.DefaultDisplayPropertySet` when it
/// carries one (and those properties exist), else every property but the member set itself.
fn display_property_names(object: &PsObject) -> Vec<Arc<str>> {
    if let Some(names) = default_display_property_set(object) {
        let present: Vec<Arc<str>> = object
            .properties()
            .filter(|p| names.iter().any(|n| n.eq_ignore_ascii_case(&p.name)))
            .map(|p| Arc::clone(&p.name))
            .collect();
        if !present.is_empty() {
            // In the set's order, not the object's.
            return names.iter().filter_map(|n| present.iter().find(|p| p.eq_ignore_ascii_case(n)).cloned()).fold(
                Vec::new(),
                |mut unique, name| {
                    if !unique.contains(&name) {
                        unique.push(name);
                    }
                    unique
                },
            );
        }
    }
    let mut names: Vec<Arc<str>> = Vec::new();
    for property in object.properties() {
        if &*property.name != "PSStandardMembers" && !names.contains(&property.name) {
            names.push(Arc::clone(&property.name));
        }
    }
    names
}

/// `PSStandardMembers` → `DefaultDisplayPropertySet` → its `ReferencedPropertyNames` (or the set as a list).
fn default_display_property_set(object: &PsObject) -> Option<Vec<&str>> {
    let members = object.property("PSStandardMembers")?.as_object()?;
    let set = members.property("DefaultDisplayPropertySet")?.as_object()?;
    let items = match set.property("ReferencedPropertyNames").and_then(PsValue::as_object) {
        Some(list) => list.items()?,
        None => set.items()?,
    };
    Some(items.iter().filter_map(PsValue::as_str).collect())
}

fn view_columns(view: &View) -> Vec<TableColumn> {
    view.columns.iter().map(|c| TableColumn { label: c.label.into(), width: c.width, align: c.align }).collect()
}

fn first_property<'a>(object: &'a PsObject, names: &[&str]) -> Option<&'a PsValue> {
    names.iter().find_map(|name| object.property(name)).filter(|v| !v.is_null())
}

fn column_text(column: &Column, object: &PsObject) -> String {
    match column.value {
        ColumnValue::Property(names) => first_property(object, names).map(cell_text).unwrap_or_default(),
        ColumnValue::Kibibytes(names) => first_property(object, names)
            .and_then(as_f64)
            .map(|bytes| round_half_even(bytes / 1024.0).to_string())
            .unwrap_or_default(),
        ColumnValue::Seconds(names) => {
            first_property(object, names).and_then(as_f64).map(number_n2).unwrap_or_default()
        }
        ColumnValue::FileTime(names) => match first_property(object, names) {
            Some(PsValue::DateTime(dt)) => file_time(dt),
            Some(other) => cell_text(other),
            None => String::new(),
        },
        ColumnValue::FileMode => match object.property("Mode") {
            Some(mode) if !mode.is_null() => cell_text(mode),
            _ => object.property("Attributes").map(|a| mode_from_attributes(&cell_text(a))).unwrap_or_default(),
        },
        // Rows of dictionaries are built from their entries, not through columns.
        ColumnValue::EntryKey | ColumnValue::EntryValue => String::new(),
    }
}

/// `darhsl` from a FileAttributes text (`Archive, Hidden`), as the file system provider's Mode shows them.
fn mode_from_attributes(attributes: &str) -> String {
    let has = |name: &str| attributes.split(',').any(|a| a.trim().eq_ignore_ascii_case(name));
    [("Directory", 'd'), ("Archive", 'a'), ("ReadOnly", 'r'), ("Hidden", 'h'), ("System", 's'), ("ReparsePoint", 'l')]
        .iter()
        .map(|&(name, letter)| if has(name) { letter } else { '-' })
        .collect()
}

fn group_value(view: &View, object: &PsObject) -> Option<String> {
    let group_by = view.group_by?;
    let text = cell_text(first_property(object, group_by.properties)?);
    Some(text.strip_prefix(group_by.strip_prefix).map(str::to_owned).unwrap_or(text))
}

impl Table {
    fn add_row(&mut self, row: Vec<String>, terminal_width: usize, out: &mut String) {
        match &self.widths {
            Some(widths) => write_row(&self.columns, widths, &row, out),
            None => {
                self.pending.push(row);
                if self.pending.len() >= PREVIEW_ROWS {
                    self.fix_widths(terminal_width, out);
                }
            }
        }
    }

    /// Decides the widths from the pending rows (once), then writes the header and those rows.
    fn fix_widths(&mut self, terminal_width: usize, out: &mut String) {
        if self.widths.is_some() {
            return;
        }
        let natural: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, column)| {
                column.width.unwrap_or_else(|| {
                    self.pending
                        .iter()
                        .filter_map(|row| row.get(i))
                        .map(|cell| display_width(cell))
                        .chain([display_width(&column.label)])
                        .max()
                        .unwrap_or(0)
                })
            })
            .collect();
        let widths = fit_widths(natural, terminal_width.max(1));
        let labels: Vec<String> = self.columns.iter().map(|c| c.label.to_string()).collect();
        out.push('\n');
        write_row(&self.columns, &widths, &labels, out);
        let dashes: Vec<String> = self.columns.iter().map(|c| "-".repeat(display_width(&c.label))).collect();
        write_row(&self.columns, &widths, &dashes, out);
        for row in std::mem::take(&mut self.pending) {
            write_row(&self.columns, &widths, &row, out);
        }
        self.widths = Some(widths);
    }
}

/// Fits columns into the terminal: the last visible column takes what is left, and columns that would get
/// fewer than a few cells are dropped from the right, as PowerShell drops columns that do not fit.
fn fit_widths(mut widths: Vec<usize>, terminal_width: usize) -> Vec<usize> {
    while widths.len() > 1 {
        let total: usize = widths.iter().sum::<usize>() + widths.len() - 1;
        if total <= terminal_width {
            return widths;
        }
        let last = widths.len() - 1;
        let others: usize = widths[..last].iter().sum::<usize>() + last;
        let left = terminal_width.saturating_sub(others);
        if left >= widths[last].min(4) && left > 0 {
            widths[last] = left;
            return widths;
        }
        widths.pop();
    }
    if let Some(only) = widths.first_mut() {
        *only = (*only).min(terminal_width);
    }
    widths
}

fn write_row(columns: &[TableColumn], widths: &[usize], cells: &[String], out: &mut String) {
    let start = out.len();
    for (i, (column, &width)) in columns.iter().zip(widths).enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let cell = cells.get(i).map_or("", String::as_str);
        let left = column.align == Align::Left;
        if display_width(cell) > width {
            let cut = if left { truncate_end(cell, width) } else { truncate_start(cell, width) };
            push_padded(out, &cut, width, left);
        } else {
            push_padded(out, cell, width, left);
        }
    }
    let trimmed = out[start..].trim_end_matches(' ').len();
    out.truncate(start + trimmed);
    out.push('\n');
}

/// One object of a list: a blank line, then `Label : value` lines with the labels padded to the longest;
/// continuation lines of a value are indented under it and long lines wrapped to the terminal.
fn write_list_object(entries: &[(&str, String)], terminal_width: usize, out: &mut String) {
    let label_width = entries.iter().map(|(label, _)| display_width(label)).max().unwrap_or(0);
    let indent = label_width + 3;
    let value_width = terminal_width.saturating_sub(indent);
    out.push('\n');
    for (label, value) in entries {
        let start = out.len();
        push_padded(out, label, label_width, true);
        out.push_str(" : ");
        let mut first = true;
        for line in value.split('\n').map(|line| line.strip_suffix('\r').unwrap_or(line)) {
            let pieces = if value_width >= 10 { wrap(line, value_width) } else { vec![line] };
            for piece in pieces {
                if !std::mem::take(&mut first) {
                    let trimmed = out[start..].trim_end_matches(' ').len();
                    out.truncate(start + trimmed);
                    out.push('\n');
                    out.extend(std::iter::repeat_n(' ', indent));
                }
                out.push_str(piece);
            }
        }
        let trimmed = out.trim_end_matches(' ').len();
        out.truncate(trimmed);
        out.push('\n');
    }
}
