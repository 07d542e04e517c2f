//! The rotating log file: `FILE` is written; on rotation it becomes
//! `FILE.1`, the previous `FILE.1` becomes `FILE.2`, and so on; only
//! `keep` rotated files are kept (logrotate's numbering). Rotation happens
//! when the file would pass `max_size` (`rotation = "size"`) or at the first
//! write of a new UTC day (`rotation = "daily"`). Writes reach it through
//! `tracing_appender::non_blocking`, so a slow disk never holds a daemon up.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::config::Rotation;
use crate::timefmt::now_ms;

pub struct RotatingFile {
    path: PathBuf,
    file: File,
    size: u64,
    day: i64,
    rotation: Rotation,
    max_size: u64,
    keep: usize,
}

fn day_of(ms: i64) -> i64 {
    ms.div_euclid(86_400_000)
}

fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl RotatingFile {
    pub fn open(path: &Path, rotation: Rotation, max_size: u64, keep: usize) -> io::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = open(path)?;
        let meta = file.metadata()?;
        let day = meta
            .modified()
            .ok()
            .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| day_of(i64::try_from(d.as_millis()).unwrap_or(0)))
            .unwrap_or_else(|| day_of(now_ms()));
        Ok(RotatingFile {
            path: path.to_path_buf(),
            size: meta.len(),
            file,
            day,
            rotation,
            max_size: max_size.max(1),
            keep,
        })
    }

    fn numbered(&self, n: usize) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(format!(".{n}"));
        PathBuf::from(p)
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file.flush()?;
        if self.keep == 0 {
            let _ = std::fs::remove_file(&self.path);
        } else {
            let _ = std::fs::remove_file(self.numbered(self.keep));
            for n in (1..self.keep).rev() {
                let from = self.numbered(n);
                if from.exists() {
                    std::fs::rename(&from, self.numbered(n + 1))?;
                }
            }
            std::fs::rename(&self.path, self.numbered(1))?;
        }
        self.file = open(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let due = match self.rotation {
            Rotation::Size => self.size > 0 && self.size + buf.len() as u64 > self.max_size,
            Rotation::Daily => {
                let today = day_of(now_ms());
                let due = today != self.day && self.size > 0;
                self.day = today;
                due
            }
        };
        if due {
            self.rotate()?;
        }
        let n = self.file.write(buf)?;
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_by_size_and_keeps_n() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.log");
        let mut f = RotatingFile::open(&path, Rotation::Size, 100, 2).unwrap();
        for i in 0..50 {
            // One write per line, as the non-blocking writer does.
            f.write_all(format!("line {i:04} of the log\n").as_bytes())
                .unwrap();
        }
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["d.log", "d.log.1", "d.log.2"]);
        for n in &names {
            assert!(std::fs::metadata(dir.path().join(n)).unwrap().len() <= 100);
        }
        let newest = std::fs::read_to_string(&path).unwrap();
        assert!(newest.ends_with("line 0049 of the log\n"));
    }
}
