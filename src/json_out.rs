//! Hand-written JSON for the outputs that run to thousands of objects a
//! second (`query nodes` with a big fleet, `logs -f -o jsonl`): byte for
//! byte what serde_json writes for `model::node::NodeJson` and
//! `model::log::LogLineJson` (tests compare), without building those
//! values first.
//!
//! Kept (issue 12) because the benchmarks need it: replacing it with
//! rmp-serde and the client link made `monit-cli query nodes -o json` at
//! 10,000 nodes (benches/node_load) 61-129 ms against 31-41 ms, and the
//! log fan-out to one `monit-cli logs -f -o jsonl` (benches/logs) print
//! 0.42-0.92 M lines/s against 0.67-1.62 M, in one sitting (BENCHMARKS.md,
//! "Issue 12"); the targets are within 1.5x or under 20 ms, and >= 1 M
//! lines/s. Its tests compare it with serde_json of the `model` types.

use crate::net::log_ref::LogLineRef;
use crate::net::node_ref::{NodeRef, Value, FIELDS};
use crate::net::proto::Level;
use crate::timefmt::rfc3339;

fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Appends `s` as a JSON string, escaped as serde_json does.
pub fn string(out: &mut Vec<u8>, s: &str) {
    utf8(out, s.as_bytes())
}

/// `string` of bytes already known to be UTF-8.
fn utf8(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    let mut rest = s;
    // Runs that need nothing are copied whole.
    while let Some(i) = rest.iter().position(|&b| needs_escape(b)) {
        out.extend_from_slice(&rest[..i]);
        let b = rest[i];
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            _ => b"",
        };
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(esc);
        }
        rest = &rest[i + 1..];
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

fn uint(out: &mut Vec<u8>, v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut v = v;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// RFC 3339 times, formatted once per distinct second: a page of nodes,
/// or a burst of log lines, shares a handful (nodes' last-seen times
/// straddle a second boundary, so one entry would thrash).
#[derive(Default)]
pub struct Times {
    /// (second, `timefmt::rfc3339` of it), the last few used.
    seen: Vec<(i64, String)>,
    next: usize,
}

const TIMES_KEPT: usize = 4;

impl Times {
    fn full(&mut self, ms: i64) -> &str {
        let sec = ms.div_euclid(1000);
        let i = match self.seen.iter().position(|(s, _)| *s == sec) {
            Some(i) => i,
            None => {
                let entry = (sec, rfc3339(sec.saturating_mul(1000)));
                if self.seen.len() < TIMES_KEPT {
                    self.seen.push(entry);
                    self.seen.len() - 1
                } else {
                    let i = self.next;
                    self.next = (self.next + 1) % TIMES_KEPT;
                    self.seen[i] = entry;
                    i
                }
            }
        };
        &self.seen[i].1
    }

    /// `"2026-11-25T03:50:00Z"`, as `timefmt::rfc3339`.
    fn seconds(&mut self, out: &mut Vec<u8>, ms: i64) {
        out.push(b'"');
        out.extend_from_slice(self.full(ms).as_bytes());
        out.push(b'"');
    }

    /// `"2026-11-25T03:50:00.123Z"`, as `logs::render::TimeCache`.
    fn millis(&mut self, out: &mut Vec<u8>, ms: i64) {
        out.push(b'"');
        out.extend_from_slice(self.full(ms).trim_end_matches('Z').as_bytes());
        let m = ms.rem_euclid(1000);
        out.extend_from_slice(&[
            b'.',
            b'0' + (m / 100) as u8,
            b'0' + (m / 10 % 10) as u8,
            b'0' + (m % 10) as u8,
            b'Z',
            b'"',
        ]);
    }
}

/// Separators of a node object, as serde_json writes them.
struct Style {
    /// Before the first key.
    open: &'static [u8],
    /// Between keys.
    sep: &'static [u8],
    /// Between a key and its value.
    colon: &'static [u8],
    /// After the last value.
    close: &'static [u8],
    /// The same for objects and arrays nested in a node (labels,
    /// checks), inside their brackets.
    inner_open: &'static [u8],
    inner_sep: &'static [u8],
    inner_close: &'static [u8],
}

/// serde_json's pretty printer, for an object inside the top array.
const PRETTY: Style = Style {
    open: b"{\n    ",
    sep: b",\n    ",
    colon: b": ",
    close: b"\n  }",
    inner_open: b"\n      ",
    inner_sep: b",\n      ",
    inner_close: b"\n    ",
};

const COMPACT: Style = Style {
    open: b"{",
    sep: b",",
    colon: b":",
    close: b"}",
    inner_open: b"",
    inner_sep: b",",
    inner_close: b"",
};

/// Writes nodes as `query nodes -o json` (`pretty`: the whole array,
/// indented as serde_json's pretty printer) or `-o jsonl` (one compact
/// object a line).
pub struct NodesJson {
    /// A cache a time field: a page's first-seen and last-seen times each
    /// bunch around a few seconds.
    times: [Times; FIELDS.len()],
    pretty: bool,
    count: usize,
}

impl NodesJson {
    pub fn new(pretty: bool) -> NodesJson {
        NodesJson {
            times: Default::default(),
            pretty,
            count: 0,
        }
    }

    /// One node (after the ones written before).
    pub fn node(&mut self, out: &mut Vec<u8>, n: &NodeRef) {
        let style = if self.pretty { PRETTY } else { COMPACT };
        if self.pretty {
            out.extend_from_slice(if self.count == 0 { b"[\n  " } else { b",\n  " });
        }
        self.count += 1;
        let shown = FIELDS.iter().zip(n.values()).zip(&mut self.times);
        let mut first = true;
        for ((f, v), times) in shown {
            let Some(key) = f.json else { continue };
            out.extend_from_slice(if first { style.open } else { style.sep });
            first = false;
            // Keys are plain names: quoted, never escaped.
            out.push(b'"');
            out.extend_from_slice(key.as_bytes());
            out.push(b'"');
            out.extend_from_slice(style.colon);
            value(out, &style, times, v);
        }
        out.extend_from_slice(if first { b"{}" } else { style.close });
        if !self.pretty {
            out.push(b'\n');
        }
    }

    /// After the last node.
    pub fn end(&mut self, out: &mut Vec<u8>) {
        if self.pretty {
            out.extend_from_slice(if self.count == 0 { b"[]\n" } else { b"\n]\n" });
        }
    }
}

/// One field's value, inside a node written in `style`.
fn value(out: &mut Vec<u8>, style: &Style, times: &mut Times, v: Value) {
    match v {
        Value::Str(s) => string(out, s),
        Value::State(s) => string(out, s.as_str()),
        Value::Time(ms) => times.seconds(out, ms),
        Value::Strs(list) => nested(out, style, b"[]", list.iter(), string),
        Value::Pairs(pairs) => nested(out, style, b"{}", pairs.iter_bytes(), |out, (k, v)| {
            utf8(out, k);
            out.extend_from_slice(style.colon);
            utf8(out, v);
        }),
        Value::Counts(c) => nested(out, style, b"{}", c.named().into_iter(), |out, (k, v)| {
            string(out, k);
            out.extend_from_slice(style.colon);
            uint(out, u64::from(v));
        }),
    }
}

/// An array or object (`brackets`) nested in a node, of the `items` each
/// written by `item`.
fn nested<T>(
    out: &mut Vec<u8>,
    style: &Style,
    brackets: &[u8; 2],
    items: impl Iterator<Item = T>,
    mut item: impl FnMut(&mut Vec<u8>, T),
) {
    out.push(brackets[0]);
    let mut empty = true;
    for x in items {
        out.extend_from_slice(if empty {
            style.inner_open
        } else {
            style.inner_sep
        });
        empty = false;
        item(out, x);
    }
    if !empty {
        out.extend_from_slice(style.inner_close);
    }
    out.push(brackets[1]);
}

/// One log line as `{"time":..,"node":..,"level":..,"source":..,"message":..}`
/// (no newline), as `logs -o json|jsonl` prints it.
pub fn log_line(out: &mut Vec<u8>, times: &mut Times, l: &LogLineRef) {
    out.extend_from_slice(b"{\"time\":");
    times.millis(out, l.time_ms);
    out.extend_from_slice(b",\"node\":");
    string(out, l.node);
    out.extend_from_slice(b",\"level\":\"");
    out.extend_from_slice(level(l.level));
    out.extend_from_slice(b"\",\"source\":");
    string(out, l.source);
    out.extend_from_slice(b",\"message\":");
    string(out, l.message);
    out.push(b'}');
}

fn level(l: Level) -> &'static [u8] {
    l.as_str().as_bytes()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::node::NodeJson;
    use crate::net::proto::{CheckCounts, LogLine, NodeState, NodeView};

    #[allow(clippy::needless_update)] // see `..NodeView::default()` below
    fn nodes() -> Vec<NodeView> {
        let tricky = "quote \" back \\ nl \n cr \r tab \t bell \x07 del \x7f é ☃ \u{1f600} \x1f";
        (0..4)
            .map(|i| NodeView {
                name: format!("web-{i} {}", if i == 2 { tricky } else { "" }),
                state: [NodeState::Up, NodeState::Down, NodeState::Pending][i % 3],
                addr: "127.0.0.1:4000".into(),
                first_seen_ms: 1_764_042_600_123 + i as i64 * 999,
                last_seen_ms: if i == 3 { -5_000 } else { 1_764_042_700_999 },
                version: "0.1.0".into(),
                hostname: "h".into(),
                addrs: vec![],
                labels: if i == 1 {
                    BTreeMap::from([
                        ("role".to_string(), "web".to_string()),
                        ("z\"q".to_string(), tricky.to_string()),
                    ])
                } else {
                    BTreeMap::new()
                },
                checks: CheckCounts {
                    ok: i as u32 * 1000,
                    warning: u32::MAX,
                    critical: 0,
                    unknown: 7,
                    pending: 10,
                },
                // A field added later is compared all the same.
                ..NodeView::default()
            })
            .collect()
    }

    fn ours(nodes: &[NodeView], pretty: bool) -> String {
        let mut out = Vec::new();
        let mut w = NodesJson::new(pretty);
        for n in nodes {
            w.node(&mut out, &NodeRef::from(n));
        }
        w.end(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn nodes_are_serde_json_bytes() {
        for count in [0, 1, 4] {
            let nodes = &nodes()[..count];
            let rows: Vec<NodeJson> = nodes.iter().map(NodeJson::from).collect();
            let pretty = serde_json::to_string_pretty(&rows).unwrap() + "\n";
            assert_eq!(ours(nodes, true), pretty);
            let lines: String = rows
                .iter()
                .map(|r| serde_json::to_string(r).unwrap() + "\n")
                .collect();
            assert_eq!(ours(nodes, false), lines);
        }
    }

    /// A list field (none is shown yet) is written as serde_json would.
    #[test]
    fn lists_are_serde_json_bytes() {
        use crate::net::node_ref::Strs;
        for list in [
            vec![],
            vec!["a".to_string()],
            vec!["a".into(), "b\"\n".into()],
        ] {
            for (style, pretty) in [(PRETTY, true), (COMPACT, false)] {
                let mut ours = Vec::new();
                ours.extend_from_slice(style.open);
                ours.extend_from_slice(b"\"addrs\"");
                ours.extend_from_slice(style.colon);
                value(
                    &mut ours,
                    &style,
                    &mut Times::default(),
                    Value::Strs(Strs::Slice(&list)),
                );
                ours.extend_from_slice(style.close);
                let node = serde_json::json!({ "addrs": list });
                let reference = if pretty {
                    let whole = serde_json::to_string_pretty(&[node]).unwrap();
                    whole["[\n  ".len()..whole.len() - "\n]".len()].to_string()
                } else {
                    serde_json::to_string(&node).unwrap()
                };
                assert_eq!(String::from_utf8(ours).unwrap(), reference);
            }
        }
    }

    #[test]
    fn extreme_times_do_not_panic() {
        let mut out = Vec::new();
        let mut times = Times::default();
        for ms in [i64::MIN, i64::MIN + 999, -1, 0, i64::MAX] {
            times.seconds(&mut out, ms);
            times.millis(&mut out, ms);
        }
        assert!(!out.is_empty());
    }

    #[test]
    fn log_lines_are_serde_json_bytes() {
        // The reference: serde_json writing the model's JSON form.
        use crate::model::log::LogLineJson;
        let mut times = Times::default();
        for (i, n) in nodes().iter().enumerate() {
            let line = LogLine {
                time_ms: n.first_seen_ms + i as i64 * 7,
                node: n.name.clone(),
                level: [Level::Info, Level::Warn, Level::Error, Level::Trace][i],
                source: "job:3".into(),
                message: n.name.clone(),
            };
            let mut out = Vec::new();
            log_line(&mut out, &mut times, &LogLineRef::from(&line));
            let reference = serde_json::to_string(&LogLineJson::from(&line)).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), reference);
        }
    }
}
