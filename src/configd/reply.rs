//! What a request handler returns: its final answer, or an `ApiError`
//! carrying the wire's error code. The router (`api.rs`) sends either and
//! logs an error once; handlers never write errors to the link.

use bytes::Bytes;

use super::inventory::InventoryError;
use super::store::StoreError;
use crate::net::link::{LinkError, Replier};
use crate::net::proto::{
    ChecksPage, ErrorCode, ErrorFrame, EventView, EventsPage, InventoryItem, InventoryPage,
    JobView, JobsPage, ResponseBody,
};

/// A handler's final answer.
// Made once per request and moved straight to the link: boxing the
// common case would cost more than the size.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Reply {
    /// One answer.
    One(ResponseBody),
    /// Pages, in order; the last one says done.
    Pages(Vec<ResponseBody>),
    /// One answer already encoded as a whole frame.
    Frame(Bytes),
    /// Nothing more to send: the handler sent its final answer itself
    /// (something it starts must follow it on the link), or the client
    /// cancelled or left while it streamed.
    Sent,
}

pub type ApiResult = Result<Reply, ApiError>;

/// A request configd refuses or could not carry out.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub code: ErrorCode,
    /// What the client reads.
    pub message: String,
    /// The cause, for configd's log only (internal errors).
    detail: Option<String>,
    /// The connection ended under the handler: nobody to tell.
    gone: bool,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            detail: None,
            gone: false,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::BadRequest, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::NotFound, message)
    }

    /// An internal failure: the client reads `message`, the log also has
    /// the cause.
    pub fn internal(message: impl Into<String>, cause: impl std::fmt::Display) -> ApiError {
        ApiError {
            detail: Some(cause.to_string()),
            ..ApiError::new(ErrorCode::Internal, message)
        }
    }

    pub fn frame(&self) -> ErrorFrame {
        ErrorFrame::new(self.code, self.message.clone())
    }

    /// Logs it, once, at the level its code deserves.
    pub fn log(&self) {
        let code = self.code.as_str();
        match (&self.detail, self.code) {
            _ if self.gone => tracing::debug!("answer not sent: {}", self.message),
            (Some(cause), _) => tracing::error!(code, "{}: {cause}", self.message),
            (None, ErrorCode::Internal) => tracing::error!(code, "{}", self.message),
            (None, ErrorCode::Forbidden | ErrorCode::Auth) => {
                tracing::warn!(code, "refused: {}", self.message)
            }
            (None, _) => tracing::info!(code, "refused: {}", self.message),
        }
    }
}

impl From<ErrorFrame> for ApiError {
    fn from(e: ErrorFrame) -> ApiError {
        ApiError::new(e.code, e.message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        ApiError::internal("configd could not read or write its store", e)
    }
}

impl From<InventoryError> for ApiError {
    fn from(e: InventoryError) -> ApiError {
        match e {
            InventoryError::Rejected(m) => {
                ApiError::bad_request(format!("{m}; nothing was changed"))
            }
            e => ApiError::internal("configd could not read or write the inventory", e),
        }
    }
}

impl From<LinkError> for ApiError {
    fn from(e: LinkError) -> ApiError {
        ApiError {
            gone: true,
            ..ApiError::new(ErrorCode::Internal, e.to_string())
        }
    }
}

/// A page type of a paged answer: answers too long for one frame come as
/// pages of `SIZE` items, the last one marked done (empty if none).
pub trait Paged {
    type Item;
    const SIZE: usize;
    fn page(items: Vec<Self::Item>, done: bool) -> ResponseBody;
}

/// `items` as `P` pages.
pub fn pages<P: Paged>(mut items: Vec<P::Item>) -> Reply {
    let mut out = Vec::with_capacity(items.len() / P::SIZE + 1);
    while items.len() > P::SIZE {
        let rest = items.split_off(P::SIZE);
        out.push(P::page(std::mem::replace(&mut items, rest), false));
    }
    out.push(P::page(items, true));
    Reply::Pages(out)
}

impl Paged for ChecksPage {
    type Item = crate::net::proto::CheckView;
    const SIZE: usize = 500;
    fn page(checks: Vec<Self::Item>, done: bool) -> ResponseBody {
        ResponseBody::Checks(ChecksPage { checks, done })
    }
}

impl Paged for crate::net::proto::ProblemsPage {
    type Item = crate::net::proto::ProblemView;
    const SIZE: usize = 500;
    fn page(problems: Vec<Self::Item>, done: bool) -> ResponseBody {
        ResponseBody::Problems(crate::net::proto::ProblemsPage { problems, done })
    }
}

impl Paged for EventsPage {
    type Item = EventView;
    const SIZE: usize = 500;
    fn page(events: Vec<EventView>, done: bool) -> ResponseBody {
        ResponseBody::Events(EventsPage { events, done })
    }
}

impl Paged for InventoryPage {
    type Item = InventoryItem;
    const SIZE: usize = 1000;
    fn page(items: Vec<InventoryItem>, done: bool) -> ResponseBody {
        ResponseBody::Inventory(InventoryPage { items, done })
    }
}

impl Paged for JobsPage {
    type Item = JobView;
    const SIZE: usize = 1000;
    fn page(jobs: Vec<JobView>, done: bool) -> ResponseBody {
        ResponseBody::Jobs(JobsPage { jobs, done })
    }
}

/// Sends a handler's outcome: its answer, or its error (logged once).
pub async fn deliver(out: &Replier, outcome: ApiResult) {
    let reply = outcome.unwrap_or_else(|e| {
        e.log();
        match e.gone {
            true => Reply::Sent,
            false => Reply::One(ResponseBody::Error(e.frame())),
        }
    });
    let sent = match reply {
        Reply::One(body) => out.send(body).await,
        Reply::Pages(pages) => send_all(out, pages).await,
        Reply::Frame(frame) => out.link().send_frame(frame).await,
        Reply::Sent => Ok(()),
    };
    if let Err(e) = sent {
        tracing::debug!("answer not sent: {e}");
    }
}

async fn send_all(out: &Replier, pages: Vec<ResponseBody>) -> Result<(), LinkError> {
    for page in pages {
        out.send(page).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(reply: Reply) -> Vec<(usize, bool)> {
        let Reply::Pages(pages) = reply else {
            panic!("not pages")
        };
        pages
            .into_iter()
            .map(|p| match p {
                ResponseBody::Inventory(p) => (p.items.len(), p.done),
                other => panic!("not an inventory page: {other:?}"),
            })
            .collect()
    }

    fn items(n: usize) -> Vec<InventoryItem> {
        (0..n)
            .map(|i| InventoryItem {
                kind: "zone".into(),
                key: i.to_string(),
                node: "a".into(),
                ints: vec![],
                attrs: Default::default(),
            })
            .collect()
    }

    #[test]
    fn pages_split_at_the_size_and_only_the_last_is_done() {
        assert_eq!(sizes(pages::<InventoryPage>(vec![])), vec![(0, true)]);
        assert_eq!(
            sizes(pages::<InventoryPage>(items(1000))),
            vec![(1000, true)]
        );
        assert_eq!(
            sizes(pages::<InventoryPage>(items(2001))),
            vec![(1000, false), (1000, false), (1, true)]
        );
    }

    #[test]
    fn inventory_rejections_are_bad_requests_and_name_what_changed() {
        let e = ApiError::from(InventoryError::Rejected("zone 3 is not known".into()));
        assert_eq!(e.code, ErrorCode::BadRequest);
        assert_eq!(e.message, "zone 3 is not known; nothing was changed");
    }
}
