//! The markdown tables of a run, from the JSON the children printed.

use serde_json::Value;

use crate::stats::{median, p95};

/// One client's answer for one scenario.
pub struct ScenarioResult {
    pub seconds: Vec<f64>,
    /// The client's CPU time in each timed section.
    pub cpu_seconds: Vec<f64>,
    pub payload_bytes: u64,
    /// The endpoint process's CPU time over the whole client run (setup included), when measured.
    pub endpoint_cpu_seconds: Option<f64>,
    /// The wall time of a concurrent run (operations overlap, so it is not the sum of their latencies).
    pub wall_seconds: Option<f64>,
}

impl ScenarioResult {
    pub fn from_json(value: &Value) -> Result<Self, String> {
        let seconds: Vec<f64> = value["seconds"]
            .as_array()
            .ok_or_else(|| format!("no seconds in {value}"))?
            .iter()
            .filter_map(Value::as_f64)
            .collect();
        if seconds.is_empty() {
            return Err(format!("no timing in {value}"));
        }
        let cpu_seconds = value["cpu_seconds"].as_array().into_iter().flatten().filter_map(Value::as_f64).collect();
        Ok(ScenarioResult {
            seconds,
            cpu_seconds,
            payload_bytes: value["payload_bytes"].as_u64().unwrap_or_default(),
            endpoint_cpu_seconds: value["endpoint_cpu_seconds"].as_f64(),
            wall_seconds: value["wall_seconds"].as_f64(),
        })
    }

    pub fn median(&self) -> f64 {
        median(&self.seconds).unwrap_or(f64::NAN)
    }

    pub fn p95(&self) -> f64 {
        p95(&self.seconds).unwrap_or(f64::NAN)
    }

    /// Operations per second, over the whole series: iterations / the run's wall time (concurrent runs), or / the
    /// sum of the latencies (one at a time).
    pub fn operations_per_second(&self) -> f64 {
        self.seconds.len() as f64 / self.wall_seconds.unwrap_or_else(|| self.seconds.iter().sum::<f64>())
    }

    /// Payload MB/s (10^6 bytes) at the median time.
    pub fn megabytes_per_second(&self) -> f64 {
        self.payload_bytes as f64 / 1e6 / self.median()
    }
}

impl ScenarioResult {
    /// Mean client CPU seconds per iteration.
    pub fn cpu_per_iteration(&self) -> f64 {
        self.cpu_seconds.iter().sum::<f64>() / self.cpu_seconds.len() as f64
    }

    /// Endpoint CPU seconds per iteration of the client's run.
    pub fn endpoint_cpu_per_iteration(&self) -> Option<f64> {
        self.endpoint_cpu_seconds.map(|c| c / self.seconds.len() as f64)
    }
}

pub const CPU_HEADER: &str = "| Scenario | pssession client CPU | endpoint CPU | pypsrp client CPU | endpoint CPU | \
                              client CPU pypsrp / pssession |\n|---|---:|---:|---:|---:|---:|";

/// CPU per iteration: each client's in its timed sections; the endpoint's over the client's whole run.
pub fn cpu_row(label: &str, ours: &ScenarioResult, theirs: &ScenarioResult) -> String {
    let endpoint = |r: &ScenarioResult| r.endpoint_cpu_per_iteration().map_or_else(|| "–".to_owned(), duration);
    // /proc counts CPU in clock ticks (10 ms): a client below one tick over the whole series has no ratio.
    let ratio = match theirs.cpu_per_iteration() / ours.cpu_per_iteration() {
        r if r.is_finite() => format!("{r:.1}×"),
        _ => "–".to_owned(),
    };
    format!(
        "| {label} | {} | {} | {} | {} | {ratio} |",
        duration(ours.cpu_per_iteration()),
        endpoint(ours),
        duration(theirs.cpu_per_iteration()),
        endpoint(theirs),
    )
}

pub fn duration(seconds: f64) -> String {
    if seconds < 1.0 { format!("{:.1} ms", seconds * 1e3) } else { format!("{seconds:.2} s") }
}

pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// A row comparing pssession and pypsrp on one scenario; `rate` picks the throughput (and its unit).
pub fn comparison_row(
    label: &str,
    ours: &ScenarioResult,
    theirs: &ScenarioResult,
    rate: fn(&ScenarioResult) -> f64,
    unit: &str,
) -> String {
    let (a, b) = (rate(ours), rate(theirs));
    format!(
        "| {label} | {} | {} | {a:.1} {unit} | {} | {} | {b:.1} {unit} | **{:.1}×** |",
        duration(ours.median()),
        duration(ours.p95()),
        duration(theirs.median()),
        duration(theirs.p95()),
        a / b,
    )
}

pub const COMPARISON_HEADER: &str = "| Scenario | pssession median | p95 | throughput | pypsrp median | p95 | throughput | \
                                     pssession / pypsrp |\n|---|---:|---:|---:|---:|---:|---:|---:|";

pub const FANOUT_HEADER: &str = "| ThrottleLimit | Sessions (endpoints) | Get-PSSession | Connect-PSSession | Wall \
                                 | Max concurrent ops | Client peak RSS (VmHWM) | RSS growth per idle session | \
                                 Client threads |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|";

pub fn fanout_row(value: &Value, endpoints: usize) -> String {
    let kib = |name: &str| value[name].as_u64().unwrap_or_default();
    let sessions = value["sessions"].as_u64().unwrap_or_default();
    let growth = kib("rss_connected_kib").saturating_sub(kib("rss_before_connect_kib"));
    let per_session = if sessions == 0 { 0.0 } else { growth as f64 / sessions as f64 };
    format!(
        "| {} | {sessions} ({endpoints}) | {} | {} | {} | {} | {} | {per_session:.0} KiB | {} |",
        value["throttle_limit"],
        duration(value["discovery_seconds"].as_f64().unwrap_or(f64::NAN)),
        duration(value["connect_seconds"].as_f64().unwrap_or(f64::NAN)),
        duration(value["wall_seconds"].as_f64().unwrap_or(f64::NAN)),
        value["max_concurrent"],
        mib(kib("vmhwm_kib")),
        value["threads_connected"],
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn rates_and_rows() {
        let ours = ScenarioResult::from_json(&json!({"seconds": [0.5, 1.0, 2.0], "payload_bytes": 100_000_000}))
            .expect("result");
        assert_eq!(ours.median(), 1.0);
        assert_eq!(ours.megabytes_per_second(), 100.0);
        assert!((ours.operations_per_second() - 3.0 / 3.5).abs() < 1e-12);
        let concurrent =
            ScenarioResult::from_json(&json!({"seconds": [1.0, 1.0, 1.0, 1.0], "wall_seconds": 2.0})).expect("result");
        assert_eq!(concurrent.operations_per_second(), 2.0);
        let theirs =
            ScenarioResult::from_json(&json!({"seconds": [4.0], "payload_bytes": 100_000_000})).expect("result");
        let row = comparison_row("x", &ours, &theirs, ScenarioResult::megabytes_per_second, "MB/s");
        assert_eq!(row, "| x | 1.00 s | 2.00 s | 100.0 MB/s | 4.00 s | 4.00 s | 25.0 MB/s | **4.0×** |");
        assert!(ScenarioResult::from_json(&json!({"seconds": []})).is_err());
        let ours = ScenarioResult::from_json(
            &json!({"seconds": [1.0, 1.0], "cpu_seconds": [0.25, 0.75], "endpoint_cpu_seconds": 3.0}),
        )
        .expect("result");
        let theirs = ScenarioResult::from_json(&json!({"seconds": [1.0], "cpu_seconds": [2.0]})).expect("result");
        assert_eq!(cpu_row("y", &ours, &theirs), "| y | 500.0 ms | 1.50 s | 2.00 s | – | 4.0× |");
        let idle = ScenarioResult::from_json(&json!({"seconds": [1.0], "cpu_seconds": [0.0]})).expect("result");
        assert_eq!(cpu_row("z", &idle, &theirs), "| z | 0.0 ms | – | 2.00 s | – | – |");
    }

    #[test]
    fn fanout_growth_per_session() {
        let row = fanout_row(
            &json!({"throttle_limit": 32, "sessions": 4, "discovery_seconds": 0.25, "connect_seconds": 2.0,
                    "wall_seconds": 2.25, "max_concurrent": 4, "rss_before_connect_kib": 1000,
                    "rss_connected_kib": 1400, "vmhwm_kib": 2048, "threads_connected": 9}),
            2,
        );
        assert_eq!(row, "| 32 | 4 (2) | 250.0 ms | 2.00 s | 2.25 s | 4 | 2.0 MiB | 100 KiB | 9 |");
    }
}
