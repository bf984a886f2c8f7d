//! Authentication facts from JWT bearer tokens and API keys: `Authorization: Bearer …`
//! verified against a JWKS (a file, or the identity provider's set fetched over HTTPS), or
//! an API key listed by hash in `--api-keys`, fills `context.auth`.
//!
//! **Key design decision:** a token the sidecar cannot verify is not an error. The request
//! goes on to the engine without `context.auth` (so `context.auth.method` is `none`) and the
//! policy decides what an unauthenticated caller may do; the reason is counted in
//! `rampart_jwt_invalid_total`. Only the verified claims ever reach a policy.
//!
//! The key set is parsed once, at start and on [`Authenticator::reload`], into a
//! [`JwtVerifier`] held in an [`ArcSwapOption`]: a reload swaps it while requests in flight
//! finish with the old one. Tokens are never logged or echoed.
//!
//! A request with a bearer token is authenticated by the token alone; the API key header
//! is read only when there is none.
//!
//! Code map: `jwks` reads the key set, `remote` fetches it from the identity provider and
//! keeps it current, `verify` checks a token, `facts` turns verified claims into the
//! `context.auth` record the engine's builtin context declares, `api_keys` reads the API
//! key file and checks a key, `metrics` counts fetches and API keys.

mod api_keys;
mod facts;
mod jwks;
mod metrics;
mod remote;
mod verify;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::{ArcSwap, ArcSwapOption};
use serde_json::{Map, Value as Json};

pub use api_keys::{
    hash_hex as api_key_hash, ApiKeyConfig, ApiKeyRejection, ApiKeys, ApiKeysError,
    DEFAULT_API_KEY_HEADER,
};
pub use facts::auth_facts;
pub use jwks::JwksError;
pub use metrics::AuthMetrics;
pub use remote::{KeyLocation, RemoteJwks};
pub use verify::{JwtVerifier, Rejection};

use remote::RemoteKeys;

/// The largest clock skew `--jwt-leeway` accepts.
pub const MAX_LEEWAY: Duration = Duration::from_secs(300);

/// The clock skew allowed when none is configured.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);

/// Tokens longer than this are refused without being parsed.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The `context.auth.method` a verified token gives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TokenMethod {
    /// `jwt`: any signed bearer token.
    #[default]
    Jwt,
    /// `oauth2`: OAuth 2.0 access tokens.
    Oauth2,
    /// `oidc`: OpenID Connect ID tokens.
    Oidc,
}

impl TokenMethod {
    /// The `AuthMethod` variant name.
    pub fn label(self) -> &'static str {
        match self {
            TokenMethod::Jwt => "jwt",
            TokenMethod::Oauth2 => "oauth2",
            TokenMethod::Oidc => "oidc",
        }
    }
}

/// Where the verification keys come from.
#[derive(Clone, Debug)]
pub enum KeySource {
    /// `--jwks FILE`: read at start and on every reload.
    File(PathBuf),
    /// `--jwks-url` or `--oidc-issuer`: fetched over HTTPS and kept current.
    Remote(RemoteJwks),
}

impl KeySource {
    /// The file or address named in messages.
    pub fn shown(&self) -> String {
        match self {
            KeySource::File(path) => path.display().to_string(),
            KeySource::Remote(remote) => remote.shown().to_owned(),
        }
    }
}

/// How bearer tokens are verified (`rampart serve --jwks FILE --jwt-…`).
#[derive(Clone, Debug)]
pub struct JwtConfig {
    /// Where the issuers' public keys come from.
    pub jwks: KeySource,
    /// Accepted `iss` values; empty: any issuer (the claim is then not required).
    pub issuers: Vec<String>,
    /// Accepted `aud` values (one match is enough); empty: the audience is not checked.
    pub audiences: Vec<String>,
    /// Clock skew allowed on `exp`, `nbf` and `iat`; at most [`MAX_LEEWAY`].
    pub leeway: Duration,
    /// The `context.auth.method` of a verified token.
    pub method: TokenMethod,
}

impl JwtConfig {
    /// A configuration with the defaults: any issuer and audience, 60 s of leeway, `jwt`.
    pub fn new(jwks: PathBuf) -> JwtConfig {
        JwtConfig::with_source(KeySource::File(jwks))
    }

    /// [`JwtConfig::new`] with keys from `source`.
    pub fn with_source(jwks: KeySource) -> JwtConfig {
        JwtConfig {
            jwks,
            issuers: Vec::new(),
            audiences: Vec::new(),
            leeway: DEFAULT_LEEWAY,
            method: TokenMethod::Jwt,
        }
    }
}

/// What authenticating one request did.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// No `--jwks`: the request is left as it is.
    Disabled,
    /// The request has no raw-HTTP part or no bearer token.
    NoToken,
    /// The request states `context.auth` itself (`/v1/decide`, `/v1/data`): kept as given.
    StatedByCaller,
    /// The token verified: `context.auth` was filled.
    Verified,
    /// The token did not verify: `context.auth` stays absent (method `none`).
    Rejected(Rejection),
    /// No bearer token, and the API key verified: `context.auth` was filled.
    ApiKeyVerified,
    /// No bearer token, and the API key did not verify: `context.auth` stays absent.
    ApiKeyRejected(ApiKeyRejection),
}

/// The API keys of a running sidecar, replaceable while it serves.
struct ApiKeyState {
    config: ApiKeyConfig,
    keys: ArcSwap<ApiKeys>,
}

/// The verifier of a running sidecar, replaceable while it serves.
pub struct Authenticator {
    config: Option<JwtConfig>,
    verifier: Arc<ArcSwapOption<JwtVerifier>>,
    /// The fetcher of `--jwks-url`/`--oidc-issuer`.
    remote: Option<Arc<RemoteKeys>>,
    api_keys: Option<ApiKeyState>,
    metrics: Arc<AuthMetrics>,
}

impl Authenticator {
    /// No verification: bearer tokens are ignored.
    pub fn disabled() -> Authenticator {
        Authenticator {
            config: None,
            verifier: Arc::new(ArcSwapOption::empty()),
            remote: None,
            api_keys: None,
            metrics: Arc::new(AuthMetrics::default()),
        }
    }

    /// Reads the key set of `config`; fails when the file cannot be read or holds no
    /// usable key. A remote key set starts empty (every token unauthenticated) until
    /// [`Authenticator::start`] fetches it; only its address and the outbound TLS
    /// configuration are checked here.
    pub fn load(config: JwtConfig) -> Result<Authenticator, JwksError> {
        let metrics = Arc::new(AuthMetrics::default());
        if let KeySource::Remote(remote) = &config.jwks {
            let verifier = Arc::new(ArcSwapOption::from_pointee(JwtVerifier::new(
                Vec::new(),
                &config,
            )));
            let keys = RemoteKeys::new(
                remote.clone(),
                config.clone(),
                Arc::clone(&verifier),
                Arc::clone(&metrics),
            )?;
            return Ok(Authenticator {
                config: Some(config),
                verifier,
                remote: Some(Arc::new(keys)),
                api_keys: None,
                metrics,
            });
        }
        let verifier = JwtVerifier::load(&config)?;
        if verifier.key_count() == 0 {
            return Err(JwksError::NoUsableKey {
                path: config.jwks.shown(),
            });
        }
        Ok(Authenticator {
            config: Some(config),
            verifier: Arc::new(ArcSwapOption::from_pointee(verifier)),
            remote: None,
            api_keys: None,
            metrics,
        })
    }

    /// Reads the API key file of `config` too; fails when it cannot be read or is invalid.
    pub fn with_api_keys(mut self, config: ApiKeyConfig) -> Result<Authenticator, ApiKeysError> {
        let keys = ApiKeys::read(&config.file)?;
        self.metrics.enable_api_keys();
        self.api_keys = Some(ApiKeyState {
            config: ApiKeyConfig {
                header: config.header.to_ascii_lowercase(),
                ..config
            },
            keys: ArcSwap::from_pointee(keys),
        });
        Ok(self)
    }

    /// Fetches a remote key set once and keeps it current in the background (see
    /// `remote`); nothing for a key file. Must be called inside a tokio runtime.
    pub async fn start(&self) {
        if let Some(remote) = &self.remote {
            remote.start().await;
        }
    }

    /// The counters `/metrics` reports for key fetches and API keys.
    pub fn metrics(&self) -> Arc<AuthMetrics> {
        Arc::clone(&self.metrics)
    }

    /// True when a reload re-reads a JWKS file (`--jwks`).
    pub fn reloads_key_file(&self) -> bool {
        self.config
            .as_ref()
            .is_some_and(|c| matches!(c.jwks, KeySource::File(_)))
    }

    /// True when API keys are verified (`--api-keys`).
    pub fn has_api_keys(&self) -> bool {
        self.api_keys.is_some()
    }

    /// Re-reads the API key file and swaps it in; a file that cannot be read or is invalid
    /// changes nothing and is returned as the error. `None` without `--api-keys`.
    pub fn reload_api_keys(&self) -> Option<Result<usize, ApiKeysError>> {
        let state = self.api_keys.as_ref()?;
        Some(ApiKeys::read(&state.config.file).map(|keys| {
            let count = keys.count();
            state.keys.store(Arc::new(keys));
            count
        }))
    }

    /// Re-reads the JWKS file and swaps the verifier in. A file that cannot be read or does
    /// not parse is a failure: the old verifier keeps serving and the error is returned. A
    /// file that parses replaces the old set whatever it holds, so a key withdrawn from it
    /// stops verifying, and a set with no usable key (empty, or only `use: enc` keys)
    /// rejects every token. Returns the number of keys now in use (0 when verification is
    /// disabled).
    pub fn reload(&self) -> Result<usize, JwksError> {
        let Some(config) = &self.config else {
            return Ok(0);
        };
        if self.remote.is_some() {
            // The fetcher keeps a remote set current; a reload does not fetch.
            return Ok(self.verifier.load().as_ref().map_or(0, |v| v.key_count()));
        }
        let verifier = JwtVerifier::load(config)?;
        let keys = verifier.key_count();
        self.verifier.store(Some(Arc::new(verifier)));
        Ok(keys)
    }

    /// True when tokens or API keys are verified (`--jwks`, `--jwks-url`,
    /// `--oidc-issuer`, `--api-keys`).
    pub fn is_enabled(&self) -> bool {
        self.config.is_some() || self.api_keys.is_some()
    }

    /// Verifies a bearer token; a token naming a `kid` the remote set does not hold asks
    /// for a refetch (rate-limited, shared) and waits for it a bounded time.
    fn verify_token(&self, token: &str, now_s: i64) -> Result<Json, Rejection> {
        let verifier = self.verifier.load();
        let Some(verifier) = verifier.as_ref() else {
            return Err(Rejection::UnknownKey);
        };
        match verifier.verify(token, now_s) {
            Ok(claims) => Ok(auth_facts(&claims, verifier.method())),
            Err(Rejection::UnknownKey) if self.refetched() => {
                let verifier = self.verifier.load();
                let verifier = verifier.as_ref().ok_or(Rejection::UnknownKey)?;
                let claims = verifier.verify(token, now_s)?;
                Ok(auth_facts(&claims, verifier.method()))
            }
            Err(rejection) => Err(rejection),
        }
    }

    /// Asks the remote fetcher for a refetch and waits for it; false when none is allowed
    /// now or this thread may not wait (outside a multi-threaded runtime).
    fn refetched(&self) -> bool {
        let Some(remote) = &self.remote else {
            return false;
        };
        let may_block = tokio::runtime::Handle::try_current().is_ok_and(|handle| {
            handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
        });
        if !may_block {
            return false;
        }
        let Some(target) = remote.ask_refetch() else {
            return false;
        };
        // The worker's other tasks move to another thread while this one waits.
        tokio::task::block_in_place(|| remote.wait_for(target));
        true
    }

    /// Verifies a presented API key (`Err(())`: the header was repeated): its facts, or
    /// the outcome to return.
    fn api_key_facts(&self, value: Option<Result<&str, ()>>, now_s: i64) -> Result<Json, Outcome> {
        let (Some(state), Some(value)) = (&self.api_keys, value) else {
            return Err(Outcome::NoToken);
        };
        let presented = value.map_err(|()| Outcome::ApiKeyRejected(ApiKeyRejection::Malformed))?;
        state
            .keys
            .load()
            .verify(presented, now_s.saturating_mul(1000))
            .map_err(Outcome::ApiKeyRejected)
    }

    /// Verifies the bearer token of a raw-HTTP request (or, without one, its API key)
    /// and, when it verifies, fills `context.auth` with its facts. `now_s` is the current
    /// time in seconds since the epoch.
    pub fn authenticate(&self, request: &mut Json, now_s: i64) -> Outcome {
        if !self.is_enabled() {
            return Outcome::Disabled;
        }
        let token = bearer_token(request).filter(|_| self.config.is_some());
        let api_key = match (&token, &self.api_keys) {
            (None, Some(state)) => header_value(request, &state.config.header),
            _ => None,
        };
        if token.is_none() && api_key.is_none() {
            return Outcome::NoToken;
        }
        if states_auth(request) {
            return Outcome::StatedByCaller;
        }
        let (outcome, facts) = match token {
            Some(token) => match self.verify_token(token, now_s) {
                Ok(facts) => (Outcome::Verified, facts),
                Err(rejection) => return Outcome::Rejected(rejection),
            },
            None => match self.api_key_facts(api_key, now_s) {
                Ok(facts) => (Outcome::ApiKeyVerified, facts),
                Err(outcome) => return outcome,
            },
        };
        let Json::Object(fields) = request else {
            return Outcome::NoToken;
        };
        let context = fields
            .entry("context")
            .or_insert_with(|| Json::Object(Map::new()));
        match context {
            Json::Object(context) => {
                context.insert("auth".into(), facts);
                outcome
            }
            // A context that is not an object is an input error the engine reports.
            _ => Outcome::NoToken,
        }
    }
}

impl Authenticator {
    /// [`Authenticator::authenticate`] for a request given as header pairs (the typed
    /// gateway path): the `Authorization` value as the policy sees it (every header of that
    /// name, any case, joined with `, `) is verified, and on success the `context.auth`
    /// facts are returned, as they would be put into the request JSON.
    pub fn authenticate_headers<'h>(
        &self,
        headers: impl Iterator<Item = (&'h str, &'h str)>,
        now_s: i64,
    ) -> (Outcome, Option<Json>) {
        if !self.is_enabled() {
            return (Outcome::Disabled, None);
        }
        let key_header = self.api_keys.as_ref().map(|s| s.config.header.as_str());
        let mut authorization: Option<String> = None;
        let mut api_key: Option<Result<&str, ()>> = None;
        for (name, value) in headers {
            if name.eq_ignore_ascii_case("authorization") {
                match &mut authorization {
                    None => authorization = Some(value.to_owned()),
                    Some(all) => {
                        all.push_str(", ");
                        all.push_str(value);
                    }
                }
            } else if key_header.is_some_and(|h| name.eq_ignore_ascii_case(h)) {
                api_key = Some(match api_key {
                    None => Ok(value),
                    Some(_) => Err(()),
                });
            }
        }
        let token = authorization
            .as_deref()
            .and_then(bearer_of)
            .filter(|_| self.config.is_some());
        match token {
            Some(token) => match self.verify_token(token, now_s) {
                Ok(facts) => (Outcome::Verified, Some(facts)),
                Err(rejection) => (Outcome::Rejected(rejection), None),
            },
            None if api_key.is_none() => (Outcome::NoToken, None),
            None => match self.api_key_facts(api_key, now_s) {
                Ok(facts) => (Outcome::ApiKeyVerified, Some(facts)),
                Err(outcome) => (outcome, None),
            },
        }
    }
}

/// The value of the header `name` of a raw-HTTP request JSON (any case of the name; a
/// string, or an array with one string); `Err` when it is given several times.
fn header_value<'r>(request: &'r Json, name: &str) -> Option<Result<&'r str, ()>> {
    let headers = request.get("http")?.get("headers")?.as_object()?;
    let mut values = headers
        .iter()
        .filter(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value);
    let value = values.next()?;
    if values.next().is_some() {
        return Some(Err(()));
    }
    Some(match value {
        Json::String(text) => Ok(text.as_str()),
        Json::Array(items) if items.len() == 1 => items.first()?.as_str().ok_or(()),
        _ => Err(()),
    })
}

/// The bearer token of a raw-HTTP request JSON: `http.headers.authorization` (any case of
/// the name; a string, or an array with one string) with the `Bearer` scheme.
fn bearer_token(request: &Json) -> Option<&str> {
    let headers = request.get("http")?.get("headers")?.as_object()?;
    let mut values = headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("authorization"))
        .map(|(_, value)| value);
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let text = match value {
        Json::String(text) => text.as_str(),
        Json::Array(items) if items.len() == 1 => items.first()?.as_str()?,
        _ => return None,
    };
    bearer_of(text)
}

/// The token of an `Authorization` value with the `Bearer` scheme.
fn bearer_of(text: &str) -> Option<&str> {
    let (scheme, token) = text.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

/// True when the request's context gives `auth` itself.
fn states_auth(request: &Json) -> bool {
    request
        .get("context")
        .and_then(|c| c.get("auth"))
        .is_some_and(|auth| !auth.is_null())
}

#[cfg(test)]
mod tests;
