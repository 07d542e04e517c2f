//! A fault-injecting TCP proxy for end-to-end tests: it sits between
//! nodes and configd and forwards raw bytes (TLS stays end to end: the
//! proxy never sees a key), and on command it cuts every connection,
//! delays every chunk, blackholes (half-open: nothing is forwarded either
//! way, both sockets stay open, no FIN, no RST), holds only configd's
//! answers (one way) or delays only them, limits bandwidth, or heals. It runs on its own tokio runtime, so plain `#[test]`s drive it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// What the proxy does to the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward as fast as they come.
    None,
    /// Every chunk (both directions) waits this long before it goes on.
    Delay(Duration),
    /// Only what configd sends back waits this long (slow answers and
    /// acknowledgements: the node's batches pile up behind them).
    SlowReplies(Duration),
    /// Nothing goes on, either way; sockets stay open (half-open link).
    /// New connections are accepted and held the same way.
    Blackhole,
    /// Bytes from the node go on, nothing comes back from configd (an
    /// asymmetric partition: configd takes what is sent, its answers and
    /// acknowledgements vanish).
    OneWay,
    /// At most this many bytes per second, each direction.
    Limit(u64),
    /// Connections are closed; new ones are closed as soon as accepted.
    Cut,
}

/// Which way bytes go: from the dialling side (node) to configd, or back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    Up,
    Down,
}

#[derive(Debug, Clone, Copy)]
struct State {
    fault: Fault,
    /// Bumped by each cut: a connection from an earlier epoch is closed,
    /// even if a heal came before it looked.
    epoch: u64,
}

impl State {
    /// What a connection of `epoch` should do now: `None` to close.
    fn for_epoch(&self, epoch: u64) -> Option<Fault> {
        (self.epoch == epoch && self.fault != Fault::Cut).then_some(self.fault)
    }
}

pub struct Proxy {
    /// Where nodes dial (127.0.0.1, a port chosen at run time).
    pub addr: String,
    state: watch::Sender<State>,
    /// Connections accepted in all.
    accepted: Arc<AtomicU64>,
    /// Connections closed at once because the link was cut.
    refused: Arc<AtomicU64>,
    /// Bytes forwarded, both directions.
    forwarded: Arc<AtomicU64>,
    rt: Option<tokio::runtime::Runtime>,
}

impl Proxy {
    /// A proxy on 127.0.0.1:0 forwarding to `upstream`.
    pub fn start(upstream: &str) -> Proxy {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (state, rx) = watch::channel(State {
            fault: Fault::None,
            epoch: 0,
        });
        let accepted = Arc::new(AtomicU64::new(0));
        let refused = Arc::new(AtomicU64::new(0));
        let forwarded = Arc::new(AtomicU64::new(0));
        let upstream = upstream.to_string();
        let (acc, refd, fwd) = (accepted.clone(), refused.clone(), forwarded.clone());
        rt.spawn(async move {
            loop {
                let Ok((down, _)) = listener.accept().await else {
                    return;
                };
                acc.fetch_add(1, Ordering::SeqCst);
                let epoch = rx.borrow().epoch;
                if rx.borrow().fault == Fault::Cut {
                    refd.fetch_add(1, Ordering::SeqCst);
                    drop(down);
                    continue;
                }
                tokio::spawn(connection(
                    down,
                    upstream.clone(),
                    rx.clone(),
                    epoch,
                    fwd.clone(),
                ));
            }
        });
        Proxy {
            addr,
            state,
            accepted,
            refused,
            forwarded,
            rt: Some(rt),
        }
    }

    /// Applies `fault` from now on (`Fault::None` heals).
    pub fn set(&self, fault: Fault) {
        self.state.send_modify(|s| {
            if fault == Fault::Cut {
                s.epoch += 1;
            }
            s.fault = fault;
        });
    }

    /// Closes every connection; new ones are closed as soon as accepted
    /// until `heal`.
    pub fn cut(&self) {
        self.set(Fault::Cut);
    }

    pub fn delay(&self, d: Duration) {
        self.set(Fault::Delay(d));
    }

    pub fn blackhole(&self) {
        self.set(Fault::Blackhole);
    }

    pub fn slow_replies(&self, d: Duration) {
        self.set(Fault::SlowReplies(d));
    }

    pub fn one_way(&self) {
        self.set(Fault::OneWay);
    }

    pub fn limit(&self, bytes_per_second: u64) {
        self.set(Fault::Limit(bytes_per_second));
    }

    /// Back to forwarding: held (blackholed, delayed) bytes go on, new
    /// connections are forwarded normally.
    pub fn heal(&self) {
        self.set(Fault::None);
    }

    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }

    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::SeqCst)
    }

    pub fn forwarded(&self) -> u64 {
        self.forwarded.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// Waits until `state` lets a connection of `epoch` move bytes `dir`;
/// `None`: it is cut.
async fn flowing(state: &mut watch::Receiver<State>, epoch: u64, dir: Dir) -> Option<Fault> {
    loop {
        let fault = state.borrow_and_update().for_epoch(epoch)?;
        let held = fault == Fault::Blackhole || (fault == Fault::OneWay && dir == Dir::Down);
        if !held {
            return Some(fault);
        }
        state.changed().await.ok()?;
    }
}

async fn connection(
    down: TcpStream,
    upstream: String,
    mut state: watch::Receiver<State>,
    epoch: u64,
    forwarded: Arc<AtomicU64>,
) {
    // A connection accepted in a blackhole waits (its peer's handshake
    // hangs) before configd hears of it.
    let connect = async {
        flowing(&mut state, epoch, Dir::Up).await?;
        TcpStream::connect(&upstream).await.ok()
    };
    let up = tokio::select! {
        up = connect => up,
        // The peer may give up and close meanwhile.
        _ = closed(&down) => None,
    };
    let Some(up) = up else { return };
    let (dr, dw) = down.into_split();
    let (ur, uw) = up.into_split();
    tokio::join!(
        pump(dr, uw, state.clone(), epoch, Dir::Up, forwarded.clone()),
        pump(ur, dw, state, epoch, Dir::Down, forwarded),
    );
}

/// Resolves when the peer has closed `s` (readable with nothing to read
/// or an error); data that arrived meanwhile stays unread.
async fn closed(s: &TcpStream) {
    let mut b = [0u8; 1];
    loop {
        match s.peek(&mut b).await {
            Ok(0) | Err(_) => return,
            Ok(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// One direction: a reader stamps each chunk with when it may go on, a
/// writer sends it then, at the allowed rate. A bounded queue between
/// them keeps the sender's backpressure.
async fn pump(
    mut r: OwnedReadHalf,
    mut w: OwnedWriteHalf,
    state: watch::Receiver<State>,
    epoch: u64,
    dir: Dir,
    forwarded: Arc<AtomicU64>,
) {
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(256);
    let mut rstate = state.clone();
    let reader = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let Some(fault) = flowing(&mut rstate, epoch, dir).await else {
                return;
            };
            let n = tokio::select! {
                n = r.read(&mut buf) => n,
                // Cut or blackholed while waiting: look again.
                _ = rstate.changed() => continue,
            };
            let n = match n {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let due = match fault {
                Fault::Delay(d) => Instant::now() + d,
                Fault::SlowReplies(d) if dir == Dir::Down => Instant::now() + d,
                _ => Instant::now(),
            };
            if tx.send((due, buf[..n].to_vec())).await.is_err() {
                return;
            }
        }
        // Dropping `tx` ends the writer once it has sent the rest.
    };
    let mut wstate = state;
    let writer = async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            let mut rest = &chunk[..];
            while !rest.is_empty() {
                let Some(fault) = flowing(&mut wstate, epoch, dir).await else {
                    return;
                };
                let piece = match fault {
                    Fault::Limit(rate) => rest.len().min((rate as usize / 20).max(1)),
                    _ => rest.len(),
                };
                // One `write` (not `write_all`): cancelled, it wrote nothing.
                let wrote = tokio::select! {
                    r = w.write(&rest[..piece]) => r,
                    _ = wstate.changed() => continue,
                };
                let piece = match wrote {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                forwarded.fetch_add(piece as u64, Ordering::SeqCst);
                rest = &rest[piece..];
                if let Fault::Limit(rate) = fault {
                    tokio::time::sleep(Duration::from_secs_f64(piece as f64 / rate as f64)).await;
                }
            }
        }
        let _ = w.shutdown().await;
    };
    tokio::join!(reader, writer);
}
