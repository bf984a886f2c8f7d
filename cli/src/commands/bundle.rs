//! `rampart bundle verify|keygen|sign`: the signatures of bundles (`docs/bundles.md`), and
//! the key and registry options `rampart push` and `rampart serve` share.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use rampart_bundle::transport::OutboundTls;
use rampart_bundle::{PublicKey, SigningKey};

use crate::args::{
    BundleCommand, BundleKeygenArgs, BundleSignArgs, BundleVerifyArgs, OutboundArgs,
};
use crate::exit::{CliError, FAILURE, OK};
use crate::input::{self, Input};
use crate::output::outln;

pub fn run(command: BundleCommand) -> Result<u8, CliError> {
    match command {
        BundleCommand::Verify(args) => verify(&args),
        BundleCommand::Keygen(args) => keygen(&args),
        BundleCommand::Sign(args) => sign(&args),
    }
}

fn verify(args: &BundleVerifyArgs) -> Result<u8, CliError> {
    let keys = read_public_keys(&args.keys)?;
    let sig_path = args
        .signature
        .clone()
        .unwrap_or_else(|| sig_path(&args.bundle));
    let bundle = read_limited(&args.bundle, args.max_bundle_bytes)?;
    let signature = input::read_bytes(&sig_path, Input::Signature)?;
    let verified = match rampart_bundle::verify(&bundle, &signature, &keys, args.max_bundle_bytes) {
        Ok(verified) => verified,
        Err(error) => {
            eprintln!("refused: `{}`: {error}", args.bundle.display());
            return Ok(FAILURE);
        }
    };
    let signed_revision = verified.revision().unwrap_or_default();
    // Only verified bytes are parsed: a bundle must carry the revision that was signed.
    if let Some(revision) = bundle_revision(&bundle) {
        if revision != signed_revision {
            eprintln!(
                "refused: `{}`: the bundle's revision is `{revision}`, the signature's \
                 `{signed_revision}`",
                args.bundle.display()
            );
            return Ok(FAILURE);
        }
    }
    outln!("verified {}", args.bundle.display());
    outln!("digest   {}", verified.digest);
    outln!("size     {}", verified.size);
    outln!("revision {signed_revision}");
    outln!(
        "key_id   {}",
        verified.key_id.as_deref().unwrap_or_default()
    );
    if let Some(manifest) = &verified.manifest {
        outln!("signed_at {}", manifest.signed_at);
    }
    Ok(OK)
}

/// The `revision` of a bundle's JSON, or `None` for another file (entity data).
pub fn bundle_revision(bytes: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Head {
        format: Option<String>,
        revision: Option<String>,
    }
    let head: Head = serde_json::from_slice(bytes).ok()?;
    head.format.as_ref()?;
    head.revision
}

fn keygen(args: &BundleKeygenArgs) -> Result<u8, CliError> {
    let key = SigningKey::generate().map_err(|e| CliError::Input(e.to_string()))?;
    let private = with_suffix(&args.out, "key");
    let public = with_suffix(&args.out, "pub");
    let public_pem = key
        .public_key()
        .to_pem()
        .map_err(|e| CliError::Input(e.to_string()))?;
    let private_pem = key.to_pem().map_err(|e| CliError::Input(e.to_string()))?;
    create_new(&private, private_pem.as_ref().as_bytes(), 0o600)?;
    create_new(&public, public_pem.as_bytes(), 0o644)?;
    outln!("wrote {} and {}", private.display(), public.display());
    outln!("key_id {}", key.public_key().id());
    Ok(OK)
}

fn sign(args: &BundleSignArgs) -> Result<u8, CliError> {
    let key = read_signing_key(&args.key)?;
    let bytes = input::read_bytes(&args.file, Input::Bundle)?;
    let revision = match (&args.revision, bundle_revision(&bytes)) {
        (Some(given), _) => given.clone(),
        (None, Some(revision)) => revision,
        (None, None) => rampart_bundle::digest(&bytes)
            .trim_start_matches("sha256:")
            .chars()
            .take(12)
            .collect(),
    };
    let path = write_signature(&args.file, &bytes, &revision, &key)?;
    eprintln!(
        "wrote {} (revision {revision}, key {})",
        path.display(),
        key.public_key().id()
    );
    Ok(OK)
}

/// Signs `bytes` (the file at `file`) and writes `FILE.sig`.
pub fn write_signature(
    file: &Path,
    bytes: &[u8],
    revision: &str,
    key: &SigningKey,
) -> Result<PathBuf, CliError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let jws = rampart_bundle::sign(bytes, revision, key, now);
    let path = sig_path(file);
    std::fs::write(&path, format!("{jws}\n")).map_err(|source| CliError::Write {
        path: path.display().to_string(),
        source,
    })?;
    Ok(path)
}

/// `FILE.sig`.
pub fn sig_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut name = prefix.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

fn create_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), CliError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let fail = |source| CliError::Write {
        path: path.display().to_string(),
        source,
    };
    let mut file = options.open(path).map_err(fail)?;
    file.write_all(bytes).map_err(fail)
}

/// Reads `path` whole, refusing it past `limit` bytes.
pub fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, CliError> {
    let bytes = input::read_bytes(path, Input::Bundle)?;
    if bytes.len() as u64 > limit {
        return Err(CliError::Input(format!(
            "`{}` is larger than the limit of {limit} bytes",
            path.display()
        )));
    }
    Ok(bytes)
}

pub fn read_signing_key(path: &Path) -> Result<SigningKey, CliError> {
    let text = input::read(path, Input::Key)?;
    SigningKey::from_pem(&text).map_err(|e| CliError::Input(format!("`{}`: {e}", path.display())))
}

pub fn read_public_keys(paths: &[PathBuf]) -> Result<Vec<PublicKey>, CliError> {
    paths
        .iter()
        .map(|path| {
            let text = input::read(path, Input::Key)?;
            PublicKey::from_pem(&text)
                .map_err(|e| CliError::Input(format!("`{}`: {e}", path.display())))
        })
        .collect()
}

/// The registry credentials of `args`: the user name with the password from its file, or
/// from `RAMPART_REGISTRY_PASSWORD`; none without a user name.
pub fn credentials(args: &OutboundArgs) -> Result<Option<(String, String)>, CliError> {
    let user = match &args.registry_username {
        Some(user) => user.clone(),
        None => match std::env::var("RAMPART_REGISTRY_USERNAME") {
            Ok(user) if !user.is_empty() => user,
            _ if args.registry_password_file.is_some() => {
                return Err(CliError::Input(
                    "--registry-password-file needs --registry-username (or \
                     RAMPART_REGISTRY_USERNAME)"
                        .to_owned(),
                ))
            }
            _ => return Ok(None),
        },
    };
    let password = match &args.registry_password_file {
        Some(path) => input::read(path, Input::Key)?
            .trim_end_matches(['\r', '\n'])
            .to_owned(),
        None => std::env::var("RAMPART_REGISTRY_PASSWORD").map_err(|_| {
            CliError::Input(
                "--registry-username needs --registry-password-file or \
                 RAMPART_REGISTRY_PASSWORD"
                    .to_owned(),
            )
        })?,
    };
    Ok(Some((user, password)))
}

pub fn outbound_tls(args: &OutboundArgs) -> OutboundTls {
    OutboundTls {
        extra_ca: args.outbound_ca.clone(),
    }
}
