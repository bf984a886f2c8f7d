//! Verifying one bearer token: the algorithm allow-list, key selection by `kid`, the
//! signature, and the time, issuer and audience claims.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value as Json};

use super::jwks::{self, JwksError, VerificationKey};
use super::{JwtConfig, KeySource, TokenMethod, MAX_LEEWAY, MAX_TOKEN_BYTES};

/// Why a token was not accepted: the `reason` label of `rampart_jwt_invalid_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// Not three base64url parts, or a header or payload that is not a JSON object.
    Malformed,
    /// An algorithm other than RS256, ES256 and EdDSA (`none` and `HS256` included).
    Algorithm,
    /// No key of the set matches the token's `kid` and algorithm.
    UnknownKey,
    /// The signature does not verify.
    Signature,
    /// `exp` has passed (beyond the leeway).
    Expired,
    /// `nbf` or `iat` is in the future (beyond the leeway).
    NotYetValid,
    /// `iss` is missing or not an accepted issuer.
    Issuer,
    /// `aud` is missing or names no accepted audience.
    Audience,
    /// `exp` is missing, or a time claim is not a number.
    Claims,
}

impl Rejection {
    /// Every reason, in the order `/metrics` lists them.
    pub const ALL: [Rejection; 9] = [
        Rejection::Malformed,
        Rejection::Algorithm,
        Rejection::UnknownKey,
        Rejection::Signature,
        Rejection::Expired,
        Rejection::NotYetValid,
        Rejection::Issuer,
        Rejection::Audience,
        Rejection::Claims,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Rejection::Malformed => "malformed",
            Rejection::Algorithm => "algorithm",
            Rejection::UnknownKey => "unknown_key",
            Rejection::Signature => "signature",
            Rejection::Expired => "expired",
            Rejection::NotYetValid => "not_yet_valid",
            Rejection::Issuer => "issuer",
            Rejection::Audience => "audience",
            Rejection::Claims => "claims",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// The three algorithms accepted from bearer tokens.
const ACCEPTED: [Algorithm; 3] = [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];

/// A parsed key set and the checks every token must pass.
pub struct JwtVerifier {
    keys: Vec<VerificationKey>,
    /// One validation per accepted algorithm, in the order of [`ACCEPTED`].
    validations: [Validation; 3],
    leeway_s: i64,
    method: TokenMethod,
}

impl JwtVerifier {
    /// Reads the JWKS file of `config`. Notes about skipped keys go to standard error.
    pub fn load(config: &JwtConfig) -> Result<JwtVerifier, JwksError> {
        let KeySource::File(path) = &config.jwks else {
            return Ok(JwtVerifier::new(Vec::new(), config));
        };
        let set = jwks::read(path)?;
        for note in &set.skipped {
            eprintln!("rampart serve: `{}`: {note}", path.display());
        }
        Ok(JwtVerifier::new(set.keys, config))
    }

    /// A verifier of already parsed keys.
    pub fn new(keys: Vec<VerificationKey>, config: &JwtConfig) -> JwtVerifier {
        let leeway = config.leeway.min(MAX_LEEWAY).as_secs();
        let validations = ACCEPTED.map(|algorithm| {
            let mut validation = Validation::new(algorithm);
            validation.leeway = leeway;
            validation.validate_exp = true;
            validation.validate_nbf = true;
            if config.issuers.is_empty() {
                validation.iss = None;
            } else {
                validation.set_issuer(&config.issuers);
                validation.required_spec_claims.insert("iss".to_owned());
            }
            if config.audiences.is_empty() {
                validation.validate_aud = false;
            } else {
                validation.set_audience(&config.audiences);
                validation.required_spec_claims.insert("aud".to_owned());
            }
            validation
        });
        JwtVerifier {
            keys,
            validations,
            leeway_s: i64::try_from(leeway).unwrap_or(i64::MAX),
            method: config.method,
        }
    }

    /// How many keys tokens can be verified with.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// The `context.auth.method` of the tokens this verifier accepts.
    pub fn method(&self) -> TokenMethod {
        self.method
    }

    /// Verifies a compact JWS and returns its claims. `now_s` is the current time in
    /// seconds since the epoch (for `iat`; `exp` and `nbf` are checked against the clock).
    pub fn verify(&self, token: &str, now_s: i64) -> Result<Map<String, Json>, Rejection> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Rejection::Malformed);
        }
        let header = Header::read(token)?;
        let slot = ACCEPTED
            .iter()
            .position(|a| *a == header.algorithm)
            .ok_or(Rejection::Algorithm)?;
        let key = self.key_for(&header).ok_or(Rejection::UnknownKey)?;
        let validation = self.validations.get(slot).ok_or(Rejection::Algorithm)?;
        let data = jsonwebtoken::decode::<Map<String, Json>>(token, &key.key, validation)
            .map_err(|e| rejection(e.kind()))?;
        let claims = data.claims;
        if let Some(iat) = claims.get("iat") {
            let iat = iat.as_f64().ok_or(Rejection::Claims)?;
            // Precision is irrelevant at the scale of seconds.
            let latest = now_s.saturating_add(self.leeway_s) as f64;
            if iat > latest {
                return Err(Rejection::NotYetValid);
            }
        }
        Ok(claims)
    }

    /// The key a token names: the key with its `kid` and algorithm; else, when no key has
    /// that `kid` (or the token names none), the only key of its algorithm without a `kid`
    /// (a token without `kid`: the only key of its algorithm).
    fn key_for(&self, header: &Header) -> Option<&VerificationKey> {
        let of_algorithm = || self.keys.iter().filter(|k| k.algorithm == header.algorithm);
        if let Some(kid) = &header.kid {
            if let Some(key) = of_algorithm().find(|k| k.kid.as_deref() == Some(kid)) {
                return Some(key);
            }
            return only(of_algorithm().filter(|k| k.kid.is_none()));
        }
        only(of_algorithm())
    }
}

/// The single item of an iterator; `None` when it has none or several.
fn only<T>(mut items: impl Iterator<Item = T>) -> Option<T> {
    let first = items.next()?;
    items.next().is_none().then_some(first)
}

/// What the sidecar reads from a token's header before verifying it.
struct Header {
    algorithm: Algorithm,
    kid: Option<String>,
}

impl Header {
    /// Decodes the header part. An `alg` outside the accepted three is
    /// [`Rejection::Algorithm`]; a `crit` header (an extension the sidecar does not know)
    /// is refused as malformed, as RFC 7515 requires.
    fn read(token: &str) -> Result<Header, Rejection> {
        let mut parts = token.split('.');
        let (Some(encoded), Some(_), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Rejection::Malformed);
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| Rejection::Malformed)?;
        let Ok(Json::Object(fields)) = serde_json::from_slice::<Json>(&bytes) else {
            return Err(Rejection::Malformed);
        };
        if fields.contains_key("crit") {
            return Err(Rejection::Malformed);
        }
        let algorithm = match fields.get("alg").and_then(Json::as_str) {
            Some("RS256") => Algorithm::RS256,
            Some("ES256") => Algorithm::ES256,
            Some("EdDSA") => Algorithm::EdDSA,
            Some(_) => return Err(Rejection::Algorithm),
            None => return Err(Rejection::Malformed),
        };
        let kid = match fields.get("kid") {
            None | Some(Json::Null) => None,
            Some(Json::String(kid)) => Some(kid.clone()),
            Some(_) => return Err(Rejection::Malformed),
        };
        Ok(Header { algorithm, kid })
    }
}

/// The rejection reason of a `jsonwebtoken` error.
fn rejection(kind: &ErrorKind) -> Rejection {
    match kind {
        ErrorKind::InvalidSignature
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidKeyFormat => Rejection::Signature,
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => Rejection::Algorithm,
        ErrorKind::ExpiredSignature => Rejection::Expired,
        ErrorKind::ImmatureSignature => Rejection::NotYetValid,
        ErrorKind::InvalidIssuer => Rejection::Issuer,
        ErrorKind::InvalidAudience => Rejection::Audience,
        ErrorKind::MissingRequiredClaim(claim) if claim == "iss" => Rejection::Issuer,
        ErrorKind::MissingRequiredClaim(claim) if claim == "aud" => Rejection::Audience,
        ErrorKind::MissingRequiredClaim(_) | ErrorKind::InvalidClaimFormat(_) => Rejection::Claims,
        _ => Rejection::Malformed,
    }
}
