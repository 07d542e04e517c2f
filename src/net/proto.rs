//! Every message that crosses the wire, in one place. The entities they
//! carry (nodes, checks, events, jobs, items, log lines, commands) are
//! defined with their JSON forms in `crate::model` and re-exported here.
//!
//! Encoding: MessagePack with structs as maps (`rmp_serde::to_vec_named`), so
//! a field can be added without breaking older peers. Enums are externally
//! tagged (`{"Variant": {...}}`). Golden-byte tests in `tests/proto.rs`
//! pin representative messages: changing a name here fails them on purpose.
//! docs/PROTOCOL.md describes every message; `tests/protocol_doc.rs` fails
//! when a kind or field here is missing there.

pub use crate::model::role::Role;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::model::check::{CheckView, ChecksPage, ProblemView, ProblemsPage};
pub use crate::model::command::{
    CommandNames, CommandOffer, CommandsPage, RunbookArgInfo, RunbookOffer,
};
pub use crate::model::downtime::{DowntimeView, DowntimesPage};
pub use crate::model::event::{EventView, EventsPage};
use crate::model::is_false;
pub use crate::model::item::{InventoryItem, InventoryPage};
pub use crate::model::job::{
    InventoryChange, JobDetail, JobView, JobsPage, NodeOutput, OutputStream, StepKind, StepState,
    StepView, TargetResult, TargetState,
};
pub use crate::model::log::{Level, LogAck, LogBatch, LogLine, LogLines};
pub use crate::model::node::{CheckCounts, NodeState, NodeView, NodesPage};

/// Version of this protocol. A peer speaking another version gets
/// `ErrorCode::Protocol` and is disconnected.
pub const PROTOCOL_VERSION: u32 = 2;

/// Largest frame body accepted by default (4 MiB).
pub const DEFAULT_MAX_FRAME: usize = 4 * 1024 * 1024;

/// One frame's body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Message {
    Hello(Hello),
    Challenge(Challenge),
    Auth(Auth),
    Welcome(Welcome),
    Error(ErrorFrame),
    Ping(Ping),
    Pong(Ping),
    Request(Request),
    Response(Response),
    /// Stop answering request `id` (streams, long jobs).
    Cancel(Cancel),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancel {
    pub id: u64,
}

/// What the dialling side says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeerKind {
    /// A node agent: registers, heartbeats, runs what it is sent.
    Node,
    /// An operator's tool (CLI, TUI).
    Client,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub protocol: u32,
    pub role: PeerKind,
    /// For a node: its name (must match its token). For a client: free text.
    pub name: String,
    /// Software version of the peer.
    pub version: String,
    /// 32 random bytes, hex: the peer's share of the handshake's freshness.
    pub nonce: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// 32 random bytes, hex.
    pub nonce: String,
    pub server_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Auth {
    pub token_id: String,
    /// The client proof (hex, 32 bytes) over the whole exchange and the TLS
    /// session; see `auth::proof`.
    pub proof: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    pub server_id: String,
    pub server_version: String,
    /// The token's name (a node's identity, or the operator's).
    pub name: String,
    pub role: Role,
    /// How often this peer must send a Ping.
    pub heartbeat_interval_ms: u64,
    /// Silence after which either side drops the connection.
    pub dead_after_ms: u64,
    /// configd's proof (hex, 32 bytes) that it holds the token's keys; the
    /// peer checks it before it obeys anything.
    pub server_proof: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Unknown protocol version or a message out of order.
    Protocol,
    /// Bytes that do not decode as a message.
    Malformed,
    /// A declared frame length over the limit.
    TooLarge,
    /// Handshake or peer silent for too long.
    Timeout,
    /// Unknown, revoked or wrong token.
    Auth,
    /// Authenticated, but the role does not allow this.
    Forbidden,
    /// A request with bad arguments.
    BadRequest,
    NotFound,
    /// Too many connections.
    Busy,
    /// Another connection took over this node's name.
    Replaced,
    ShuttingDown,
    Internal,
    /// A code this build does not know (from a newer peer); the message
    /// still says what happened.
    #[serde(other)]
    Other,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Protocol => "protocol",
            ErrorCode::Malformed => "malformed",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::Timeout => "timeout",
            ErrorCode::Auth => "auth",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Busy => "busy",
            ErrorCode::Replaced => "replaced",
            ErrorCode::ShuttingDown => "shutting_down",
            ErrorCode::Internal => "internal",
            ErrorCode::Other => "other",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorFrame {
    pub code: ErrorCode,
    pub message: String,
}

impl ErrorFrame {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorFrame {
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ErrorFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ping {
    pub seq: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub id: u64,
    pub body: RequestBody,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RequestBody {
    /// A node tells who it is; answered with `Registered`.
    Register(Registration),
    /// Answered with one or more `Nodes` pages, the last with `done`.
    QueryNodes(QueryNodes),
    /// A node's batch of check results; answered with `ResultsAck`.
    CheckResults(CheckResults),
    /// Answered with `Checks` pages, the last with `done`.
    QueryChecks(QueryChecks),
    /// Answered with `Events` pages, the last with `done`.
    QueryEvents(QueryEvents),
    /// Acknowledge a problem; answered with `Done`.
    Acknowledge(AckRequest),
    /// Schedule downtime; answered with `Done`.
    Downtime(DowntimeRequest),
    /// Answered with `Downtimes`.
    ListDowntimes(ListDowntimes),
    /// Answered with `Done`.
    CancelDowntime(CancelDowntime),
    /// A passive check result; answered with `Done`.
    Submit(SubmitResult),
    /// A node's log lines, oldest first; answered with `LogAck` once held
    /// by configd (the node deletes them from its spool only then).
    LogBatch(LogBatch),
    /// Tail logs: the last `backlog` matching lines, then (with `follow`)
    /// live ones, as `LogLines` batches until cancelled.
    SubscribeLogs(SubscribeLogs),
    /// Inventory writes (admin), all-or-nothing; answered `InventoryWritten`.
    InventoryWrite(InventoryWrite),
    /// Answered with `Inventory` pages, the last with `done`.
    QueryInventory(QueryNodes),
    /// Which nodes a target selector names; answered `Targets`.
    ResolveTargets(ResolveTargets),
    /// Run a command on targets (operator): `JobStarted`, then `JobOutput`
    /// and `TargetDone` as they come, then the final `JobDone`.
    Run(RunRequest),
    /// Answered with `Jobs` pages, the last with `done`.
    QueryJobs(QueryNodes),
    /// One job with its stored output; answered `JobDetail`.
    ShowJob(ShowJob),
    /// The names of the commands the nodes advertise (viewer); answered
    /// `CommandNames`.
    ListCommands(ListCommands),
    /// configd to a node: run an allow-listed command. `CommandOutput`
    /// chunks, then the final `CommandExit`. Cancel kills it.
    RunCommand(RunCommand),
    /// The commands the nodes offer, in full, with the nodes offering
    /// each (viewer; `node` narrows to one node); answered `Commands`.
    QueryCommands(QueryChecks),
    /// Stop a running job on every node (operator); answered with `Done`.
    CancelJob(CancelJob),
    /// Nodes down, then non-OK checks (viewer); answered with `Problems`
    /// pages, the last with `done`.
    QueryProblems(QueryChecks),
    /// configd to a node: the checks of configd.toml that apply to it now
    /// (the whole set; empty clears them). Answered `ChecksSet`.
    SetChecks(SetChecks),
    /// Resolve a runbook's steps without running anything (viewer);
    /// answered `RunbookPlanned`.
    RunbookPlan(RunbookRequest),
    /// Run a runbook (its role): `JobStarted`, then per step `StepStarted`,
    /// `JobOutput` / `StepProgress`, `StepDone`; then the final `JobDone`.
    RunbookRun(RunbookRequest),
    /// Undo the completed steps of a finished runbook job that did not
    /// end ok and was not undone (its role); streamed like `RunbookRun`.
    RunbookUndo(ShowJob),
    /// configd to a node: send a file of its `transfer_dir`: `FileSize`,
    /// then `FileChunk`s, then the final `FileEnd`. Cancel stops it.
    ReadFile(ReadFile),
    /// configd to a node: open a file of its `transfer_dir` for writing
    /// (a temporary file): `WriteOpen`, then, once committed, the final
    /// `WriteDone`. Cancel (or the link ending) removes the temporary file.
    WriteFile(WriteFile),
    /// configd to a node: bytes for an open `WriteFile`; answered
    /// `ChunkAck` once written.
    WriteChunk(WriteChunk),
    /// configd to a node: check and move an open `WriteFile` into place;
    /// answered `WriteDone`.
    WriteCommit(WriteCommit),
}

/// Bytes as MessagePack bin (rmp-serde would write `Vec<u8>` as an
/// array of integers: twice the size and slow).
mod bin {
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(data: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(data)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct Bytes;
        impl<'de> serde::de::Visitor<'de> for Bytes {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("bytes (bin)")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
        }
        d.deserialize_byte_buf(Bytes)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadFile {
    /// Relative to the node's `transfer_dir`.
    pub path: String,
    /// A larger file is refused before any byte is sent.
    pub max_size: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSize {
    pub size: u64,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChunk {
    #[serde(with = "bin")]
    pub data: Vec<u8>,
}

impl std::fmt::Debug for FileChunk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FileChunk {{ {} bytes }}", self.data.len())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEnd {
    pub bytes: u64,
    /// SHA-256 of the bytes sent, lowercase hex.
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteFile {
    /// Relative to the node's `transfer_dir`.
    pub path: String,
    /// Bytes that will come.
    pub size: u64,
    /// Replace an existing file at `path` (else refused).
    pub overwrite: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteOpen {
    /// Names this write in `WriteChunk` and `WriteCommit`.
    pub handle: u64,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteChunk {
    pub handle: u64,
    /// Where `data` starts in the file.
    pub offset: u64,
    #[serde(with = "bin")]
    pub data: Vec<u8>,
}

impl std::fmt::Debug for WriteChunk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "WriteChunk {{ handle: {}, offset: {}, {} bytes }}",
            self.handle,
            self.offset,
            self.data.len()
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkAck {
    /// Bytes written in order from the start of the file so far.
    pub written: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteCommit {
    pub handle: u64,
    /// SHA-256 the source sent, lowercase hex.
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteDone {
    pub bytes: u64,
    /// SHA-256 of what was written, lowercase hex.
    pub sha256: String,
}

/// A `[[check]]` of configd.toml, as sent to the nodes it applies to.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CentralCheck {
    pub name: String,
    /// The plugin's argv; empty for a passive check.
    pub command: Vec<String>,
    pub interval_ms: u64,
    pub retry_interval_ms: u64,
    pub max_attempts: u32,
    pub timeout_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freshness_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SetChecks {
    pub checks: Vec<CentralCheck>,
}

/// A node's answer to `SetChecks`: what it runs and what it refused.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ChecksSet {
    pub accepted: Vec<String>,
    pub refused: Vec<RefusedCheck>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RefusedCheck {
    pub name: String,
    pub reason: String,
}

/// One inventory write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum InventoryOp {
    /// Add an item (or, with `replace`, overwrite it: imports).
    Add {
        kind: String,
        key: String,
        node: String,
        attrs: BTreeMap<String, String>,
        replace: bool,
        /// Line in the file it came from (imports), for errors.
        line: Option<u64>,
    },
    /// Set attributes (and `node`, given as attribute `node`).
    Update {
        kind: String,
        key: String,
        attrs: BTreeMap<String, String>,
    },
    Delete {
        kind: String,
        key: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryWrite {
    pub ops: Vec<InventoryOp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolveTargets {
    /// `node=NAME`, `label.K=V`, `KIND=KEY` or `all`.
    pub target: String,
    /// The nodes this run would go to, after every check `Run` makes
    /// (`target` is then ignored); a refusal is the run's, recorded as one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunRequest>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRequest {
    pub command: String,
    pub args: Vec<String>,
    /// Empty: the node hosting the command's inventory item.
    #[serde(default)]
    pub target: String,
    /// Overrides the command's own timeout.
    pub timeout_ms: Option<u64>,
    /// Run an inventory-bound command on `target` although the item lives
    /// elsewhere (admin; needs `reason`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub force_target: bool,
    /// Why the target is forced; recorded with the run.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ListCommands {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShowJob {
    pub id: u64,
    /// While the job runs: stream its `JobOutput` from now on, then the
    /// final `JobDetail` once it ended.
    #[serde(default)]
    pub follow: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelJob {
    pub id: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunCommand {
    pub job: u64,
    pub command: String,
    pub args: Vec<String>,
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Registration {
    pub hostname: String,
    pub version: String,
    pub labels: BTreeMap<String, String>,
    /// The host's own addresses.
    pub addrs: Vec<String>,
    /// The node's checks, so configd lists them (`pending`) before results.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckDecl>,
    /// The ops commands this node offers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<crate::ops::spec::CommandSpec>,
    /// The node takes checks defined in configd.toml (`SetChecks`); it
    /// may still refuse each of them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub takes_checks: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct QueryNodes {
    /// Filter expressions (`key=value`, `key!=value`, `key~regex`), ANDed.
    pub filters: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub id: u64,
    pub body: ResponseBody,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ResponseBody {
    Registered(Registered),
    Nodes(NodesPage),
    LogAck(LogAck),
    LogLines(LogLines),
    Error(ErrorFrame),
    ResultsAck(ResultsAck),
    Checks(ChecksPage),
    Events(EventsPage),
    Downtimes(DowntimesPage),
    Done(Done),
    InventoryWritten(InventoryWritten),
    Inventory(InventoryPage),
    Targets(Targets),
    JobStarted(JobStarted),
    JobOutput(JobOutput),
    TargetDone(TargetResult),
    JobDone(JobView),
    Jobs(JobsPage),
    JobDetail(JobDetail),
    CommandOutput(CommandOutput),
    CommandExit(CommandExit),
    CommandNames(CommandNames),
    Problems(ProblemsPage),
    Commands(CommandsPage),
    ChecksSet(ChecksSet),
    RunbookPlanned(RunbookPlan),
    StepStarted(StepView),
    StepProgress(StepProgress),
    StepDone(StepView),
    FileSize(FileSize),
    FileChunk(FileChunk),
    FileEnd(FileEnd),
    WriteOpen(WriteOpen),
    ChunkAck(ChunkAck),
    WriteDone(WriteDone),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryWritten {
    /// Items added, changed or deleted.
    pub changed: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Targets {
    pub nodes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobStarted {
    pub id: u64,
    pub targets: Vec<String>,
}

/// Output of one target (lines; a chunk may hold many).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobOutput {
    pub node: String,
    pub stream: OutputStream,
    pub data: String,
}

/// `runbook plan|run NAME ARGS`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunbookRequest {
    pub name: String,
    /// Positional, in the runbook's `args` order (a `keys` argument takes
    /// the rest).
    pub args: Vec<String>,
    /// `RunbookRun` only: the digest of the plan the operator confirmed;
    /// configd refuses the run when the plan it resolves now differs.
    #[serde(default)]
    pub digest: Option<String>,
}

/// A runbook resolved against the inventory and the nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunbookPlan {
    pub name: String,
    pub args: Vec<String>,
    pub steps: Vec<StepView>,
    /// Identifies this exact plan (hex SHA-256 prefix of its steps).
    pub digest: String,
}

impl RunbookPlan {
    /// The steps that will run (not skipped).
    pub fn runs(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| s.state != StepState::Skipped)
            .count()
    }
}

/// A transfer step's progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepProgress {
    pub index: u32,
    pub bytes: u64,
    pub total: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandOutput {
    pub stream: OutputStream,
    pub data: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandExit {
    pub state: TargetState,
    pub exit_code: Option<i32>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registered {
    /// Milliseconds since the Unix epoch when configd first saw this node.
    pub first_seen_ms: i64,
}

impl ResponseBody {
    /// Whether this ends the answer to its request (streams send several).
    pub fn is_final(&self) -> bool {
        match self {
            ResponseBody::Nodes(page) => page.done,
            ResponseBody::Checks(page) => page.done,
            ResponseBody::Events(page) => page.done,
            ResponseBody::Problems(page) => page.done,
            ResponseBody::LogLines(l) => l.done,
            ResponseBody::Inventory(page) => page.done,
            ResponseBody::Jobs(page) => page.done,
            ResponseBody::JobOutput(_)
            | ResponseBody::JobStarted(_)
            | ResponseBody::TargetDone(_)
            | ResponseBody::StepStarted(_)
            | ResponseBody::StepProgress(_)
            | ResponseBody::StepDone(_)
            | ResponseBody::CommandOutput(_)
            | ResponseBody::FileSize(_)
            | ResponseBody::FileChunk(_)
            | ResponseBody::WriteOpen(_) => false,
            ResponseBody::Registered(_)
            | ResponseBody::Error(_)
            | ResponseBody::ResultsAck(_)
            | ResponseBody::Downtimes(_)
            | ResponseBody::Done(_)
            | ResponseBody::LogAck(_)
            | ResponseBody::InventoryWritten(_)
            | ResponseBody::Targets(_)
            | ResponseBody::JobDone(_)
            | ResponseBody::JobDetail(_)
            | ResponseBody::CommandExit(_)
            | ResponseBody::CommandNames(_)
            | ResponseBody::Commands(_)
            | ResponseBody::RunbookPlanned(_)
            | ResponseBody::ChecksSet(_)
            | ResponseBody::FileEnd(_)
            | ResponseBody::ChunkAck(_)
            | ResponseBody::WriteDone(_) => true,
        }
    }
}

pub use crate::checks::{CheckState, PerfData, StateType};

/// A check a node runs (or accepts passive results for).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckDecl {
    pub name: String,
    pub max_attempts: u32,
    /// Passive checks: stale after this many ms without a result.
    pub freshness_ms: Option<u64>,
}

/// One result of one check, with the state the node computed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub name: String,
    pub state: CheckState,
    pub output: String,
    pub long_output: String,
    pub perfdata: Vec<PerfData>,
    /// When the plugin finished (epoch ms).
    pub time_ms: i64,
    pub duration_ms: u64,
    /// How late the check started after its scheduled time.
    pub latency_ms: u64,
    pub max_attempts: u32,
    pub state_type: StateType,
    pub attempt: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResults {
    pub results: Vec<CheckResult>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultsAck {
    /// Results configd now holds from the batch (the node may forget
    /// them). A result not newer than the check's last one from the node
    /// (a re-sent batch) is held already and not applied twice.
    pub accepted: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct QueryChecks {
    pub node: Option<String>,
    pub filters: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct QueryEvents {
    pub filters: Vec<String>,
    /// Newest events looked at, at most.
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckRequest {
    pub node: String,
    /// Empty: the node itself (a node that is down).
    pub check: String,
    pub comment: String,
    pub sticky: bool,
    /// Remove the acknowledgement instead.
    #[serde(default, skip_serializing_if = "is_false")]
    pub remove: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DowntimeRequest {
    pub node: String,
    /// None: every check of the node.
    pub check: Option<String>,
    pub start_ms: i64,
    pub end_ms: i64,
    pub comment: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ListDowntimes {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelDowntime {
    pub id: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitResult {
    pub node: String,
    pub check: String,
    pub state: CheckState,
    pub output: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {
    pub message: String,
    /// What the write created, when it has an ID (a downtime).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
}
/// Server-side filters and how much history to send first.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SubscribeLogs {
    /// Only these nodes (empty: all, configd's own log included as `configd`).
    pub nodes: Vec<String>,
    /// Lines at this level or more severe.
    pub min_level: Option<Level>,
    /// Only these sources; an entry ending in `:` or `*` matches a prefix
    /// (`job:` matches every job).
    pub sources: Vec<String>,
    /// Substring the message must contain.
    pub grep: Option<String>,
    /// Regular expression the message must match.
    pub regex: Option<String>,
    /// Lines of history to send first (at most the ring sizes).
    pub backlog: u64,
    /// History only from this time on (epoch ms).
    pub since_ms: Option<i64>,
    /// Keep sending live lines until cancelled.
    pub follow: bool,
}
