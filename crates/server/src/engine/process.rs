//! `Get-Process` on Linux: reads `/proc`.

use std::sync::Arc;

use super::value::Value;

/// Clock ticks per second of `/proc/<pid>/stat` times (`sysconf(_SC_CLK_TCK)`, 100 on every Linux platform
/// the endpoint targets).
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// Most processes listed.
const MAX_PROCESSES: usize = 65_536;

/// One process.
#[derive(Debug, Clone)]
pub(crate) struct ProcessInfo {
    pub id: u32,
    pub name: String,
    pub working_set: i64,
    pub virtual_size: i64,
    pub paged: i64,
    pub cpu_seconds: f64,
    pub handles: i32,
    pub path: Option<String>,
}

impl ProcessInfo {
    /// The process as a `System.Diagnostics.Process`-shaped object (the properties PowerShell's table view uses,
    /// plus the common long names).
    pub fn to_value(&self) -> Value {
        let mut object = match Value::object(
            &[
                "System.Diagnostics.Process",
                "System.ComponentModel.Component",
                "System.MarshalByRefObject",
                "System.Object",
            ],
            vec![
                ("Name", Value::string(self.name.as_str())),
                ("Id", Value::Int(self.id as i32)),
                ("ProcessName", Value::string(self.name.as_str())),
                ("Handles", Value::Int(self.handles)),
                ("HandleCount", Value::Int(self.handles)),
                ("NPM", Value::Long(0)),
                ("PM", Value::Long(self.paged)),
                ("WS", Value::Long(self.working_set)),
                ("VM", Value::Long(self.virtual_size)),
                ("CPU", Value::Double(self.cpu_seconds)),
                ("SI", Value::Int(0)),
                ("SessionId", Value::Int(0)),
                ("WorkingSet64", Value::Long(self.working_set)),
                ("VirtualMemorySize64", Value::Long(self.virtual_size)),
                ("PagedMemorySize64", Value::Long(self.paged)),
                ("Path", self.path.as_deref().map_or(Value::Null, Value::string)),
                ("PSStandardMembers", standard_members(DISPLAY_PROPERTIES)),
            ],
        ) {
            Value::Object(o) => o,
            other => return other,
        };
        Arc::make_mut(&mut object).to_string = Some(format!("System.Diagnostics.Process ({})", self.name));
        Value::Object(object)
    }
}

/// The properties of PowerShell's Process table view, which `PSStandardMembers.DefaultDisplayPropertySet`
/// names for clients that have no format data for the type.
const DISPLAY_PROPERTIES: &[&str] = &["Handles", "NPM", "PM", "WS", "CPU", "Id", "SI", "ProcessName"];

/// A `PSStandardMembers` member set whose `DefaultDisplayPropertySet` references `names`, shaped as PowerShell
/// serializes an instance member set.
fn standard_members(names: &[&str]) -> Value {
    let referenced = Value::array(names.iter().map(|&name| Value::string(name)).collect());
    let property_set = Value::object(
        &["System.Management.Automation.PSPropertySet", "System.Management.Automation.PSMemberInfo", "System.Object"],
        vec![("ReferencedPropertyNames", referenced)],
    );
    Value::object(
        &["System.Management.Automation.PSMemberSet", "System.Management.Automation.PSMemberInfo", "System.Object"],
        vec![("DefaultDisplayPropertySet", property_set)],
    )
}

/// Lists the processes visible in `/proc`, ordered by name then id (as `Get-Process` does).
pub(crate) fn list() -> Result<Vec<ProcessInfo>, String> {
    let entries = std::fs::read_dir("/proc").map_err(|e| format!("/proc is not readable ({e})"))?;
    let mut processes = Vec::new();
    for entry in entries.flatten().take(MAX_PROCESSES * 4) {
        let Some(id) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        if let Some(info) = read(id) {
            processes.push(info);
            if processes.len() >= MAX_PROCESSES {
                break;
            }
        }
    }
    processes.sort_by(|a, b| a.name.to_ascii_lowercase().cmp(&b.name.to_ascii_lowercase()).then(a.id.cmp(&b.id)));
    Ok(processes)
}

fn read(id: u32) -> Option<ProcessInfo> {
    let base = format!("/proc/{id}");
    let stat = std::fs::read_to_string(format!("{base}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_string();
    // Fields after the name start with field 3 (state); utime and stime are fields 14 and 15.
    let fields: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    let utime: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let stime: f64 = fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let status = std::fs::read_to_string(format!("{base}/status")).unwrap_or_default();
    let kb = |key: &str| -> i64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
            .map_or(0, |v| v.saturating_mul(1024))
    };
    let handles = std::fs::read_dir(format!("{base}/fd")).map_or(0, |d| d.count().min(i32::MAX as usize) as i32);
    let path = std::fs::read_link(format!("{base}/exe")).ok().map(|p| p.to_string_lossy().into_owned());
    Some(ProcessInfo {
        id,
        name,
        working_set: kb("VmRSS:"),
        virtual_size: kb("VmSize:"),
        paged: kb("VmData:"),
        cpu_seconds: (utime + stime) / CLOCK_TICKS_PER_SECOND,
        handles,
        path,
    })
}
