//! Live logs: the page with the CLI's filters, and the Server-Sent Events
//! stream behind it. The stream never blocks the session's link: batches
//! the browser cannot take in time are dropped and counted, and the next
//! batch says how many lines were skipped (configd does the same when this
//! reader falls behind it).

use std::convert::Infallible;

use askama::Template;
use axum::extract::Query;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::mpsc;

use super::{client_error, html, query_string, Chrome};
use crate::model::log::LogLineJson;
use crate::net::client::ClientError;
use crate::net::proto::{Level, RequestBody, ResponseBody, SubscribeLogs};
use crate::web::session::{Authed, Session};

/// Lines of history sent before live lines, unless asked otherwise.
const DEFAULT_BACKLOG: u64 = 200;
const MAX_BACKLOG: u64 = 5000;
/// Events waiting for the browser; past it, batches are skipped.
pub const SSE_QUEUE: usize = 32;
/// A pause in the stream after which lines skipped are reported alone.
const QUIET: std::time::Duration = std::time::Duration::from_millis(250);

#[derive(Deserialize, Default, Clone)]
pub struct LogsQuery {
    #[serde(default)]
    node: String,
    #[serde(default)]
    level: String,
    #[serde(default)]
    grep: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    n: Option<u64>,
}

impl LogsQuery {
    /// The request `monit-cli logs -f` would send with these options.
    fn subscription(&self) -> Result<SubscribeLogs, String> {
        let min_level = match self.level.trim() {
            "" => None,
            l => Some(l.parse::<Level>()?),
        };
        let list = |s: &str| -> Vec<String> {
            s.split([',', ' '])
                .filter(|x| !x.is_empty())
                .map(str::to_string)
                .collect()
        };
        let since_ms = match self.since.trim() {
            "" => None,
            d => {
                let d = humantime::parse_duration(d)
                    .map_err(|e| format!("since `{d}`: {e} (e.g. 30s, 5m, 1h)"))?;
                Some(
                    crate::timefmt::now_ms() - i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2),
                )
            }
        };
        Ok(SubscribeLogs {
            nodes: list(&self.node),
            min_level,
            sources: list(&self.source),
            grep: Some(self.grep.clone()).filter(|g| !g.is_empty()),
            regex: None,
            backlog: self.n.unwrap_or(DEFAULT_BACKLOG).min(MAX_BACKLOG),
            since_ms,
            follow: true,
        })
    }

    fn query(&self) -> String {
        let n = self.n.map(|n| n.to_string()).unwrap_or_default();
        query_string(&[
            ("node", &self.node),
            ("level", &self.level),
            ("grep", &self.grep),
            ("source", &self.source),
            ("since", &self.since),
            ("n", &n),
        ])
    }
}

#[derive(Template)]
#[template(path = "logs.html")]
struct LogsPage {
    chrome: Option<Chrome>,
    q: LogsQuery,
    error: String,
    src: String,
}

pub async fn page(Authed(s, _): Authed, Query(q): Query<LogsQuery>) -> Response {
    let error = q.subscription().err().unwrap_or_default();
    html(&LogsPage {
        chrome: Some(s.chrome("logs")),
        src: format!("/logs/stream?{}", q.query()),
        error,
        q,
    })
}

pub async fn stream(Authed(s, _): Authed, Query(q): Query<LogsQuery>) -> Response {
    let sub = match q.subscription() {
        Ok(sub) => sub,
        Err(e) => return (axum::http::StatusCode::BAD_REQUEST, e).into_response(),
    };
    sse(
        &s,
        "logs",
        RequestBody::SubscribeLogs(sub),
        |body, skipped| match body {
            ResponseBody::LogLines(b) => {
                let lines: Vec<LogLineJson> = b.lines.iter().map(LogLineJson::from).collect();
                let json = serde_json::json!({ "skipped": b.skipped + skipped, "lines": lines });
                Some((
                    Event::default().event("lines").data(json.to_string()),
                    b.lines.len() as u64,
                ))
            }
            _ => None,
        },
        Some(skipped_only),
    )
    .await
}

fn skipped_only(skipped: u64) -> Event {
    let json = serde_json::json!({ "skipped": skipped, "lines": [] });
    Event::default().event("lines").data(json.to_string())
}

/// Sends `asked` (its refusal is the error page of `nav`) and forwards
/// the answers as Server-Sent Events, made by `event` from each answer
/// and the lines skipped since the last event delivered (it returns the
/// event and how many lines it holds). An Error answer becomes an `error`
/// event and ends the stream. With `quiet`, lines skipped are also
/// reported on their own once the stream pauses, so the page's count is
/// complete.
pub async fn sse(
    s: &Session,
    nav: &'static str,
    asked: RequestBody,
    event: impl Fn(ResponseBody, u64) -> Option<(Event, u64)> + Send + 'static,
    quiet: Option<fn(u64) -> Event>,
) -> Response {
    let mut answers = match s.client.request(asked).await {
        Ok(a) => a,
        Err(e) => return client_error(s, nav, e),
    };
    let (tx, rx) = mpsc::channel::<Event>(SSE_QUEUE);
    tokio::spawn(async move {
        let mut skipped = 0u64;
        let why = loop {
            let next = tokio::select! {
                _ = tx.closed() => return,
                n = answers.next() => n,
                _ = tokio::time::sleep(QUIET), if skipped > 0 && quiet.is_some() => {
                    if let Some(make) = quiet {
                        if tx.try_send(make(skipped)).is_ok() {
                            skipped = 0;
                        }
                    }
                    continue;
                }
            };
            let body = match next {
                Some(Ok(ResponseBody::Error(e))) => break e.message,
                Some(Ok(b)) => b,
                Some(Err(e)) => break ClientError::from(e).to_string(),
                None => return,
            };
            let Some((ev, lines)) = event(body, skipped) else {
                continue;
            };
            if lines == 0 {
                // An event without lines (a job's end) is never skipped.
                if tx.send(ev).await.is_err() {
                    return;
                }
                skipped = 0;
            } else if tx.try_send(ev).is_ok() {
                skipped = 0;
            } else {
                // The browser is behind: count, never wait.
                skipped += lines;
            }
        };
        let _ = tx.send(Event::default().event("error").data(why)).await;
    });
    let events = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|e| (Ok::<_, Infallible>(e), rx))
    });
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}
