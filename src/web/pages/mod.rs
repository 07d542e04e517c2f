//! The console's pages, one file per group, and what they share: the
//! page frame (`Chrome`), rendering, error pages and paging.

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
use crate::net::client::ClientError;
use crate::net::proto::ErrorCode;

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
    let mut out = String::new();
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(&encode(v));
    }
    out
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
