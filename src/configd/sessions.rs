//! Sessions by token: revoking a token closes its open sessions, and its
//! sessions share one budget of open requests.

use crate::sync::lock;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::net::link::LinkHandle;

/// The open sessions of each token, so revoking a token closes them, and
/// each token's budget of open requests across its sessions.
pub struct SessionBook {
    by_token: Mutex<HashMap<String, HashMap<u64, LinkHandle>>>,
    budgets: Mutex<HashMap<String, Arc<tokio::sync::Semaphore>>>,
    per_token: usize,
}

impl SessionBook {
    pub fn new(per_token: usize) -> SessionBook {
        SessionBook {
            by_token: Mutex::default(),
            budgets: Mutex::default(),
            per_token,
        }
    }

    /// The budget of open requests `token_id`'s sessions share.
    pub fn budget(&self, token_id: &str) -> Arc<tokio::sync::Semaphore> {
        lock(&self.budgets)
            .entry(token_id.to_string())
            .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(self.per_token)))
            .clone()
    }

    /// Records session `id` of `token_id`; forgotten when the guard drops.
    pub fn open(self: &Arc<Self>, token_id: &str, id: u64, link: LinkHandle) -> OpenSession {
        lock(&self.by_token)
            .entry(token_id.to_string())
            .or_default()
            .insert(id, link);
        OpenSession {
            book: self.clone(),
            token_id: token_id.to_string(),
            id,
        }
    }

    /// The links of every open session of `token_id`, forgotten here.
    pub fn take(&self, token_id: &str) -> Vec<LinkHandle> {
        lock(&self.by_token)
            .remove(token_id)
            .map(|m| m.into_values().collect())
            .unwrap_or_default()
    }
}

pub struct OpenSession {
    book: Arc<SessionBook>,
    token_id: String,
    id: u64,
}

impl Drop for OpenSession {
    fn drop(&mut self) {
        let mut map = lock(&self.book.by_token);
        if let Some(sessions) = map.get_mut(&self.token_id) {
            sessions.remove(&self.id);
            if sessions.is_empty() {
                map.remove(&self.token_id);
            }
        }
    }
}
