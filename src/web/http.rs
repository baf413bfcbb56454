//! The page, over plain HTTP on loopback: the embedded HTML, script and style,
//! and `/config.json`, which tells a page holding the right token where the
//! WebTransport endpoint is and which certificate hash to pin. Requests whose
//! `Host` is not the address the agent serves are refused (DNS rebinding: a
//! page from another site must not reach the agent through a name of its own).

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};
use tokio_util::sync::CancellationToken;

use super::access::Access;

const INDEX: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/style.css");

/// What `/config.json` tells the page.
pub struct PageConfig {
    /// Port of the WebTransport endpoint (same host as the page).
    pub webtransport_port: u16,
    /// SHA-256 of its current certificate (replaced when it is renewed).
    pub cert_sha256: std::sync::RwLock<[u8; 32]>,
}

/// The answer to one request.
pub fn respond(
    access: &Access,
    config: &PageConfig,
    host: Option<&str>,
    path_and_query: &str,
) -> (StatusCode, &'static str, String) {
    if !host.is_some_and(|h| access.host_allowed(h)) {
        return (
            StatusCode::FORBIDDEN,
            "text/plain",
            "this agent answers only at its own address\n".into(),
        );
    }
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    match path {
        "/" | "/index.html" => (StatusCode::OK, "text/html; charset=utf-8", INDEX.into()),
        "/app.js" => (StatusCode::OK, "text/javascript; charset=utf-8", SCRIPT.into()),
        "/style.css" => (StatusCode::OK, "text/css; charset=utf-8", STYLE.into()),
        // Browsers ask for one; there is none.
        "/favicon.ico" => (StatusCode::NO_CONTENT, "image/x-icon", String::new()),
        "/config.json" if access.token_in_query(query) => {
            let body = serde_json::json!({
                "webtransport_port": config.webtransport_port,
                "cert_sha256": config.cert_sha256.read().expect("hash lock").to_vec(),
            });
            (StatusCode::OK, "application/json", body.to_string())
        }
        "/config.json" => (
            StatusCode::FORBIDDEN,
            "application/json",
            serde_json::json!({"error": "wrong or missing token: open the URL that `pingpong web` printed"}).to_string(),
        ),
        _ => (StatusCode::NOT_FOUND, "text/plain", "not found\n".into()),
    }
}

/// Serves the page on `listener` until `stop` is cancelled.
pub async fn serve(
    listener: tokio::net::TcpListener,
    access: Arc<Access>,
    config: Arc<PageConfig>,
    stop: CancellationToken,
) {
    let admit = {
        let access = access.clone();
        move |peer: std::net::SocketAddr| access.peer_allowed(peer.ip())
    };
    let respond: crate::http_serve::Responder = Arc::new(move |request| {
        let host = request
            .headers()
            .get(hyper::header::HOST)
            .and_then(|h| h.to_str().ok());
        let target = request.uri().path_and_query().map_or("/", |p| p.as_str());
        let (status, content_type, body) = respond(&access, &config, host, target);
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static(content_type),
        );
        headers.insert(
            hyper::header::CACHE_CONTROL,
            hyper::header::HeaderValue::from_static("no-store"),
        );
        headers.insert(
            hyper::header::CONTENT_SECURITY_POLICY,
            hyper::header::HeaderValue::from_static(
                "default-src 'self'; connect-src 'self' https:",
            ),
        );
        response
    });
    crate::http_serve::serve(listener, "page", admit, respond, stop).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (Access, PageConfig) {
        (
            Access::new("127.0.0.1:8080".parse().unwrap(), false),
            PageConfig {
                webtransport_port: 4000,
                cert_sha256: [7; 32].into(),
            },
        )
    }

    #[test]
    fn serves_the_page_and_the_config_only_with_the_token() {
        let (access, config) = setup();
        let host = Some("127.0.0.1:8080");
        assert_eq!(respond(&access, &config, host, "/").0, StatusCode::OK);
        assert_eq!(respond(&access, &config, host, "/app.js").0, StatusCode::OK);
        assert_eq!(
            respond(&access, &config, host, "/nope").0,
            StatusCode::NOT_FOUND
        );
        let good = format!("/config.json?token={}", access.token());
        let (status, _, body) = respond(&access, &config, host, &good);
        assert_eq!(status, StatusCode::OK);
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["webtransport_port"], 4000);
        assert_eq!(json["cert_sha256"].as_array().unwrap().len(), 32);
        let (status, _, body) = respond(&access, &config, host, "/config.json?token=guess");
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(body.contains("wrong or missing token"));
        assert_eq!(
            respond(&access, &config, host, "/config.json").0,
            StatusCode::FORBIDDEN
        );
    }

    #[test]
    fn other_host_names_are_refused() {
        let (access, config) = setup();
        for host in [None, Some("evil.example:8080"), Some("127.0.0.1:9999")] {
            assert_eq!(
                respond(&access, &config, host, "/").0,
                StatusCode::FORBIDDEN,
                "{host:?}"
            );
        }
        assert_eq!(
            respond(&access, &config, Some("localhost:8080"), "/").0,
            StatusCode::OK
        );
    }
}
