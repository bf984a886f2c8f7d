//! `rampart serve oci://…` and `rampart serve https://…`: the first fetch (or the cache),
//! and the poller and loader the sidecar runs from then on (`docs/bundles.md`).
//!
//! At start the bundle must be fetched and verified, or read from `--bundle-cache` and
//! verified again; with neither, `rampart serve` exits with an error (exit code 2) rather
//! than serve nothing: an orchestrator restarts it, and the replicas that are up keep
//! serving. Entity data (`--entities oci://…|https://…`) travels the same way, polled on
//! its own.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rampart_bundle::transport::oci::ArtifactKind;
use rampart_bundle::transport::remote::{self, FetchOptions, Fetcher, Known, Polled, Source};
use rampart_engine::Engine;
use rampart_sidecar::remote::{BundleSlot, RemoteBundle, RemoteBytes, RemoteStart};

use crate::args::ServeArgs;
use crate::commands::bundle;
use crate::exit::CliError;

/// Whether verified bytes (with their signed revision) can serve: a bundle must load.
pub type Accept = dyn Fn(&[u8], Option<&str>) -> Result<(), String>;

/// Whether `text` (a positional path or `--entities`) names a registry or URL.
pub fn is_remote(text: &std::ffi::OsStr) -> bool {
    Source::is_remote(&text.to_string_lossy())
}

/// The fetch options of `rampart serve`'s flags; refuses a remote source without a key
/// unless `--insecure-unsigned`.
pub fn options(args: &ServeArgs, source: &Source) -> Result<FetchOptions, CliError> {
    let keys = bundle::read_public_keys(&args.verify_keys)?;
    if keys.is_empty() && !args.insecure_unsigned {
        return Err(CliError::Input(format!(
            "serving {source} needs `--verify-key PUB` (the public key its signature must \
             verify with), or `--insecure-unsigned`"
        )));
    }
    Ok(FetchOptions {
        tls: bundle::outbound_tls(&args.outbound),
        plain_http: args.outbound.plain_http,
        credentials: bundle::credentials(&args.outbound)?,
        timeout: args.fetch_timeout,
        max_bytes: args.max_bundle_bytes,
        keys,
        insecure_unsigned: args.insecure_unsigned,
    })
}

/// Fetches (or reads from the cache) and verifies what `source` serves; `accept` says
/// whether verified bytes can serve (a bundle must load). Returns the poller's
/// configuration, whose slot holds the bytes.
pub fn start(
    args: &ServeArgs,
    source: Source,
    kind: ArtifactKind,
    accept: &Accept,
) -> Result<RemoteBundle, CliError> {
    let options = options(args, &source)?;
    if args.insecure_unsigned && kind == ArtifactKind::Bundle {
        eprintln!(
            "rampart serve: WARNING: --insecure-unsigned: data from {source} without a \
             signature is served; anyone who can write to it decides what is allowed"
        );
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Input(format!("cannot start the async runtime: {e}")))?;
    let first = runtime.block_on(async {
        let fetcher =
            Fetcher::new(source.clone(), kind, options.clone()).map_err(|e| e.to_string())?;
        match fetcher.poll(&Known::default()).await {
            Ok(Polled::Updated(candidate)) => Ok(candidate),
            Ok(Polled::NotModified { .. }) => Err("the source answered `not modified`".to_owned()),
            Err(e) => Err(e.to_string()),
        }
    });
    drop(runtime);
    let now = unix_now();
    let fetched = first.and_then(|candidate| {
        accept(&candidate.bytes, candidate.verified.revision())
            .map_err(|e| format!("it does not load: {e}"))?;
        Ok(candidate)
    });
    let (start, bytes) = match fetched {
        Ok(candidate) => {
            if let Some(dir) = &args.bundle_cache {
                if let Err(e) =
                    remote::write_cache(dir, kind, &candidate.bytes, candidate.signature.as_deref())
                {
                    eprintln!("rampart serve: cannot write the cache: {e}");
                }
            }
            let revision = candidate.verified.revision().map(str::to_owned);
            let start = RemoteStart {
                known: Known {
                    version: candidate.version.clone(),
                    digest: Some(candidate.verified.digest.clone()),
                },
                revision: revision.clone(),
                key_id: candidate.verified.key_id.clone(),
                fetched_at: now,
                from_cache: false,
                error: None,
            };
            (
                start,
                RemoteBytes {
                    bytes: candidate.bytes,
                    signed_revision: revision,
                },
            )
        }
        Err(error) => {
            let Some(dir) = &args.bundle_cache else {
                return Err(CliError::Input(format!(
                    "cannot serve {source}: {error} (and no --bundle-cache to fall back on)"
                )));
            };
            let (start, bytes) =
                from_cache(dir, kind, &options, now, &error, accept).map_err(|e| {
                    CliError::Input(format!(
                        "cannot serve {source}: {error}; the cache `{}` cannot serve either: {e}",
                        dir.display()
                    ))
                })?;
            eprintln!(
                "rampart serve: cannot fetch {source} ({error}); serving the cached revision \
                 {} from `{}`",
                start.revision.as_deref().unwrap_or("(unsigned)"),
                dir.display()
            );
            (start, bytes)
        }
    };
    // A client of its own for the sidecar's runtime (the first one's connections belonged
    // to the runtime just dropped).
    let fetcher =
        Fetcher::new(source, kind, options).map_err(|e| CliError::Input(e.to_string()))?;
    Ok(RemoteBundle {
        kind,
        fetcher: Arc::new(fetcher),
        interval: args.poll_interval,
        cache: args.bundle_cache.clone(),
        slot: Arc::new(Mutex::new(Arc::new(bytes))),
        start,
    })
}

fn from_cache(
    dir: &Path,
    kind: ArtifactKind,
    options: &FetchOptions,
    now: u64,
    error: &str,
    accept: &Accept,
) -> Result<(RemoteStart, RemoteBytes), String> {
    let (bytes, signature) = remote::read_cache(dir, kind, options.max_bytes)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "it holds no copy".to_owned())?;
    let verified =
        remote::check(options, &bytes, signature.as_deref()).map_err(|e| e.to_string())?;
    accept(&bytes, verified.revision())?;
    let revision = verified.revision().map(str::to_owned);
    let start = RemoteStart {
        known: Known {
            version: None,
            digest: Some(verified.digest.clone()),
        },
        revision: revision.clone(),
        key_id: verified.key_id.clone(),
        fetched_at: now,
        from_cache: true,
        error: Some(error.to_owned()),
    };
    Ok((
        start,
        RemoteBytes {
            bytes,
            signed_revision: revision,
        },
    ))
}

/// The engine of the bytes in `slot`.
pub fn engine_of(slot: &BundleSlot) -> Result<Engine, String> {
    let current = current(slot);
    engine_from(&current.bytes, current.signed_revision.as_deref())
}

/// The bytes in `slot` now.
pub fn current(slot: &BundleSlot) -> Arc<RemoteBytes> {
    match slot.lock() {
        Ok(current) => Arc::clone(&current),
        Err(poisoned) => Arc::clone(&poisoned.into_inner()),
    }
}

/// The engine of verified bundle bytes, whose revision must be the signed one.
pub fn engine_from(bytes: &[u8], signed_revision: Option<&str>) -> Result<Engine, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "the bundle is not UTF-8".to_owned())?;
    let engine = Engine::from_bundle_json(text).map_err(|e| e.to_string())?;
    if let Some(signed) = signed_revision {
        if engine.bundle().revision != signed {
            return Err(format!(
                "the bundle's revision is `{}`, its signature's `{signed}`",
                engine.bundle().revision
            ));
        }
    }
    Ok(engine)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
