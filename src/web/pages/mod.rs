//! The console's pages, one file per group, and what they share: the
//! page frame (`Chrome`), rendering, error pages, paging, and the
//! `filters` with which the templates show the model's JSON forms.

pub mod inventory;
pub mod jobs;
pub mod logs;
pub mod run;
pub mod runbooks;
pub mod status;

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::session::Session;
use crate::net::client::{unexpected, ClientError};
use crate::net::proto::{ErrorCode, ErrorFrame, RequestBody, ResponseBody};

/// Rows per page in long lists.
pub const PAGE_ROWS: usize = 100;

/// What every page's frame shows: who is logged in, the logout form's
/// CSRF token, and which navigation entry is current.
pub struct Chrome {
    pub user: String,
    pub role: &'static str,
    pub csrf: String,
    pub can_run: bool,
    pub nav: &'static str,
}

pub fn html<T: Template>(page: &T) -> Response {
    match page.render() {
        Ok(body) => Html(body).into_response(),
        Err(e) => {
            tracing::error!("web console: a page failed to render: {e}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page failed to render",
            )
                .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Option<Chrome>,
    status: String,
    message: String,
}

pub fn error_page(chrome: Option<Chrome>, status: StatusCode, message: &str) -> Response {
    let mut r = html(&ErrorPage {
        chrome,
        status: status.to_string(),
        message: message.to_string(),
    });
    *r.status_mut() = status;
    r
}

pub async fn not_found() -> Response {
    error_page(None, StatusCode::NOT_FOUND, "There is no such page.")
}

/// The page for a request configd refused or could not answer. A lost
/// link ends the session: the browser logs in again.
pub fn client_error(session: &Session, nav: &'static str, e: ClientError) -> Response {
    let (status, message) = match &e {
        ClientError::Remote(f) => (
            match f.code {
                ErrorCode::Forbidden | ErrorCode::Auth => StatusCode::FORBIDDEN,
                ErrorCode::NotFound => StatusCode::NOT_FOUND,
                ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
                ErrorCode::Busy => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::BAD_GATEWAY,
            },
            f.message.clone(),
        ),
        ClientError::Lost(_) => return Redirect::to("/login").into_response(),
        other => (StatusCode::BAD_GATEWAY, other.to_string()),
    };
    error_page(Some(session.chrome(nav)), status, &message)
}

/// Sends a run (a command's or a runbook's) and waits for its start: the
/// job's id, or configd's refusal for the form to show; any other answer
/// is the error page. Leaving the stream then detaches from the job: its
/// page follows it.
pub async fn start_job(
    s: &Session,
    nav: &'static str,
    asked: RequestBody,
) -> Result<Result<u64, ErrorFrame>, Response> {
    let mut answers = s
        .client
        .request(asked)
        .await
        .map_err(|e| client_error(s, nav, e))?;
    let e = match answers.next().await {
        Some(Ok(ResponseBody::JobStarted(j))) => return Ok(Ok(j.id)),
        Some(Ok(ResponseBody::Error(e))) => return Ok(Err(e)),
        Some(Ok(other)) => unexpected(&other),
        Some(Err(e)) => e.into(),
        None => ClientError::Lost("no answer".into()),
    };
    Err(client_error(s, nav, e))
}

/// One page of a long list, with the links around it.
pub struct Paging {
    pub page: usize,
    pub pages: usize,
    pub total: usize,
    pub first_row: usize,
    pub last_row: usize,
    /// The query string without `page`, for the links.
    pub query: String,
}

impl Paging {
    /// Page `page` (1-based, clamped) of `total` rows.
    pub fn new(total: usize, page: Option<usize>, query: String) -> Paging {
        let pages = total.div_ceil(PAGE_ROWS).max(1);
        let page = page.unwrap_or(1).clamp(1, pages);
        let first = (page - 1) * PAGE_ROWS;
        Paging {
            page,
            pages,
            total,
            first_row: first + 1,
            last_row: (first + PAGE_ROWS).min(total),
            query,
        }
    }

    pub fn range(&self) -> std::ops::Range<usize> {
        (self.first_row - 1).min(self.total)..self.last_row
    }

    pub fn prev(&self) -> usize {
        self.page.saturating_sub(1)
    }

    pub fn next(&self) -> usize {
        self.page + 1
    }
}

/// A query string of the non-empty `pairs`, percent-encoded.
pub fn query_string(pairs: &[(&str, &str)]) -> String {
    let set: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    set.join("&")
}

/// Percent-encodes `s` for a URL query or path segment.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Filter expressions typed in one box, separated by spaces.
pub fn split_filters(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_string).collect()
}

/// A list configd answered, or the operator's typo in a filter (said on
/// the page, with no rows); any other failure is the error page.
pub fn listed<T>(
    s: &Session,
    nav: &'static str,
    answer: Result<Vec<T>, ClientError>,
) -> Result<(Vec<T>, String), Response> {
    match answer {
        Ok(rows) => Ok((rows, String::new())),
        Err(ClientError::Remote(e)) => Ok((Vec::new(), e.message)),
        Err(e) => Err(client_error(s, nav, e)),
    }
}

/// `K=V` pairs separated by spaces (labels, attributes).
pub fn pairs(m: &std::collections::BTreeMap<String, String>) -> String {
    let all: Vec<String> = m.iter().map(|(k, v)| format!("{k}={v}")).collect();
    all.join(" ")
}

/// What the templates apply to the model's JSON forms: `{{ t|when }}`.
pub mod filters {
    use crate::model::check::ProblemJson;
    use crate::net::proto::{CheckCounts, StepView};
    use crate::timefmt::{now_ms, parse_rfc3339};
    use askama::{Result, Values};

    /// An RFC 3339 time of a JSON form: always there, or null (never).
    pub trait Time {
        fn ms(&self) -> Option<i64>;
    }

    impl Time for String {
        fn ms(&self) -> Option<i64> {
            parse_rfc3339(self)
        }
    }

    impl Time for Option<String> {
        fn ms(&self) -> Option<i64> {
            self.as_deref().and_then(parse_rfc3339)
        }
    }

    /// RFC 3339 and how long ago, or `never`.
    pub fn when(t: &impl Time, _: &dyn Values) -> Result<String> {
        Ok(super::when(t.ms().unwrap_or(0), now_ms()))
    }

    /// How long ago, or `never`.
    pub fn ago(t: &impl Time, _: &dyn Values) -> Result<String> {
        Ok(t.ms()
            .map_or("never".into(), |ms| crate::timefmt::ago(ms, now_ms())))
    }

    pub fn pairs(m: &std::collections::BTreeMap<String, String>, _: &dyn Values) -> Result<String> {
        Ok(super::pairs(m))
    }

    /// A duration in seconds (`1.2s`), or nothing.
    pub fn secs(ms: &Option<u64>, _: &dyn Values) -> Result<String> {
        Ok(ms.map_or(String::new(), |d| format!("{:.1}s", d as f64 / 1000.0)))
    }

    /// A node's checks by state, in one line.
    pub fn counts(c: &CheckCounts, _: &dyn Values) -> Result<String> {
        Ok(format!(
            "{} ok, {} warn, {} crit, {} unkn, {} pend",
            c.ok, c.warning, c.critical, c.unknown, c.pending
        ))
    }

    /// What a problem's notes column says.
    pub fn flags(p: &ProblemJson, _: &dyn Values) -> Result<String> {
        let on = [
            (p.acknowledged, "acknowledged"),
            (p.in_downtime, "in downtime"),
            (p.flapping, "flapping"),
            (p.stale, "stale"),
        ];
        let names: Vec<&str> = on.iter().filter(|f| f.0).map(|f| f.1).collect();
        Ok(names.join(", "))
    }

    /// What a runbook step does, in one line.
    pub fn doing(st: &StepView, _: &dyn Values) -> Result<String> {
        Ok(crate::ops::views::doing(st))
    }

    /// The inventory changes of a step.
    pub fn changes(st: &StepView, _: &dyn Values) -> Result<String> {
        Ok(crate::ops::views::changes_text(st))
    }
}

/// A time for tables: RFC 3339 and how long ago.
pub fn when(ms: i64, now: i64) -> String {
    if ms <= 0 {
        return "never".into();
    }
    format!(
        "{} ({})",
        crate::timefmt::rfc3339(ms),
        crate::timefmt::ago(ms, now)
    )
}

#[cfg(test)]
mod tests {
    use super::filters::{ago, secs, when};
    use askama::NO_VALUES;

    #[test]
    fn filters_show_the_json_forms_times() {
        let never: Option<String> = None;
        assert_eq!(ago(&never, NO_VALUES).unwrap(), "never");
        assert_eq!(when(&never, NO_VALUES).unwrap(), "never");
        let then = crate::timefmt::rfc3339(crate::timefmt::now_ms() - 120_000);
        assert_eq!(ago(&then, NO_VALUES).unwrap(), "2m ago");
        assert_eq!(
            when(&Some(then.clone()), NO_VALUES).unwrap(),
            format!("{then} (2m ago)")
        );
        assert_eq!(secs(&Some(1250), NO_VALUES).unwrap(), "1.2s");
        assert_eq!(secs(&None, NO_VALUES).unwrap(), "");
    }
}
