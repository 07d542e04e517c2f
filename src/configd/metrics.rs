//! The Prometheus text exposition (format 0.0.4) of configd's state: node
//! up/down, check states and ages, perfdata in base units with their
//! thresholds, configd's own counters and process figures.
//!
//! A scrape is rendered in pieces (`Scrape::fill`), each taking the check
//! book's lock for a bounded number of checks, so a fleet of 100,000
//! checks never holds the lock long nor the whole text in memory.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::checks::{CheckBook, Entry};
use super::counters;
use super::registry::NodeRegistry;
use crate::checks::{CheckState, PerfData};
use crate::net::proto::NodeState;

/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Checks rendered per piece (one lock of the check book).
const CHECKS_PER_PIECE: usize = 1000;
/// Nodes rendered per piece.
const NODES_PER_PIECE: usize = 2000;

/// Label names a node label listed in `metric_labels` cannot take: the
/// series' own labels.
pub const RESERVED_LABELS: &[&str] = &["node", "check", "label", "uom", "threshold", "bound"];

/// Whether `name` may be a Prometheus label name (and is not one of ours).
pub fn check_label_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "`{name}` is not a Prometheus label name (letters, digits and `_`, not starting with a digit)"
        ));
    }
    if name.starts_with("__") {
        return Err(format!(
            "`{name}`: names starting with `__` are Prometheus' own"
        ));
    }
    if RESERVED_LABELS.contains(&name) {
        return Err(format!(
            "`{name}` is already a label of monit's series ({})",
            RESERVED_LABELS.join(", ")
        ));
    }
    Ok(())
}

/// The base unit a perfdata item is exported in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Seconds,
    Bytes,
    Ratio,
    /// No unit, or one without a base unit (`c`, `pkts`): kept in `uom`.
    Other,
}

impl Unit {
    const ALL: [Unit; 4] = [Unit::Seconds, Unit::Bytes, Unit::Ratio, Unit::Other];

    fn suffix(self) -> &'static str {
        match self {
            Unit::Seconds => "_seconds",
            Unit::Bytes => "_bytes",
            Unit::Ratio => "_ratio",
            Unit::Other => "",
        }
    }

    fn next(self) -> Option<Unit> {
        let i = Unit::ALL.iter().position(|x| *x == self)?;
        Unit::ALL.get(i + 1).copied()
    }
}

/// The base unit of a Nagios unit of measure and the factor to it
/// (`ms` -> seconds x 0.001, `%` -> ratio x 0.01, `MB` -> bytes x 2^20:
/// the plugins count in binary multiples).
pub fn base_unit(uom: &str) -> (Unit, f64) {
    const K: f64 = 1024.0;
    match uom {
        "s" => (Unit::Seconds, 1.0),
        "ms" => (Unit::Seconds, 1e-3),
        "us" => (Unit::Seconds, 1e-6),
        "ns" => (Unit::Seconds, 1e-9),
        "%" => (Unit::Ratio, 0.01),
        "B" => (Unit::Bytes, 1.0),
        "KB" | "KiB" | "kB" => (Unit::Bytes, K),
        "MB" | "MiB" => (Unit::Bytes, K * K),
        "GB" | "GiB" => (Unit::Bytes, K * K * K),
        "TB" | "TiB" => (Unit::Bytes, K * K * K * K),
        _ => (Unit::Other, 1.0),
    }
}

/// The ends a Nagios threshold range writes out (`10`: upper 10; `10:`:
/// lower 10; `~:10`: upper 10; `5:10`: both), as (lower, upper); the
/// implied lower end 0 of `10` is left out. A range alerting inside
/// (`@5:10`) or one that does not parse gives nothing.
pub fn threshold_bounds(range: &str) -> Option<(Option<f64>, Option<f64>)> {
    let range = range.trim();
    if range.is_empty() || range.starts_with('@') {
        return None;
    }
    let parse = |s: &str| s.parse::<f64>().ok().filter(|v| v.is_finite());
    match range.split_once(':') {
        None => Some((None, Some(parse(range)?))),
        Some((start, end)) => {
            let lower = match start {
                "~" | "" => None,
                s => Some(parse(s)?),
            };
            let upper = match end {
                "" => None,
                e => Some(parse(e)?),
            };
            Some((lower, upper))
        }
    }
}

/// What the exposition needs besides the check book and the registry.
pub struct Extras {
    /// Node labels that become metric labels.
    pub metric_labels: Vec<String>,
    /// Connections open on the main listener.
    pub connections_open: u64,
    /// Sessions accepted since start.
    pub sessions_total: u64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Stage {
    Globals,
    Nodes,
    State,
    Age,
    Perf(Unit),
    Threshold(Unit),
    Done,
}

impl Stage {
    fn next(self) -> Stage {
        match self {
            Stage::Globals => Stage::Nodes,
            Stage::Nodes => Stage::State,
            Stage::State => Stage::Age,
            Stage::Age => Stage::Perf(Unit::Seconds),
            Stage::Perf(u) => u
                .next()
                .map_or(Stage::Threshold(Unit::Seconds), Stage::Perf),
            Stage::Threshold(u) => u.next().map_or(Stage::Done, Stage::Threshold),
            Stage::Done => Stage::Done,
        }
    }
}

/// One scrape in progress: `fill` appends the next piece of text.
pub struct Scrape<'a> {
    checks: &'a CheckBook,
    registry: &'a NodeRegistry,
    extras: Extras,
    stage: Stage,
    /// Where the current check pass resumes (after this key).
    after: Option<(String, String)>,
    /// Where the node pass resumes.
    node_index: usize,
    nodes: Vec<std::sync::Arc<super::registry::NodeSlot>>,
    /// Node name -> `,k="v"...` of its metric labels.
    node_labels: HashMap<String, String>,
    header_written: bool,
    now_ms: i64,
}

impl<'a> Scrape<'a> {
    pub fn new(checks: &'a CheckBook, registry: &'a NodeRegistry, extras: Extras) -> Scrape<'a> {
        let nodes = registry.slots();
        let mut node_labels = HashMap::new();
        if !extras.metric_labels.is_empty() {
            for slot in &nodes {
                let labels = slot.labels();
                let mut text = String::new();
                for key in &extras.metric_labels {
                    text.push(',');
                    text.push_str(key);
                    text.push_str("=\"");
                    escape_into(&mut text, labels.get(key).map(String::as_str).unwrap_or(""));
                    text.push('"');
                }
                node_labels.insert(slot.name.clone(), text);
            }
        }
        Scrape {
            checks,
            registry,
            extras,
            stage: Stage::Globals,
            after: None,
            node_index: 0,
            nodes,
            node_labels,
            header_written: false,
            now_ms: crate::timefmt::now_ms(),
        }
    }

    /// Appends the next piece to `out`; false once the scrape is complete
    /// (nothing appended).
    pub fn fill(&mut self, out: &mut String) -> bool {
        loop {
            let more = match self.stage {
                Stage::Done => return false,
                Stage::Globals => {
                    self.globals(out);
                    false
                }
                Stage::Nodes => self.nodes(out),
                stage => self.checks_piece(stage, out),
            };
            if !more {
                self.stage = self.stage.next();
                self.after = None;
                self.header_written = false;
            }
            if !out.is_empty() {
                return true;
            }
        }
    }

    /// The whole scrape in one string (tests, small fleets).
    pub fn render(mut self) -> String {
        let mut out = String::new();
        while self.fill(&mut out) {}
        out
    }

    fn globals(&self, out: &mut String) {
        counter(
            out,
            "monit_check_results_ingested_total",
            "Check results received from nodes since configd started.",
            counters::results() as f64,
        );
        counter(
            out,
            "monit_notifications_sent_total",
            "Notifier commands run since configd started.",
            counters::notifications() as f64,
        );
        counter(
            out,
            "monit_log_lines_ingested_total",
            "Log lines taken into the live log since configd started.",
            counters::log_lines() as f64,
        );
        counter(
            out,
            "monit_connections_accepted_total",
            "Connections accepted on the main listener since configd started.",
            self.extras.sessions_total as f64,
        );
        gauge(
            out,
            "monit_connections_open",
            "Connections open on the main listener (nodes and clients).",
            self.extras.connections_open as f64,
        );
        gauge(
            out,
            "monit_nodes",
            "Nodes configd knows.",
            self.registry.len() as f64,
        );
        process_metrics(out);
    }

    fn nodes(&mut self, out: &mut String) -> bool {
        if self.node_index == 0 {
            header(
                out,
                "monit_node_up",
                "gauge",
                "1 when the node is connected to configd, else 0.",
            );
        }
        let end = (self.node_index + NODES_PER_PIECE).min(self.nodes.len());
        for slot in &self.nodes[self.node_index..end] {
            out.push_str("monit_node_up{node=\"");
            escape_into(out, &slot.name);
            out.push('"');
            if let Some(extra) = self.node_labels.get(&slot.name) {
                out.push_str(extra);
            }
            out.push_str("} ");
            out.push_str(if slot.state() == NodeState::Up {
                "1\n"
            } else {
                "0\n"
            });
        }
        self.node_index = end;
        end < self.nodes.len()
    }

    /// One piece of a pass over the check book; whether the pass goes on.
    fn checks_piece(&mut self, stage: Stage, out: &mut String) -> bool {
        let mut header_written = self.header_written;
        let node_labels = &self.node_labels;
        let now_ms = self.now_ms;
        // The node being rendered (entries come node by node), its
        // metric labels, and the labels of the current check, which start
        // with `node_len` bytes of the node's.
        let mut node_now = String::new();
        let mut extra: &str = "";
        let mut labels = String::with_capacity(256);
        let mut node_len = 0;
        let mut visited = 0usize;
        let last = self.checks.visit_after(
            self.after.as_ref(),
            CHECKS_PER_PIECE,
            |node, check, entry| {
                visited += 1;
                if node_now != node {
                    node_now.clear();
                    node_now.push_str(node);
                    extra = node_labels.get(node).map(String::as_str).unwrap_or("");
                    labels.clear();
                    labels.push_str("node=\"");
                    escape_into(&mut labels, node);
                    labels.push_str("\",check=\"");
                    node_len = labels.len();
                }
                labels.truncate(node_len);
                escape_into(&mut labels, check);
                labels.push('"');
                labels.push_str(extra);
                let labels = labels.as_str();
                match stage {
                    Stage::State => state_line(out, &mut header_written, labels, entry),
                    Stage::Age => age_line(out, &mut header_written, labels, entry, now_ms),
                    Stage::Perf(unit) => perf_lines(out, &mut header_written, labels, entry, unit),
                    Stage::Threshold(unit) => {
                        threshold_lines(out, &mut header_written, labels, entry, unit)
                    }
                    _ => {}
                }
            },
        );
        self.header_written = header_written;
        let more = visited == CHECKS_PER_PIECE && last.is_some();
        self.after = last;
        more
    }
}

fn state_line(out: &mut String, header_written: &mut bool, labels: &str, e: &Entry) {
    let value = match e.tracker.status.state {
        CheckState::Ok => "0",
        CheckState::Warning => "1",
        CheckState::Critical => "2",
        CheckState::Unknown => "3",
        CheckState::Pending => return,
    };
    gauge_header(
        out,
        header_written,
        "monit_check_state",
        "The check's state: 0 ok, 1 warning, 2 critical, 3 unknown (pending checks are absent).",
    );
    out.push_str("monit_check_state{");
    out.push_str(labels);
    out.push_str("} ");
    out.push_str(value);
    out.push('\n');
}

fn age_line(out: &mut String, header_written: &mut bool, labels: &str, e: &Entry, now_ms: i64) {
    let last = e.tracker.status.last_check_ms;
    if last <= 0 {
        return;
    }
    gauge_header(
        out,
        header_written,
        "monit_check_last_check_age_seconds",
        "Seconds since the check's last result, at the time of the scrape.",
    );
    out.push_str("monit_check_last_check_age_seconds{");
    out.push_str(labels);
    out.push_str("} ");
    push_value(out, (now_ms - last).max(0) as f64 / 1000.0);
    out.push('\n');
}

/// Whether an earlier item of `items` (before `i`) in the same unit has
/// the same label: a repeated label would make a duplicate series.
fn repeated(items: &[PerfData], i: usize, unit: Unit) -> bool {
    let label = &items[i].label;
    items[..i]
        .iter()
        .any(|p| &p.label == label && base_unit(&p.uom).0 == unit)
}

fn perf_lines(out: &mut String, header_written: &mut bool, labels: &str, e: &Entry, unit: Unit) {
    for (i, p) in e.perfdata.iter().enumerate() {
        let (u, factor) = base_unit(&p.uom);
        if u != unit || repeated(&e.perfdata, i, unit) {
            continue;
        }
        let name = perf_name(false, unit);
        let help = match unit {
            Unit::Other => {
                "A perfdata item without a base unit (its unit of measure in `uom`).".into()
            }
            u => format!("A perfdata item, converted to {}.", &u.suffix()[1..]),
        };
        gauge_header(out, header_written, name, &help);
        perf_series(out, name, labels, p, unit);
        out.push_str("} ");
        push_value(out, p.value * factor);
        out.push('\n');
    }
}

/// `NAME{LABELS,label="..."[,uom="..."]`, the series' labels left open.
fn perf_series(out: &mut String, name: &str, labels: &str, p: &PerfData, unit: Unit) {
    out.push_str(name);
    out.push('{');
    out.push_str(labels);
    out.push_str(",label=\"");
    escape_into(out, &p.label);
    out.push('"');
    if unit == Unit::Other {
        out.push_str(",uom=\"");
        escape_into(out, &p.uom);
        out.push('"');
    }
}

fn threshold_lines(
    out: &mut String,
    header_written: &mut bool,
    labels: &str,
    e: &Entry,
    unit: Unit,
) {
    for (i, p) in e.perfdata.iter().enumerate() {
        let (u, factor) = base_unit(&p.uom);
        if u != unit || repeated(&e.perfdata, i, unit) {
            continue;
        }
        for (level, range) in [("warning", &p.warn), ("critical", &p.crit)] {
            let Some((lower, upper)) = range.as_deref().and_then(threshold_bounds) else {
                continue;
            };
            for (bound, v) in [("lower", lower), ("upper", upper)] {
                let Some(v) = v else { continue };
                let name = perf_name(true, unit);
                gauge_header(
                    out,
                    header_written,
                    name,
                    "A perfdata item's warning or critical range end (ranges alerting inside, `@`, are left out).",
                );
                perf_series(out, name, labels, p, unit);
                out.push_str(",threshold=\"");
                out.push_str(level);
                out.push_str("\",bound=\"");
                out.push_str(bound);
                out.push_str("\"} ");
                push_value(out, v * factor);
                out.push('\n');
            }
        }
    }
}

/// The family of a perfdata value (or, with `threshold`, of its
/// thresholds) in `unit`.
fn perf_name(threshold: bool, unit: Unit) -> &'static str {
    match (threshold, unit) {
        (false, Unit::Seconds) => "monit_check_perfdata_seconds",
        (false, Unit::Bytes) => "monit_check_perfdata_bytes",
        (false, Unit::Ratio) => "monit_check_perfdata_ratio",
        (false, Unit::Other) => "monit_check_perfdata",
        (true, Unit::Seconds) => "monit_check_perfdata_threshold_seconds",
        (true, Unit::Bytes) => "monit_check_perfdata_threshold_bytes",
        (true, Unit::Ratio) => "monit_check_perfdata_threshold_ratio",
        (true, Unit::Other) => "monit_check_perfdata_threshold",
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A gauge family's header, once per pass.
fn gauge_header(out: &mut String, written: &mut bool, name: &str, help: &str) {
    if !std::mem::replace(written, true) {
        header(out, name, "gauge", help);
    }
}

/// A family of one sample without labels.
fn sample(out: &mut String, kind: &str, name: &str, help: &str, v: f64) {
    header(out, name, kind, help);
    out.push_str(name);
    out.push(' ');
    push_value(out, v);
    out.push('\n');
}

fn counter(out: &mut String, name: &str, help: &str, v: f64) {
    sample(out, "counter", name, help, v)
}

fn gauge(out: &mut String, name: &str, help: &str, v: f64) {
    sample(out, "gauge", name, help, v)
}

/// A sample value as the text format spells it.
fn push_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v == v.trunc() && v.abs() < 1e15 {
        push_int(out, v as i64);
    } else {
        let _ = write!(out, "{v}");
    }
}

/// An integer in decimal, without the formatting machinery (most values
/// of a scrape are small integers).
fn push_int(out: &mut String, n: i64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut rest = n.unsigned_abs();
    loop {
        i -= 1;
        digits[i] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        out.push('-');
    }
    for &d in &digits[i..] {
        out.push(char::from(d));
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn escape_into(out: &mut String, s: &str) {
    if !s.bytes().any(|b| matches!(b, b'\\' | b'"' | b'\n')) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// The standard `process_*` series, from /proc (Linux).
fn process_metrics(out: &mut String) {
    // USER_HZ: /proc reports CPU times in 1/100 s on every Linux.
    const TICKS: f64 = 100.0;
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        // Fields after the command name (which may hold spaces) in parens.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        // utime and stime are fields 14 and 15 (1-based), starttime 22;
        // `fields` starts at field 3.
        let num = |i: usize| fields.get(i - 3).and_then(|f| f.parse::<f64>().ok());
        if let (Some(u), Some(s)) = (num(14), num(15)) {
            counter(
                out,
                "process_cpu_seconds_total",
                "Total user and system CPU time spent in seconds.",
                (u + s) / TICKS,
            );
        }
        if let (Some(start), Some(boot)) = (num(22), boot_time()) {
            gauge(
                out,
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                boot + start / TICKS,
            );
        }
    }
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        let kib = |key: &str| {
            status.lines().find_map(|l| {
                l.strip_prefix(key)?
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<f64>()
                    .ok()
            })
        };
        if let Some(rss) = kib("VmRSS:") {
            gauge(
                out,
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                rss * 1024.0,
            );
        }
        if let Some(vm) = kib("VmSize:") {
            gauge(
                out,
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                vm * 1024.0,
            );
        }
    }
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        gauge(
            out,
            "process_open_fds",
            "Number of open file descriptors.",
            dir.count() as f64,
        );
    }
    if let Ok((soft, _)) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
    {
        gauge(
            out,
            "process_max_fds",
            "Maximum number of open file descriptors.",
            soft as f64,
        );
    }
}

fn boot_time() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    stat.lines()
        .find_map(|l| l.strip_prefix("btime ")?.trim().parse::<f64>().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configd::notify::NotifierHandle;
    use crate::net::proto::{CheckDecl, CheckResult};
    use std::collections::BTreeMap;

    fn perf(label: &str, value: f64, uom: &str, warn: Option<&str>) -> PerfData {
        PerfData {
            label: label.into(),
            value,
            uom: uom.into(),
            warn: warn.map(String::from),
            crit: None,
            min: None,
            max: None,
        }
    }

    #[test]
    fn units_and_ranges() {
        assert_eq!(base_unit("ms"), (Unit::Seconds, 1e-3));
        assert_eq!(base_unit("%"), (Unit::Ratio, 0.01));
        assert_eq!(base_unit("MB"), (Unit::Bytes, 1048576.0));
        assert_eq!(base_unit("c").0, Unit::Other);
        assert_eq!(threshold_bounds("10"), Some((None, Some(10.0))));
        for n in [0i64, 7, -7, 10, 1_234_567, -999_999_999_999_999] {
            let mut s = String::new();
            push_int(&mut s, n);
            assert_eq!(s, n.to_string());
        }
        assert_eq!(threshold_bounds("5:10"), Some((Some(5.0), Some(10.0))));
        assert_eq!(threshold_bounds("10:"), Some((Some(10.0), None)));
        assert_eq!(threshold_bounds("~:5.5"), Some((None, Some(5.5))));
        assert_eq!(threshold_bounds("@1:2"), None);
        assert_eq!(threshold_bounds("x"), None);
        assert!(check_label_name("role").is_ok());
        assert!(check_label_name("node").is_err());
        assert!(check_label_name("1x").is_err());
        assert!(check_label_name("a-b").is_err());
    }

    #[test]
    fn a_scrape_names_every_series_once_in_groups() {
        let book = CheckBook::new(vec![], vec![], NotifierHandle::none());
        let registry = NodeRegistry::from_rows(vec![]);
        for node in ["a", "b"] {
            let decls: Vec<CheckDecl> = ["http", "load"]
                .iter()
                .map(|c| CheckDecl {
                    name: c.to_string(),
                    max_attempts: 1,
                    freshness_ms: None,
                })
                .collect();
            book.declare(node, &decls, BTreeMap::new(), 1);
            book.ingest(
                node,
                vec![CheckResult {
                    name: "http".into(),
                    state: CheckState::Critical,
                    output: "down".into(),
                    long_output: String::new(),
                    perfdata: vec![
                        perf("time", 250.0, "ms", Some("100")),
                        perf("time", 1.0, "ms", None),
                        perf("size", 2.0, "KB", None),
                        perf("odd\"label", 1.5, "", Some("~:2")),
                        perf("used", 50.0, "%", Some("@1:2")),
                    ],
                    time_ms: 1_000,
                    duration_ms: 0,
                    latency_ms: 0,
                    max_attempts: 1,
                    state_type: crate::checks::StateType::Hard,
                    attempt: 1,
                }],
            );
        }
        let extras = Extras {
            metric_labels: vec![],
            connections_open: 3,
            sessions_total: 7,
        };
        let text = Scrape::new(&book, &registry, extras).render();
        assert!(
            text.contains("monit_check_state{node=\"a\",check=\"http\"} 2\n"),
            "{text}"
        );
        assert!(
            !text.contains("check=\"load\"} "),
            "pending is absent: {text}"
        );
        assert!(text.contains(
            "monit_check_perfdata_seconds{node=\"b\",check=\"http\",label=\"time\"} 0.25\n"
        ));
        assert!(text.contains(
            "monit_check_perfdata_bytes{node=\"a\",check=\"http\",label=\"size\"} 2048\n"
        ));
        assert!(text.contains(
            "monit_check_perfdata{node=\"a\",check=\"http\",label=\"odd\\\"label\",uom=\"\"} 1.5\n"
        ));
        assert!(text.contains("monit_check_perfdata_threshold_seconds{node=\"a\",check=\"http\",label=\"time\",threshold=\"warning\",bound=\"upper\"} 0.1\n"), "{text}");
        assert!(!text.contains("monit_check_perfdata_threshold_ratio"));
        assert!(text.contains("monit_connections_open 3\n"));
        // The repeated `time` item is left out: one series per label.
        assert_eq!(text.matches("label=\"time\"} ").count(), 2, "{text}");
        // Each family's samples follow its one TYPE line.
        let mut seen = std::collections::HashSet::new();
        let mut current = String::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let name = rest.split(' ').next().unwrap_or("").to_string();
                assert!(seen.insert(name.clone()), "{name} typed twice");
                current = name;
            } else if !line.starts_with('#') {
                let name = line.split(['{', ' ']).next().unwrap_or("");
                assert_eq!(name, current, "{line} outside its family");
            }
        }
    }
}
