//! Every message that crosses the wire, in one place.
//!
//! Encoding: MessagePack with structs as maps (`rmp_serde::to_vec_named`), so
//! a field can be added without breaking older peers. Enums are externally
//! tagged (`{"Variant": {...}}`). Golden-byte tests in `tests/proto_golden.rs`
//! pin representative messages: changing a name here fails them on purpose.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Version of this protocol. A peer speaking another version gets
/// `ErrorCode::Protocol` and is disconnected.
pub const PROTOCOL_VERSION: u32 = 1;

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

/// Token roles, from least to most powerful for clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Node,
    Viewer,
    Operator,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Node => "node",
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    /// Whether a client with this role may do what `needed` allows.
    pub fn allows(self, needed: Role) -> bool {
        self != Role::Node && needed != Role::Node && self >= needed
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "node" => Ok(Role::Node),
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "unknown role `{other}`: use node, viewer, operator or admin"
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub protocol: u32,
    pub role: PeerKind,
    /// For a node: its name (must match its token). For a client: free text.
    pub name: String,
    /// Software version of the peer.
    pub version: String,
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
    /// HMAC-SHA256 (hex) keyed with the token's secret over the challenge
    /// and the Hello's identity; see `auth::handshake_mac`.
    pub mac: String,
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
    /// configd to a node: run an allow-listed command. `CommandOutput`
    /// chunks, then the final `CommandExit`. Cancel kills it.
    RunCommand(RunCommand),
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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRequest {
    pub command: String,
    pub args: Vec<String>,
    pub target: String,
    /// Overrides the command's own timeout.
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShowJob {
    pub id: u64,
    /// While the job runs: stream its `JobOutput` from now on, then the
    /// final `JobDetail` once it ended.
    #[serde(default)]
    pub follow: bool,
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
    /// The ops commands this node offers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<crate::ops::spec::CommandSpec>,
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
    Error(ErrorFrame),
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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryWritten {
    /// Items added, changed or deleted.
    pub changed: u64,
}

/// One inventory item on the wire; `ints` names the fields (`key` or
/// attributes) whose type is int, so JSON can print them as numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryItem {
    pub kind: String,
    pub key: String,
    pub node: String,
    pub attrs: BTreeMap<String, String>,
    pub ints: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryPage {
    pub items: Vec<InventoryItem>,
    pub done: bool,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputStream {
    Stdout,
    Stderr,
}

/// Output of one target (lines; a chunk may hold many).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobOutput {
    pub node: String,
    pub stream: OutputStream,
    pub data: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetState {
    Running,
    Ok,
    Failed,
    Timeout,
    Cancelled,
    Lost,
}

impl TargetState {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetState::Running => "running",
            TargetState::Ok => "ok",
            TargetState::Failed => "failed",
            TargetState::Timeout => "timeout",
            TargetState::Cancelled => "cancelled",
            TargetState::Lost => "lost",
        }
    }

    pub fn parse(s: &str) -> TargetState {
        match s {
            "ok" => TargetState::Ok,
            "failed" => TargetState::Failed,
            "timeout" => TargetState::Timeout,
            "cancelled" => TargetState::Cancelled,
            "lost" => TargetState::Lost,
            _ => TargetState::Running,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetResult {
    pub node: String,
    pub state: TargetState,
    pub exit_code: Option<i32>,
    pub duration_ms: Option<u64>,
    /// Why, when it did not run to an exit code.
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobView {
    pub id: u64,
    pub who: String,
    pub started_ms: i64,
    pub finished_ms: Option<i64>,
    pub command: String,
    pub args: Vec<String>,
    pub targets: Vec<TargetResult>,
    /// Preconditions checked before dispatch (`ATTR=VALUE` of the item).
    pub requires: BTreeMap<String, String>,
    /// Effects applied on success (empty when not applied).
    pub effects: BTreeMap<String, String>,
    /// The inventory item the job acted on, `KIND=KEY`.
    pub item: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobsPage {
    pub jobs: Vec<JobView>,
    pub done: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeOutput {
    pub node: String,
    pub output: String,
    /// Only the tail was kept.
    pub truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobDetail {
    pub job: JobView,
    pub outputs: Vec<NodeOutput>,
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodesPage {
    pub nodes: Vec<NodeView>,
    /// True on the last page of the answer.
    pub done: bool,
}

/// Node state as operators see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeState {
    Up,
    Down,
    /// Known, but not heard from since configd started.
    Pending,
}

impl NodeState {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeState::Up => "up",
            NodeState::Down => "down",
            NodeState::Pending => "pending",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CheckCounts {
    pub ok: u32,
    pub warning: u32,
    pub critical: u32,
    pub unknown: u32,
    pub pending: u32,
}

/// One node, on the wire (times in epoch milliseconds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeView {
    pub name: String,
    pub state: NodeState,
    /// Address configd last saw the node connect from.
    pub addr: String,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    pub version: String,
    pub hostname: String,
    pub addrs: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub checks: CheckCounts,
}

impl ResponseBody {
    /// Whether this ends the answer to its request (streams send several).
    pub fn is_final(&self) -> bool {
        match self {
            ResponseBody::Nodes(page) => page.done,
            ResponseBody::Inventory(page) => page.done,
            ResponseBody::Jobs(page) => page.done,
            ResponseBody::JobOutput(_)
            | ResponseBody::JobStarted(_)
            | ResponseBody::TargetDone(_)
            | ResponseBody::CommandOutput(_) => false,
            ResponseBody::Registered(_)
            | ResponseBody::Error(_)
            | ResponseBody::InventoryWritten(_)
            | ResponseBody::Targets(_)
            | ResponseBody::JobDone(_)
            | ResponseBody::JobDetail(_)
            | ResponseBody::CommandExit(_) => true,
        }
    }
}
