//! The agent's current link to configd, for the parts of noded that send
//! things up (check results, log lines): `current()` while connected,
//! `connected()` to wait for the next connection.

use std::sync::Arc;

use tokio::sync::watch;

use crate::net::link::LinkHandle;

#[derive(Clone)]
pub struct Uplink {
    tx: Arc<watch::Sender<Option<LinkHandle>>>,
}

impl Default for Uplink {
    fn default() -> Self {
        Uplink::new()
    }
}

impl Uplink {
    pub fn new() -> Uplink {
        Uplink {
            tx: Arc::new(watch::channel(None).0),
        }
    }

    /// The link, if registered with configd right now.
    pub fn current(&self) -> Option<LinkHandle> {
        self.tx.borrow().clone().filter(|l| !l.is_closed())
    }

    /// Waits until registered with configd.
    pub async fn connected(&self) -> LinkHandle {
        let mut rx = self.tx.subscribe();
        loop {
            if let Some(link) = rx.borrow_and_update().clone().filter(|l| !l.is_closed()) {
                return link;
            }
            if rx.changed().await.is_err() {
                // The agent is gone; nothing will connect again.
                std::future::pending::<()>().await;
            }
        }
    }

    pub(crate) fn set(&self, link: Option<LinkHandle>) {
        self.tx.send_replace(link);
    }
}
