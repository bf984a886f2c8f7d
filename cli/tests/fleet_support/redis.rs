//! A `redis-server` of one test: loopback TCP on a free port and a unix socket, both in a
//! temp folder, no persistence (`--save ''`, no AOF), killed by PID on drop.

use std::net::TcpListener;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long redis-server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(20);

pub struct Redis {
    child: Option<Child>,
    pub port: u16,
    dir: PathBuf,
    /// Certificate chain, key and CA (PEM files): the port speaks TLS only.
    tls: Option<[PathBuf; 3]>,
}

impl Redis {
    /// Starts redis-server in `dir` (created if missing) and waits until it answers.
    pub fn start(dir: &Path) -> Redis {
        Redis::start_with(dir, None)
    }

    /// Starts redis-server with TLS on its port (`cert`, `key`, `ca` PEM files; clients
    /// need no certificate); the unix socket stays plaintext.
    pub fn start_tls(dir: &Path, cert: &Path, key: &Path, ca: &Path) -> Redis {
        Redis::start_with(
            dir,
            Some([cert.to_path_buf(), key.to_path_buf(), ca.to_path_buf()]),
        )
    }

    fn start_with(dir: &Path, tls: Option<[PathBuf; 3]>) -> Redis {
        std::fs::create_dir_all(dir).expect("create the redis folder");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free loopback port");
        let mut redis = Redis {
            child: None,
            port,
            dir: dir.to_path_buf(),
            tls,
        };
        redis.spawn();
        redis
    }

    fn spawn(&mut self) {
        let log = std::fs::File::create(self.dir.join("redis.log")).expect("create redis.log");
        let mut command = Command::new("redis-server");
        match &self.tls {
            None => command.args(["--port", &self.port.to_string()]),
            Some([cert, key, ca]) => command
                .args(["--port", "0", "--tls-port", &self.port.to_string()])
                .arg("--tls-cert-file")
                .arg(cert)
                .arg("--tls-key-file")
                .arg(key)
                .arg("--tls-ca-cert-file")
                .arg(ca)
                .args(["--tls-auth-clients", "no"]),
        };
        let child = command
            .args(["--bind", "127.0.0.1"])
            .arg("--unixsocket")
            .arg(self.socket())
            .args([
                "--unixsocketperm",
                "700",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--protected-mode", "yes", "--daemonize", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log)
            .spawn()
            .expect("start redis-server (sh scripts/services-setup.sh installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        while self.query::<String>(&["PING"]).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer within {START_TIMEOUT:?}: {}",
                std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.join("redis.sock")
    }

    /// `redis://127.0.0.1:PORT`
    pub fn tcp_url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// `rediss://localhost:PORT` (the name the test certificates carry)
    pub fn tls_url(&self) -> String {
        format!("rediss://localhost:{}", self.port)
    }

    /// `redis+unix:///…/redis.sock`
    pub fn unix_url(&self) -> String {
        format!("redis+unix://{}", self.socket().display())
    }

    /// Kills the server (SIGKILL, by PID) and waits for it: what it held is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and socket, empty.
    pub fn restart(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(self.socket());
        self.spawn();
    }

    /// One command over the unix socket.
    pub fn query<T: redis::FromRedisValue>(&self, args: &[&str]) -> redis::RedisResult<T> {
        // Not answering at all is an error too (a server still starting).
        UnixStream::connect(self.socket())?;
        let client = redis::Client::open(self.unix_url())?;
        let mut connection = client.get_connection_with_timeout(Duration::from_secs(5))?;
        let mut command = redis::cmd(args[0]);
        for arg in &args[1..] {
            command.arg(*arg);
        }
        command.query(&mut connection)
    }

    /// [`Redis::query`] that must succeed.
    pub fn must<T: redis::FromRedisValue>(&self, args: &[&str]) -> T {
        self.query(args)
            .unwrap_or_else(|e| panic!("redis {args:?}: {e}"))
    }

    /// A field of `INFO` (`total_net_input_bytes`, …).
    pub fn info_field(&self, name: &str) -> u64 {
        let info: String = self.must(&["INFO", "all"]);
        info.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no `{name}` in INFO"))
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}
