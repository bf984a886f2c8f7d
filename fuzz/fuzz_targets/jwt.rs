//! Arbitrary text as a bearer token → the sidecar's JWT verifier (`--jwks` with the
//! test-only key set, issuer and audience required). Invariants: no panic; a token is
//! accepted only when its signature verifies, with a second implementation (ring), under a
//! fixture public key of the algorithm its header names; the claims returned are its
//! payload; `iss`, `aud` and `exp` hold.
#![no_main]

use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use rampart_fuzz::{now_ms, repo_root, seeds, FIXTURE_JWKS, MAX_INPUT_BYTES};
use rampart_sidecar::fuzzing::TokenVerifier;
use rampart_sidecar::JwtConfig;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde_json::Value as Json;

/// The leeway of the verifier (the default, 60 s) plus a margin for the clock moving on.
const LEEWAY_S: i64 = 60 + 5;

fn verifier() -> &'static TokenVerifier {
    static VERIFIER: OnceLock<TokenVerifier> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        let config = JwtConfig {
            issuers: vec![seeds::ISSUER.to_owned()],
            audiences: vec![seeds::AUDIENCE.to_owned()],
            ..JwtConfig::new(repo_root().join("cli/tests/fixtures/jwt/jwks.json"))
        };
        match TokenVerifier::load(&config) {
            Ok(verifier) => verifier,
            Err(error) => panic!("the fixture JWKS does not load: {error}"),
        }
    })
}

fn decode(part: &str) -> Vec<u8> {
    match URL_SAFE_NO_PAD.decode(part) {
        Ok(bytes) => bytes,
        Err(error) => {
            panic!("an accepted token has a part that is not base64url ({error}): {part}")
        }
    }
}

fn key_field(key: &Json, name: &str) -> Vec<u8> {
    decode(key.get(name).and_then(Json::as_str).unwrap_or_default())
}

/// True when `signature` over `message` verifies with a key of the fixture set for `alg`.
fn fixture_signed(alg: &str, message: &[u8], sig: &[u8]) -> bool {
    let set: Json = serde_json::from_str(FIXTURE_JWKS).unwrap_or_default();
    let keys = set
        .get("keys")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    keys.iter()
        .any(|key| match (alg, key.get("kty").and_then(Json::as_str)) {
            ("RS256", Some("RSA")) => {
                let (n, e) = (key_field(key, "n"), key_field(key, "e"));
                RsaPublicKeyComponents { n: &n, e: &e }
                    .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, sig)
                    .is_ok()
            }
            ("ES256", Some("EC")) => {
                let mut point = vec![4];
                point.extend(key_field(key, "x"));
                point.extend(key_field(key, "y"));
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, sig)
                    .is_ok()
            }
            ("EdDSA", Some("OKP")) => {
                UnparsedPublicKey::new(&signature::ED25519, key_field(key, "x"))
                    .verify(message, sig)
                    .is_ok()
            }
            _ => false,
        })
}

fuzz_target!(
    init: seeds::write_if_asked("jwt"),
    |data: &[u8]| {
        if data.len() > MAX_INPUT_BYTES {
            return;
        }
        let Ok(token) = std::str::from_utf8(data) else { return };
        let now_s = now_ms() / 1000;
        let Ok(claims) = verifier().verify(token, now_s) else { return };

        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3, "an accepted token that is not three parts: {token}");
        let header: Json = serde_json::from_slice(&decode(parts[0])).unwrap_or_default();
        let alg = header.get("alg").and_then(Json::as_str).unwrap_or_default();
        let message = token.rsplit_once('.').map(|(m, _)| m).unwrap_or_default();
        assert!(
            fixture_signed(alg, message.as_bytes(), &decode(parts[2])),
            "accepted a token no fixture key signed: {token}"
        );
        let payload: Json = match serde_json::from_slice(&decode(parts[1])) {
            Ok(payload) => payload,
            Err(error) => panic!("an accepted token's payload is not JSON ({error}): {token}"),
        };
        assert_eq!(Json::Object(claims.clone()), payload, "claims differ from the payload");
        assert_eq!(claims.get("iss").and_then(Json::as_str), Some(seeds::ISSUER));
        let audience_ok = match claims.get("aud") {
            Some(Json::String(aud)) => aud == seeds::AUDIENCE,
            Some(Json::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(seeds::AUDIENCE)),
            _ => false,
        };
        assert!(audience_ok, "accepted a token for another audience: {claims:?}");
        let exp = claims.get("exp").and_then(Json::as_f64);
        assert!(
            exp.is_some_and(|exp| exp >= (now_s - LEEWAY_S) as f64),
            "accepted an expired token or one without `exp`: {claims:?}"
        );
        if let Some(nbf) = claims.get("nbf") {
            assert!(
                nbf.as_f64().is_some_and(|nbf| nbf <= (now_s + LEEWAY_S) as f64),
                "accepted a token before its `nbf`: {claims:?}"
            );
        }
    }
);
