//! The HTTP sink: batches POSTed as OPA's decision-log upload API takes them (a gzip JSON
//! array, `Content-Type: application/json`, `Content-Encoding: gzip`).

use std::io::Write as _;
use std::time::Duration;

use serde_json::{Map, Value as Json};

use super::reader::Line;
use super::ShipFormat;

/// How long one upload may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What became of an upload.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx: the records are delivered.
    Accepted,
    /// 4xx other than 408 and 429: the collector will never take this batch.
    Rejected(u16),
    /// A connection error, a timeout, 408, 429 or 5xx: try again later.
    Retry(String),
}

/// The batch as a gzip JSON array of events (OPA events, or OCSF with `ocsf`).
pub fn encode_batch(lines: &[Line], format: ShipFormat) -> Vec<u8> {
    let mut json = Vec::with_capacity(lines.iter().map(|l| l.bytes.len() + 64).sum());
    json.push(b'[');
    let mut first = true;
    for line in lines {
        let event = match serde_json::from_slice::<Map<String, Json>>(&line.bytes) {
            Ok(record) => match format {
                ShipFormat::Rampart => super::format::opa_event(&record),
                ShipFormat::Ocsf => super::format::ocsf_event(&record),
            },
            // Ends like a sealed record but is not JSON (the writer never writes one):
            // sent as it is rather than lost.
            Err(_) => serde_json::json!({"rampart_raw": String::from_utf8_lossy(&line.bytes)}),
        };
        if !first {
            json.push(b',');
        }
        first = false;
        let _ = serde_json::to_writer(&mut json, &event);
    }
    json.push(b']');
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    // Writing into memory cannot fail.
    let _ = gzip.write_all(&json);
    gzip.finish().unwrap_or_default()
}

/// Sends one batch.
pub async fn post(client: &reqwest::Client, url: &str, body: Vec<u8>) -> Outcome {
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(body)
        .send()
        .await;
    match response {
        Ok(response) => classify(response.status().as_u16()),
        Err(error) => Outcome::Retry(error.to_string()),
    }
}

/// The outcome of an HTTP status.
pub fn classify(status: u16) -> Outcome {
    match status {
        200..=299 => Outcome::Accepted,
        408 | 429 => Outcome::Retry(format!("HTTP {status}")),
        400..=499 => Outcome::Rejected(status),
        _ => Outcome::Retry(format!("HTTP {status}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    #[test]
    fn statuses_are_classified_for_retry_or_drop() {
        assert_eq!(classify(200), Outcome::Accepted);
        assert_eq!(classify(204), Outcome::Accepted);
        assert!(matches!(classify(408), Outcome::Retry(_)));
        assert!(matches!(classify(429), Outcome::Retry(_)));
        assert!(matches!(classify(500), Outcome::Retry(_)));
        assert!(matches!(classify(503), Outcome::Retry(_)));
        assert!(matches!(classify(302), Outcome::Retry(_)));
        assert_eq!(classify(400), Outcome::Rejected(400));
        assert_eq!(classify(413), Outcome::Rejected(413));
    }

    #[test]
    fn a_batch_is_a_gzip_json_array_of_events() {
        let line = |id: &str, seq: u64| {
            Line {
            bytes: format!(
                r#"{{"id":"{id}","time":"2026-01-02T03:04:05.678Z","door":"http","revision":"r","request":{{}},"decision":"allow","seq":{seq}}}"#
            )
            .into_bytes(),
            seq,
            hash: String::new(),
            end: 0,
        }
        };
        let body = encode_batch(&[line("a", 1), line("b", 2)], ShipFormat::Rampart);
        let mut json = String::new();
        flate2::read::GzDecoder::new(body.as_slice())
            .read_to_string(&mut json)
            .unwrap_or_else(|e| panic!("{e}"));
        let events: Vec<Json> = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(events.len(), 2);
        assert_eq!(events[1]["decision_id"], "b");
        assert_eq!(events[1]["rampart"]["seq"], 2);
    }
}
