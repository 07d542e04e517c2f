//! `monit-cli` command line (clap), every command and argument in this
//! one file. One definition feeds `--help`, the man page and completions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use super::output::Format;

#[derive(Debug, Parser)]
#[command(
    name = "monit-cli",
    version,
    about = "Query and operate a monit fleet from scripts and shells",
    long_about = "Query and operate a monit fleet. Talks to monit-configd; server and token \
                  come from the flags, the environment, or client.toml in the user config \
                  directory (~/.config/monit/client.toml).",
    after_help = "EXIT STATUS: 0 ok, 1 the operation failed, 2 usage error, 3 cannot connect or not authorised, \
                  130 run interrupted by Ctrl-C (its job cancelled).\n\
                  Example: monit-cli query nodes --filter state=down -o json"
)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct CommonArgs {
    /// configd address (default: client.toml, then 127.0.0.1:7400)
    #[arg(long, global = true, env = "MONIT_SERVER", value_name = "HOST:PORT")]
    pub server: Option<String>,
    /// File holding the token (ID.SECRET), mode 0600. $MONIT_TOKEN may hold the token itself
    #[arg(long, global = true, env = "MONIT_TOKEN_FILE", value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// Pin configd's certificate (sha256:..., from `monit-configd fingerprint`); default: client.toml, else trust on first use (known_servers)
    #[arg(long, global = true, env = "MONIT_FINGERPRINT", value_name = "SHA256")]
    pub fingerprint: Option<String>,
    /// Output format
    #[arg(short = 'o', long = "output", global = true, value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read the fleet's state
    #[command(subcommand)]
    Query(Query),
    /// Acknowledge a problem, a check's or a down node's (holds its notifications)
    Ack(AckArgs),
    /// Schedule, list or cancel downtime (holds notifications)
    Downtime(DowntimeArgs),
    /// Submit a passive check result
    Submit(SubmitArgs),
    /// Print a shell completion script (bash, zsh, fish)
    #[command(hide = true)]
    Completions { shell: clap_complete::Shell },
    /// Show log lines of nodes, jobs, checks and configd; -f follows live
    Logs(LogsArgs),
    /// Change the inventory (admin): add, update, delete, import, export
    #[command(subcommand)]
    Inventory(InventoryCmd),
    /// Run an allow-listed command on nodes (operator), output streamed live
    Run(RunArgs),
    /// Jobs: `job show [-f] ID` (reattach to a running job), `job cancel ID`
    #[command(subcommand)]
    Job(JobCmd),
    /// Multi-step operations from configd.toml: `runbook plan|run NAME ARGS`, `runbook undo JOB`
    #[command(subcommand)]
    Runbook(RunbookCmd),
}

#[derive(Debug, Args)]
#[command(
    after_help = "Text lines read `TIME NODE LEVEL source: message`; -o jsonl prints one \
                  {time, node, level, source, message} per line. A reader too slow for the \
                  stream gets a `skipped N lines` line where lines were missed.\n\
                  Example: monit-cli logs -f --node web-1 --level warn"
)]
pub struct LogsArgs {
    /// Keep printing new lines as they arrive
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Only this node (repeat for several; configd's own log is `configd`)
    #[arg(long = "node", value_name = "NAME")]
    pub nodes: Vec<String>,
    /// Only lines at this level or more severe: trace, debug, info, warn, error
    #[arg(long, value_name = "LEVEL", value_parser = str::parse::<crate::net::proto::Level>)]
    pub level: Option<crate::net::proto::Level>,
    /// Only lines whose message contains TEXT
    #[arg(long, value_name = "TEXT")]
    pub grep: Option<String>,
    /// Only lines whose message matches REGEX
    #[arg(long, value_name = "REGEX")]
    pub regex: Option<String>,
    /// Only this source: daemon, job:ID, check:NAME; `job:` matches every job (repeatable)
    #[arg(long = "source", value_name = "SOURCE")]
    pub sources: Vec<String>,
    /// Lines of history to print first
    #[arg(short = 'n', long = "lines", value_name = "N", default_value_t = 100)]
    pub lines: u64,
    /// Only history from this long ago on (e.g. 10m, 2h)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub since: Option<std::time::Duration>,
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (write e.g. 30s, 10m, 2h)"))
}

#[derive(Debug, Subcommand)]
pub enum Query {
    /// List nodes: name, state (up, down, pending), address, last seen, labels
    Nodes {
        /// Keep nodes matching EXPR: key=value, key!=value, key~regex, labels.K=V; repeat to AND
        #[arg(long, short = 'f', value_name = "EXPR")]
        filter: Vec<String>,
    },
    /// List checks: node, name, state, type, attempt, output
    Checks {
        /// Only this node's checks
        #[arg(long, value_name = "NODE")]
        node: Option<String>,
        /// Keep checks matching EXPR (e.g. state!=ok, acknowledged=false); repeat to AND
        #[arg(long, short = 'f', value_name = "EXPR")]
        filter: Vec<String>,
    },
    /// List problems: nodes that are down first, then checks that are not OK
    Problems {
        /// Only this node's problems
        #[arg(long, value_name = "NODE")]
        node: Option<String>,
        /// Keep problems matching EXPR (e.g. kind=node, acknowledged=false); repeat to AND
        #[arg(long, short = 'f', value_name = "EXPR")]
        filter: Vec<String>,
    },
    /// List the commands nodes offer: description, typed arguments, role, inventory binding, nodes
    Commands {
        /// Only the commands this node offers
        #[arg(long, value_name = "NODE")]
        node: Option<String>,
        /// Keep commands matching EXPR (e.g. role=admin, inventory.kind=zone, name~zone); repeat to AND
        #[arg(long, short = 'f', value_name = "EXPR")]
        filter: Vec<String>,
    },
    /// List recent events (state changes, notifications, acks, downtime), oldest first
    Events {
        /// Keep events matching EXPR (e.g. kind=notification, node=web-1); repeat to AND
        #[arg(long, short = 'f', value_name = "EXPR")]
        filter: Vec<String>,
        /// Look at the newest N events
        #[arg(long, short = 'n', default_value_t = 1000)]
        limit: u32,
    },
    /// List inventory items: kind, key, node, attributes (`state=new` matches attrs)
    Inventory {
        /// key=value, key!=value, key~regex; a bare name matches attrs; repeat to AND
        #[arg(long, short = 'f', value_name = "EXPR")]
        filter: Vec<String>,
    },
    /// List jobs: id, who, command, targets and their states
    Jobs {
        /// key=value, key!=value, key~regex (e.g. command=open-zone, targets.node=web-1); repeat to AND
        #[arg(long, short = 'f', value_name = "EXPR")]
        filter: Vec<String>,
    },
}

#[derive(Debug, Args)]
#[command(
    after_help = "Example: monit-cli ack web-1/disk --comment 'cleaning up'; \
                         monit-cli ack web-1 (a node that is down); monit-cli ack --remove web-1/disk"
)]
pub struct AckArgs {
    /// The check, as NODE/CHECK, or a node that is down, as NODE
    #[arg(value_name = "NODE[/CHECK]")]
    pub target: String,
    /// Remove the acknowledgement instead (its notifications are no longer held)
    #[arg(long, conflicts_with_all = ["comment", "sticky"])]
    pub remove: bool,
    /// Why, for the other operators
    #[arg(long, default_value = "")]
    pub comment: String,
    /// Keep the acknowledgement through problem -> problem changes (cleared on recovery)
    #[arg(long)]
    pub sticky: bool,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct DowntimeArgs {
    #[command(subcommand)]
    pub action: Option<DowntimeAction>,
    /// NODE or NODE/CHECK
    #[arg(value_name = "NODE[/CHECK]")]
    pub target: Option<String>,
    /// How long, from now (e.g. 30m, 2h)
    #[arg(long = "for", value_name = "DURATION", conflicts_with = "until")]
    pub duration: Option<String>,
    /// Until when (RFC 3339, e.g. 2026-11-25T06:00:00Z)
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    #[arg(long, default_value = "")]
    pub comment: String,
}

#[derive(Debug, Subcommand)]
pub enum DowntimeAction {
    /// List scheduled downtime
    List {
        /// Keep downtimes matching EXPR; repeat to AND
        #[arg(long, short = 'f', value_name = "EXPR")]
        filter: Vec<String>,
    },
    /// Cancel downtime ID
    Cancel { id: u64 },
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The passive check, as NODE/CHECK
    #[arg(value_name = "NODE/CHECK")]
    pub target: String,
    /// ok, warning, critical or unknown (or 0-3)
    pub state: String,
    /// The output, as a plugin would print it (perfdata after `|`)
    #[arg(value_name = "OUTPUT")]
    pub text: String,
}

#[derive(Debug, Subcommand)]
pub enum InventoryCmd {
    /// Add an item: `inventory add zone 218 node=web-3 domain=s218.example.com state=new`
    Add {
        kind: String,
        key: String,
        /// node=NODE (required) and ATTR=VALUE pairs
        #[arg(value_name = "ATTR=VALUE", required = true)]
        attrs: Vec<String>,
    },
    /// Change attributes (or node=NODE) of an item: `inventory update zone 218 state=live`
    Update {
        kind: String,
        key: String,
        #[arg(value_name = "ATTR=VALUE", required = true)]
        attrs: Vec<String>,
    },
    /// Delete an item
    Delete { kind: String, key: String },
    /// Load items from a CSV (header kind,key,node,ATTR...) or JSON file (as `query inventory -o json` prints); all or nothing; existing items are replaced
    Import { file: PathBuf },
    /// Print every item: -o json, jsonl, csv or table
    Export,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The command, as a node's noded.toml names it
    pub command: String,
    /// Its arguments, in order (after `--` when one starts with `-`)
    pub args: Vec<String>,
    /// Where: node=NAME, label.K=V, KIND=KEY (e.g. zone=218) or all; leave it out for a command bound to an inventory item (it runs on the item's node, and only there)
    #[arg(long, short = 't', value_name = "SEL")]
    pub target: Option<String>,
    /// Run an inventory-bound command on --target although its item lives elsewhere (admin; needs --reason; recorded as an event)
    #[arg(long, requires_all = ["target", "reason"])]
    pub force_target: bool,
    /// Why the target is forced, recorded with the run
    #[arg(long, value_name = "TEXT", requires = "force_target")]
    pub reason: Option<String>,
    /// Do not ask for confirmation when more than one node is targeted
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Override the command's timeout (e.g. 30s, 5m)
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Print the job id once it started and return; the job runs on (follow it with `job show -f ID`)
    #[arg(long, short = 'd')]
    pub detach: bool,
}

#[derive(Debug, Subcommand)]
pub enum JobCmd {
    /// A job's targets, states and stored output
    Show {
        id: u64,
        /// While the job runs, print its output so far and then live, then the record
        #[arg(short = 'f', long)]
        follow: bool,
    },
    /// Stop a running job on every node (operator); its targets end `cancelled`
    Cancel { id: u64 },
}

#[derive(Debug, Subcommand)]
pub enum RunbookCmd {
    /// Show what a runbook would do (nodes, commands, files, inventory changes); runs nothing
    Plan {
        name: String,
        /// Its arguments, in order (a `keys` argument takes the rest)
        args: Vec<String>,
    },
    /// Show the plan, ask, then run it step by step; a failed step undoes the completed ones
    Run {
        name: String,
        args: Vec<String>,
        /// Do not ask for confirmation
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Undo the completed steps of a runbook job that did not finish (configd stopped mid-run)
    Undo {
        /// The job's ID (`monit-cli query jobs`)
        id: u64,
        #[arg(long, short = 'y')]
        yes: bool,
    },
}
