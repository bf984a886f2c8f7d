//! `rampart serve DIR|BUNDLE`: run the decision sidecar (`rampart-sidecar`) on a policy
//! folder or a bundle file until SIGINT or SIGTERM.
//!
//! Prints one line on standard output once both listeners are bound:
//! `rampart serve: ready grpc=ADDR http=ADDR bundle=REVISION`.

use std::io::Write;
use std::path::Path;

use rampart_engine::Engine;
use rampart_sidecar::{ApiKeyConfig, KeyLocation, KeySource, OutboundTls, RemoteJwks};
use rampart_sidecar::{Config, JwtConfig, Policy, RateLimitStore, Ready, TlsFiles, TokenMethod};
use rampart_sidecar::{EntityShrink, Fsync, LogOptions, Reload, Rotation, Watched};
use rampart_sidecar::{ShipFormat, ShipOptions};

use crate::args::{DecisionLogFormat, DecisionLogFsync, JwtMethod, RateLimitFail, ServeArgs};
use crate::exit::{CliError, FAILURE, OK};
use crate::policy;

pub mod config_file;
mod loader;
mod remote;

use loader::{EntitySource, PolicySource};
use rampart_bundle::transport::oci::ArtifactKind;
use rampart_bundle::transport::TransportError;

pub fn run(args: ServeArgs) -> Result<u8, CliError> {
    if args.grpc_idle_timeout <= args.request_timeout {
        return Err(CliError::Input(format!(
            "`--grpc-idle-timeout {}ms` must be longer than `--request-timeout {}ms`",
            args.grpc_idle_timeout.as_millis(),
            args.request_timeout.as_millis()
        )));
    }
    // The sidecar reads the key set (and re-reads it on reload) with a size limit of its
    // own; a device or FIFO given here is refused before it starts.
    if let Some(jwks) = &args.jwks {
        crate::input::refuse_special_file(jwks)?;
    }
    if let Some(api_keys) = &args.api_keys {
        crate::input::refuse_special_file(api_keys)?;
    }
    let shown = args.path.to_string_lossy().into_owned();
    let plain_http = args.outbound.plain_http;
    let remote_bundle = match rampart_bundle::transport::remote::Source::parse(&shown, plain_http) {
        Some(source) => Some(remote::start(
            &args,
            source.map_err(|e| CliError::Input(e.to_string()))?,
            ArtifactKind::Bundle,
            &|bytes, revision| remote::engine_from(bytes, revision).map(drop),
        )?),
        None => None,
    };
    let remote_entities = match args
        .entities
        .as_deref()
        .filter(|e| remote::is_remote(e.as_os_str()))
    {
        Some(url) => {
            let source = rampart_bundle::transport::remote::Source::parse(
                &url.to_string_lossy(),
                plain_http,
            )
            .unwrap_or_else(|| Err(TransportError::Url("not a URL".to_owned())))
            .map_err(|e| CliError::Input(e.to_string()))?;
            // Checked as a JSON array here; against the bundle's schema when loaded.
            Some(remote::start(
                &args,
                source,
                ArtifactKind::Entities,
                &|bytes, _| {
                    serde_json::from_slice::<Vec<serde_json::Value>>(bytes)
                        .map(drop)
                        .map_err(|e| format!("not a JSON array of entities: {e}"))
                },
            )?)
        }
        None => None,
    };
    let policy_source = match &remote_bundle {
        Some(remote) => PolicySource::Remote(std::sync::Arc::clone(&remote.slot)),
        None => PolicySource::Path(args.path.clone()),
    };
    let entity_source = match &remote_entities {
        Some(remote) => EntitySource::Remote(std::sync::Arc::clone(&remote.slot)),
        None => EntitySource::File(args.entities.clone()),
    };
    let engine = match &policy_source {
        PolicySource::Remote(slot) => remote::engine_of(slot).map_err(CliError::Input)?,
        PolicySource::Path(path) if path.is_file() => load_bundle(path)?,
        PolicySource::Path(path) => match policy::load_reporting(path)? {
            Some(loaded) => loaded.engine,
            None => return Ok(FAILURE),
        },
    };
    // A bundle file is not a folder: it has no default entities file.
    let (entities, entities_loaded) =
        loader::entities_of(&engine, &policy_source, &entity_source, false)
            .map_err(CliError::Input)?;
    let local_entities = match &entity_source {
        EntitySource::File(file) => file.as_deref(),
        EntitySource::Remote(_) => None,
    };
    let mut watch = match &policy_source {
        // A remote bundle is polled, not watched.
        PolicySource::Remote(_) => local_entities
            .iter()
            .map(|file| Watched::File(file.to_path_buf()))
            .collect(),
        // The policy files only: the entities are polled.
        PolicySource::Path(path) if remote_entities.is_some() => loader::watched_paths(path, None)
            .into_iter()
            .take(1)
            .collect(),
        PolicySource::Path(path) => loader::watched_paths(path, local_entities),
    };
    // A reload re-reads the key set of `--jwks` and the API keys of `--api-keys` too.
    watch.extend(args.jwks.iter().cloned().map(Watched::File));
    watch.extend(args.api_keys.iter().cloned().map(Watched::File));
    let jwt = jwt_config(&args);
    let policy_loader = loader::policy_loader(policy_source, entity_source, entities_loaded);
    let reload = Reload {
        watch_interval: (!args.no_watch).then_some(args.watch_interval),
        watch_settle: args.watch_settle,
        timeout: args.reload_timeout,
        entity_shrink: EntityShrink::new(args.max_entity_shrink),
        source: Some(shown),
        remote: remote_bundle,
        remote_entities,
        ..Reload::new(policy_loader, watch)
    };
    let config = Config {
        grpc: args.grpc,
        http: args.http,
        decision_log: args.decision_log,
        decision_log_options: LogOptions {
            rotation: args.decision_log_max_bytes.map(|max_bytes| Rotation {
                max_bytes,
                keep: args.decision_log_keep,
            }),
            fsync: match args.decision_log_fsync {
                DecisionLogFsync::Never => Fsync::Never,
                DecisionLogFsync::Interval => Fsync::Interval(args.decision_log_fsync_interval),
                DecisionLogFsync::Always => Fsync::Always,
            },
            required: args.decision_log_required,
        },
        decision_log_shipping: ShipOptions {
            sinks: args.decision_log_sinks,
            format: match args.decision_log_format {
                DecisionLogFormat::Rampart => ShipFormat::Rampart,
                DecisionLogFormat::Ocsf => ShipFormat::Ocsf,
            },
            instance: args
                .instance_id
                .unwrap_or_else(rampart_sidecar::default_instance_id),
            batch_bytes: usize::try_from(args.decision_log_batch_bytes).unwrap_or(usize::MAX),
            batch_interval: args.decision_log_batch_interval,
            buffer_bytes: usize::try_from(args.decision_log_sink_buffer).unwrap_or(usize::MAX),
            tls: rampart_sidecar::OutboundTls {
                extra_ca: args.outbound.outbound_ca.clone(),
            },
        },
        reload: Some(reload),
        tls: args.tls_cert.map(|cert| TlsFiles {
            cert,
            // clap makes --tls-cert and --tls-key go together.
            key: args.tls_key.unwrap_or_default(),
            client_ca: args.tls_client_ca,
        }),
        request_timeout: args.request_timeout,
        header_read_timeout: args.header_read_timeout,
        grpc_idle_timeout: args.grpc_idle_timeout,
        jwt,
        api_keys: args.api_keys.map(|file| ApiKeyConfig {
            file,
            header: args.api_key_header,
        }),
        rate_limit_keys: args.rate_limit_keys,
        rate_limit_store: args.rate_limit_store.map(|url| RateLimitStore {
            ca: args.rate_limit_store_ca,
            prefix: args.rate_limit_prefix,
            timeout: args.rate_limit_store_timeout,
            fail: match args.rate_limit_fail {
                RateLimitFail::Local => rampart_sidecar::RateLimitFail::Local,
                RateLimitFail::Closed => rampart_sidecar::RateLimitFail::Closed,
            },
            ..RateLimitStore::new(url)
        }),
        forward_auth: args.forward_auth,
    };
    rampart_sidecar::serve(config, Policy { engine, entities }, print_ready)
        .map_err(|e| CliError::Input(e.to_string()))?;
    eprintln!("rampart serve: stopped");
    Ok(OK)
}

/// How bearer tokens are verified: keys from `--jwks`, `--jwks-url` or `--oidc-issuer`
/// (clap allows one). The issuer of `--oidc-issuer` is the accepted `iss` unless
/// `--jwt-issuer` names others.
fn jwt_config(args: &ServeArgs) -> Option<JwtConfig> {
    let remote = |location| {
        KeySource::Remote(RemoteJwks {
            location,
            outbound: OutboundTls {
                extra_ca: args.outbound.outbound_ca.clone(),
            },
            min_refresh: args.jwks_min_refresh,
            max_refresh: args.jwks_max_refresh,
            max_stale: args.jwks_max_stale,
            refetch_interval: args.jwks_refetch_interval,
            fetch_timeout: args.jwks_fetch_timeout,
        })
    };
    let mut issuers = args.jwt_issuers.clone();
    let source = match (&args.jwks, &args.jwks_url, &args.oidc_issuer) {
        (Some(file), _, _) => KeySource::File(file.clone()),
        (None, Some(url), _) => remote(KeyLocation::JwksUrl(url.clone())),
        (None, None, Some(issuer)) => {
            if issuers.is_empty() {
                issuers.push(issuer.clone());
            }
            remote(KeyLocation::Issuer(issuer.clone()))
        }
        (None, None, None) => return None,
    };
    Some(JwtConfig {
        issuers,
        audiences: args.jwt_audiences.clone(),
        leeway: args.jwt_leeway,
        method: match args.jwt_method {
            JwtMethod::Jwt => TokenMethod::Jwt,
            JwtMethod::Oauth2 => TokenMethod::Oauth2,
            JwtMethod::Oidc => TokenMethod::Oidc,
        },
        ..JwtConfig::with_source(source)
    })
}

/// Reads a bundle file written by `rampart build` (a regular file of at most 256 MiB).
fn load_bundle(path: &Path) -> Result<Engine, CliError> {
    let text = crate::input::read(path, crate::input::Input::Bundle)?;
    Engine::from_bundle_json(&text)
        .map_err(|e| CliError::Input(format!("`{}`: {e}", path.display())))
}

/// The ready line. Written directly: a closed standard output must not stop the server.
fn print_ready(ready: &Ready) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "rampart serve: ready grpc={} http={} bundle={}",
        ready.grpc, ready.http, ready.revision
    );
    let _ = out.flush();
}
