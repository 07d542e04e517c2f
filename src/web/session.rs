//! Console sessions: login with a token (dialled to configd, whose
//! handshake decides), a server-side store with idle expiry, the cookie,
//! the per-session CSRF token, and logout.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Form, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::listener::Peer;
use super::pages::{html, Chrome};
use super::server::WebApp;
use crate::net::client::{Client, ClientError};
use crate::net::dial::Endpoint;
use crate::net::proto::Role;
use crate::net::tls::Trust;
use crate::sync::lock;

pub const SESSION_COOKIE: &str = "monit_session";
/// Holds the login form's CSRF token before there is a session.
const LOGIN_COOKIE: &str = "monit_login";
/// A session unused this long is over.
pub const IDLE: Duration = Duration::from_secs(12 * 3600);
/// Sessions held at once (each is a connection to configd).
const MAX_SESSIONS: usize = 1000;

/// One logged-in browser: its link to configd, made with its token.
pub struct Session {
    pub client: Client,
    pub csrf: String,
    pub user: String,
    pub role: Role,
    last_used: Mutex<Instant>,
}

impl Session {
    pub fn can_run(&self) -> bool {
        self.role.allows(Role::Operator)
    }

    pub fn chrome(&self, nav: &'static str) -> Chrome {
        Chrome {
            user: self.user.clone(),
            role: self.role.as_str(),
            csrf: self.csrf.clone(),
            can_run: self.can_run(),
            nav,
        }
    }

    /// Refuses a form whose CSRF token is missing or not this session's.
    pub fn check_csrf(&self, sent: Option<&String>) -> Result<(), Response> {
        match sent {
            Some(s) if same(s, &self.csrf) => Ok(()),
            _ => Err(super::pages::error_page(
                None,
                StatusCode::FORBIDDEN,
                "The form's CSRF token is missing or stale: reload the page and try again.",
            )),
        }
    }
}

/// Constant-time comparison of two secrets.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

pub fn random_id() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

#[derive(Default)]
pub struct SessionStore {
    sessions: Mutex<HashMap<String, Arc<Session>>>,
}

impl SessionStore {
    /// The live session `id`, its idle clock restarted.
    pub fn get(&self, id: &str) -> Option<Arc<Session>> {
        let mut sessions = lock(&self.sessions);
        let s = sessions.get(id)?.clone();
        let now = Instant::now();
        let mut last = lock(&s.last_used);
        if now.duration_since(*last) > IDLE || s.client.link().is_closed() {
            drop(last);
            sessions.remove(id);
            return None;
        }
        *last = now;
        drop(last);
        Some(s)
    }

    fn insert(&self, session: Session) -> Option<String> {
        let mut sessions = lock(&self.sessions);
        if sessions.len() >= MAX_SESSIONS {
            Self::sweep_locked(&mut sessions);
            if sessions.len() >= MAX_SESSIONS {
                return None;
            }
        }
        let id = random_id();
        sessions.insert(id.clone(), Arc::new(session));
        Some(id)
    }

    pub fn remove(&self, id: &str) {
        lock(&self.sessions).remove(id);
    }

    fn sweep_locked(sessions: &mut HashMap<String, Arc<Session>>) {
        let now = Instant::now();
        sessions.retain(|_, s| {
            let last = *lock(&s.last_used);
            now.duration_since(last) <= IDLE && !s.client.link().is_closed()
        });
    }

    /// Drops expired sessions (closing their links).
    pub fn sweep(&self) {
        Self::sweep_locked(&mut lock(&self.sessions));
    }
}

/// The value of cookie `name` in the request's headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn set_cookie(name: &str, value: &str, secure: bool, max_age: Option<u64>) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if secure {
        c.push_str("; Secure");
    }
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    c
}

/// A handler's logged-in session; without one, the browser is sent to
/// the login page.
pub struct Authed(pub Arc<Session>, pub String);

impl FromRequestParts<Arc<WebApp>> for Authed {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<WebApp>,
    ) -> Result<Self, Self::Rejection> {
        cookie(&parts.headers, SESSION_COOKIE)
            .and_then(|id| app.sessions.get(id).map(|s| Authed(s, id.to_string())))
            .ok_or_else(|| Redirect::to("/login").into_response())
    }
}

#[derive(askama::Template)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    error: String,
}

fn login_page(status: StatusCode, secure: bool, error: &str) -> Response {
    let csrf = random_id();
    let mut r = html(&LoginPage {
        csrf: csrf.clone(),
        error: error.to_string(),
    });
    *r.status_mut() = status;
    if let Ok(v) = set_cookie(LOGIN_COOKIE, &csrf, secure, None).parse() {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

pub async fn login_form(State(app): State<Arc<WebApp>>) -> Response {
    login_page(StatusCode::OK, app.secure(), "")
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf: Option<String>,
}

pub async fn login(
    State(app): State<Arc<WebApp>>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let secure = app.secure();
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or("");
    if expected.is_empty() || !form.csrf.as_deref().is_some_and(|c| same(c, expected)) {
        return login_page(
            StatusCode::FORBIDDEN,
            secure,
            "The login form expired: try again.",
        );
    }
    let ip = peer.ip();
    if let Some(wait) = app.limiter.check(ip) {
        tracing::warn!(%peer, "web console: login refused, too many failed logins");
        return login_page(
            StatusCode::TOO_MANY_REQUESTS,
            secure,
            &format!(
                "Too many failed logins from your address: wait {}s.",
                wait.as_secs().max(1)
            ),
        );
    }
    let fail = |why: &str| {
        app.limiter.failed(ip);
        tracing::warn!(%peer, reason = why, "web console: failed login");
        login_page(
            StatusCode::UNAUTHORIZED,
            secure,
            "That token was not accepted.",
        )
    };
    let Ok(token) = crate::auth::Token::parse(form.token.trim()) else {
        return fail("not a token (ID.SECRET)");
    };
    let trust = match (app.setup.tls)() {
        Some(t) => Trust::Pinned(t.fingerprint),
        None => Trust::Plaintext,
    };
    let endpoint = Endpoint {
        server: app.setup.configd.clone(),
        token,
        trust,
    };
    let client = match Client::connect(&endpoint, "monit-web").await {
        Ok(c) => c,
        Err(ClientError::Refused { refusal, .. }) => return fail(&refusal.message),
        Err(e) => {
            tracing::error!(%peer, "web console: cannot reach configd for a login: {e}");
            return login_page(
                StatusCode::BAD_GATEWAY,
                secure,
                "configd did not answer: try again shortly.",
            );
        }
    };
    let welcome = client.welcome().clone();
    if welcome.role == Role::Node {
        return fail("a node token");
    }
    let session = Session {
        client,
        csrf: random_id(),
        user: welcome.name.clone(),
        role: welcome.role,
        last_used: Mutex::new(Instant::now()),
    };
    let Some(id) = app.sessions.insert(session) else {
        return login_page(
            StatusCode::SERVICE_UNAVAILABLE,
            secure,
            "Too many sessions open: try again later.",
        );
    };
    tracing::info!(%peer, user = %welcome.name, role = %welcome.role, "web console: login");
    let mut r = Redirect::to("/").into_response();
    for c in [
        set_cookie(SESSION_COOKIE, &id, secure, None),
        set_cookie(LOGIN_COOKIE, "", secure, Some(0)),
    ] {
        if let Ok(v) = c.parse() {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: Option<String>,
}

pub async fn logout(
    State(app): State<Arc<WebApp>>,
    Authed(session, id): Authed,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(r) = session.check_csrf(form.csrf.as_ref()) {
        return r;
    }
    app.sessions.remove(&id);
    tracing::info!(user = %session.user, "web console: logout");
    let mut r = Redirect::to("/login").into_response();
    if let Ok(v) = set_cookie(SESSION_COOKIE, "", app.secure(), Some(0)).parse() {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}
