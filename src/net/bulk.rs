//! Hand-written MessagePack for the bulk messages: node pages, and log
//! lines from nodes (`LogBatch`) and to subscribers (`LogLines`). They
//! carry thousands of structs a frame, where rmp-serde's generic path costs
//! about 70 ns a field on both ends.
//!
//! The bytes written are exactly rmp-serde's named encoding (tests compare
//! them), and reading takes what rmp-serde takes for these types: fields in
//! any order, unknown fields skipped, any integer width. Anything else (an
//! array-shaped struct, a missing or repeated field, bad UTF-8) gives
//! `None`, and the caller leaves the frame to rmp-serde, which then names
//! the error.
//!
//! Kept (issue 12) because the benchmarks need it: replacing it with
//! rmp-serde and the client link made `monit-cli query nodes -o json` at
//! 10,000 nodes (benches/node_load) 61-129 ms against 31-41 ms, and the
//! log fan-out to one `monit-cli logs -f -o jsonl` (benches/logs) print
//! 0.42-0.92 M lines/s against 0.67-1.62 M, in one sitting (BENCHMARKS.md,
//! "Issue 12"); the targets are within 1.5x or under 20 ms, and >= 1 M
//! lines/s. tests/proto.rs compares it with the serde path on random values.

pub use super::log_ref::LogLineRef;
use super::msgpack::Reader;
pub use super::node_ref::NodeRef;
use super::node_ref::{Kind, Pairs, Strs, Value, FIELDS};
use super::proto::{
    CheckCounts, Level, LogBatch, LogLine, LogLines, Message, NodeState, NodesPage, Request,
    RequestBody, Response, ResponseBody,
};

// ---------------------------------------------------------------- writing

/// Appends MessagePack to a buffer; the encodings rmp (and so rmp-serde)
/// picks: the smallest that holds the value.
pub struct Writer<'a>(pub &'a mut Vec<u8>);

impl Writer<'_> {
    /// A marker byte, then its big-endian payload.
    fn marked(&mut self, marker: u8, payload: &[u8]) {
        self.0.push(marker);
        self.0.extend_from_slice(payload);
    }

    fn map(&mut self, n: usize) {
        match n {
            0..=15 => self.0.push(0x80 | n as u8),
            16..=0xffff => self.marked(0xde, &(n as u16).to_be_bytes()),
            _ => self.marked(0xdf, &(n as u32).to_be_bytes()),
        }
    }

    fn array(&mut self, n: usize) {
        match n {
            0..=15 => self.0.push(0x90 | n as u8),
            16..=0xffff => self.marked(0xdc, &(n as u16).to_be_bytes()),
            _ => self.marked(0xdd, &(n as u32).to_be_bytes()),
        }
    }

    fn str(&mut self, s: &str) {
        let n = s.len();
        match n {
            0..=31 => self.0.push(0xa0 | n as u8),
            32..=0xff => self.marked(0xd9, &[n as u8]),
            0x100..=0xffff => self.marked(0xda, &(n as u16).to_be_bytes()),
            _ => self.marked(0xdb, &(n as u32).to_be_bytes()),
        }
        self.0.extend_from_slice(s.as_bytes());
    }

    fn uint(&mut self, v: u64) {
        match v {
            0..=127 => self.0.push(v as u8),
            128..=0xff => self.marked(0xcc, &[v as u8]),
            0x100..=0xffff => self.marked(0xcd, &(v as u16).to_be_bytes()),
            0x1_0000..=0xffff_ffff => self.marked(0xce, &(v as u32).to_be_bytes()),
            _ => self.marked(0xcf, &v.to_be_bytes()),
        }
    }

    fn sint(&mut self, v: i64) {
        if v >= 0 {
            return self.uint(v as u64);
        }
        match v {
            -32..=-1 => self.0.push(v as i8 as u8),
            -128..=-33 => self.marked(0xd0, &[v as i8 as u8]),
            -32768..=-129 => self.marked(0xd1, &(v as i16).to_be_bytes()),
            -2147483648..=-32769 => self.marked(0xd2, &(v as i32).to_be_bytes()),
            _ => self.marked(0xd3, &v.to_be_bytes()),
        }
    }

    fn bool(&mut self, b: bool) {
        self.0.push(if b { 0xc3 } else { 0xc2 });
    }

    /// `{"Response": {"id": id, "body": {variant: ...`, the caller writes
    /// the variant's content.
    fn response(&mut self, id: u64, variant: &str) {
        self.map(1);
        self.str("Response");
        self.map(2);
        self.str("id");
        self.uint(id);
        self.str("body");
        self.map(1);
        self.str(variant);
    }

    fn log_line(&mut self, l: &LogLine) {
        self.map(5);
        self.str("time_ms");
        self.sint(l.time_ms);
        self.str("node");
        self.str(&l.node);
        self.str("level");
        self.str(l.level.as_str());
        self.str("source");
        self.str(&l.source);
        self.str("message");
        self.str(&l.message);
    }

    /// `Response{id, Nodes{nodes: [` for `count` nodes; then `node` each,
    /// then `nodes_page_end`.
    pub fn nodes_page_start(&mut self, id: u64, count: usize) {
        self.response(id, "Nodes");
        self.map(2);
        self.str("nodes");
        self.array(count);
    }

    pub fn nodes_page_end(&mut self, done: bool) {
        self.str("done");
        self.bool(done);
    }

    /// Appends bytes already written by another `Writer` (nodes).
    pub fn raw(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    pub fn node(&mut self, n: &NodeRef) {
        self.map(FIELDS.len());
        for (f, v) in FIELDS.iter().zip(n.values()) {
            self.str(f.wire);
            self.value(v);
        }
    }

    /// A node from its pre-encoded fields and, from `n`, the ones that
    /// change (`FieldSpec::changes`).
    pub fn encoded_node(&mut self, e: &EncodedNode, n: &NodeRef) {
        let mut done = 0;
        for ((f, v), (at, _)) in FIELDS.iter().zip(n.values()).zip(e.spans) {
            if f.changes {
                let at = at as usize;
                self.raw(e.bytes.get(done..at).unwrap_or_default());
                self.value(v);
                done = at;
            }
        }
        self.raw(e.bytes.get(done..).unwrap_or_default());
    }

    fn value(&mut self, v: Value) {
        match v {
            Value::Str(s) => self.str(s),
            Value::State(s) => self.str(s.as_str()),
            Value::Time(ms) => self.sint(ms),
            Value::Strs(list) => {
                self.array(list.len());
                for s in list.iter() {
                    self.str(s);
                }
            }
            Value::Pairs(pairs) => {
                self.map(pairs.len());
                for (k, v) in pairs.iter() {
                    self.str(k);
                    self.str(v);
                }
            }
            Value::Counts(c) => {
                self.map(5);
                for (k, v) in c.named() {
                    self.str(k);
                    self.uint(u64::from(v));
                }
            }
        }
    }

    /// `{"Request": {"id": id, "body": `, the caller writes the body.
    pub fn request(&mut self, id: u64) {
        self.map(1);
        self.str("Request");
        self.map(2);
        self.str("id");
        self.uint(id);
        self.str("body");
    }

    /// The request body `{"LogBatch": {...}}`.
    fn log_batch(&mut self, b: &LogBatch) {
        self.map(1);
        self.str("LogBatch");
        self.map(3);
        self.str("stream");
        self.uint(b.stream);
        self.str("first_line");
        self.uint(b.first_line);
        self.str("lines");
        self.array(b.lines.len());
        for l in &b.lines {
            self.log_line(l);
        }
    }

    /// `Response{id, LogLines{lines, skipped, done}}`, from borrowed lines.
    pub fn log_lines(&mut self, id: u64, lines: &[&LogLine], skipped: u64, done: bool) {
        self.response(id, "LogLines");
        self.map(3);
        self.str("lines");
        self.array(lines.len());
        for l in lines {
            self.log_line(l);
        }
        self.str("skipped");
        self.uint(skipped);
        self.str("done");
        self.bool(done);
    }
}

/// A node's `Nodes` entry without the values of the fields that change
/// (`FieldSpec::changes`: state, last_seen_ms, checks), kept by configd
/// beside the node: a 10,000-node answer then copies a few runs of bytes a
/// node, where walking the node's strings costs a cache miss each.
#[derive(Debug, Clone, Default)]
pub struct EncodedNode {
    bytes: Vec<u8>,
    /// Where each field's value starts and ends in `bytes` (empty for the
    /// fields that change: where theirs goes).
    spans: [(u32, u32); FIELDS.len()],
}

impl EncodedNode {
    /// Encodes the fields of `n` that change only when the node registers.
    pub fn new(n: &NodeRef) -> EncodedNode {
        let mut bytes = Vec::with_capacity(256);
        let mut spans = [(0, 0); FIELDS.len()];
        let mut w = Writer(&mut bytes);
        w.map(FIELDS.len());
        for ((f, v), span) in FIELDS.iter().zip(n.values()).zip(&mut spans) {
            w.str(f.wire);
            let start = w.0.len();
            if !f.changes {
                w.value(v);
            }
            *span = (start as u32, w.0.len() as u32);
        }
        bytes.shrink_to_fit();
        EncodedNode { bytes, spans }
    }

    /// `n` with its maps (the labels) read from these bytes: one run of
    /// memory, where the node's own map is a string allocation a key (a
    /// filter on labels over 10,000 nodes would take a cache miss for each).
    pub fn with_maps<'a>(&'a self, n: NodeRef<'a>) -> NodeRef<'a> {
        let mut values = n.values().map(Some);
        for (i, v) in values.iter_mut().enumerate() {
            if let Some(Value::Pairs(_)) = v {
                *v = Some(Value::Pairs(self.pairs(i)));
            }
        }
        NodeRef::from_values(values).unwrap_or(n)
    }

    /// The map field `field` (a `FIELDS` index), read from these bytes.
    fn pairs(&self, field: usize) -> Pairs<'_> {
        let empty = Pairs::Wire { len: 0, bytes: &[] };
        let Some(&(start, end)) = self.spans.get(field) else {
            return empty;
        };
        let Some(bytes) = self.bytes.get(start as usize..end as usize) else {
            return empty;
        };
        let mut r = Reader::new(bytes);
        match r.map() {
            Some(len) => Pairs::Wire {
                len,
                bytes: r.rest(),
            },
            None => empty,
        }
    }
}

/// Writes `msg` when it is a bulk message; false (nothing written) if not.
pub fn encode(msg: &Message, out: &mut Vec<u8>) -> bool {
    let mut w = Writer(out);
    match msg {
        Message::Response(Response {
            id,
            body: ResponseBody::Nodes(page),
        }) => {
            w.nodes_page_start(*id, page.nodes.len());
            for n in &page.nodes {
                w.node(&NodeRef::from(n));
            }
            w.nodes_page_end(page.done);
        }
        Message::Response(Response {
            id,
            body: ResponseBody::LogLines(l),
        }) => {
            let refs: Vec<&LogLine> = l.lines.iter().collect();
            w.log_lines(*id, &refs, l.skipped, l.done);
        }
        Message::Request(Request {
            id,
            body: RequestBody::LogBatch(b),
        }) => {
            w.request(*id);
            w.log_batch(b);
        }
        _ => return false,
    }
    true
}

/// A request body encoded once, to be sent many times (to many peers, or
/// by a load generator) with `LinkHandle::request_encoded`.
pub fn encode_request_body(body: &RequestBody) -> Result<Vec<u8>, rmp_serde::encode::Error> {
    match body {
        RequestBody::LogBatch(b) => {
            let mut out = Vec::new();
            Writer(&mut out).log_batch(b);
            Ok(out)
        }
        other => rmp_serde::to_vec_named(other),
    }
}

// ---------------------------------------------------------------- reading

/// Reads a struct written as a map whose fields are `names`: `field(i, r)`
/// reads the value of `names[i]`. Unknown fields are skipped (a newer
/// sender's); a repeated one gives `None`, as rmp-serde refuses it.
fn fields<'a>(
    r: &mut Reader<'a>,
    names: &[&str],
    mut field: impl FnMut(usize, &mut Reader<'a>) -> Option<()>,
) -> Option<()> {
    let mut seen = 0u32;
    // Senders write the fields in order: try the next one first.
    let mut next = 0;
    for _ in 0..r.map()? {
        let key = r.name()?;
        let at = match names.get(next) {
            Some(n) if n.as_bytes() == key => Some(next),
            _ => names.iter().position(|n| n.as_bytes() == key),
        };
        match at {
            Some(i) => {
                next = i + 1;
                if seen & (1 << i) != 0 {
                    return None;
                }
                seen |= 1 << i;
                field(i, r)?;
            }
            None => r.skip()?,
        }
    }
    Some(())
}

fn level(s: &[u8]) -> Option<Level> {
    Some(match s {
        b"trace" => Level::Trace,
        b"debug" => Level::Debug,
        b"info" => Level::Info,
        b"warn" => Level::Warn,
        b"error" => Level::Error,
        _ => return None,
    })
}

fn node_state(s: &[u8]) -> Option<NodeState> {
    Some(match s {
        b"up" => NodeState::Up,
        b"down" => NodeState::Down,
        b"pending" => NodeState::Pending,
        _ => return None,
    })
}

fn read_log_line<'a>(r: &mut Reader<'a>) -> Option<LogLineRef<'a>> {
    let (mut time_ms, mut node, mut lvl, mut source, mut message) = (None, None, None, None, None);
    fields(
        r,
        &["time_ms", "node", "level", "source", "message"],
        |i, r| {
            match i {
                0 => time_ms = Some(r.i64()?),
                1 => node = Some(r.str()?),
                2 => lvl = Some(level(r.name()?)?),
                3 => source = Some(r.str()?),
                _ => message = Some(r.str()?),
            }
            Some(())
        },
    )?;
    Some(LogLineRef {
        time_ms: time_ms?,
        node: node?,
        level: lvl?,
        source: source?,
        message: message?,
    })
}

fn owned_lines(lines: Vec<LogLineRef>) -> Vec<LogLine> {
    lines.iter().map(LogLineRef::to_line).collect()
}

/// An array of `n` items read by `item`.
fn read_array<'a, T>(
    r: &mut Reader<'a>,
    mut item: impl FnMut(&mut Reader<'a>) -> Option<T>,
) -> Option<Vec<T>> {
    let n = r.array()?;
    let mut v = Vec::with_capacity(r.cap(n));
    for _ in 0..n {
        v.push(item(r)?);
    }
    Some(v)
}

fn read_counts(r: &mut Reader) -> Option<CheckCounts> {
    let mut c = [None; 5];
    fields(
        r,
        &CheckCounts::default().named().map(|(k, _)| k),
        |i, r| {
            c[i] = Some(r.u32()?);
            Some(())
        },
    )?;
    CheckCounts::from_named(c)
}

/// The bytes `r` moved past since it was at `start`.
fn consumed<'a>(start: &'a [u8], r: &Reader<'a>) -> &'a [u8] {
    &start[..start.len() - r.rest().len()]
}

/// An array of strings, checked and left in place.
fn read_strs<'a>(r: &mut Reader<'a>) -> Option<Strs<'a>> {
    let len = r.array()?;
    let start = r.rest();
    for _ in 0..len {
        r.str()?;
    }
    Some(Strs::Wire {
        len,
        bytes: consumed(start, r),
    })
}

/// A map of strings to strings, checked and left in place. Keys must come
/// in order and once each, as every sender writes them (from a `BTreeMap`);
/// anything else gives `None` and rmp-serde's reading (which sorts, and
/// keeps the last of a repeated key).
fn read_pairs<'a>(r: &mut Reader<'a>) -> Option<Pairs<'a>> {
    let len = r.map()?;
    let start = r.rest();
    let mut last: Option<&str> = None;
    for _ in 0..len {
        let k = r.str()?;
        if last.is_some_and(|l| l >= k) {
            return None;
        }
        last = Some(k);
        r.str()?;
    }
    Some(Pairs::Wire {
        len,
        bytes: consumed(start, r),
    })
}

/// The wire names of `FIELDS`, for `fields`.
const NODE_WIRE: [&str; FIELDS.len()] = {
    let mut names = [""; FIELDS.len()];
    let mut i = 0;
    while i < FIELDS.len() {
        names[i] = FIELDS[i].wire;
        i += 1;
    }
    names
};

fn read_node<'a>(r: &mut Reader<'a>) -> Option<NodeRef<'a>> {
    let mut values = [None; FIELDS.len()];
    fields(r, &NODE_WIRE, |i, r| {
        values[i] = Some(match FIELDS[i].kind {
            Kind::Str => Value::Str(r.str()?),
            Kind::State => Value::State(node_state(r.name()?)?),
            Kind::Time => Value::Time(r.i64()?),
            Kind::Strs => Value::Strs(read_strs(r)?),
            Kind::Pairs => Value::Pairs(read_pairs(r)?),
            Kind::Counts => Value::Counts(read_counts(r)?),
        });
        Some(())
    })?;
    NodeRef::from_values(values)
}

/// A `Nodes` page read in place: the nodes borrow the frame's bytes.
pub struct NodesPageRef<'a> {
    pub nodes: Vec<NodeRef<'a>>,
    pub done: bool,
}

fn read_nodes_page<'a>(r: &mut Reader<'a>) -> Option<NodesPageRef<'a>> {
    let (mut nodes, mut done) = (None, None);
    fields(r, &["nodes", "done"], |i, r| {
        match i {
            0 => nodes = Some(read_array(r, read_node)?),
            _ => done = Some(r.bool()?),
        }
        Some(())
    })?;
    Some(NodesPageRef {
        nodes: nodes?,
        done: done?,
    })
}

/// A `LogLines` answer read in place: the lines borrow the frame's bytes.
pub struct LogLinesRef<'a> {
    pub lines: Vec<LogLineRef<'a>>,
    pub skipped: u64,
    pub done: bool,
}

fn read_log_lines_body<'a>(r: &mut Reader<'a>) -> Option<LogLinesRef<'a>> {
    let (mut lines, mut skipped, mut done) = (None, None, None);
    fields(r, &["lines", "skipped", "done"], |i, r| {
        match i {
            0 => lines = Some(read_array(r, read_log_line)?),
            1 => skipped = Some(r.u64()?),
            _ => done = Some(r.bool()?),
        }
        Some(())
    })?;
    Some(LogLinesRef {
        lines: lines?,
        skipped: skipped?,
        done: done?,
    })
}

fn read_log_batch(r: &mut Reader) -> Option<LogBatch> {
    let (mut stream, mut first_line, mut lines) = (None, None, None);
    fields(r, &["stream", "first_line", "lines"], |i, r| {
        match i {
            0 => stream = Some(r.u64()?),
            1 => first_line = Some(r.u64()?),
            _ => lines = Some(owned_lines(read_array(r, read_log_line)?)),
        }
        Some(())
    })?;
    Some(LogBatch {
        stream: stream?,
        first_line: first_line?,
        lines: lines?,
    })
}

enum Body<'a> {
    Nodes(NodesPageRef<'a>),
    LogLines(LogLinesRef<'a>),
    LogBatch(LogBatch),
}

/// `{"Response"|"Request": {"id": .., "body": {tag: ..}}}` with a body of
/// a bulk kind, the whole input and nothing more; `None` if not one.
fn envelope(body: &[u8]) -> Option<(u64, Body<'_>)> {
    let mut r = Reader::new(body);
    let request = match r.tag()? {
        b"Response" => false,
        b"Request" => true,
        _ => return None,
    };
    let (mut id, mut content) = (None, None);
    fields(&mut r, &["id", "body"], |i, r| {
        match i {
            0 => id = Some(r.u64()?),
            _ => {
                content = Some(match (request, r.tag()?) {
                    (false, b"Nodes") => Body::Nodes(read_nodes_page(r)?),
                    (false, b"LogLines") => Body::LogLines(read_log_lines_body(r)?),
                    (true, b"LogBatch") => Body::LogBatch(read_log_batch(r)?),
                    _ => return None,
                })
            }
        }
        Some(())
    })?;
    if !r.rest().is_empty() {
        return None;
    }
    Some((id?, content?))
}

/// `body` as a bulk message; `None` if it is not one (or not as expected).
pub fn decode(body: &[u8]) -> Option<Message> {
    Some(match envelope(body)? {
        (id, Body::Nodes(page)) => Message::Response(Response {
            id,
            body: ResponseBody::Nodes(NodesPage {
                nodes: page.nodes.iter().map(NodeRef::to_view).collect(),
                done: page.done,
            }),
        }),
        (id, Body::LogLines(l)) => Message::Response(Response {
            id,
            body: ResponseBody::LogLines(LogLines {
                lines: owned_lines(l.lines),
                skipped: l.skipped,
                done: l.done,
            }),
        }),
        (id, Body::LogBatch(b)) => Message::Request(Request {
            id,
            body: RequestBody::LogBatch(b),
        }),
    })
}

/// The id of an answer (`{"Response": {"id": ..}}`), read without its
/// body; `None` for any other message.
pub fn response_id(body: &[u8]) -> Option<u64> {
    let mut r = Reader::new(body);
    if r.tag()? != b"Response" {
        return None;
    }
    // Senders write the id first: the body is skipped only if not.
    for _ in 0..r.map()? {
        if r.name()? == b"id" {
            return r.u64();
        }
        r.skip()?;
    }
    None
}

/// `body` as the answer to request `id` with a `Nodes` page, read in place;
/// `None` if it is anything else (the caller decodes it the usual way).
pub fn nodes_page(body: &[u8], id: u64) -> Option<NodesPageRef<'_>> {
    match envelope(body)? {
        (got, Body::Nodes(page)) if got == id => Some(page),
        _ => None,
    }
}

/// `body` as the answer to request `id` with `LogLines`, read in place;
/// `None` if it is anything else (the caller decodes it the usual way).
pub fn log_lines_page(body: &[u8], id: u64) -> Option<LogLinesRef<'_>> {
    match envelope(body)? {
        (got, Body::LogLines(lines)) if got == id => Some(lines),
        _ => None,
    }
}
