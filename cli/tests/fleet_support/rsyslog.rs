//! A real `rsyslogd` receiving RFC 5425 (syslog over TLS, OpenSSL stream driver) on a
//! loopback port and writing each message's MSG, one per line, to a file per HOSTNAME.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::e2e_support::{wait_until, Process};

/// The TLS material of a test: a CA and a `localhost` server certificate it issued.
pub struct Certs {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Certs {
    pub fn new(dir: &Path) -> Certs {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate().expect("a CA key");
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_pem = ca.self_signed(&ca_key).expect("a CA certificate").pem();
        let issuer = Issuer::new(ca, &ca_key);
        let key = KeyPair::generate().expect("a server key");
        let server = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
            .expect("server parameters");
        let cert_pem = server
            .signed_by(&key, &issuer)
            .expect("a server certificate")
            .pem();
        let certs = Certs {
            ca: dir.join("ca.pem"),
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
        };
        std::fs::write(&certs.ca, ca_pem).expect("write the CA");
        std::fs::write(&certs.cert, cert_pem).expect("write the certificate");
        std::fs::write(&certs.key, key.serialize_pem()).expect("write the key");
        certs
    }
}

/// A running rsyslogd.
pub struct Rsyslog {
    pub port: u16,
    /// Where it writes `<HOSTNAME>.jsonl`.
    pub out: PathBuf,
    conf: PathBuf,
    pid_file: PathBuf,
    log: PathBuf,
    process: Option<Process>,
}

impl Rsyslog {
    /// Writes the configuration under `dir` and starts rsyslogd on `port`.
    pub fn start(dir: &Path, port: u16, certs: &Certs) -> Rsyslog {
        let work = dir.join("rsyslog-work");
        let out = dir.join("received");
        std::fs::create_dir_all(&work).expect("rsyslog work dir");
        std::fs::create_dir_all(&out).expect("rsyslog output dir");
        let conf = dir.join("rsyslog.conf");
        let text = format!(
            r#"global(workDirectory="{work}" maxMessageSize="256k"
       defaultNetstreamDriverCAFile="{ca}" defaultNetstreamDriverCertFile="{cert}"
       defaultNetstreamDriverKeyFile="{key}")
module(load="imtcp" StreamDriver.Name="ossl" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")
template(name="raw" type="string" string="%msg%\n")
template(name="perhost" type="string" string="{out}/%hostname%.jsonl")
ruleset(name="rampart") {{
  action(type="omfile" dynaFile="perhost" template="raw" asyncWriting="off" flushOnTXEnd="on")
}}
input(type="imtcp" port="{port}" address="127.0.0.1" ruleset="rampart")
"#,
            work = work.display(),
            ca = certs.ca.display(),
            cert = certs.cert.display(),
            key = certs.key.display(),
            out = out.display(),
        );
        std::fs::write(&conf, text).expect("write rsyslog.conf");
        let mut rsyslog = Rsyslog {
            port,
            out,
            conf,
            pid_file: dir.join("rsyslogd.pid"),
            log: dir.join("rsyslogd.log"),
            process: None,
        };
        rsyslog.restart();
        rsyslog
    }

    /// Starts it again (after [`Rsyslog::stop`]) on the same port and files.
    pub fn restart(&mut self) {
        let log = std::fs::File::create(&self.log).expect("rsyslogd log");
        let process = Process::spawn_terminated(
            "rsyslogd",
            Command::new("rsyslogd")
                .arg("-n")
                .arg("-f")
                .arg(&self.conf)
                .arg("-i")
                .arg(&self.pid_file)
                .stdout(Stdio::null())
                .stderr(log),
        );
        self.process = Some(process);
        let port = self.port;
        let log = self.log.clone();
        wait_until("rsyslogd listening", Duration::from_secs(15), || {
            if let Some(process) = self.process.as_mut() {
                process.assert_running(&log);
            }
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
    }

    /// Stops it (SIGTERM: it writes out what it accepted) and waits for it to exit.
    pub fn stop(&mut self) {
        drop(self.process.take());
        let _ = std::fs::remove_file(&self.pid_file);
    }

    /// The MSG lines received from HOSTNAME `host`.
    pub fn received(&self, host: &str) -> Vec<String> {
        std::fs::read_to_string(self.out.join(format!("{host}.jsonl")))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}
