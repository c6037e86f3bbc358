//! Resident memory from `/proc/<pid>/status` (Linux).

/// A `kB` field of `/proc/<pid>/status` (`VmRSS`, `VmHWM`), in KiB; `None` once the process is gone.
pub fn field_kib(pid: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_field(&status, field)
}

fn parse_field(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().trim_end_matches("kB").trim().parse().ok()
    })
}

/// CPU time (user + system, all threads) of a process from `/proc/<pid>/stat`, in seconds; `None` once gone.
pub fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_cpu_ticks(&stat).map(|ticks| ticks as f64 / clock_ticks_per_second())
}

/// utime + stime: fields 14 and 15, counted after the parenthesised command name (which may hold spaces).
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 1..)?.split_whitespace().collect();
    // After the name, field 3 (state) is index 0, so field 14 is index 11.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// `getconf CLK_TCK` (100 on Linux unless the kernel says otherwise).
fn clock_ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .filter(|t: &f64| *t > 0.0)
            .unwrap_or(100.0)
    })
}

/// This process's `VmRSS` in KiB.
pub fn own_rss_kib() -> Result<u64, String> {
    field_kib("self", "VmRSS").ok_or_else(|| "cannot read VmRSS from /proc/self/status".to_owned())
}

/// This process's `VmHWM` (peak resident) in KiB.
pub fn own_peak_kib() -> Result<u64, String> {
    field_kib("self", "VmHWM").ok_or_else(|| "cannot read VmHWM from /proc/self/status".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kib_fields() {
        let status = "Name:\tx\nVmHWM:\t   12345 kB\nVmRSS:\t    2048 kB\nThreads:\t3\n";
        assert_eq!(parse_field(status, "VmHWM"), Some(12345));
        assert_eq!(parse_field(status, "VmRSS"), Some(2048));
        assert_eq!(parse_field(status, "VmSwap"), None);
    }

    #[test]
    fn reads_cpu_ticks_after_a_name_with_spaces() {
        let stat = "42 (a b) R 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0";
        assert_eq!(parse_cpu_ticks(stat), Some(300));
        assert_eq!(parse_cpu_ticks("42 (x) R 1"), None);
        assert!(cpu_seconds("self").is_some());
    }

    #[test]
    fn this_process_has_a_resident_size() {
        assert!(own_rss_kib().expect("VmRSS") > 0);
        assert!(own_peak_kib().expect("VmHWM") >= own_rss_kib().expect("VmRSS") / 2);
    }
}
