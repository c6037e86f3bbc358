//! The table views of the types people receive most, as data: which columns, how wide, how each value is
//! computed. The labels, widths and alignments are those of Windows PowerShell 5.1's format data
//! (`DotNetTypes.format.ps1xml`, `FileSystem.format.ps1xml`, `PowerShellCore.format.ps1xml`).

/// How a column is aligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Padded on the right.
    Left,
    /// Padded on the left.
    Right,
}

/// How a column's value is computed from the object. Each lists property names to try in order: the alias
/// PowerShell's type data adds first, then the .NET property it stands for (a deserialized object carries
/// whichever its sender serialized).
#[derive(Debug, Clone, Copy)]
pub enum ColumnValue {
    /// The property's cell text.
    Property(&'static [&'static str]),
    /// A byte count shown in KiB: `[long]($_.PM / 1024)`.
    Kibibytes(&'static [&'static str]),
    /// Seconds with two decimals and thousands separators: `$_.CPU.ToString("N")`.
    Seconds(&'static [&'static str]),
    /// A DateTime as `Get-ChildItem` shows it: short date and short time, `"{0,10}  {1,8}"`.
    FileTime(&'static [&'static str]),
    /// A file's mode (`d-----`, `-a----`): the `Mode` property, else computed from `Attributes`.
    FileMode,
    /// A dictionary entry's key.
    EntryKey,
    /// A dictionary entry's value.
    EntryValue,
}

/// One column of a view.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// The header.
    pub label: &'static str,
    /// The fixed width; `None` sizes the column from the first rows.
    pub width: Option<usize>,
    /// Its alignment.
    pub align: Align,
    /// How its value is computed.
    pub value: ColumnValue,
}

/// Rows of a view come in groups with a heading when this value changes (`Get-ChildItem`'s `Directory:`).
#[derive(Debug, Clone, Copy)]
pub struct GroupBy {
    /// The heading's label.
    pub label: &'static str,
    /// Properties to read the value from, first present wins.
    pub properties: &'static [&'static str],
    /// A prefix removed from the value (the provider qualifier of a PSPath).
    pub strip_prefix: &'static str,
}

/// A table view.
#[derive(Debug, Clone, Copy)]
pub struct View {
    /// A short name, for tests and diagnostics.
    pub name: &'static str,
    /// The .NET type names the view is for; an object's `Deserialized.` names match too.
    pub type_names: &'static [&'static str],
    /// The columns, left to right.
    pub columns: &'static [Column],
    /// The grouping, when rows are grouped.
    pub group_by: Option<GroupBy>,
}

const fn column(label: &'static str, width: Option<usize>, align: Align, value: ColumnValue) -> Column {
    Column { label, width, align, value }
}

use Align::{Left, Right};
use ColumnValue::{EntryKey, EntryValue, FileMode, FileTime, Kibibytes, Property, Seconds};

/// `Get-Process`.
pub const PROCESS: View = View {
    name: "process",
    type_names: &["System.Diagnostics.Process"],
    columns: &[
        column("Handles", Some(7), Right, Property(&["Handles", "HandleCount"])),
        column("NPM(K)", Some(7), Right, Kibibytes(&["NPM", "NonpagedSystemMemorySize64", "NonpagedSystemMemorySize"])),
        column("PM(K)", Some(8), Right, Kibibytes(&["PM", "PagedMemorySize64", "PagedMemorySize"])),
        column("WS(K)", Some(10), Right, Kibibytes(&["WS", "WorkingSet64", "WorkingSet"])),
        column("CPU(s)", Some(10), Right, Seconds(&["CPU"])),
        column("Id", Some(6), Right, Property(&["Id"])),
        column("SI", Some(3), Right, Property(&["SI", "SessionId"])),
        column("ProcessName", None, Left, Property(&["ProcessName", "Name"])),
    ],
    group_by: None,
};

/// `Get-Service`.
pub const SERVICE: View = View {
    name: "service",
    type_names: &["System.ServiceProcess.ServiceController"],
    columns: &[
        column("Status", Some(8), Left, Property(&["Status"])),
        column("Name", Some(18), Left, Property(&["Name", "ServiceName"])),
        column("DisplayName", Some(38), Left, Property(&["DisplayName"])),
    ],
    group_by: None,
};

/// `Get-ChildItem` on the file system, grouped by directory.
pub const FILE_SYSTEM: View = View {
    name: "children",
    type_names: &["System.IO.FileInfo", "System.IO.DirectoryInfo"],
    columns: &[
        column("Mode", Some(7), Left, FileMode),
        column("LastWriteTime", Some(25), Right, FileTime(&["LastWriteTime"])),
        column("Length", Some(14), Right, Property(&["Length"])),
        column("Name", None, Left, Property(&["Name"])),
    ],
    group_by: Some(GroupBy {
        label: "Directory",
        properties: &["PSParentPath", "DirectoryName"],
        strip_prefix: "Microsoft.PowerShell.Core\\FileSystem::",
    }),
};

/// `Get-Job`.
pub const JOB: View = View {
    name: "job",
    type_names: &["System.Management.Automation.Job", "System.Management.Automation.PSRemotingJob"],
    columns: &[
        column("Id", Some(6), Left, Property(&["Id"])),
        column("Name", Some(15), Left, Property(&["Name"])),
        column("PSJobTypeName", Some(15), Left, Property(&["PSJobTypeName"])),
        column("State", Some(13), Left, Property(&["State", "JobStateInfo"])),
        column("HasMoreData", Some(15), Left, Property(&["HasMoreData"])),
        column("Location", Some(20), Left, Property(&["Location"])),
        column("Command", None, Left, Property(&["Command"])),
    ],
    group_by: None,
};

/// `Get-Variable`.
pub const VARIABLE: View = View {
    name: "variable",
    type_names: &["System.Management.Automation.PSVariable"],
    columns: &[column("Name", Some(30), Left, Property(&["Name"])), column("Value", None, Left, Property(&["Value"]))],
    group_by: None,
};

/// `Get-Culture`.
pub const CULTURE: View = View {
    name: "culture",
    type_names: &["System.Globalization.CultureInfo"],
    columns: &[
        column("LCID", Some(16), Left, Property(&["LCID"])),
        column("Name", Some(16), Left, Property(&["Name"])),
        column("DisplayName", None, Left, Property(&["DisplayName"])),
    ],
    group_by: None,
};

/// `Get-History`.
pub const HISTORY: View = View {
    name: "history",
    type_names: &["Microsoft.PowerShell.Commands.HistoryInfo"],
    columns: &[
        column("Id", Some(4), Right, Property(&["Id"])),
        column("CommandLine", None, Left, Property(&["CommandLine"])),
    ],
    group_by: None,
};

/// Any dictionary (a hashtable's entries): `Name`/`Value`.
pub const DICTIONARY: View = View {
    name: "dictionary",
    type_names: &["System.Collections.DictionaryEntry"],
    columns: &[column("Name", Some(30), Left, EntryKey), column("Value", None, Left, EntryValue)],
    group_by: None,
};

/// The views looked up by type name (the dictionary view applies to every dictionary, whatever its type).
pub const VIEWS: &[View] = &[PROCESS, SERVICE, FILE_SYSTEM, JOB, VARIABLE, CULTURE, HISTORY];

/// Types shown by their `ToString` on a line of their own, whatever properties they carry.
pub const TO_STRING_TYPES: &[&str] = &[
    "System.Management.Automation.ErrorRecord",
    "System.Management.Automation.WarningRecord",
    "System.Management.Automation.VerboseRecord",
    "System.Management.Automation.DebugRecord",
    "System.Management.Automation.InformationRecord",
    "System.Exception",
];

/// A type name without PowerShell's `Deserialized.` prefix.
pub fn base_type_name(name: &str) -> &str {
    name.strip_prefix("Deserialized.").unwrap_or(name)
}

/// The view for these type names (most derived first): the first name that has one, with or without the
/// `Deserialized.` prefix.
pub fn find_view(type_names: &[String]) -> Option<&'static View> {
    type_names.iter().find_map(|name| {
        let name = base_type_name(name);
        VIEWS.iter().find(|view| view.type_names.contains(&name))
    })
}

/// Whether an object of these type names is shown by its `ToString`.
pub fn shown_as_text(type_names: &[String]) -> bool {
    type_names.iter().any(|name| TO_STRING_TYPES.contains(&base_type_name(name)))
}
