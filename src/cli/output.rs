//! Printing results: aligned tables for people, JSON for scripts.

use std::io::Write;

use clap::ValueEnum;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    /// Aligned columns for people (`text` for logs).
    #[default]
    #[value(alias = "text")]
    Table,
    /// One JSON array.
    Json,
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header (`inventory export`).
    Csv,
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

/// The terminal's width, or 80 when stdout is not a terminal.
pub fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
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
    }
}
