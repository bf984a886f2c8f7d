//! `rampart build --sign`, `rampart bundle verify|keygen|sign`: exit codes and what is
//! printed, with keys made by `rampart bundle keygen` and by OpenSSL.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::str::contains;

// `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout`.
const OPENSSL_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIG9zUAYN5R9+EMFdVya7MgDCVQCeDSWSpncdjSbOzKkp\n-----END PRIVATE KEY-----\n";
const OPENSSL_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAlA4ikPzaH8vJuSGBY8md9qNF0pi4FxHoPolu/UsECTU=\n-----END PUBLIC KEY-----\n";

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!("rampart-sign-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rampart() -> Command {
    Command::cargo_bin("rampart").unwrap()
}

fn payments() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/payments")
}

fn keygen(dir: &Dir, name: &str) -> (PathBuf, PathBuf) {
    rampart()
        .args(["bundle", "keygen", "--out"])
        .arg(dir.path(name))
        .assert()
        .success()
        .stdout(contains("key_id "));
    (
        dir.path(&format!("{name}.key")),
        dir.path(&format!("{name}.pub")),
    )
}

fn build_signed(dir: &Dir, key: &Path) -> PathBuf {
    let out = dir.path("bundle.json");
    rampart()
        .arg("build")
        .arg(payments())
        .arg("-o")
        .arg(&out)
        .arg("--sign")
        .arg(key)
        .assert()
        .success()
        .stderr(contains("signed"));
    out
}

fn verify(bundle: &Path, keys: &[&Path]) -> assert_cmd::assert::Assert {
    let mut command = rampart();
    command.args(["bundle", "verify"]).arg(bundle);
    for key in keys {
        command.arg("--key").arg(key);
    }
    command.assert()
}

#[test]
fn a_signed_build_verifies_and_prints_its_digest_revision_and_key() {
    let dir = Dir::new("ok");
    let (key, public) = keygen(&dir, "release");
    let bundle = build_signed(&dir, &key);
    assert!(dir.path("bundle.json.sig").is_file());
    let revision = serde_json::from_slice::<serde_json::Value>(&std::fs::read(&bundle).unwrap())
        .unwrap()["revision"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = verify(&bundle, &[&public])
        .code(0)
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains(&format!("revision {revision}")), "{out}");
    assert!(out.contains("digest   sha256:"), "{out}");
    assert!(out.contains("key_id   "), "{out}");
    // The private key is readable by its owner only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
    // keygen never overwrites.
    rampart()
        .args(["bundle", "keygen", "--out"])
        .arg(dir.path("release"))
        .assert()
        .code(2);
}

#[test]
fn tampering_a_wrong_key_and_a_missing_file_have_their_exit_codes() {
    let dir = Dir::new("bad");
    let (key, public) = keygen(&dir, "release");
    let (_, other) = keygen(&dir, "other");
    let bundle = build_signed(&dir, &key);
    // Another key: 1. Either of two keys (a rotation): 0.
    verify(&bundle, &[&other])
        .code(1)
        .stderr(contains("not among the verification keys"));
    verify(&bundle, &[&other, &public]).code(0);
    // One byte of the bundle changed: 1.
    let mut bytes = std::fs::read(&bundle).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(dir.path("tampered.json"), &bytes).unwrap();
    std::fs::copy(dir.path("bundle.json.sig"), dir.path("tampered.json.sig")).unwrap();
    verify(&dir.path("tampered.json"), &[&public])
        .code(1)
        .stderr(contains("digest"));
    // The signature named explicitly; a truncated one: 1.
    let sig = std::fs::read_to_string(dir.path("bundle.json.sig")).unwrap();
    std::fs::write(dir.path("cut.sig"), &sig[..sig.len() / 2]).unwrap();
    rampart()
        .args(["bundle", "verify"])
        .arg(&bundle)
        .arg("--key")
        .arg(&public)
        .arg("--signature")
        .arg(dir.path("cut.sig"))
        .assert()
        .code(1);
    // No signature file, no bundle, a key that is not a key: 2.
    std::fs::copy(&bundle, dir.path("unsigned.json")).unwrap();
    verify(&dir.path("unsigned.json"), &[&public]).code(2);
    verify(&dir.path("missing.json"), &[&public]).code(2);
    verify(&bundle, &[&dir.path("bundle.json.sig")])
        .code(2)
        .stderr(contains("not an Ed25519 public key"));
    verify(&bundle, &[&bundle])
        .code(2)
        .stderr(contains("limit for a key file"));
    // A bundle over --max-bundle-bytes: a usage error (2), its signature never read.
    rampart()
        .args(["bundle", "verify"])
        .arg(&bundle)
        .arg("--key")
        .arg(&public)
        .args(["--max-bundle-bytes", "100"])
        .assert()
        .code(2);
}

#[test]
fn openssl_keys_sign_and_a_bad_key_writes_nothing() {
    let dir = Dir::new("openssl");
    std::fs::write(dir.path("openssl.key"), OPENSSL_PRIVATE).unwrap();
    let bundle = build_signed(&dir, &dir.path("openssl.key"));
    std::fs::write(dir.path("openssl.pub"), OPENSSL_PUBLIC).unwrap();
    verify(&bundle, &[&dir.path("openssl.pub")]).code(0);
    let (_, unrelated) = keygen(&dir, "unrelated");
    verify(&bundle, &[&unrelated]).code(1);

    // A public key given to --sign: exit 2 and no bundle written.
    let out = dir.path("never.json");
    rampart()
        .arg("build")
        .arg(payments())
        .arg("-o")
        .arg(&out)
        .arg("--sign")
        .arg(&unrelated)
        .assert()
        .code(2)
        .stderr(contains("PKCS#8"));
    assert!(!out.exists());
    // --sign on a wasm target: a usage error.
    rampart()
        .arg("build")
        .arg(payments())
        .arg("-o")
        .arg(&out)
        .args(["--target", "wasm", "--sign"])
        .arg(dir.path("openssl.key"))
        .assert()
        .code(2);
}

#[test]
fn bundle_sign_signs_entity_files_with_a_revision() {
    let dir = Dir::new("entities");
    let (key, public) = keygen(&dir, "release");
    let entities = dir.path("entities.json");
    std::fs::write(&entities, "[]").unwrap();
    rampart()
        .args(["bundle", "sign"])
        .arg(&entities)
        .arg("--key")
        .arg(&key)
        .args(["--revision", "e1"])
        .assert()
        .success();
    verify(&entities, &[&public])
        .code(0)
        .stdout(contains("revision e1"));
}

#[test]
fn push_refuses_an_unsigned_bundle_a_bad_destination_and_an_unreachable_registry() {
    let dir = Dir::new("push");
    let (key, _) = keygen(&dir, "release");
    let bundle = build_signed(&dir, &key);
    std::fs::copy(&bundle, dir.path("unsigned.json")).unwrap();
    rampart()
        .arg("push")
        .arg(dir.path("unsigned.json"))
        .arg("oci://127.0.0.1:1/p:v1")
        .assert()
        .code(2)
        .stderr(contains("unsigned.json.sig` is missing"));
    for destination in ["127.0.0.1:1/p:v1", "oci://127.0.0.1:1/p", "https://h/p:v1"] {
        rampart()
            .arg("push")
            .arg(&bundle)
            .arg(destination)
            .assert()
            .code(2)
            .stderr(contains("oci://"));
    }
    // Entity data must be a JSON array of entities.
    rampart()
        .arg("push")
        .arg(&bundle)
        .arg("oci://127.0.0.1:1/p:v1")
        .args(["--entities", "--unsigned"])
        .assert()
        .code(2)
        .stderr(contains("not a JSON array of entities"));
    // Nothing listens on port 1: a clear error, bounded by --timeout.
    rampart()
        .arg("push")
        .arg(&bundle)
        .arg("oci://127.0.0.1:1/p:v1")
        .args(["--timeout", "5s"])
        .assert()
        .code(2)
        .stderr(contains("push to oci://127.0.0.1:1/p:v1"));
}

#[test]
fn build_without_an_output_writes_bundle_json_and_its_signature_in_the_current_folder() {
    let dir = Dir::new("default-output");
    let (key, public) = keygen(&dir, "release");
    rampart()
        .current_dir(&dir.0)
        .arg("build")
        .arg(payments())
        .arg("--sign")
        .arg(&key)
        .assert()
        .success()
        .stderr(contains("bundle.json"));
    assert!(dir.path("bundle.json.sig").is_file());
    verify(&dir.path("bundle.json"), &[&public]).success();
}
