//! Printing results: aligned tables for people, JSON and CSV for scripts.
//! A table is cut to the screen only on a terminal in `table` format;
//! `-o wide`, a pipe or a file get every cell whole.

use std::io::{IsTerminal, Write};

use clap::ValueEnum;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    /// Aligned columns for people, cut to the terminal's width (`text` for logs).
    #[default]
    #[value(alias = "text")]
    Table,
    /// Aligned columns with nothing cut (what a pipe or a file always gets).
    Wide,
    /// One JSON array (one object for a write).
    Json,
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header; nested fields as dotted columns.
    Csv,
}

impl Format {
    /// Table or wide: text for people.
    pub fn is_text(self) -> bool {
        matches!(self, Format::Table | Format::Wide)
    }
}

/// Writes `rows` as JSON or JSON lines.
pub fn write_json<T: Serialize>(
    out: &mut impl Write,
    format: Format,
    rows: &[T],
) -> std::io::Result<()> {
    // Stdout is line-buffered: without this, 10,000 nodes of pretty JSON
    // cost 200,000 write(2) calls.
    let mut out = std::io::BufWriter::with_capacity(256 * 1024, out);
    match format {
        Format::Jsonl => {
            for row in rows {
                serde_json::to_writer(&mut out, row)?;
                out.write_all(b"\n")?;
            }
        }
        _ => {
            serde_json::to_writer_pretty(&mut out, rows)?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()
}

/// Writes one object (the answer of a write command) as JSON, a JSON
/// line, or a CSV header and row.
pub fn write_one<T: Serialize>(
    out: &mut impl Write,
    format: Format,
    row: &T,
) -> std::io::Result<()> {
    match format {
        Format::Csv => return write_csv(out, std::slice::from_ref(row)),
        Format::Jsonl => serde_json::to_writer(&mut *out, row)?,
        _ => serde_json::to_writer_pretty(&mut *out, row)?,
    }
    out.write_all(b"\n")
}

/// Writes a write command's answer: `message` as text, `fields` (what was
/// done: ids, times, counts) for JSON, JSON lines or CSV.
pub fn write_answer<T: Serialize>(
    out: &mut impl Write,
    format: Format,
    message: &str,
    fields: &T,
) -> std::io::Result<()> {
    if format.is_text() {
        writeln!(out, "{message}")
    } else {
        write_one(out, format, fields)
    }
}

/// Writes `rows` as CSV (RFC 4180, by the csv crate): a header with every
/// field any row has, in order of appearance; nested objects as dotted
/// columns (`labels.role`, `checks.ok`), lists as JSON text, null empty.
pub fn write_csv<T: Serialize>(out: &mut impl Write, rows: &[T]) -> std::io::Result<()> {
    let mut flat: Vec<Vec<(String, String)>> = Vec::with_capacity(rows.len());
    let mut header: Vec<String> = Vec::new();
    let mut known = std::collections::HashSet::new();
    for row in rows {
        // Through JSON text, which keeps a struct's field order.
        let cell: Cell = serde_json::from_str(&serde_json::to_string(row)?)?;
        let mut cells = Vec::new();
        cell.flatten(&mut cells, String::new());
        for (k, _) in &cells {
            if known.insert(k.clone()) {
                header.push(k.clone());
            }
        }
        flat.push(cells);
    }
    let mut w = csv::Writer::from_writer(out);
    w.write_record(&header)?;
    for cells in flat {
        let by_name: std::collections::HashMap<&str, &str> = cells
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        w.write_record(
            header
                .iter()
                .map(|h| by_name.get(h.as_str()).unwrap_or(&"")),
        )?;
    }
    w.flush()
}

/// A JSON value as a CSV row sees it: objects keep their key order,
/// everything else is already the cell's text.
enum Cell {
    Text(String),
    Object(Vec<(String, Cell)>),
}

impl Cell {
    fn flatten(self, cells: &mut Vec<(String, String)>, key: String) {
        match self {
            Cell::Text(t) => cells.push((key, t)),
            // An empty object adds no column.
            Cell::Object(fields) => {
                for (k, v) in fields {
                    let name = if key.is_empty() {
                        k
                    } else {
                        format!("{key}.{k}")
                    };
                    v.flatten(cells, name);
                }
            }
        }
    }
}

impl<'de> serde::Deserialize<'de> for Cell {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Cell, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Cell;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Cell, E> {
                Ok(Cell::Text(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Cell, E> {
                Ok(Cell::Text(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Cell, E> {
                Ok(Cell::Text(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Cell, E> {
                Ok(Cell::Text(v.to_string()))
            }
            fn visit_str<E>(self, v: &str) -> Result<Cell, E> {
                Ok(Cell::Text(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<Cell, E> {
                Ok(Cell::Text(v))
            }
            fn visit_unit<E>(self) -> Result<Cell, E> {
                Ok(Cell::Text(String::new()))
            }
            fn visit_none<E>(self) -> Result<Cell, E> {
                Ok(Cell::Text(String::new()))
            }
            fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Cell, D::Error> {
                serde::Deserialize::deserialize(d)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Cell, A::Error> {
                let mut items = Vec::new();
                while let Some(v) = seq.next_element::<serde_json::Value>()? {
                    items.push(v);
                }
                Ok(Cell::Text(serde_json::Value::Array(items).to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Cell, A::Error> {
                let mut fields = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Cell>()? {
                    fields.push((k, v));
                }
                Ok(Cell::Object(fields))
            }
        }
        d.deserialize_any(Visit)
    }
}

/// Writes `rows` in `format`: JSON, JSON lines, CSV, or the text table
/// `table` builds for the given fit.
pub fn write_rows<T: Serialize>(
    out: &mut impl Write,
    format: Format,
    rows: &[T],
    table: impl FnOnce(Fit) -> String,
) -> std::io::Result<()> {
    match format {
        Format::Json | Format::Jsonl => write_json(out, format, rows),
        Format::Csv => write_csv(out, rows),
        Format::Table | Format::Wide => out.write_all(table(Fit::stdout(format)).as_bytes()),
    }
}

/// Writes `bytes` to stdout; a closed pipe (`| head -1`) is not an error.
pub fn print_bytes(bytes: &[u8]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    closed_pipe_is_ok(out.write_all(bytes).and_then(|()| out.flush()))
}

/// `println!` for output a reader may stop reading: never panics.
pub fn print_line(text: impl std::fmt::Display) -> std::io::Result<()> {
    print_bytes(format!("{text}\n").as_bytes())
}

/// A write into a pipe whose reader went away (`| head`) is a normal end.
pub fn closed_pipe_is_ok(r: std::io::Result<()>) -> std::io::Result<()> {
    match r {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r,
    }
}

/// How much of a table fits: on a terminal in `table` format, lines and
/// long cells are cut to the screen; anywhere else nothing is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fit {
    width: Option<usize>,
}

impl Fit {
    /// Nothing cut.
    pub const WHOLE: Fit = Fit { width: None };

    /// Cut to `width` columns.
    pub fn width(width: usize) -> Fit {
        Fit { width: Some(width) }
    }

    /// For stdout in `format`: cut only in `table` on a terminal.
    pub fn stdout(format: Format) -> Fit {
        if format == Format::Table && std::io::stdout().is_terminal() {
            Fit::width(terminal_width())
        } else {
            Fit::WHOLE
        }
    }

    /// `s`, cut to `max` characters when this fit cuts.
    pub fn clip(self, s: &str, max: usize) -> String {
        match self.width {
            Some(_) => clip(s, max),
            None => s.to_string(),
        }
    }
}

/// A text table whose last column is cut to fit `width` characters.
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: Vec<&'static str>) -> Table {
        Table {
            headers,
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as `fit` allows.
    pub fn fit(&self, fit: Fit) -> String {
        self.render(fit.width.unwrap_or(usize::MAX))
    }

    pub fn render(&self, width: usize) -> String {
        let n = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(n) {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut text = String::new();
        let header: Vec<String> = self.headers.iter().map(|h| h.to_string()).collect();
        for row in std::iter::once(&header).chain(self.rows.iter()) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate().take(n) {
                if i + 1 == n {
                    line.push_str(cell);
                } else {
                    line.push_str(&format!("{cell:<w$}  ", w = widths[i]));
                }
            }
            let line = line.trim_end();
            if line.chars().count() > width && width > 1 {
                let cut: String = line.chars().take(width - 1).collect();
                text.push_str(&cut);
                text.push('…');
            } else {
                text.push_str(line);
            }
            text.push('\n');
        }
        text
    }
}

/// Cuts `s` to `max` characters, marking the cut.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// The terminal's width: `$COLUMNS`, else what the terminal says, else 80.
pub fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .or_else(|| {
            crossterm::terminal::size()
                .ok()
                .map(|(w, _)| usize::from(w))
        })
        .filter(|&c: &usize| c >= 20)
        .unwrap_or(80)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_and_cuts() {
        let mut t = Table::new(vec!["NAME", "STATE", "LABELS"]);
        t.row(vec!["web-1".into(), "up".into(), "role=web,zone=a".into()]);
        t.row(vec!["db".into(), "down".into(), "".into()]);
        let s = t.render(20);
        assert_eq!(
            s,
            "NAME   STATE  LABELS\nweb-1  up     role=…\ndb     down\n"
        );
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(t.fit(Fit::WHOLE), t.render(usize::MAX));
        assert_eq!(Fit::WHOLE.clip("abcdef", 4), "abcdef");
        assert_eq!(Fit::width(80).clip("abcdef", 4), "abc…");
    }

    #[test]
    fn csv_flattens_objects_and_quotes() {
        #[derive(Serialize)]
        struct Row {
            name: &'static str,
            labels: serde_json::Value,
            n: u32,
            list: Vec<u32>,
            x: Option<u32>,
        }
        let rows = vec![
            Row {
                name: "web-1",
                labels: serde_json::json!({"role": "web"}),
                n: 3,
                list: vec![1, 2],
                x: None,
            },
            Row {
                name: "a,\"b\"\nc",
                labels: serde_json::json!({"zone": "z"}),
                n: 0,
                list: vec![],
                x: Some(7),
            },
        ];
        let mut out = Vec::new();
        write_csv(&mut out, &rows).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "name,labels.role,n,list,x,labels.zone\n\
             web-1,web,3,\"[1,2]\",,\n\
             \"a,\"\"b\"\"\nc\",,0,[],7,z\n"
        );
    }
}
