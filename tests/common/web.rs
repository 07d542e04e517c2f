//! Web console helpers for tests and benches: a minimal HTTP/1.1 client
//! over configd's TLS (its certificate pinned), and headless Chromium
//! driven through chromedriver (WebDriver) with fantoccini.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use monit::net::tls::{Fingerprint, Trust};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// From the request written (connection already up) to the first
    /// byte of the answer, and to its last.
    pub first_byte: Duration,
    pub last_byte: Duration,
    /// Bytes on the wire after TLS: head and body.
    pub bytes: usize,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The value a `Set-Cookie` header gives cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers_named("set-cookie").into_iter().find_map(|c| {
            let first = c.split(';').next()?;
            let (k, v) = first.split_once('=')?;
            (k.trim() == name).then(|| v.to_string())
        })
    }

    /// The value of the hidden form field `name` in the body.
    pub fn field(&self, name: &str) -> Option<String> {
        let at = self.body.find(&format!("name=\"{name}\" value=\""))?;
        let rest = &self.body[at + name.len() + 15..];
        Some(rest[..rest.find('"')?].to_string())
    }
}

/// The console at `addr` (https with configd's certificate `fingerprint`,
/// or plain http when None).
#[derive(Clone)]
pub struct Http {
    pub addr: String,
    pub fingerprint: Option<Fingerprint>,
}

impl Http {
    /// Sends one request (`Connection: close`) and reads the whole answer.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        form: Option<&str>,
    ) -> Answer {
        self.send_with(method, path, cookie, form, "").await
    }

    /// `send` with more header lines (each ending in `\r\n`).
    pub async fn send_with(
        &self,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        form: Option<&str>,
        headers: &str,
    ) -> Answer {
        let tcp = tokio::net::TcpStream::connect(&self.addr).await.unwrap();
        let mut stream = match self.fingerprint {
            Some(fp) => {
                monit::net::tls::secure(tcp, &self.addr, &Trust::Pinned(fp), b"http/1.1")
                    .await
                    .unwrap()
                    .stream
            }
            None => monit::net::Stream::Plain(tcp),
        };
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        if let Some(c) = cookie {
            req.push_str(&format!("Cookie: {c}\r\n"));
        }
        req.push_str(headers);
        if let Some(body) = form {
            req.push_str(&format!(
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ));
        } else {
            req.push_str("\r\n");
        }
        let sent = Instant::now();
        stream.write_all(req.as_bytes()).await.unwrap();
        stream.flush().await.unwrap();
        let mut raw = vec![0u8; 64 * 1024];
        let n = tokio::time::timeout(Duration::from_secs(20), stream.read(&mut raw))
            .await
            .unwrap_or(Ok(0))
            .unwrap_or(0);
        let first_byte = sent.elapsed();
        raw.truncate(n);
        if n > 0 {
            let _ =
                tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut raw)).await;
        }
        let mut answer = parse(&raw);
        answer.first_byte = first_byte;
        answer.last_byte = sent.elapsed();
        answer.bytes = raw.len();
        answer
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> Answer {
        self.send("GET", path, cookie, None).await
    }

    pub async fn post(&self, path: &str, cookie: Option<&str>, form: &str) -> Answer {
        self.send("POST", path, cookie, Some(form)).await
    }

    /// Logs in with the token in `token_file`; the session cookie
    /// (`monit_session=...`) and the session's CSRF token.
    pub async fn login(&self, token_file: &Path) -> (String, String) {
        let token = std::fs::read_to_string(token_file).unwrap();
        let form = self.get("/login", None).await;
        let pre = form.cookie("monit_login").unwrap();
        let csrf = form.field("csrf").unwrap();
        let body = format!("token={}&csrf={csrf}", urlencode(token.trim()));
        let a = self
            .post("/login", Some(&format!("monit_login={pre}")), &body)
            .await;
        assert_eq!(a.status, 303, "login: {a:?}");
        let cookie = format!("monit_session={}", a.cookie("monit_session").unwrap());
        let page = self.get("/", Some(&cookie)).await;
        assert_eq!(page.status, 200, "{page:?}");
        let csrf = page.field("csrf").unwrap();
        (cookie, csrf)
    }
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn parse(raw: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_string(),
        first_byte: Duration::ZERO,
        last_byte: Duration::ZERO,
        bytes: 0,
    }
}

/// chromedriver on a free loopback port, killed on drop.
pub struct Driver {
    child: std::process::Child,
    pub url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Fails (never skips) when Debian's `chromium` or `chromium-driver` is
/// missing: scripts/test installs them.
pub fn start_driver() -> Driver {
    for (tool, package) in [
        ("chromium", "chromium"),
        ("chromedriver", "chromium-driver"),
    ] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        assert!(
            found,
            "`{tool}` is missing: install Debian's `{package}` (scripts/test does)"
        );
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "chromedriver did not listen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

/// A headless Chromium at 1280x800 that accepts configd's self-signed
/// certificate.
pub async fn browser(driver: &Driver) -> fantoccini::Client {
    browser_with(driver, &[]).await
}

/// `browser` with more Chromium flags (e.g. `--force-dark-mode`).
pub async fn browser_with(driver: &Driver, extra: &[&str]) -> fantoccini::Client {
    let mut args = vec![
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--ignore-certificate-errors",
        "--window-size=1280,800",
        "--hide-scrollbars",
    ];
    args.extend_from_slice(extra);
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({ "args": args }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let b = fantoccini::ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .unwrap();
    viewport(&b, 1280, 800).await;
    b
}

/// Sizes the window so that the page itself is `width` x `height` (the
/// window includes what the browser draws around the page).
pub async fn viewport(b: &fantoccini::Client, width: u32, height: u32) {
    for _ in 0..3 {
        let inner = b
            .execute("return [window.innerWidth, window.innerHeight];", vec![])
            .await
            .unwrap();
        let (w, h) = (inner[0].as_i64().unwrap(), inner[1].as_i64().unwrap());
        if (w, h) == (i64::from(width), i64::from(height)) {
            return;
        }
        let (ow, oh) = b.get_window_size().await.unwrap();
        let ow = ow as i64 + i64::from(width) - w;
        let oh = oh as i64 + i64::from(height) - h;
        b.set_window_size(ow as u32, oh as u32).await.unwrap();
    }
}

/// Where screenshots go: `target/web-screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("web-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Saves the page as `NAME.png` and checks it is a non-empty PNG.
pub async fn screenshot(b: &fantoccini::Client, name: &str) -> PathBuf {
    let png = b.screenshot().await.unwrap();
    assert!(
        png.len() > 1000 && png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{name}: not a PNG"
    );
    // IHDR: width and height, big-endian, at bytes 16..24.
    let dim = |at: usize| u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]);
    assert_eq!((dim(16), dim(20)), (1280, 800), "{name}: screenshot size");
    let path = screenshot_dir().join(format!("{name}.png"));
    std::fs::write(&path, &png).unwrap();
    path
}
