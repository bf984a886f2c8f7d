//! Authentication facts from JWT bearer tokens: `Authorization: Bearer …` verified against a
//! JWKS file fills `context.auth`.
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
//! Code map: `jwks` reads the key set, `verify` checks a token, `facts` turns verified
//! claims into the `context.auth` record the engine's builtin context declares.

mod facts;
mod jwks;
mod verify;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use serde_json::{Map, Value as Json};

pub use facts::auth_facts;
pub use jwks::JwksError;
pub use verify::{JwtVerifier, Rejection};

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

/// How bearer tokens are verified (`rampart serve --jwks FILE --jwt-…`).
#[derive(Clone, Debug)]
pub struct JwtConfig {
    /// The JWKS file holding the issuers' public keys.
    pub jwks: PathBuf,
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
}

/// The verifier of a running sidecar, replaceable while it serves.
pub struct Authenticator {
    config: Option<JwtConfig>,
    verifier: ArcSwapOption<JwtVerifier>,
}

impl Authenticator {
    /// No verification: bearer tokens are ignored.
    pub fn disabled() -> Authenticator {
        Authenticator {
            config: None,
            verifier: ArcSwapOption::empty(),
        }
    }

    /// Reads the key set of `config`; fails when the file cannot be read or holds no
    /// usable key.
    pub fn load(config: JwtConfig) -> Result<Authenticator, JwksError> {
        let verifier = JwtVerifier::load(&config)?;
        if verifier.key_count() == 0 {
            return Err(JwksError::NoUsableKey {
                path: config.jwks.display().to_string(),
            });
        }
        Ok(Authenticator {
            config: Some(config),
            verifier: ArcSwapOption::from_pointee(verifier),
        })
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
        let verifier = JwtVerifier::load(config)?;
        let keys = verifier.key_count();
        self.verifier.store(Some(Arc::new(verifier)));
        Ok(keys)
    }

    /// True when tokens are verified (`--jwks` was given).
    pub fn is_enabled(&self) -> bool {
        self.config.is_some()
    }

    /// Verifies the bearer token of a raw-HTTP request and, when it verifies, fills
    /// `context.auth` with its facts. `now_s` is the current time in seconds since the epoch.
    pub fn authenticate(&self, request: &mut Json, now_s: i64) -> Outcome {
        let verifier = self.verifier.load();
        let Some(verifier) = verifier.as_ref() else {
            return Outcome::Disabled;
        };
        let Some(token) = bearer_token(request) else {
            return Outcome::NoToken;
        };
        if states_auth(request) {
            return Outcome::StatedByCaller;
        }
        let facts = match verifier.verify(token, now_s) {
            Ok(claims) => auth_facts(&claims, verifier.method()),
            Err(rejection) => return Outcome::Rejected(rejection),
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
                Outcome::Verified
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
        let verifier = self.verifier.load();
        let Some(verifier) = verifier.as_ref() else {
            return (Outcome::Disabled, None);
        };
        let mut values = headers.filter(|(name, _)| name.eq_ignore_ascii_case("authorization"));
        let Some((_, first)) = values.next() else {
            return (Outcome::NoToken, None);
        };
        let joined: String;
        let value = match values.next() {
            None => first,
            Some((_, second)) => {
                let mut all = format!("{first}, {second}");
                for (_, more) in values {
                    all.push_str(", ");
                    all.push_str(more);
                }
                joined = all;
                joined.as_str()
            }
        };
        let Some(token) = bearer_of(value) else {
            return (Outcome::NoToken, None);
        };
        match verifier.verify(token, now_s) {
            Ok(claims) => (
                Outcome::Verified,
                Some(auth_facts(&claims, verifier.method())),
            ),
            Err(rejection) => (Outcome::Rejected(rejection), None),
        }
    }
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
