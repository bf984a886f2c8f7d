//! Bundles from a plain HTTPS server: `GET URL` (with `If-None-Match` once an ETag is
//! known) and `GET URL.sig`, each body read under a limit.

use std::time::Duration;

use super::TransportError;

/// The answer of a conditional GET.
#[derive(Debug)]
pub enum Fetched {
    /// 304: the representation with the ETag sent is still current.
    NotModified,
    /// 200: the body and its ETag, if the server sent one.
    Body {
        bytes: Vec<u8>,
        etag: Option<String>,
    },
}

/// The longest ETag kept (and sent back).
const MAX_ETAG_CHARS: usize = 256;

/// `GET url`, conditional on `etag`; a 404 is `Ok(None)` when `missing_ok`. The body is
/// refused past `limit` bytes (by its Content-Length before reading, and while reading).
pub async fn get(
    client: &reqwest::Client,
    url: &str,
    etag: Option<&str>,
    limit: u64,
    timeout: Duration,
    missing_ok: bool,
) -> Result<Option<Fetched>, TransportError> {
    let work =
        async {
            let mut request = client.get(url);
            if let Some(etag) = etag {
                request = request.header(reqwest::header::IF_NONE_MATCH, etag);
            }
            let mut response = request.send().await.map_err(|e| {
                TransportError::Http(format!("GET {url}: {}", super::error_chain(&e)))
            })?;
            let status = response.status();
            if status == reqwest::StatusCode::NOT_MODIFIED && etag.is_some() {
                return Ok(Some(Fetched::NotModified));
            }
            if status == reqwest::StatusCode::NOT_FOUND && missing_ok {
                return Ok(None);
            }
            if !status.is_success() {
                return Err(TransportError::Http(format!("GET {url}: status {status}")));
            }
            if response.content_length().is_some_and(|n| n > limit) {
                return Err(TransportError::TooLarge {
                    what: "response body (Content-Length)",
                    limit,
                });
            }
            let etag = response
                .headers()
                .get(reqwest::header::ETAG)
                .and_then(|v| v.to_str().ok())
                .filter(|v| v.len() <= MAX_ETAG_CHARS)
                .map(str::to_owned);
            let mut bytes = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|e| {
                TransportError::Http(format!("GET {url}: {}", super::error_chain(&e)))
            })? {
                if (bytes.len() + chunk.len()) as u64 > limit {
                    return Err(TransportError::TooLarge {
                        what: "response body",
                        limit,
                    });
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(Some(Fetched::Body { bytes, etag }))
        };
    match tokio::time::timeout(timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(TransportError::Timeout(timeout)),
    }
}
