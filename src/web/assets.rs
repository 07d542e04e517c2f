//! The console's stylesheet and script, compiled into the binary.
//!
//! Served with an ETag and `no-cache`: a browser asks again each time and
//! gets a 304 while the file is the same, so a page from an upgraded
//! configd never runs the script of the version before.

use axum::extract::Path;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

const CSS: &str = include_str!("assets/app.css");
const JS: &str = include_str!("assets/app.js");

/// FNV-1a of the file: changes whenever the file does.
const fn etag_of(text: &str) -> u64 {
    let bytes = text.as_bytes();
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    let mut i = 0;
    while i < bytes.len() {
        hash = (hash ^ bytes[i] as u64).wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

const CSS_TAG: u64 = etag_of(CSS);
const JS_TAG: u64 = etag_of(JS);

pub async fn serve(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let (body, kind, tag) = match file.as_str() {
        "app.css" => (CSS, "text/css; charset=utf-8", CSS_TAG),
        "app.js" => (JS, "text/javascript; charset=utf-8", JS_TAG),
        _ => return (StatusCode::NOT_FOUND, "no such asset").into_response(),
    };
    let etag = format!("\"{tag:016x}\"");
    let cached = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let head = [
        (header::CONTENT_TYPE, kind.to_string()),
        (header::CACHE_CONTROL, "no-cache".to_string()),
        (header::ETAG, etag),
    ];
    if cached {
        return (StatusCode::NOT_MODIFIED, head).into_response();
    }
    (head, body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(file: &str, if_none_match: Option<&str>) -> Response {
        let mut headers = HeaderMap::new();
        if let Some(tag) = if_none_match {
            headers.insert(header::IF_NONE_MATCH, tag.parse().unwrap());
        }
        serve(Path(file.to_string()), headers).await
    }

    #[tokio::test]
    async fn a_browser_revalidates_and_gets_304_while_the_file_is_the_same() {
        let first = get("app.js", None).await;
        assert_eq!(first.status(), StatusCode::OK);
        assert_eq!(first.headers()[header::CACHE_CONTROL], "no-cache");
        let tag = first.headers()[header::ETAG].to_str().unwrap().to_string();
        let again = get("app.js", Some(&tag)).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        // Another version's tag (or the stylesheet's) gets the file.
        assert_eq!(get("app.js", Some("\"0\"")).await.status(), StatusCode::OK);
        let css_tag = get("app.css", None).await.headers()[header::ETAG].clone();
        assert_ne!(css_tag.to_str().unwrap(), tag);
        assert_eq!(get("nope.js", None).await.status(), StatusCode::NOT_FOUND);
        assert_ne!(etag_of("a"), etag_of("b"));
    }
}
