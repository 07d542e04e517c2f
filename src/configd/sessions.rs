//! The open sessions of each token, so revoking a token closes them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::net::link::LinkHandle;

#[derive(Default)]
pub struct SessionBook {
    by_token: Mutex<HashMap<String, HashMap<u64, LinkHandle>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl SessionBook {
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
