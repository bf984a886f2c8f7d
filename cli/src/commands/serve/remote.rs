//! `rampart serve oci://…` and `rampart serve https://…`: the first fetch (or the cache),
//! and the poller and loader the sidecar runs from then on (`docs/bundles.md`).
//!
//! At start the bundle must be fetched and verified, or read from `--bundle-cache` and
//! verified again; with neither, `rampart serve` exits with an error (exit code 2) rather
//! than serve nothing: an orchestrator restarts it, and the replicas that are up keep
//! serving.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rampart_bundle::transport::oci::ArtifactKind;
use rampart_bundle::transport::remote::{self, FetchOptions, Fetcher, Known, Polled, Source};
use rampart_engine::Engine;
use rampart_sidecar::remote::{BundleSlot, RemoteBundle, RemoteBytes, RemoteStart};
use rampart_sidecar::{Policy, PolicyLoader};

use crate::args::ServeArgs;
use crate::commands::bundle;
use crate::exit::CliError;

/// What the first fetch gave: the engine to start with and the poller's configuration.
pub struct Started {
    pub engine: Engine,
    pub remote: RemoteBundle,
}

/// Fetches (or reads from the cache) and verifies the bundle at `source`.
pub fn start(args: &ServeArgs, source: Source) -> Result<Started, CliError> {
    if args
        .entities
        .as_ref()
        .is_some_and(|e| Source::is_remote(&e.to_string_lossy()))
    {
        return Err(CliError::Input(
            "`--entities` from a registry or URL is not supported yet; give a file".to_owned(),
        ));
    }
    let keys = bundle::read_public_keys(&args.verify_keys)?;
    if keys.is_empty() && !args.insecure_unsigned {
        return Err(CliError::Input(format!(
            "serving {source} needs `--verify-key PUB` (the public key its signature must \
             verify with), or `--insecure-unsigned`"
        )));
    }
    if args.insecure_unsigned {
        eprintln!(
            "rampart serve: WARNING: --insecure-unsigned: bundles from {source} without a \
             signature are served; anyone who can write to it decides what is allowed"
        );
    }
    let options = FetchOptions {
        tls: bundle::outbound_tls(&args.outbound),
        plain_http: args.outbound.plain_http,
        credentials: bundle::credentials(&args.outbound)?,
        timeout: args.fetch_timeout,
        max_bytes: args.max_bundle_bytes,
        keys,
        insecure_unsigned: args.insecure_unsigned,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Input(format!("cannot start the async runtime: {e}")))?;
    let first = runtime.block_on(async {
        let fetcher = Fetcher::new(source.clone(), ArtifactKind::Bundle, options.clone())
            .map_err(|e| e.to_string())?;
        match fetcher.poll(&Known::default()).await {
            Ok(Polled::Updated(candidate)) => Ok(candidate),
            Ok(Polled::NotModified { .. }) => Err("the source answered `not modified`".to_owned()),
            Err(e) => Err(e.to_string()),
        }
    });
    drop(runtime);
    let now = rampart_sidecar_now();
    let fetched = first.and_then(|candidate| {
        let engine = engine_from(&candidate.bytes, candidate.verified.revision())
            .map_err(|e| format!("the bundle does not load: {e}"))?;
        Ok((engine, candidate))
    });
    let (engine, start, bytes) = match fetched {
        Ok((engine, candidate)) => {
            if let Some(dir) = &args.bundle_cache {
                if let Err(e) = remote::write_cache(
                    dir,
                    ArtifactKind::Bundle,
                    &candidate.bytes,
                    candidate.signature.as_deref(),
                ) {
                    eprintln!("rampart serve: cannot write the bundle cache: {e}");
                }
            }
            let start = RemoteStart {
                known: Known {
                    version: candidate.version.clone(),
                    digest: Some(candidate.verified.digest.clone()),
                },
                key_id: candidate.verified.key_id.clone(),
                fetched_at: now,
                from_cache: false,
                error: None,
            };
            let revision = candidate.verified.revision().map(str::to_owned);
            (
                engine,
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
            let (engine, start, bytes) = from_cache(dir, &options, now, &error).map_err(|e| {
                CliError::Input(format!(
                    "cannot serve {source}: {error}; the cache `{}` cannot serve either: {e}",
                    dir.display()
                ))
            })?;
            eprintln!(
                "rampart serve: cannot fetch {source} ({error}); serving the cached revision \
                 {} from `{}`",
                engine.bundle().revision,
                dir.display()
            );
            (engine, start, bytes)
        }
    };
    // A client of its own for the sidecar's runtime (the first one's connections belonged
    // to the runtime just dropped).
    let fetcher = Fetcher::new(source, ArtifactKind::Bundle, options)
        .map_err(|e| CliError::Input(e.to_string()))?;
    Ok(Started {
        engine,
        remote: RemoteBundle {
            fetcher: Arc::new(fetcher),
            interval: args.poll_interval,
            cache: args.bundle_cache.clone(),
            slot: Arc::new(Mutex::new(Arc::new(bytes))),
            start,
        },
    })
}

fn from_cache(
    dir: &Path,
    options: &FetchOptions,
    now: u64,
    error: &str,
) -> Result<(Engine, RemoteStart, RemoteBytes), String> {
    let (bytes, signature) = remote::read_cache(dir, ArtifactKind::Bundle, options.max_bytes)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "it holds no bundle".to_owned())?;
    let verified =
        remote::check(options, &bytes, signature.as_deref()).map_err(|e| e.to_string())?;
    let engine = engine_from(&bytes, verified.revision())?;
    let start = RemoteStart {
        known: Known {
            version: None,
            digest: Some(verified.digest.clone()),
        },
        key_id: verified.key_id.clone(),
        fetched_at: now,
        from_cache: true,
        error: Some(error.to_owned()),
    };
    let revision = verified.revision().map(str::to_owned);
    Ok((
        engine,
        start,
        RemoteBytes {
            bytes,
            signed_revision: revision,
        },
    ))
}

/// The engine of verified bundle bytes, whose revision must be the signed one.
fn engine_from(bytes: &[u8], signed_revision: Option<&str>) -> Result<Engine, String> {
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

/// The loader of a remote bundle: the slot's bytes and the `--entities` file.
pub fn loader(
    slot: BundleSlot,
    entities: Option<std::path::PathBuf>,
    entities_loaded: bool,
) -> PolicyLoader {
    let seen = std::sync::atomic::AtomicBool::new(entities_loaded);
    Arc::new(move || {
        let current = match slot.lock() {
            Ok(current) => Arc::clone(&current),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        };
        let engine = engine_from(&current.bytes, current.signed_revision.as_deref())?;
        let required = seen.load(std::sync::atomic::Ordering::SeqCst);
        let (entities, from_file) =
            super::loader::load_entities(&engine, Path::new(""), entities.as_deref(), required)?;
        if from_file {
            seen.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        Ok(Policy { engine, entities })
    })
}

fn rampart_sidecar_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
