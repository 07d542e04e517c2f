//! Binding `web_listen`, the routes, the security headers every answer
//! carries, and serving until configd shuts down.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderValue};
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;

use super::listener::{Peer, WebListener};
use super::ratelimit::LoginLimiter;
use super::session::SessionStore;
use super::{assets, pages, session, WebSetup};
use crate::configd::ConfigdError;

/// The console's shared state.
pub struct WebApp {
    pub setup: WebSetup,
    pub sessions: SessionStore,
    pub limiter: LoginLimiter,
}

impl WebApp {
    pub fn new(setup: WebSetup) -> Arc<WebApp> {
        Arc::new(WebApp {
            setup,
            sessions: SessionStore::default(),
            limiter: LoginLimiter::default(),
        })
    }

    /// Whether pages go out over TLS (cookies are then `Secure`).
    pub fn secure(&self) -> bool {
        (self.setup.tls)().is_some()
    }
}

/// Where configd writes the console's bound address.
pub fn web_addr_file(data_dir: &Path) -> PathBuf {
    data_dir.join("web.addr")
}

/// Binds `web_listen` (when set) and writes its address to
/// `DATA_DIR/web.addr`.
pub fn bind(config: &crate::config::ConfigdConfig) -> Result<Option<TcpListener>, ConfigdError> {
    let Some(addr) = config.web_listen else {
        return Ok(None);
    };
    let (listener, local) =
        crate::configd::side_listener::bind(addr, &web_addr_file(&config.data_dir))?;
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    tracing::info!(addr = %local, "web console served at {scheme}://{local}/");
    Ok(Some(listener))
}

/// The address the console dials to reach configd's listener `local`: a
/// wildcard address is reached on loopback.
pub fn dial_addr(local: SocketAddr) -> String {
    let ip = match local.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, local.port()).to_string()
}

/// Every route of the console.
pub fn router(app: Arc<WebApp>) -> Router {
    Router::new()
        .route("/login", get(session::login_form).post(session::login))
        .route("/logout", post(session::logout))
        .route("/", get(pages::status::overview))
        .route("/nodes", get(pages::status::nodes))
        .route("/nodes/{name}", get(pages::status::node))
        .route("/checks", get(pages::status::checks))
        .route("/events", get(pages::status::events))
        .route("/logs", get(pages::logs::page))
        .route("/logs/stream", get(pages::logs::stream))
        .route("/jobs", get(pages::jobs::list))
        .route("/jobs/{id}", get(pages::jobs::show))
        .route("/jobs/{id}/stream", get(pages::jobs::stream))
        .route("/run", get(pages::run::list))
        .route(
            "/run/{command}",
            get(pages::run::form).post(pages::run::check),
        )
        .route("/run/{command}/confirm", post(pages::run::confirm))
        .route("/runbooks", get(pages::runbooks::list))
        .route(
            "/runbooks/{name}",
            get(pages::runbooks::form).post(pages::runbooks::check),
        )
        .route("/runbooks/{name}/run", post(pages::runbooks::run))
        .route("/inventory", get(pages::inventory::search))
        .route("/assets/{file}", get(assets::serve))
        .fallback(pages::not_found)
        .layer(axum::middleware::map_response(security_headers))
        .with_state(app)
}

/// Pages are never framed, run no inline code and are not cached.
async fn security_headers(mut r: axum::response::Response) -> axum::response::Response {
    let h = r.headers_mut();
    let fixed = [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ];
    for (name, value) in fixed {
        h.insert(name, HeaderValue::from_static(value));
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}

/// Serves the console on `tcp` until configd shuts down.
pub async fn serve(tcp: TcpListener, setup: WebSetup) {
    let shutdown = setup.shutdown.clone();
    let listener = match WebListener::start(tcp, setup.tls.clone(), shutdown.clone()) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("web console: cannot serve: {e}");
            return;
        }
    };
    let app = WebApp::new(setup);
    let sweeper = {
        let app = app.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tick.tick() => app.sessions.sweep(),
                }
            }
        })
    };
    let service = router(app).into_make_service_with_connect_info::<Peer>();
    let stop = shutdown.clone();
    if let Err(e) = axum::serve(listener, service)
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
    {
        tracing::error!("web console stopped: {e}");
    }
    sweeper.abort();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_listeners_are_dialled_on_loopback() {
        let at = |s: &str| {
            s.parse::<SocketAddr>()
                .unwrap_or_else(|e| panic!("{s}: {e}"))
        };
        assert_eq!(dial_addr(at("0.0.0.0:7400")), "127.0.0.1:7400");
        assert_eq!(dial_addr(at("[::]:7400")), "[::1]:7400");
        assert_eq!(dial_addr(at("10.0.0.5:7400")), "10.0.0.5:7400");
    }
}
