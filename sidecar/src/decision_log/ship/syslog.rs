//! The syslog sink: RFC 5424 messages over TLS (RFC 5425) or, to loopback only, plain TCP,
//! framed by octet counting (`LEN SP MSG`).
//!
//! Syslog has no acknowledgement. A record counts as delivered once the connection it was
//! written to has stayed open for [`CONFIRM_AFTER`] since; when the receiver closes or
//! drops the connection, every record written within that window is sent again on the next
//! connection (at least once: a receiver may see a few records twice, never miss one that
//! it accepted into its own queue).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value as Json;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpStream;

use super::{ShipError, ShipFormat, SinkUrl};

/// How long a connection must stay open after a record was written before the record
/// counts as delivered.
pub const CONFIRM_AFTER: Duration = Duration::from_millis(500);

/// How long connecting (TCP and the TLS handshake) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one write may take before the connection is given up.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// The facility of the messages: `authpriv` (10), security and authorization messages.
const FACILITY: u8 = 10;

/// The longest HOSTNAME RFC 5424 allows.
const MAX_HOSTNAME: usize = 255;

/// A connection to a syslog receiver.
pub struct Connection {
    writer: Box<dyn AsyncWrite + Send + Unpin>,
    /// Set by the task reading the connection once the receiver closed or dropped it.
    closed: Arc<AtomicBool>,
    reader: tokio::task::JoinHandle<()>,
}

impl Connection {
    /// Connects, over TLS unless the sink is `syslog+tcp://`.
    pub async fn open(
        sink: &SinkUrl,
        tls: Option<&tokio_rustls::TlsConnector>,
    ) -> Result<Connection, ShipError> {
        let connect = async {
            let tcp = TcpStream::connect((sink.host.as_str(), sink.port))
                .await
                .map_err(|e| ShipError::Connect(e.to_string()))?;
            let _ = tcp.set_nodelay(true);
            match tls {
                Some(tls) => {
                    let name =
                        tokio_rustls::rustls::pki_types::ServerName::try_from(sink.host.clone())
                            .map_err(|e| ShipError::Connect(e.to_string()))?;
                    let stream = tls
                        .connect(name, tcp)
                        .await
                        .map_err(|e| ShipError::Connect(format!("TLS: {e}")))?;
                    Ok(Connection::from_stream(stream))
                }
                None => Ok(Connection::from_stream(tcp)),
            }
        };
        tokio::time::timeout(CONNECT_TIMEOUT, connect)
            .await
            .map_err(|_| ShipError::Connect("timed out".to_owned()))?
    }

    fn from_stream<S>(stream: S) -> Connection
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let (mut read, write) = tokio::io::split(stream);
        let closed = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&closed);
        // The receiver never sends anything: whatever arrives is read and thrown away, and
        // the end of the stream (or an error) marks the connection closed.
        let reader = tokio::spawn(async move {
            let mut buf = [0u8; 512];
            loop {
                match read.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
            flag.store(true, Ordering::SeqCst);
        });
        Connection {
            writer: Box::new(write),
            closed,
            reader,
        }
    }

    /// True once the receiver closed or dropped the connection.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Writes framed messages and flushes them.
    pub async fn send(&mut self, frames: &[u8]) -> Result<(), ShipError> {
        if self.is_closed() {
            return Err(ShipError::Send("the receiver closed the connection".into()));
        }
        let write = async {
            self.writer.write_all(frames).await?;
            self.writer.flush().await
        };
        match tokio::time::timeout(WRITE_TIMEOUT, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(ShipError::Send(e.to_string())),
            Err(_) => Err(ShipError::Send("write timed out".into())),
        }
    }

    /// Closes the connection (TLS close_notify), bounded in time.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.writer.shutdown()).await;
        self.reader.abort();
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// `HOSTNAME` of RFC 5424: printable US-ASCII without spaces, at most 255 characters;
/// anything else becomes `_`, and an empty name the NILVALUE `-`.
pub fn hostname_field(instance: &str) -> String {
    let name: String = instance
        .chars()
        .take(MAX_HOSTNAME)
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .collect();
    if name.is_empty() {
        "-".to_owned()
    } else {
        name
    }
}

/// Appends one framed message for the sealed record `line` (`LEN SP SYSLOG-MSG`):
/// `<PRI>1 TIMESTAMP HOSTNAME rampart PROCID MSGID - MSG`, where MSG is the record's line
/// (format `rampart`) or its OCSF event. MSGID is `decision`, or `log` for records about
/// the log itself; the severity is informational for an allow, notice for a deny, warning
/// for a gap or crash record. `record` is the line parsed, when the format needs it.
pub fn frame(
    out: &mut Vec<u8>,
    line: &[u8],
    record: Option<&serde_json::Map<String, Json>>,
    format: ShipFormat,
    hostname: &str,
    procid: u32,
) {
    let parsed;
    let record = match record {
        Some(r) => Some(r),
        None => {
            parsed = serde_json::from_slice::<serde_json::Map<String, Json>>(line).ok();
            parsed.as_ref()
        }
    };
    let field = |k: &str| record.and_then(|r| r.get(k)).and_then(Json::as_str);
    let event = field("event");
    let severity: u8 = match (event, field("decision")) {
        (Some("gap" | "crash"), _) => 4,
        (Some(_), _) => 6,
        (None, Some("allow")) => 6,
        (None, _) => 5,
    };
    let timestamp = field("time")
        .filter(|t| t.bytes().all(|b| b.is_ascii_graphic()) && !t.is_empty())
        .unwrap_or("-");
    let msgid = if event.is_some() { "log" } else { "decision" };
    let msg: Vec<u8> = match (format, record) {
        (ShipFormat::Ocsf, Some(record)) => {
            super::format::ocsf_event(record).to_string().into_bytes()
        }
        _ => line.to_vec(),
    };
    let head = format!(
        "<{}>1 {timestamp} {hostname} rampart {procid} {msgid} - ",
        FACILITY * 8 + severity
    );
    let len = head.len() + msg.len();
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(&msg);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_rfc5424_framed_by_octet_count() {
        let line = br#"{"id":"a","time":"2026-01-02T03:04:05.678Z","decision":"deny","seq":1}"#;
        let mut out = Vec::new();
        frame(&mut out, line, None, ShipFormat::Rampart, "pod a", 42);
        let text = String::from_utf8(out).unwrap_or_default();
        let (len, msg) = text.split_once(' ').unwrap_or_default();
        assert_eq!(len.parse::<usize>().ok(), Some(msg.len()));
        assert_eq!(
            msg,
            format!(
                "<85>1 2026-01-02T03:04:05.678Z pod a rampart 42 decision - {}",
                String::from_utf8_lossy(line)
            )
        );
        assert_eq!(hostname_field("pod a\u{e9}"), "pod_a_");
        assert_eq!(hostname_field(""), "-");
        let mut out = Vec::new();
        frame(
            &mut out,
            br#"{"event":"gap","time":"t","lost":1}"#,
            None,
            ShipFormat::Rampart,
            "h",
            1,
        );
        assert!(String::from_utf8_lossy(&out).contains("<84>1 t h rampart 1 log - "));
        // Not JSON at all: shipped as it is, with NILVALUE time.
        let mut out = Vec::new();
        frame(&mut out, b"x", None, ShipFormat::Ocsf, "h", 1);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "32 <85>1 - h rampart 1 decision - x"
        );
    }
}
