//! The Logs view's ring buffer: the newest `capacity` lines, each with a
//! sequence number so a paused view stays on the same lines while new ones
//! arrive and old ones fall off.

use std::collections::VecDeque;

use super::rows::LogLine;

pub const DEFAULT_CAPACITY: usize = 20_000;

#[derive(Debug, Clone)]
pub struct LogBuffer {
    lines: VecDeque<LogLine>,
    capacity: usize,
    /// Sequence number of `lines[0]`.
    first_seq: u64,
    /// Lines dropped off the front since start.
    pub dropped: u64,
}

impl Default for LogBuffer {
    fn default() -> Self {
        LogBuffer::with_capacity(DEFAULT_CAPACITY)
    }
}

impl LogBuffer {
    pub fn with_capacity(capacity: usize) -> LogBuffer {
        LogBuffer {
            lines: VecDeque::with_capacity(capacity.min(4096)),
            capacity: capacity.max(1),
            first_seq: 0,
            dropped: 0,
        }
    }

    pub fn push(&mut self, line: LogLine) {
        if self.lines.len() == self.capacity {
            self.lines.pop_front();
            self.first_seq += 1;
            self.dropped += 1;
        }
        self.lines.push_back(line);
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Sequence number the next pushed line gets.
    pub fn end_seq(&self) -> u64 {
        self.first_seq + self.lines.len() as u64
    }

    pub fn first_seq(&self) -> u64 {
        self.first_seq
    }

    /// Lines with sequence numbers below `end`, newest first, that pass
    /// `keep`, at most `n` of them (returned oldest first).
    pub fn last_matching(
        &self,
        end: u64,
        n: usize,
        mut keep: impl FnMut(&LogLine) -> bool,
    ) -> Vec<(u64, &LogLine)> {
        let end = end.clamp(self.first_seq, self.end_seq());
        let upto = (end - self.first_seq) as usize;
        let mut out = Vec::with_capacity(n);
        for i in (0..upto).rev() {
            if out.len() >= n {
                break;
            }
            let line = &self.lines[i];
            if keep(line) {
                out.push((self.first_seq + i as u64, line));
            }
        }
        out.reverse();
        out
    }

    /// The sequence number `steps` matching lines before `from` (for
    /// scrolling up), or the oldest one.
    pub fn step_back(&self, from: u64, steps: usize, keep: impl FnMut(&LogLine) -> bool) -> u64 {
        let found = self.last_matching(from, steps, keep);
        found
            .first()
            .map(|(s, _)| *s)
            .unwrap_or(from)
            .max(self.first_seq)
    }

    /// The sequence number `steps` matching lines after `from`.
    pub fn step_forward(
        &self,
        from: u64,
        steps: usize,
        mut keep: impl FnMut(&LogLine) -> bool,
    ) -> u64 {
        let start = from.clamp(self.first_seq, self.end_seq());
        let mut seq = start;
        let mut taken = 0;
        while seq < self.end_seq() && taken < steps {
            if keep(&self.lines[(seq - self.first_seq) as usize]) {
                taken += 1;
            }
            seq += 1;
        }
        seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(msg: &str) -> LogLine {
        LogLine {
            time_ms: 0,
            node: String::new(),
            level: crate::model::log::Level::Info,
            source: String::new(),
            message: msg.into(),
        }
    }

    #[test]
    fn ring_keeps_the_newest() {
        let mut b = LogBuffer::with_capacity(3);
        for i in 0..5 {
            b.push(line(&i.to_string()));
        }
        assert_eq!(b.len(), 3);
        assert_eq!(b.dropped, 2);
        let last: Vec<_> = b
            .last_matching(b.end_seq(), 10, |_| true)
            .into_iter()
            .map(|(_, l)| l.message.clone())
            .collect();
        assert_eq!(last, ["2", "3", "4"]);
        let odd: Vec<_> = b
            .last_matching(b.end_seq(), 10, |l| l.message != "3")
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(odd, [2, 4]);
        assert_eq!(b.step_back(5, 2, |_| true), 3);
        assert_eq!(b.step_back(5, 9, |_| true), 2);
        assert_eq!(b.step_forward(2, 1, |_| true), 3);
    }
}
