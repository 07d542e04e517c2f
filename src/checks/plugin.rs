//! What a Nagios plugin's output means (Nagios plugin development
//! guidelines): the exit code gives the state; the first line is the
//! output, the next lines the long output; performance data follows `|` on
//! the first line and on any long-output line, and every line after that
//! one is performance data too. Malformed performance data never fails a
//! check: the text is kept and the bad item skipped.

use super::{CheckState, PerfData};

/// Bytes of plugin output kept; the rest is cut and marked.
pub const OUTPUT_CAP: usize = 64 * 1024;

/// Appended when the output was cut at `OUTPUT_CAP`.
pub const TRUNCATED_MARKER: &str = "[output truncated at 64 KiB]";

/// Performance-data items kept per result.
pub const PERFDATA_CAP: usize = 256;

/// A plugin's result, parsed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PluginOutput {
    pub output: String,
    pub long_output: String,
    pub perfdata: Vec<PerfData>,
}

/// Parses `stdout` (at most `OUTPUT_CAP` bytes are looked at; `truncated`
/// says whether more were produced).
pub fn parse(stdout: &[u8], truncated: bool) -> PluginOutput {
    let bytes = &stdout[..stdout.len().min(OUTPUT_CAP)];
    let text = String::from_utf8_lossy(bytes);
    let text = text.replace("\r\n", "\n");
    let mut lines = text.split('\n');
    let first = lines.next().unwrap_or("");
    let mut perf_text = Vec::new();
    let output = match first.split_once('|') {
        Some((out, perf)) => {
            perf_text.push(perf.to_string());
            out.trim().to_string()
        }
        None => first.trim().to_string(),
    };
    let mut long = Vec::new();
    let mut in_perf = false;
    for line in lines {
        if in_perf {
            perf_text.push(line.to_string());
            continue;
        }
        match line.split_once('|') {
            Some((text, perf)) => {
                long.push(text.to_string());
                perf_text.push(perf.to_string());
                in_perf = true;
            }
            None => long.push(line.to_string()),
        }
    }
    while long.last().is_some_and(|l| l.trim().is_empty()) {
        long.pop();
    }
    let mut long_output = long.join("\n");
    if truncated || stdout.len() > OUTPUT_CAP {
        if !long_output.is_empty() {
            long_output.push('\n');
        }
        long_output.push_str(TRUNCATED_MARKER);
    }
    let mut perfdata = Vec::new();
    for chunk in &perf_text {
        parse_perfdata_into(chunk, &mut perfdata);
    }
    PluginOutput {
        output: if output.is_empty() {
            "(no output from plugin)".to_string()
        } else {
            output
        },
        long_output,
        perfdata,
    }
}

/// The state a plugin's exit gives: 0..=3 map to ok..unknown, anything
/// else (another code, a signal: `None`) is unknown.
pub fn state_of_exit(code: Option<i32>) -> CheckState {
    code.map_or(CheckState::Unknown, CheckState::from_exit)
}

fn parse_perfdata_into(text: &str, out: &mut Vec<PerfData>) {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() && out.len() < PERFDATA_CAP {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if i >= chars.len() {
            break;
        }
        // The label: quoted ('' is a literal quote) or up to `=`.
        let mut label = String::new();
        // An unquoted label needs no closing quote.
        let mut closed = chars[i] != '\'';
        if closed {
            while i < chars.len() && chars[i] != '=' && !chars[i].is_whitespace() {
                label.push(chars[i]);
                i += 1;
            }
        } else {
            i += 1;
            while i < chars.len() {
                if chars[i] == '\'' {
                    if chars.get(i + 1) == Some(&'\'') {
                        label.push('\'');
                        i += 2;
                        continue;
                    }
                    i += 1;
                    closed = true;
                    break;
                }
                label.push(chars[i]);
                i += 1;
            }
        }
        if !closed || chars.get(i) != Some(&'=') {
            // Skip the rest of this malformed item.
            while i < chars.len() && !chars[i].is_whitespace() {
                i += 1;
            }
            continue;
        }
        i += 1; // '='
        let start = i;
        while i < chars.len() && !chars[i].is_whitespace() {
            i += 1;
        }
        let spec: String = chars[start..i].iter().collect();
        if let Some(item) = parse_item(label, &spec) {
            out.push(item);
        }
    }
}

fn parse_item(label: String, spec: &str) -> Option<PerfData> {
    if label.is_empty() || label.len() > 200 {
        return None;
    }
    let mut fields = spec.split(';');
    let (value, uom) = split_value(fields.next()?)?;
    let warn = range_field(fields.next())?;
    let crit = range_field(fields.next())?;
    let min = number_field(fields.next())?;
    let max = number_field(fields.next())?;
    Some(PerfData {
        label,
        value,
        uom,
        warn,
        crit,
        min,
        max,
    })
}

fn is_number_char(c: char) -> bool {
    c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | ',')
}

fn number(text: &str) -> Option<f64> {
    if text.is_empty() || !text.chars().all(is_number_char) {
        return None;
    }
    // Some locales write a decimal comma.
    let v: f64 = text.replace(',', ".").parse().ok()?;
    v.is_finite().then_some(v)
}

/// `12.5ms` -> (12.5, "ms"). The unit is any short run of letters, `%` or `/`.
fn split_value(field: &str) -> Option<(f64, String)> {
    let cut = field
        .find(|c: char| !is_number_char(c))
        .unwrap_or(field.len());
    let (num, uom) = field.split_at(cut);
    let value = number(num)?;
    if uom.len() > 8
        || !uom
            .chars()
            .all(|c| c.is_ascii_alphabetic() || c == '%' || c == '/')
    {
        return None;
    }
    Some((value, uom.to_string()))
}

/// `Some(None)`: empty or absent. `None`: malformed.
fn number_field(field: Option<&str>) -> Option<Option<f64>> {
    match field.map(str::trim) {
        None | Some("") => Some(None),
        // Some plugins repeat the unit on min/max.
        Some(f) => split_value(f).map(|(v, _)| Some(v)),
    }
}

fn range_field(field: Option<&str>) -> Option<Option<String>> {
    match field.map(str::trim) {
        None | Some("") => Some(None),
        Some(f) => is_range(f).then(|| Some(f.to_string())),
    }
}

/// A Nagios threshold range: `[@][start:][end]`, start may be `~`.
pub fn is_range(text: &str) -> bool {
    let body = text.strip_prefix('@').unwrap_or(text);
    if body.is_empty() {
        return false;
    }
    let (start, end) = body.split_once(':').unwrap_or(("", body));
    let start_ok = start.is_empty() || start == "~" || number(start).is_some();
    let end_ok = end.is_empty() || number(end).is_some();
    start_ok && end_ok && (body.contains(':') || !end.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(label: &str, value: f64, uom: &str) -> PerfData {
        PerfData {
            label: label.into(),
            value,
            uom: uom.into(),
            warn: None,
            crit: None,
            min: None,
            max: None,
        }
    }

    fn full(
        label: &str,
        value: f64,
        uom: &str,
        w: Option<&str>,
        c: Option<&str>,
        min: Option<f64>,
        max: Option<f64>,
    ) -> PerfData {
        PerfData {
            warn: w.map(str::to_string),
            crit: c.map(str::to_string),
            min,
            max,
            ..p(label, value, uom)
        }
    }

    /// (stdout, output, long_output, perfdata)
    #[test]
    fn output_table() {
        let cases: Vec<(&str, &str, &str, Vec<PerfData>)> = vec![
            ("OK", "OK", "", vec![]),
            ("", "(no output from plugin)", "", vec![]),
            ("\n\n", "(no output from plugin)", "", vec![]),
            ("DISK OK\n", "DISK OK", "", vec![]),
            ("OK | time=0.5s", "OK", "", vec![p("time", 0.5, "s")]),
            ("OK|a=1", "OK", "", vec![p("a", 1.0, "")]),
            (
                "LOAD OK | load1=0.1;5;10;0; load5=0.2;4;8;0;",
                "LOAD OK",
                "",
                vec![
                    full("load1", 0.1, "", Some("5"), Some("10"), Some(0.0), None),
                    full("load5", 0.2, "", Some("4"), Some("8"), Some(0.0), None),
                ],
            ),
            (
                "OK | 'with space'=3MB;;;0;100",
                "OK",
                "",
                vec![full("with space", 3.0, "MB", None, None, Some(0.0), Some(100.0))],
            ),
            (
                "OK | 'it''s'=1c",
                "OK",
                "",
                vec![p("it's", 1.0, "c")],
            ),
            (
                "OK | pct=99.5%;80:;~:90;0;100",
                "OK",
                "",
                vec![full("pct", 99.5, "%", Some("80:"), Some("~:90"), Some(0.0), Some(100.0))],
            ),
            (
                "OK | x=5;@10:20;@1:2",
                "OK",
                "",
                vec![full("x", 5.0, "", Some("@10:20"), Some("@1:2"), None, None)],
            ),
            ("OK | t=10us t2=3ms", "OK", "", vec![p("t", 10.0, "us"), p("t2", 3.0, "ms")]),
            (
                "OK | b=1B k=2KB m=3MB g=4GB t=5TB",
                "OK",
                "",
                vec![p("b", 1.0, "B"), p("k", 2.0, "KB"), p("m", 3.0, "MB"), p("g", 4.0, "GB"), p("t", 5.0, "TB")],
            ),
            ("OK | neg=-1.5", "OK", "", vec![p("neg", -1.5, "")]),
            ("OK | comma=1,5s", "OK", "", vec![p("comma", 1.5, "s")]),
            // Malformed items are skipped, the rest kept.
            ("OK | novalue= good=1", "OK", "", vec![p("good", 1.0, "")]),
            ("OK | =5 good=1", "OK", "", vec![p("good", 1.0, "")]),
            ("OK | garbage good=2", "OK", "", vec![p("good", 2.0, "")]),
            ("OK | a=abc", "OK", "", vec![]),
            ("OK | a=1;x;y", "OK", "", vec![]),
            ("OK | a=1;;;zz", "OK", "", vec![]),
            ("OK | 'unterminated=1", "OK", "", vec![]),
            ("OK | a=U", "OK", "", vec![]),
            ("OK | a=1verylongunit", "OK", "", vec![]),
            ("OK | a=NaN b=inf", "OK", "", vec![]),
            ("OK | a=1;;;;;;;", "OK", "", vec![p("a", 1.0, "")]),
            ("OK |", "OK", "", vec![]),
            ("OK | | b=1", "OK", "", vec![p("b", 1.0, "")]),
            // Long output, and perfdata in it.
            ("OK\nline 2\nline 3", "OK", "line 2\nline 3", vec![]),
            (
                "OK | a=1\nmore text | b=2\nc=3\nd=4",
                "OK",
                "more text ",
                vec![p("a", 1.0, ""), p("b", 2.0, ""), p("c", 3.0, ""), p("d", 4.0, "")],
            ),
            ("OK\r\nlong\r\n", "OK", "long", vec![]),
            (
                "CRITICAL - Socket timeout after 10 seconds",
                "CRITICAL - Socket timeout after 10 seconds",
                "",
                vec![],
            ),
            (
                "DISK OK - free space: / 3326 MB (56%);| /=2643MB;5948;5958;0;5968",
                "DISK OK - free space: / 3326 MB (56%);",
                "",
                vec![full("/", 2643.0, "MB", Some("5948"), Some("5958"), Some(0.0), Some(5968.0))],
            ),
            (
                "TCP OK - 0.000 second response time on 127.0.0.1 port 22|time=0.000123s;;;0.000000;10.000000",
                "TCP OK - 0.000 second response time on 127.0.0.1 port 22",
                "",
                vec![full("time", 0.000123, "s", None, None, Some(0.0), Some(10.0))],
            ),
        ];
        assert!(cases.len() >= 30, "{} cases", cases.len());
        for (input, out, long, perf) in cases {
            let got = parse(input.as_bytes(), false);
            assert_eq!(got.output, out, "output of {input:?}");
            assert_eq!(got.long_output, long, "long output of {input:?}");
            assert_eq!(got.perfdata, perf, "perfdata of {input:?}");
        }
    }

    #[test]
    fn truncation_is_marked_and_non_utf8_kept() {
        let big = vec![b'x'; OUTPUT_CAP + 10];
        let got = parse(&big, true);
        assert!(got.long_output.ends_with(TRUNCATED_MARKER));
        let got = parse(b"OK \xff\xfe bytes", false);
        assert!(got.output.starts_with("OK "));
    }

    #[test]
    fn exit_codes() {
        assert_eq!(state_of_exit(Some(0)), CheckState::Ok);
        assert_eq!(state_of_exit(Some(1)), CheckState::Warning);
        assert_eq!(state_of_exit(Some(2)), CheckState::Critical);
        assert_eq!(state_of_exit(Some(3)), CheckState::Unknown);
        assert_eq!(state_of_exit(Some(4)), CheckState::Unknown);
        assert_eq!(state_of_exit(Some(-1)), CheckState::Unknown);
        assert_eq!(state_of_exit(Some(255)), CheckState::Unknown);
        assert_eq!(state_of_exit(None), CheckState::Unknown);
    }

    #[test]
    fn ranges() {
        for ok in ["10", "10:", "~:10", "@10:20", "10:20", "-5:5", "@~:3", ":5"] {
            assert!(is_range(ok), "{ok}");
        }
        for bad in ["", "@", "a", "1:b", "~", "10::"] {
            assert!(!is_range(bad), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse(&bytes, false);
        }

        #[test]
        fn never_panics_on_perfdata_like(text in "[ 'a-z0-9=;:@~.,|%\n-]{0,200}") {
            let got = parse(text.as_bytes(), false);
            for p in got.perfdata {
                proptest::prop_assert!(!p.label.is_empty());
                proptest::prop_assert!(p.value.is_finite());
            }
        }
    }
}
