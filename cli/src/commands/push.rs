//! `rampart push FILE oci://HOST[:PORT]/REPO:TAG`: store a bundle (and its `.sig`) or
//! entity data in an OCI registry as an ORAS-compatible artifact (`docs/bundles.md`).

use rampart_bundle::transport::oci::{Artifact, ArtifactKind, OciRef, Registry, RegistryOptions};

use crate::args::PushArgs;
use crate::commands::bundle::{self, sig_path};
use crate::exit::{CliError, OK};
use crate::input::{self, Input};
use crate::output::outln;

pub fn run(args: PushArgs) -> Result<u8, CliError> {
    let reference = OciRef::parse(&args.destination).map_err(|e| CliError::Input(e.to_string()))?;
    let kind = if args.entities {
        ArtifactKind::Entities
    } else {
        ArtifactKind::Bundle
    };
    let bytes = input::read_bytes(&args.file, Input::Bundle)?;
    let sig = sig_path(&args.file);
    let signature = if sig.exists() {
        Some(input::read_bytes(&sig, Input::Signature)?)
    } else if args.unsigned {
        None
    } else {
        return Err(CliError::Input(format!(
            "`{}` is missing: sign with `rampart build --sign` or `rampart bundle sign`, or \
             push unsigned with --unsigned",
            sig.display()
        )));
    };
    let revision = match kind {
        ArtifactKind::Bundle => bundle::bundle_revision(&bytes).ok_or_else(|| {
            CliError::Input(format!(
                "`{}` is not a bundle written by `rampart build` (use --entities for entity \
                 data)",
                args.file.display()
            ))
        })?,
        ArtifactKind::Entities => {
            serde_json::from_slice::<Vec<serde_json::Value>>(&bytes).map_err(|e| {
                CliError::Input(format!(
                    "`{}` is not a JSON array of entities: {e}",
                    args.file.display()
                ))
            })?;
            rampart_bundle::digest(&bytes)
                .trim_start_matches("sha256:")
                .chars()
                .take(12)
                .collect()
        }
    };
    let options = RegistryOptions {
        plain_http: args.outbound.plain_http,
        tls: bundle::outbound_tls(&args.outbound),
        credentials: bundle::credentials(&args.outbound)?,
        timeout: args.timeout,
    };
    let artifact = Artifact {
        kind,
        bytes,
        signature,
        revision: revision.clone(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Input(format!("cannot start the async runtime: {e}")))?;
    let digest = runtime
        .block_on(async {
            let registry = Registry::new(&reference, &options)?;
            registry.push(&reference, &artifact).await
        })
        .map_err(|e| CliError::Input(format!("push to {reference}: {e}")))?;
    eprintln!(
        "pushed {} to {reference} (revision {revision}, {})",
        args.file.display(),
        if artifact.signature.is_some() {
            "signed"
        } else {
            "unsigned"
        }
    );
    outln!("{digest}");
    Ok(OK)
}
