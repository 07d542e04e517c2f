//! Reading MessagePack in place (strings borrowed from the frame), for the
//! hand-written readers of `bulk`, `node_ref` and `log_ref`.

/// Reads MessagePack from a slice, borrowing strings from it. Every method
/// gives `None` on anything unexpected.
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// What is left to read.
    pub fn rest(&self) -> &'a [u8] {
        self.buf
    }

    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    pub fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.buf.split_first()?;
        self.buf = rest;
        Some(b)
    }

    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.buf.len() {
            return None;
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Some(a)
    }

    pub fn be(&mut self, n: usize) -> Option<u64> {
        Some(
            self.take(n)?
                .iter()
                .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)),
        )
    }

    pub fn map(&mut self) -> Option<usize> {
        match self.byte()? {
            b @ 0x80..=0x8f => Some(usize::from(b & 0x0f)),
            0xde => Some(self.be(2)? as usize),
            0xdf => Some(self.be(4)? as usize),
            _ => None,
        }
    }

    pub fn array(&mut self) -> Option<usize> {
        match self.byte()? {
            b @ 0x90..=0x9f => Some(usize::from(b & 0x0f)),
            0xdc => Some(self.be(2)? as usize),
            0xdd => Some(self.be(4)? as usize),
            _ => None,
        }
    }

    pub fn str(&mut self) -> Option<&'a str> {
        let n = match self.byte()? {
            b @ 0xa0..=0xbf => usize::from(b & 0x1f),
            0xd9 => self.be(1)? as usize,
            0xda => self.be(2)? as usize,
            0xdb => self.be(4)? as usize,
            _ => return None,
        };
        std::str::from_utf8(self.take(n)?).ok()
    }

    /// A string that is only compared with known names (map keys, enum
    /// tags), as bytes: it needs no UTF-8 check.
    pub fn name(&mut self) -> Option<&'a [u8]> {
        let n = match self.byte()? {
            b @ 0xa0..=0xbf => usize::from(b & 0x1f),
            0xd9 => self.be(1)? as usize,
            0xda => self.be(2)? as usize,
            0xdb => self.be(4)? as usize,
            _ => return None,
        };
        self.take(n)
    }

    /// Any integer encoding, as i128 (holds both u64 and i64).
    pub fn int(&mut self) -> Option<i128> {
        Some(match self.byte()? {
            b @ 0x00..=0x7f => i128::from(b),
            b @ 0xe0..=0xff => i128::from(b as i8),
            0xcc => i128::from(self.be(1)?),
            0xcd => i128::from(self.be(2)?),
            0xce => i128::from(self.be(4)?),
            0xcf => i128::from(self.be(8)?),
            0xd0 => i128::from(self.be(1)? as u8 as i8),
            0xd1 => i128::from(self.be(2)? as u16 as i16),
            0xd2 => i128::from(self.be(4)? as u32 as i32),
            0xd3 => i128::from(self.be(8)? as i64),
            _ => return None,
        })
    }

    pub fn u64(&mut self) -> Option<u64> {
        u64::try_from(self.int()?).ok()
    }

    pub fn i64(&mut self) -> Option<i64> {
        i64::try_from(self.int()?).ok()
    }

    pub fn u32(&mut self) -> Option<u32> {
        u32::try_from(self.int()?).ok()
    }

    pub fn bool(&mut self) -> Option<bool> {
        match self.byte()? {
            0xc2 => Some(false),
            0xc3 => Some(true),
            _ => None,
        }
    }

    /// Skips one value, however nested, without recursion.
    pub fn skip(&mut self) -> Option<()> {
        let mut pending: usize = 1;
        while pending > 0 {
            pending -= 1;
            let n = match self.byte()? {
                0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => 0,
                b @ 0x80..=0x8f => {
                    pending += 2 * usize::from(b & 0x0f);
                    0
                }
                b @ 0x90..=0x9f => {
                    pending += usize::from(b & 0x0f);
                    0
                }
                b @ 0xa0..=0xbf => usize::from(b & 0x1f),
                0xc4 | 0xd9 => self.be(1)? as usize,
                0xc5 | 0xda => self.be(2)? as usize,
                0xc6 | 0xdb => self.be(4)? as usize,
                0xc7 => self.be(1)? as usize + 1,
                0xc8 => self.be(2)? as usize + 1,
                0xc9 => self.be(4)? as usize + 1,
                0xca => 4,
                0xcb => 8,
                0xcc | 0xd0 => 1,
                0xcd | 0xd1 => 2,
                0xce | 0xd2 => 4,
                0xcf | 0xd3 => 8,
                0xd4 => 2,
                0xd5 => 3,
                0xd6 => 5,
                0xd7 => 9,
                0xd8 => 17,
                0xdc => {
                    pending += self.be(2)? as usize;
                    0
                }
                0xdd => {
                    pending += self.be(4)? as usize;
                    0
                }
                0xde => {
                    pending += 2 * self.be(2)? as usize;
                    0
                }
                0xdf => {
                    pending += 2 * self.be(4)? as usize;
                    0
                }
                0xc1 => return None,
            };
            self.take(n)?;
            // Every pending value needs at least a byte: a declared count
            // past the input is a lie, not a reason to spin.
            if pending > self.buf.len() {
                return None;
            }
        }
        Some(())
    }

    /// A capacity no larger than what the rest of the input can hold.
    pub fn cap(&self, n: usize) -> usize {
        n.min(self.buf.len())
    }

    /// A one-entry map `{name: ...}` (an externally tagged enum value):
    /// the name; the reader is left at the value.
    pub fn tag(&mut self) -> Option<&'a [u8]> {
        if self.map()? != 1 {
            return None;
        }
        self.name()
    }
}
