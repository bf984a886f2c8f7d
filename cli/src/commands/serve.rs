//! `rampart serve DIR|BUNDLE`: run the decision sidecar (`rampart-sidecar`) on a policy
//! folder or a bundle file until SIGINT or SIGTERM.
//!
//! Prints one line on standard output once both listeners are bound:
//! `rampart serve: ready grpc=ADDR http=ADDR bundle=REVISION`.

use std::io::Write;
use std::path::Path;

use rampart_engine::Engine;
use rampart_sidecar::{Config, JwtConfig, Policy, Ready, TlsFiles, TokenMethod};
use rampart_sidecar::{EntityShrink, Fsync, LogOptions, Reload, Rotation, Watched};

use crate::args::{DecisionLogFsync, JwtMethod, ServeArgs};
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
    // A reload re-reads the key set of `--jwks` too.
    watch.extend(args.jwks.iter().cloned().map(Watched::File));
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
        jwt: args.jwks.map(|jwks| JwtConfig {
            issuers: args.jwt_issuers,
            audiences: args.jwt_audiences,
            leeway: args.jwt_leeway,
            method: match args.jwt_method {
                JwtMethod::Jwt => TokenMethod::Jwt,
                JwtMethod::Oauth2 => TokenMethod::Oauth2,
                JwtMethod::Oidc => TokenMethod::Oidc,
            },
            ..JwtConfig::new(jwks)
        }),
        rate_limit_keys: args.rate_limit_keys,
        forward_auth: args.forward_auth,
    };
    rampart_sidecar::serve(config, Policy { engine, entities }, print_ready)
        .map_err(|e| CliError::Input(e.to_string()))?;
    eprintln!("rampart serve: stopped");
    Ok(OK)
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
