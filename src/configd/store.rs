//! The SQLite store (`DATA_DIR/monit.db`, WAL): one thread owns the
//! connection; async code sends it operations over a bounded channel and
//! the thread applies whatever has queued up in one transaction, so many
//! small writes cost one commit. An operation with an ack is answered only
//! after its transaction committed: what configd confirms survives kill -9.

pub mod inventory;
mod jobs;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::{mpsc, oneshot};

/// Schema migrations, applied in order; `PRAGMA user_version` records how
/// many ran. Append only: never edit a released step.
const MIGRATIONS: &[&str] = &[
    // 1: node registry, events, metadata.
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
     CREATE TABLE nodes (
        name TEXT PRIMARY KEY,
        hostname TEXT NOT NULL,
        version TEXT NOT NULL,
        labels TEXT NOT NULL,
        addrs TEXT NOT NULL,
        addr TEXT NOT NULL,
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL
     );
     CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        time INTEGER NOT NULL,
        kind TEXT NOT NULL,
        node TEXT,
        check_name TEXT,
        state TEXT,
        previous_state TEXT,
        who TEXT,
        message TEXT NOT NULL
     );
     CREATE INDEX events_by_time ON events(time);
     CREATE INDEX events_by_node ON events(node, time);",
    // 2: check state (one row per check; `data` is the tracker as JSON) and
    // scheduled downtime.
    "CREATE TABLE check_state (
        node TEXT NOT NULL,
        name TEXT NOT NULL,
        state TEXT NOT NULL,
        last_check INTEGER NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (node, name)
     );
     CREATE TABLE downtimes (
        id INTEGER PRIMARY KEY,
        node TEXT NOT NULL,
        check_name TEXT,
        start_time INTEGER NOT NULL,
        end_time INTEGER NOT NULL,
        who TEXT NOT NULL,
        comment TEXT NOT NULL
     );",
    // 3: inventory items and command jobs (issue 4).
    "CREATE TABLE inventory (
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        node TEXT NOT NULL,
        attrs TEXT NOT NULL,
        PRIMARY KEY (kind, key)
     );
     CREATE INDEX inventory_by_node ON inventory(node);
     CREATE TABLE jobs (
        id INTEGER PRIMARY KEY,
        started INTEGER NOT NULL,
        body TEXT NOT NULL
     );
     CREATE TABLE job_output (
        job INTEGER NOT NULL,
        node TEXT NOT NULL,
        output TEXT NOT NULL,
        truncated INTEGER NOT NULL,
        PRIMARY KEY (job, node)
     );",
];

/// Most operations applied in one transaction.
const BATCH: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store {path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("store {path} has schema version {found}, newer than this configd knows ({known}); run a newer monit-configd")]
    TooNew {
        path: PathBuf,
        found: i64,
        known: usize,
    },
    #[error("cannot create {path}: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the store thread has stopped")]
    Stopped,
    #[error("store write failed: {0}")]
    Write(String),
    #[error("store query failed: {0}")]
    Query(#[from] rusqlite::Error),
}

/// A node as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    pub name: String,
    pub hostname: String,
    pub version: String,
    pub labels: BTreeMap<String, String>,
    pub addrs: Vec<String>,
    pub addr: String,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
}

/// Something that happened, for the event log: stored as the wire shows it.
pub use crate::net::proto::EventView as EventRow;

/// An event with no state and no author (callers add those they have).
pub fn event_row(
    time_ms: i64,
    kind: &str,
    node: Option<&str>,
    check: Option<&str>,
    message: String,
) -> EventRow {
    EventRow {
        time_ms,
        kind: kind.into(),
        node: node.map(Into::into),
        check: check.map(Into::into),
        state: None,
        previous_state: None,
        who: None,
        message,
    }
}

type Ack = oneshot::Sender<Result<(), StoreError>>;

/// Work run on the store thread inside the batch's transaction; it returns
/// what to do once the transaction ended (`true`: committed).
type Call = Box<dyn FnOnce(&Connection) -> Box<dyn FnOnce(bool) + Send> + Send>;

enum Op {
    UpsertNode(NodeRow, Option<Ack>),
    TouchNodes(Vec<(String, i64)>),
    Event(EventRow),
    /// Answered once everything sent before it is committed.
    Barrier(Ack),
    /// Check states written, check rows deleted, events appended, in one go.
    Checks(CheckWrites, Option<Ack>),
    /// Module-owned SQL (inventory, jobs), see `Store::call`.
    Call(Call),
}

/// A check's stored state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRow {
    pub node: String,
    pub name: String,
    pub state: String,
    pub last_check_ms: i64,
    /// The check's tracker and last output, as JSON.
    pub data: String,
}

/// Downtime as stored.
pub type DowntimeRow = crate::net::proto::DowntimeView;

/// Writes from the check book, applied in one transaction.
#[derive(Debug, Default)]
pub struct CheckWrites {
    pub rows: Vec<CheckRow>,
    pub deleted: Vec<(String, String)>,
    pub events: Vec<EventRow>,
    pub downtimes: Vec<DowntimeRow>,
    pub downtimes_deleted: Vec<u64>,
}

impl CheckWrites {
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
            && self.deleted.is_empty()
            && self.events.is_empty()
            && self.downtimes.is_empty()
            && self.downtimes_deleted.is_empty()
    }
}

/// Cheap to clone; every clone talks to the one store thread.
#[derive(Clone)]
pub struct Store {
    tx: mpsc::Sender<Op>,
}

/// What opening the store found on disk.
pub struct Opened {
    pub store: Store,
    pub nodes: Vec<NodeRow>,
    pub server_id: String,
    pub checks: Vec<CheckRow>,
    pub downtimes: Vec<DowntimeRow>,
    pub thread: std::thread::JoinHandle<()>,
}

impl Store {
    /// Opens (creating and migrating) the database and starts its thread.
    pub fn open(path: &Path) -> Result<Opened, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let sql = |source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let mut conn = Connection::open(path).map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sql)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sql)?;
        migrate(&mut conn, path)?;
        let server_id = server_id(&conn).map_err(sql)?;
        let nodes = load_nodes(&conn).map_err(sql)?;
        let checks = load_checks(&conn).map_err(sql)?;
        let downtimes = load_downtimes(&conn).map_err(sql)?;
        let (tx, rx) = mpsc::channel(8192);
        let owned_path = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("monit-store".into())
            .spawn(move || run(conn, rx, owned_path))
            .map_err(|source| StoreError::Dir {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Opened {
            store: Store { tx },
            nodes,
            server_id,
            checks,
            downtimes,
            thread,
        })
    }

    /// Writes a node and waits until it is committed.
    pub async fn upsert_node(&self, row: NodeRow) -> Result<(), StoreError> {
        let (ack, done) = oneshot::channel();
        self.send(Op::UpsertNode(row, Some(ack))).await?;
        done.await.map_err(|_| StoreError::Stopped)?
    }

    /// Records last-seen times (not waited for).
    pub async fn touch_nodes(&self, seen: Vec<(String, i64)>) -> Result<(), StoreError> {
        self.send(Op::TouchNodes(seen)).await
    }

    /// Appends an event (not waited for; ordered with other writes).
    pub async fn event(&self, ev: EventRow) -> Result<(), StoreError> {
        self.send(Op::Event(ev)).await
    }

    /// Applies check writes; waits for the commit when `wait`.
    pub async fn checks(&self, writes: CheckWrites, wait: bool) -> Result<(), StoreError> {
        if !wait {
            return self.send(Op::Checks(writes, None)).await;
        }
        let (ack, done) = oneshot::channel();
        self.send(Op::Checks(writes, Some(ack))).await?;
        done.await.map_err(|_| StoreError::Stopped)?
    }

    /// Waits until every write sent before it is committed.
    pub async fn barrier(&self) -> Result<(), StoreError> {
        let (ack, done) = oneshot::channel();
        self.send(Op::Barrier(ack)).await?;
        done.await.map_err(|_| StoreError::Stopped)?
    }

    /// The newest `limit` events, oldest first.
    pub async fn recent_events(&self, limit: usize) -> Result<Vec<EventRow>, StoreError> {
        self.run(move |conn| read_events(conn, limit)).await
    }

    /// Runs `f` on the store thread in a savepoint of the current batch:
    /// an `Err` from `f` rolls back only its own writes. The answer comes
    /// once the batch committed, so an `Ok` write is durable.
    pub async fn call<T, E, F>(&self, f: F) -> Result<Result<T, E>, StoreError>
    where
        T: Send + 'static,
        E: From<rusqlite::Error> + Send + 'static,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<T, E>>();
        let call: Call = Box::new(move |conn: &Connection| {
            let result = match conn.execute_batch("SAVEPOINT store_call") {
                Err(e) => Err(E::from(e)),
                Ok(()) => {
                    let r = f(conn);
                    let end = if r.is_ok() {
                        "RELEASE store_call"
                    } else {
                        "ROLLBACK TO store_call; RELEASE store_call"
                    };
                    match conn.execute_batch(end) {
                        Ok(()) => r,
                        Err(e) => Err(E::from(e)),
                    }
                }
            };
            Box::new(move |committed: bool| {
                if committed {
                    let _ = tx.send(result);
                }
            })
        });
        self.send(Op::Call(call)).await?;
        rx.await
            .map_err(|_| StoreError::Write("the transaction was rolled back".into()))
    }

    /// `call` for SQL that fails only as SQL does.
    pub(super) async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        Ok(self.call(f).await??)
    }

    async fn send(&self, op: Op) -> Result<(), StoreError> {
        self.tx.send(op).await.map_err(|_| StoreError::Stopped)
    }
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let sql = |source| StoreError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(sql)?;
    if version > MIGRATIONS.len() as i64 {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: version,
            known: MIGRATIONS.len(),
        });
    }
    for (i, step) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        let tx = conn.transaction().map_err(sql)?;
        tx.execute_batch(step).map_err(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)
            .map_err(sql)?;
        tx.commit().map_err(sql)?;
    }
    Ok(())
}

fn server_id(conn: &Connection) -> rusqlite::Result<String> {
    let existing: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'server_id'", [], |r| {
            r.get(0)
        })
        .optional()?;
    if let Some(id) = existing {
        return Ok(id);
    }
    let id = format!("configd-{}", &crate::auth::random_nonce()[..16]);
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('server_id', ?1)",
        params![id],
    )?;
    Ok(id)
}

/// The nodes stored at `path`, read without taking the store (configd may
/// be running); none when there is no store yet.
pub fn read_nodes(path: &Path) -> Result<Vec<NodeRow>, StoreError> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let err = |source| StoreError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(err)?;
    load_nodes(&conn).map_err(err)
}

/// Every row `sql` selects with `params`, made by `row`.
fn select_all<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    conn.prepare_cached(sql)?.query_map(params, row)?.collect()
}

fn load_nodes(conn: &Connection) -> rusqlite::Result<Vec<NodeRow>> {
    let sql = "SELECT name, hostname, version, labels, addrs, addr, first_seen, last_seen FROM nodes ORDER BY name";
    select_all(conn, sql, [], |r| {
        let labels: String = r.get(3)?;
        let addrs: String = r.get(4)?;
        Ok(NodeRow {
            name: r.get(0)?,
            hostname: r.get(1)?,
            version: r.get(2)?,
            labels: serde_json::from_str(&labels).unwrap_or_default(),
            addrs: serde_json::from_str(&addrs).unwrap_or_default(),
            addr: r.get(5)?,
            first_seen_ms: r.get(6)?,
            last_seen_ms: r.get(7)?,
        })
    })
}

fn load_checks(conn: &Connection) -> rusqlite::Result<Vec<CheckRow>> {
    let sql = "SELECT node, name, state, last_check, data FROM check_state ORDER BY node, name";
    select_all(conn, sql, [], |r| {
        Ok(CheckRow {
            node: r.get(0)?,
            name: r.get(1)?,
            state: r.get(2)?,
            last_check_ms: r.get(3)?,
            data: r.get(4)?,
        })
    })
}

fn load_downtimes(conn: &Connection) -> rusqlite::Result<Vec<DowntimeRow>> {
    let sql = "SELECT id, node, check_name, start_time, end_time, who, comment FROM downtimes ORDER BY id";
    select_all(conn, sql, [], |r| {
        Ok(DowntimeRow {
            id: r.get::<_, i64>(0)? as u64,
            node: r.get(1)?,
            check: r.get(2)?,
            start_ms: r.get(3)?,
            end_ms: r.get(4)?,
            who: r.get(5)?,
            comment: r.get(6)?,
        })
    })
}

fn insert_event(conn: &Connection, ev: &EventRow) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO events (time, kind, node, check_name, state, previous_state, who, message)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        ev.time_ms,
        ev.kind,
        ev.node,
        ev.check,
        ev.state,
        ev.previous_state,
        ev.who,
        ev.message
    ])?;
    Ok(())
}

fn apply_checks(tx: &rusqlite::Transaction<'_>, w: CheckWrites) -> rusqlite::Result<()> {
    if !w.rows.is_empty() {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO check_state (node, name, state, last_check, data) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(node, name) DO UPDATE SET state = excluded.state,
               last_check = excluded.last_check, data = excluded.data",
        )?;
        for r in &w.rows {
            stmt.execute(params![r.node, r.name, r.state, r.last_check_ms, r.data])?;
        }
    }
    for (node, name) in &w.deleted {
        tx.prepare_cached("DELETE FROM check_state WHERE node = ?1 AND name = ?2")?
            .execute(params![node, name])?;
    }
    for ev in &w.events {
        insert_event(tx, ev)?;
    }
    for d in &w.downtimes {
        tx.prepare_cached(
            "INSERT OR REPLACE INTO downtimes (id, node, check_name, start_time, end_time, who, comment)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![d.id as i64, d.node, d.check, d.start_ms, d.end_ms, d.who, d.comment])?;
    }
    for id in &w.downtimes_deleted {
        tx.prepare_cached("DELETE FROM downtimes WHERE id = ?1")?
            .execute(params![*id as i64])?;
    }
    Ok(())
}

fn run(mut conn: Connection, mut rx: mpsc::Receiver<Op>, path: PathBuf) {
    let mut batch = Vec::with_capacity(BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let mut acks = Vec::new();
        let result = apply(&mut conn, &mut batch, &mut acks);
        for ack in acks {
            let _ = ack.send(
                result
                    .as_ref()
                    .map(|_| ())
                    .map_err(|e| StoreError::Write(e.to_string())),
            );
        }
        if let Err(e) = result {
            tracing::error!(path = %path.display(), error = %e, "store transaction failed; its writes were not saved");
        }
    }
    // Channel closed: every Store handle is gone; checkpoint on the way out.
    let _ = conn.pragma_update(None, "wal_checkpoint", "TRUNCATE");
}

fn apply(conn: &mut Connection, batch: &mut Vec<Op>, acks: &mut Vec<Ack>) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    let mut finishers: Vec<Box<dyn FnOnce(bool) + Send>> = Vec::new();
    for op in batch.drain(..) {
        match op {
            Op::UpsertNode(row, ack) => {
                tx.prepare_cached(
                    "INSERT INTO nodes (name, hostname, version, labels, addrs, addr, first_seen, last_seen)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT(name) DO UPDATE SET hostname = excluded.hostname,
                       version = excluded.version, labels = excluded.labels, addrs = excluded.addrs,
                       addr = excluded.addr, last_seen = excluded.last_seen",
                )?
                .execute(params![
                    row.name,
                    row.hostname,
                    row.version,
                    serde_json::to_string(&row.labels).unwrap_or_default(),
                    serde_json::to_string(&row.addrs).unwrap_or_default(),
                    row.addr,
                    row.first_seen_ms,
                    row.last_seen_ms
                ])?;
                acks.extend(ack);
            }
            Op::TouchNodes(seen) => {
                let mut stmt = tx.prepare_cached(
                    "UPDATE nodes SET last_seen = ?2 WHERE name = ?1 AND last_seen < ?2",
                )?;
                for (name, at) in seen {
                    stmt.execute(params![name, at])?;
                }
            }
            Op::Event(ev) => insert_event(&tx, &ev)?,
            Op::Checks(writes, ack) => {
                apply_checks(&tx, writes)?;
                acks.extend(ack);
            }
            Op::Barrier(ack) => acks.push(ack),
            Op::Call(call) => finishers.push(call(&tx)),
        }
    }
    tx.commit()?;
    for finish in finishers {
        finish(true);
    }
    Ok(())
}

fn read_events(conn: &Connection, limit: usize) -> rusqlite::Result<Vec<EventRow>> {
    // In time order, not arrival: results a node replays after a
    // reconnect carry the times they happened at.
    let sql = "SELECT time, kind, node, check_name, state, previous_state, who, message
         FROM events ORDER BY time DESC, id DESC LIMIT ?1";
    let mut out = select_all(conn, sql, [limit as i64], |r| {
        Ok(EventRow {
            time_ms: r.get(0)?,
            kind: r.get(1)?,
            node: r.get(2)?,
            check: r.get(3)?,
            state: r.get(4)?,
            previous_state: r.get(5)?,
            who: r.get(6)?,
            message: r.get(7)?,
        })
    })?;
    out.reverse();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn persists_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("monit.db");
        let opened = Store::open(&path).unwrap();
        let id = opened.server_id.clone();
        let row = NodeRow {
            name: "web-1".into(),
            hostname: "h".into(),
            version: "1".into(),
            labels: [("role".to_string(), "web".to_string())].into(),
            addrs: vec!["127.0.0.1".into()],
            addr: "127.0.0.1".into(),
            first_seen_ms: 5,
            last_seen_ms: 6,
        };
        opened.store.upsert_node(row.clone()).await.unwrap();
        opened
            .store
            .event(EventRow {
                state: Some("up".into()),
                previous_state: Some("pending".into()),
                ..event_row(7, "node", Some("web-1"), None, "up".into())
            })
            .await
            .unwrap();
        opened
            .store
            .touch_nodes(vec![("web-1".into(), 9)])
            .await
            .unwrap();
        let evs = opened.store.recent_events(10).await.unwrap();
        assert_eq!(evs.len(), 1);
        drop(opened.store);
        opened.thread.join().unwrap();
        let again = Store::open(&path).unwrap();
        assert_eq!(again.server_id, id);
        assert_eq!(
            again.nodes,
            vec![NodeRow {
                last_seen_ms: 9,
                ..row
            }]
        );
    }

    #[tokio::test]
    async fn events_are_read_in_time_order() {
        let dir = tempfile::tempdir().unwrap();
        let opened = Store::open(&dir.path().join("monit.db")).unwrap();
        // A replayed result arrives after a newer event.
        for (time_ms, message) in [(30, "c"), (10, "a"), (20, "b"), (30, "d")] {
            let ev = event_row(time_ms, "check_state", None, None, message.into());
            opened.store.event(ev).await.unwrap();
        }
        let read =
            |evs: Vec<EventRow>| -> Vec<String> { evs.into_iter().map(|e| e.message).collect() };
        let all = opened.store.recent_events(10).await.unwrap();
        assert_eq!(read(all), ["a", "b", "c", "d"]);
        let newest = opened.store.recent_events(2).await.unwrap();
        assert_eq!(read(newest), ["c", "d"]);
    }
}
