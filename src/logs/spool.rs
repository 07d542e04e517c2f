//! noded's log spool: lines not yet acknowledged by configd, oldest first,
//! in memory up to `memory_lines`, then in segment files under
//! `SPOOL_DIR/logs/` (MessagePack, `SEGMENT` lines each). The whole spool
//! is bounded by `cap` lines: past it the oldest go, and a line saying how
//! many takes their place. What is in memory at shutdown is written out,
//! and segments found at start are replayed first, so lines survive a
//! noded restart as well as a configd outage.
//!
//! Order: `head` (memory, oldest) ++ segments on disk ++ `tail` (memory,
//! newest, written out as a segment once `SEGMENT` lines long).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use crate::net::proto::{Level, LogLine};
use crate::timefmt::now_ms;

/// Lines per segment file.
pub const SEGMENT: usize = 10_000;

pub struct Spool {
    head: VecDeque<LogLine>,
    tail: Vec<LogLine>,
    /// Segment files, oldest first, with their line counts.
    segments: VecDeque<(PathBuf, usize)>,
    disk_lines: usize,
    dir: Option<PathBuf>,
    next_segment: u64,
    memory_lines: usize,
    cap: usize,
    /// Number (in this run) of the oldest line.
    pub front: u64,
    dropped: u64,
}

pub fn marker(message: String) -> LogLine {
    LogLine {
        time_ms: now_ms(),
        node: String::new(),
        level: Level::Warn,
        source: "daemon".into(),
        message,
    }
}

impl Spool {
    /// A spool of at most `cap` lines, `memory_lines` of them in memory,
    /// the rest under `dir` (`None`: memory only). Segments left by an
    /// earlier run are picked up.
    pub fn open(dir: Option<&Path>, memory_lines: usize, cap: usize) -> Spool {
        let mut s = Spool {
            head: VecDeque::new(),
            tail: Vec::new(),
            segments: VecDeque::new(),
            disk_lines: 0,
            dir: None,
            next_segment: 0,
            memory_lines: memory_lines.max(1),
            cap: cap.max(1),
            front: 0,
            dropped: 0,
        };
        let Some(dir) = dir else { return s };
        let dir = dir.join("logs");
        if let Err(e) = std::fs::create_dir_all(&dir) {
            tracing::warn!(
                "log spool kept in memory only: cannot create {}: {e}",
                dir.display()
            );
            return s;
        }
        let mut found: Vec<(u64, PathBuf)> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let n = name.strip_suffix(".spool")?.parse::<u64>().ok()?;
                Some((n, e.path()))
            })
            .collect();
        found.sort();
        for (n, path) in found {
            // Counting needs a read; segments are small.
            match read_segment(&path) {
                Ok(lines) => {
                    s.disk_lines += lines.len();
                    s.segments.push_back((path, lines.len()));
                }
                Err(e) => {
                    tracing::warn!("dropping unreadable log spool {}: {e}", path.display());
                    let _ = std::fs::remove_file(&path);
                }
            }
            s.next_segment = s.next_segment.max(n + 1);
        }
        s.dir = Some(dir);
        s
    }

    pub fn len(&self) -> usize {
        self.head.len() + self.disk_lines + self.tail.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn push(&mut self, line: LogLine) {
        let fits = self.segments.is_empty() && self.tail.is_empty();
        if self.dir.is_none() || (fits && self.head.len() < self.memory_lines) {
            self.head.push_back(line);
        } else {
            self.tail.push(line);
            if self.tail.len() >= SEGMENT.min(self.memory_lines) && self.dir.is_some() {
                self.write_tail();
            }
        }
        self.enforce_cap();
    }

    fn write_tail(&mut self) {
        let Some(dir) = &self.dir else { return };
        let path = dir.join(format!("{:012}.spool", self.next_segment));
        let bytes = match rmp_serde::to_vec_named(&self.tail) {
            Ok(b) => b,
            Err(_) => return,
        };
        // Write then rename, so a crash never leaves half a segment.
        let tmp = path.with_extension("tmp");
        let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, &path));
        match written {
            Ok(()) => {
                self.next_segment += 1;
                self.disk_lines += self.tail.len();
                self.segments.push_back((path, self.tail.len()));
                self.tail.clear();
            }
            Err(e) => {
                // Keep them in memory; the cap still bounds the total.
                tracing::debug!("cannot write log spool {}: {e}", path.display());
            }
        }
    }

    /// Moves the oldest segment (or the tail) into `head`.
    fn refill(&mut self) {
        while self.head.is_empty() {
            if let Some((path, n)) = self.segments.pop_front() {
                self.disk_lines -= n;
                match read_segment(&path) {
                    Ok(lines) => self.head.extend(lines),
                    Err(e) => {
                        tracing::warn!("lost {n} spooled log lines: {}: {e}", path.display());
                        self.front += n as u64;
                    }
                }
                let _ = std::fs::remove_file(&path);
            } else if !self.tail.is_empty() {
                self.head.extend(self.tail.drain(..));
            } else {
                return;
            }
        }
    }

    fn enforce_cap(&mut self) {
        while self.len() > self.cap {
            self.refill();
            if self.head.pop_front().is_none() {
                return;
            }
            self.front += 1;
            self.dropped += 1;
        }
    }

    /// Up to `max_lines` / about `max_bytes` of the oldest lines, taken out
    /// (give them back with `put_back` if they were not acknowledged).
    pub fn take(&mut self, max_lines: usize, max_bytes: usize) -> (u64, Vec<LogLine>) {
        self.note_drops();
        self.refill();
        let mut n = 0;
        let mut bytes = 0;
        for l in &self.head {
            if n >= max_lines || (n > 0 && bytes + l.message.len() > max_bytes) {
                break;
            }
            n += 1;
            bytes += l.message.len() + l.source.len() + 48;
        }
        let first = self.front;
        self.front += n as u64;
        (first, self.head.drain(..n).collect())
    }

    /// Puts a batch that was not acknowledged back in front.
    pub fn put_back(&mut self, batch: Vec<LogLine>) {
        self.front -= batch.len() as u64;
        for line in batch.into_iter().rev() {
            self.head.push_front(line);
        }
        self.enforce_cap();
    }

    /// Marks where the oldest lines were dropped.
    pub fn note_drops(&mut self) {
        if self.dropped > 0 && self.front > 0 {
            let n = std::mem::take(&mut self.dropped);
            self.front -= 1;
            self.head.push_front(marker(format!(
                "{n} log lines dropped: the spool was full while configd was away"
            )));
        }
    }

    /// Writes what is in memory to disk (at shutdown), oldest first.
    pub fn persist(&mut self) {
        if self.dir.is_none() || (self.head.is_empty() && self.tail.is_empty()) {
            return;
        }
        self.note_drops();
        // head is older than every segment: give it a number before them.
        let mut all: Vec<LogLine> = self.head.drain(..).collect();
        if !all.is_empty() {
            let Some(dir) = self.dir.clone() else { return };
            let first = self
                .segments
                .front()
                .and_then(|(p, _)| p.file_stem()?.to_str()?.parse::<u64>().ok())
                .unwrap_or(self.next_segment);
            if first == 0 {
                // No number before 0: renumber everything after it.
                all.extend(self.drain_disk());
                all.append(&mut self.tail);
                self.tail = all;
                self.write_tail();
                return;
            }
            let path = dir.join(format!("{:012}.spool", first - 1));
            if let Ok(bytes) = rmp_serde::to_vec_named(&all) {
                let _ = std::fs::write(&path, bytes);
            }
        }
        self.write_tail();
    }

    fn drain_disk(&mut self) -> Vec<LogLine> {
        let mut out = Vec::new();
        while let Some((path, _)) = self.segments.pop_front() {
            if let Ok(lines) = read_segment(&path) {
                out.extend(lines);
            }
            let _ = std::fs::remove_file(&path);
        }
        self.disk_lines = 0;
        out
    }
}

fn read_segment(path: &Path) -> Result<Vec<LogLine>, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    rmp_serde::from_slice(&bytes).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msgs(lines: &[LogLine]) -> Vec<String> {
        lines.iter().map(|l| l.message.clone()).collect()
    }

    #[test]
    fn memory_only_drops_oldest_and_says_so() {
        let mut s = Spool::open(None, 3, 3);
        for i in 0..5 {
            s.push(marker(format!("{i}")));
        }
        let (first, batch) = s.take(100, 1 << 20);
        assert_eq!(
            msgs(&batch),
            [
                "2 log lines dropped: the spool was full while configd was away",
                "2",
                "3",
                "4"
            ]
        );
        assert_eq!(first, 1);
    }

    #[test]
    fn overflow_goes_to_disk_in_order_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(Some(dir.path()), 5, 100_000);
        for i in 0..25 {
            s.push(marker(format!("{i}")));
        }
        assert_eq!(s.len(), 25);
        let files = std::fs::read_dir(dir.path().join("logs")).unwrap().count();
        assert_eq!(files, 4, "20 lines in 4 segments of 5");
        let (_, batch) = s.take(3, 1 << 20);
        assert_eq!(msgs(&batch), ["0", "1", "2"]);
        s.put_back(batch);
        let (_, batch) = s.take(2, 1 << 20);
        assert_eq!(msgs(&batch), ["0", "1"]);
        s.persist();
        drop(s);
        let mut s = Spool::open(Some(dir.path()), 5, 100_000);
        assert_eq!(s.len(), 23);
        let mut all = Vec::new();
        while !s.is_empty() {
            all.extend(msgs(&s.take(4, 1 << 20).1));
        }
        let want: Vec<String> = (2..25).map(|i| i.to_string()).collect();
        assert_eq!(all, want);
        assert_eq!(
            std::fs::read_dir(dir.path().join("logs")).unwrap().count(),
            0
        );
    }
}
