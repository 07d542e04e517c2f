//! The console's listener for axum: TCP, then TLS with configd's
//! certificate (ALPN http/1.1) unless configd runs plaintext. Handshakes
//! run in their own tasks, so one slow client never holds up the others.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::TlsSource;
use crate::net::Stream;

/// Time a client has to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in flight at once; past it, new connections wait in the
/// kernel's accept queue.
const HANDSHAKES: usize = 64;

/// The remote address of a connection, for handlers (`ConnectInfo`).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, WebListener>> for Peer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, WebListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

pub struct WebListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(Stream, SocketAddr)>,
}

/// The ALPN-http/1.1 copy of configd's TLS settings, rebuilt only when
/// configd's certificate changes.
#[derive(Default)]
struct HttpTls {
    cached: Option<(crate::net::tls::Fingerprint, tokio_rustls::TlsAcceptor)>,
}

impl HttpTls {
    fn acceptor(&mut self, tls: &crate::net::tls::ServerTls) -> tokio_rustls::TlsAcceptor {
        if let Some((fp, acceptor)) = &self.cached {
            if *fp == tls.fingerprint {
                return acceptor.clone();
            }
        }
        let mut config = (*tls.config).clone();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        self.cached = Some((tls.fingerprint, acceptor.clone()));
        acceptor
    }
}

impl WebListener {
    /// Starts accepting on `tcp`; stops when `shutdown` fires.
    pub fn start(
        tcp: TcpListener,
        tls: TlsSource,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> std::io::Result<WebListener> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(HANDSHAKES);
        tokio::spawn(accept_loop(tcp, tls, tx, shutdown));
        Ok(WebListener { local, ready })
    }
}

async fn accept_loop(
    tcp: TcpListener,
    tls: TlsSource,
    tx: mpsc::Sender<(Stream, SocketAddr)>,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let permits = Arc::new(tokio::sync::Semaphore::new(HANDSHAKES));
    let mut http_tls = HttpTls::default();
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tx.closed() => return,
            a = tcp.accept() => a,
        };
        let (sock, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!("web console: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = sock.set_nodelay(true);
        let acceptor = tls().map(|t| http_tls.acceptor(&t));
        let tx = tx.clone();
        tokio::spawn(async move {
            let stream = match acceptor {
                None => Stream::Plain(sock),
                Some(acceptor) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(sock)).await {
                        Ok(Ok(s)) => Stream::Server(Box::new(s)),
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, "web console: TLS handshake failed: {e}");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "web console: TLS handshake timed out");
                            return;
                        }
                    }
                }
            };
            drop(permit);
            let _ = tx.send((stream, peer)).await;
        });
    }
}

impl axum::serve::Listener for WebListener {
    type Io = Stream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(s) => s,
            // The accept loop ended (shutdown): wait for axum to stop us.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
