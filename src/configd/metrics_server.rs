//! The `metrics_listen` listener: a small HTTP/1.1 responder for
//! Prometheus scrapes of `GET /metrics`, over TLS with the main
//! listener's certificate (plain HTTP only with `tls = false`), with an
//! optional bearer token. One request per connection; the body is
//! written piece by piece as it is rendered, ended by closing.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use super::error::ConfigdError;
use super::metrics::{Extras, Scrape, CONTENT_TYPE};
use super::state::Shared;
use crate::net::Stream;

/// Scrapes served at once; more wait for the TCP accept queue.
const CONCURRENT: usize = 4;
/// Time for TLS and the request head.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Time to write the whole answer.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest request head read.
const MAX_HEAD: usize = 8 * 1024;
/// Rendered text written per write.
const PIECE_BYTES: usize = 64 * 1024;

/// Binds `metrics_listen` and writes its address to
/// `DATA_DIR/metrics.addr`; checks that the token file is readable.
pub fn bind(config: &crate::config::ConfigdConfig) -> Result<Option<TcpListener>, ConfigdError> {
    let Some(addr) = config.metrics_listen else {
        return Ok(None);
    };
    if let Some(path) = &config.metrics_token_file {
        read_token(path).map_err(|source| ConfigdError::MetricsToken {
            path: path.clone(),
            source,
        })?;
    }
    let (listener, local) = super::side_listener::bind(addr, &metrics_addr_file(&config.data_dir))?;
    tracing::info!(addr = %local, tls = config.tls.is_some(), token = config.metrics_token_file.is_some(), "Prometheus metrics served on /metrics");
    Ok(Some(listener))
}

/// Where configd writes the metrics listener's bound address.
pub fn metrics_addr_file(data_dir: &Path) -> PathBuf {
    data_dir.join("metrics.addr")
}

/// The bearer token in `path` (surrounding whitespace removed).
fn read_token(path: &Path) -> std::io::Result<String> {
    let text = std::fs::read_to_string(path)?;
    let token = text.trim().to_string();
    if token.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the metrics token file is empty",
        ));
    }
    Ok(token)
}

/// Serves scrapes until shutdown. `connections` is the main listener's
/// connection limit (its used permits are the open connections).
pub async fn serve(listener: TcpListener, shared: Arc<Shared>, connections: Arc<Semaphore>) {
    let permits = Arc::new(Semaphore::new(CONCURRENT));
    let tracker = tokio_util::task::TaskTracker::new();
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let accepted = tokio::select! {
            _ = shared.shutdown().cancelled() => break,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((tcp, peer)) => {
                let shared = shared.clone();
                let connections = connections.clone();
                tracker.spawn(async move {
                    if let Err(why) = answer(tcp, &shared, &connections).await {
                        tracing::debug!(%peer, "metrics scrape: {why}");
                    }
                    drop(permit);
                });
            }
            Err(e) => {
                tracing::warn!("metrics listener: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    tracker.close();
    let _ = tokio::time::timeout(Duration::from_secs(2), tracker.wait()).await;
}

/// What a request asked for, once its head is read.
#[derive(Debug, PartialEq)]
enum Asked {
    Metrics { head_only: bool },
    NotFound,
    BadMethod,
    Unauthorized,
    BadRequest,
}

async fn answer(tcp: TcpStream, shared: &Shared, connections: &Semaphore) -> Result<(), String> {
    let _ = tcp.set_nodelay(true);
    let (mut stream, head) = tokio::time::timeout(REQUEST_TIMEOUT, async {
        let mut stream = match shared.tls() {
            Some(tls) => Stream::Server(Box::new(
                tls.acceptor
                    .accept(tcp)
                    .await
                    .map_err(|e| format!("TLS: {e}"))?,
            )),
            None => Stream::Plain(tcp),
        };
        let head = read_head(&mut stream).await?;
        Ok::<_, String>((stream, head))
    })
    .await
    .map_err(|_| "no request within 5s".to_string())??;
    let live = shared.live();
    let token = live.metrics_token_file.as_ref().map(|path| {
        read_token(path).unwrap_or_else(|e| {
            tracing::error!(path = %path.display(), "metrics: cannot read the token file, refusing scrapes: {e}");
            // Nothing matches a token nobody can know.
            String::from("\0unreadable")
        })
    });
    let asked = parse_request(&head, token.as_deref());
    let result = tokio::time::timeout(RESPONSE_TIMEOUT, async {
        let (status, headers, body) = match asked {
            Asked::Metrics { head_only } => {
                let max = shared.config().max_connections;
                let extras = Extras {
                    metric_labels: live.metric_labels.clone(),
                    connections_open: (max - connections.available_permits().min(max)) as u64,
                    sessions_total: shared.sessions_started(),
                };
                return write_metrics(&mut stream, shared, extras, head_only).await;
            }
            Asked::NotFound => (
                "404 Not Found",
                "",
                "not found: the metrics are at /metrics\n",
            ),
            Asked::BadMethod => (
                "405 Method Not Allowed",
                "Allow: GET, HEAD\r\n",
                "only GET and HEAD\n",
            ),
            Asked::Unauthorized => (
                "401 Unauthorized",
                "WWW-Authenticate: Bearer realm=\"monit\"\r\n",
                "a bearer token is needed (metrics_token_file)\n",
            ),
            Asked::BadRequest => ("400 Bad Request", "", "bad request\n"),
        };
        simple(&mut stream, status, headers, body).await
    })
    .await;
    match result {
        Ok(r) => r.map_err(|e| e.to_string())?,
        Err(_) => return Err("the answer took longer than 60s".into()),
    }
    let _ = stream.shutdown().await;
    Ok(())
}

/// Reads up to the blank line ending the request head.
async fn read_head(stream: &mut Stream) -> Result<Vec<u8>, String> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    loop {
        let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("closed before the end of the request".into());
        }
        head.extend_from_slice(&buf[..n]);
        if head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n") {
            return Ok(head);
        }
        if head.len() > MAX_HEAD {
            return Err("request head over 8 KiB".into());
        }
    }
}

fn parse_request(head: &[u8], token: Option<&str>) -> Asked {
    let Ok(text) = std::str::from_utf8(head) else {
        return Asked::BadRequest;
    };
    let mut lines = text.lines();
    let mut first = lines.next().unwrap_or("").split(' ');
    let (Some(method), Some(target), Some(version)) = (first.next(), first.next(), first.next())
    else {
        return Asked::BadRequest;
    };
    if !version.starts_with("HTTP/1.") {
        return Asked::BadRequest;
    }
    if let Some(want) = token {
        let given = lines
            .take_while(|l| !l.is_empty())
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("authorization"))
            .and_then(|(_, v)| {
                let v = v.trim();
                let (scheme, cred) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| cred.trim())
            });
        if !given.is_some_and(|g| same_secret(g, want)) {
            return Asked::Unauthorized;
        }
    }
    let head_only = match method {
        "GET" => false,
        "HEAD" => true,
        _ => return Asked::BadMethod,
    };
    let path = target.split('?').next().unwrap_or("");
    if path == "/metrics" {
        Asked::Metrics { head_only }
    } else {
        Asked::NotFound
    }
}

/// Compares two secrets in time independent of where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    use sha2::{Digest, Sha256};
    let x = Sha256::digest(a.as_bytes());
    let y = Sha256::digest(b.as_bytes());
    x.iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
}

async fn simple(
    stream: &mut Stream,
    status: &str,
    headers: &str,
    body: &str,
) -> std::io::Result<()> {
    let text = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n{headers}Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(text.as_bytes()).await?;
    stream.flush().await
}

async fn write_metrics(
    stream: &mut Stream,
    shared: &Shared,
    extras: Extras,
    head_only: bool,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {CONTENT_TYPE}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await?;
    if head_only {
        return stream.flush().await;
    }
    let mut scrape = Scrape::new(shared.checks(), shared.registry(), extras);
    let mut piece = String::with_capacity(PIECE_BYTES * 2);
    loop {
        let more = scrape.fill(&mut piece);
        if piece.len() >= PIECE_BYTES || (!more && !piece.is_empty()) {
            stream.write_all(piece.as_bytes()).await?;
            piece.clear();
        }
        if !more {
            break;
        }
    }
    stream.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests() {
        let get = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(
            parse_request(get, None),
            Asked::Metrics { head_only: false }
        );
        assert_eq!(
            parse_request(b"HEAD /metrics?x=1 HTTP/1.0\r\n\r\n", None),
            Asked::Metrics { head_only: true }
        );
        assert_eq!(
            parse_request(b"GET / HTTP/1.1\r\n\r\n", None),
            Asked::NotFound
        );
        assert_eq!(
            parse_request(b"POST /metrics HTTP/1.1\r\n\r\n", None),
            Asked::BadMethod
        );
        assert_eq!(parse_request(b"nonsense\r\n\r\n", None), Asked::BadRequest);
        assert_eq!(parse_request(get, Some("s3cret")), Asked::Unauthorized);
        let with = b"GET /metrics HTTP/1.1\r\nauthorization: bearer s3cret\r\n\r\n";
        assert_eq!(
            parse_request(with, Some("s3cret")),
            Asked::Metrics { head_only: false }
        );
        let wrong = b"GET /metrics HTTP/1.1\r\nAuthorization: Bearer s3cre\r\n\r\n";
        assert_eq!(parse_request(wrong, Some("s3cret")), Asked::Unauthorized);
    }
}
