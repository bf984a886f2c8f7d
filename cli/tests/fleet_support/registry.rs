//! Debian's `docker-registry` (the CNCF distribution registry) on a loopback port, storing
//! in a folder of its own; killed on drop.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::e2e_support::{free_port, wait_until, Process};
use crate::serve_support::http_request;

pub struct Registry {
    process: Option<Process>,
    pub port: u16,
    config: PathBuf,
    log: PathBuf,
}

impl Registry {
    /// Starts a registry storing under `dir/registry` and waits until `/v2/` answers.
    pub fn start(dir: &Path) -> Registry {
        let port = free_port();
        let root = dir.join("registry");
        std::fs::create_dir_all(&root).expect("registry folder");
        let config = dir.join("registry.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    \
                 rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
                root.display()
            ),
        )
        .expect("write registry.yml");
        let mut registry = Registry {
            process: None,
            port,
            config,
            log: dir.join("registry.log"),
        };
        registry.resume();
        registry
    }

    /// Starts it again on the same port and storage (after [`Registry::stop`]).
    pub fn resume(&mut self) {
        let log = std::fs::File::create(&self.log).expect("registry log");
        let process = Process::spawn(
            "docker-registry",
            Command::new("docker-registry")
                .arg("serve")
                .arg(&self.config)
                .stdout(log.try_clone().expect("log handle"))
                .stderr(log),
        );
        self.process = Some(process);
        let addr = format!("127.0.0.1:{}", self.port).parse().expect("address");
        wait_until("the registry answers /v2/", Duration::from_secs(20), || {
            if let Some(p) = self.process.as_mut() {
                p.assert_running(&self.log);
            }
            std::net::TcpStream::connect(addr).is_ok()
                && http_request(addr, "GET", "/v2/", &[], b"").status == 200
        });
    }

    /// Kills it (the storage stays).
    pub fn stop(&mut self) {
        self.process = None;
    }

    /// `oci://127.0.0.1:PORT/REPO:TAG`.
    pub fn url(&self, repo_tag: &str) -> String {
        format!("oci://127.0.0.1:{}/{repo_tag}", self.port)
    }

    /// The manifest `repo:tag` names, as the registry serves it (its own API).
    pub fn manifest(&self, repo: &str, tag: &str) -> serde_json::Value {
        let addr = format!("127.0.0.1:{}", self.port).parse().expect("address");
        let reply = http_request(
            addr,
            "GET",
            &format!("/v2/{repo}/manifests/{tag}"),
            &[("Accept", "application/vnd.oci.image.manifest.v1+json")],
            b"",
        );
        assert_eq!(reply.status, 200, "{}", reply.text());
        reply.json()
    }
}
