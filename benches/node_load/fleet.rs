//! The simulated fleet: one task per node agent, each over its own TCP
//! connection with its own TLS and token handshake, `Register`, then a
//! `Ping` every heartbeat interval at a random phase.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::bail;
use monit::auth::Token;
use monit::net::handshake::{client_handshake, message_name};
use monit::net::proto::{
    Message, PeerKind, Ping, Registration, Request, RequestBody, ResponseBody, DEFAULT_MAX_FRAME,
};
use monit::net::tls::Trust;
use monit::net::Connection;
use monit::sync::lock;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::common::bench::{alive, Configd};

/// Longest wait for a `Registered` or a `Pong`.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// What the simulated fleet has done so far.
#[derive(Default)]
pub struct Fleet {
    pub registered: AtomicUsize,
    pub failed: AtomicUsize,
    pub first_error: Mutex<Option<String>>,
    pub pongs: AtomicU64,
    pub measuring: AtomicBool,
    pub rtts_us: Mutex<Vec<u32>>,
    /// Per node: TCP connect, and connect to Registered.
    pub connect_us: Mutex<Vec<u32>>,
    pub register_us: Mutex<Vec<u32>>,
}

impl Fleet {
    fn fail(&self, name: &str, why: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        lock(&self.first_error).get_or_insert_with(|| format!("node {name}: {why}"));
    }

    /// `Err` once any node has failed or configd has exited.
    pub fn check(&self, configd: &Configd) -> anyhow::Result<()> {
        let failed = self.failed.load(Ordering::Relaxed);
        if failed > 0 {
            let first = lock(&self.first_error).clone().unwrap_or_default();
            bail!(
                "{failed} simulated node(s) failed; first: {first}{}",
                configd.log_tail()
            );
        }
        if !alive(configd.pid()) {
            bail!("configd exited{}", configd.log_tail());
        }
        Ok(())
    }
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

/// One simulated node agent.
pub struct SimNode {
    pub index: usize,
    pub addr: SocketAddr,
    pub trust: Trust,
    pub name: String,
    pub token: Token,
    /// Where in the heartbeat interval this node pings, as a fraction.
    pub phase: f64,
}

impl SimNode {
    pub async fn run(self, gate: Arc<Semaphore>, fleet: Arc<Fleet>, stop: CancellationToken) {
        let outcome = tokio::select! {
            _ = stop.cancelled() => Ok(()),
            r = self.life(&gate, &fleet) => r,
        };
        if let Err(why) = outcome {
            if !stop.is_cancelled() {
                fleet.fail(&self.name, why);
            }
        }
    }

    /// Connect, handshake, register, then heartbeat until dropped.
    async fn life(&self, gate: &Semaphore, fleet: &Fleet) -> Result<(), String> {
        let (mut conn, period) = {
            let _permit = gate
                .acquire()
                .await
                .map_err(|_| "handshake gate closed".to_string())?;
            let began = Instant::now();
            // TCP and TLS: what a node does before its first frame.
            let (stream, _) =
                monit::net::dial::open(&self.addr.to_string(), &self.trust, PeerKind::Node)
                    .await
                    .map_err(|e| format!("connect: {e}"))?;
            lock(&fleet.connect_us).push(micros(began.elapsed()));
            let binding = stream.channel_binding();
            let mut conn = Connection::new(stream, DEFAULT_MAX_FRAME);
            let welcome =
                client_handshake(&mut conn, PeerKind::Node, &self.name, &self.token, &binding)
                    .await
                    .map_err(|e| format!("handshake: {e}"))?;
            conn.send(&Message::Request(Request {
                id: 1,
                body: RequestBody::Register(self.registration()),
            }))
            .await
            .map_err(|e| format!("send Register: {e}"))?;
            let reply = tokio::time::timeout(REPLY_TIMEOUT, next_message(&mut conn))
                .await
                .map_err(|_| format!("no Registered within {}s", REPLY_TIMEOUT.as_secs()))??;
            match reply {
                Message::Response(r) if r.id == 1 => match r.body {
                    ResponseBody::Registered(_) => {}
                    ResponseBody::Error(e) => return Err(format!("registration refused: {e}")),
                    other => return Err(format!("unexpected answer to Register: {other:?}")),
                },
                other => return Err(format!("expected Registered, got {}", message_name(&other))),
            }
            lock(&fleet.register_us).push(micros(began.elapsed()));
            fleet.registered.fetch_add(1, Ordering::Relaxed);
            let period = Duration::from_millis(welcome.heartbeat_interval_ms.max(100));
            (conn, period)
        };

        let first = tokio::time::Instant::now() + period.mul_f64(self.phase);
        let mut tick = tokio::time::interval_at(first, period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut seq = 0u64;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                m = next_message(&mut conn) => {
                    let m = m?;
                    return Err(format!("unexpected {} from configd between heartbeats", message_name(&m)));
                }
            }
            seq += 1;
            let sent = Instant::now();
            conn.send(&Message::Ping(Ping { seq }))
                .await
                .map_err(|e| format!("send Ping: {e}"))?;
            let reply = tokio::time::timeout(REPLY_TIMEOUT, next_message(&mut conn))
                .await
                .map_err(|_| format!("no Pong within {}s", REPLY_TIMEOUT.as_secs()))??;
            match reply {
                Message::Pong(p) if p.seq == seq => {}
                other => return Err(format!("expected Pong {seq}, got {}", message_name(&other))),
            }
            fleet.pongs.fetch_add(1, Ordering::Relaxed);
            if fleet.measuring.load(Ordering::Relaxed) {
                lock(&fleet.rtts_us).push(micros(sent.elapsed()));
            }
        }
    }

    fn registration(&self) -> Registration {
        let labels = BTreeMap::from([
            ("bench".to_string(), "node_load".to_string()),
            ("rack".to_string(), format!("r{:02}", self.index % 40)),
            ("role".to_string(), "web".to_string()),
        ]);
        Registration {
            hostname: format!("{}.bench.example", self.name),
            version: monit::VERSION.to_string(),
            labels,
            addrs: vec!["127.0.0.1".to_string(), "::1".to_string()],
            checks: vec![],
            commands: vec![],
            takes_checks: false,
        }
    }
}

/// The next message that is not a Ping from configd (those are answered).
async fn next_message(conn: &mut Connection) -> Result<Message, String> {
    loop {
        match conn.read().await {
            Ok(Some(Message::Ping(p))) => conn
                .send(&Message::Pong(p))
                .await
                .map_err(|e| format!("send Pong: {e}"))?,
            Ok(Some(Message::Error(e))) => return Err(format!("configd sent an error: {e}")),
            Ok(Some(m)) => return Ok(m),
            Ok(None) => return Err("configd closed the connection".to_string()),
            Err(e) => return Err(format!("read: {e}")),
        }
    }
}
