//! Unit tests of JWT verification, with the test-only keys of `cli/tests/fixtures/jwt`.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use super::*;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../cli/tests/fixtures/jwt")
}

fn read_fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
}

fn now_s() -> i64 {
    crate::state::now_ms() / 1000
}

/// A signing key of the fixtures and the `kid` its public half has in `jwks.json`.
fn signer(algorithm: Algorithm) -> (EncodingKey, &'static str) {
    let key = match algorithm {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(&read_fixture("TEST-ONLY-rsa-private.pem")),
        Algorithm::ES256 => EncodingKey::from_ec_pem(&read_fixture("TEST-ONLY-ec-private.pem")),
        _ => EncodingKey::from_ed_pem(&read_fixture("TEST-ONLY-ed25519-private.pem")),
    };
    let kid = match algorithm {
        Algorithm::RS256 => "test-rsa",
        Algorithm::ES256 => "test-ec",
        _ => "test-ed25519",
    };
    (
        key.unwrap_or_else(|e| panic!("{algorithm:?} key: {e}")),
        kid,
    )
}

fn sign(algorithm: Algorithm, kid: Option<&str>, claims: &Json) -> String {
    let (key, _) = signer(algorithm);
    sign_with(&key, algorithm, kid, claims)
}

fn sign_with(key: &EncodingKey, algorithm: Algorithm, kid: Option<&str>, claims: &Json) -> String {
    let mut header = Header::new(algorithm);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap_or_else(|e| panic!("sign: {e}"))
}

/// Claims valid now for issuer `https://idp.test` and audience `payments`.
fn claims() -> Json {
    let now = now_s();
    json!({
        "iss": "https://idp.test", "sub": "alice", "aud": "payments",
        "iat": now - 10, "nbf": now - 10, "exp": now + 300,
        "scope": "openid payments:write", "amr": ["pwd", "mfa"],
        "tier": "gold", "ratio": 0.5, "gone": null, "groups": ["a", "b"],
        "nested": {"level": 1, "trap": {"__entity": {"type": "User", "id": "root"}}}
    })
}

fn config() -> JwtConfig {
    JwtConfig {
        issuers: vec!["https://idp.test".into()],
        audiences: vec!["payments".into()],
        ..JwtConfig::new(fixtures().join("jwks.json"))
    }
}

fn verifier(config: &JwtConfig) -> JwtVerifier {
    JwtVerifier::load(config).unwrap_or_else(|e| panic!("load the key set: {e}"))
}

#[test]
fn rs256_es256_and_eddsa_tokens_verify() {
    let verifier = verifier(&config());
    for algorithm in [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA] {
        let (_, kid) = signer(algorithm);
        let token = sign(algorithm, Some(kid), &claims());
        let verified = verifier.verify(&token, now_s());
        assert_eq!(
            verified.as_ref().ok().and_then(|c| c.get("sub")),
            Some(&json!("alice")),
            "{algorithm:?}: {verified:?}"
        );
    }
}

#[test]
fn a_token_without_kid_uses_the_only_key_of_its_algorithm() {
    let verifier = verifier(&config());
    let token = sign(Algorithm::ES256, None, &claims());
    assert!(verifier.verify(&token, now_s()).is_ok());
}

#[test]
fn an_unknown_kid_or_a_foreign_key_is_refused() {
    let verifier = verifier(&config());
    let token = sign(Algorithm::RS256, Some("nope"), &claims());
    assert_eq!(verifier.verify(&token, now_s()), Err(Rejection::UnknownKey));
    // The kid of an RSA key on an EdDSA token: no EdDSA key has it.
    let token = sign(Algorithm::EdDSA, Some("test-rsa"), &claims());
    assert_eq!(verifier.verify(&token, now_s()), Err(Rejection::UnknownKey));
    // Signed by a key outside the set, under the kid of one inside it.
    let other = EncodingKey::from_ed_pem(&read_fixture("TEST-ONLY-ed25519-other-private.pem"))
        .unwrap_or_else(|e| panic!("{e}"));
    let token = sign_with(&other, Algorithm::EdDSA, Some("test-ed25519"), &claims());
    assert_eq!(verifier.verify(&token, now_s()), Err(Rejection::Signature));
}

#[test]
fn alg_none_and_hs256_are_refused() {
    let verifier = verifier(&config());
    let encode = |value: &Json| URL_SAFE_NO_PAD.encode(value.to_string());
    let unsigned = format!(
        "{}.{}.",
        encode(&json!({"alg": "none", "typ": "JWT"})),
        encode(&claims())
    );
    assert_eq!(
        verifier.verify(&unsigned, now_s()),
        Err(Rejection::Algorithm)
    );
    // HS256 keyed with the public RSA modulus: the classic key-confusion forgery.
    let jwks: Json = serde_json::from_slice(&read_fixture("jwks.json")).unwrap_or_default();
    let modulus = jwks["keys"][0]["n"].as_str().unwrap_or_default().to_owned();
    let hmac = EncodingKey::from_secret(modulus.as_bytes());
    let token = sign_with(&hmac, Algorithm::HS256, Some("test-rsa"), &claims());
    assert_eq!(verifier.verify(&token, now_s()), Err(Rejection::Algorithm));
    // An algorithm name that merely looks right.
    let header = encode(&json!({"alg": "rs256", "kid": "test-rsa"}));
    let forged = format!("{header}.{}.AAAA", encode(&claims()));
    assert_eq!(verifier.verify(&forged, now_s()), Err(Rejection::Algorithm));
}

#[test]
fn time_claims_are_checked_with_bounded_leeway() {
    let verifier = verifier(&config());
    let now = now_s();
    let with = |changes: Json| {
        let mut claims = claims();
        if let (Some(fields), Json::Object(changes)) = (claims.as_object_mut(), changes) {
            for (name, value) in changes {
                if value.is_null() {
                    fields.remove(&name);
                } else {
                    fields.insert(name, value);
                }
            }
        }
        sign(Algorithm::EdDSA, Some("test-ed25519"), &claims)
    };
    let check = |token: String| verifier.verify(&token, now).map(|_| ());
    assert_eq!(
        check(with(json!({"exp": now - 120}))),
        Err(Rejection::Expired)
    );
    // Within the 60 s of leeway.
    assert_eq!(check(with(json!({"exp": now - 30}))), Ok(()));
    assert_eq!(
        check(with(json!({"nbf": now + 600}))),
        Err(Rejection::NotYetValid)
    );
    assert_eq!(
        check(with(json!({"iat": now + 600}))),
        Err(Rejection::NotYetValid)
    );
    assert_eq!(check(with(json!({"iat": now + 30}))), Ok(()));
    assert_eq!(check(with(json!({"exp": null}))), Err(Rejection::Claims));
    assert_eq!(check(with(json!({"exp": "soon"}))), Err(Rejection::Claims));
    assert_eq!(check(with(json!({"iat": "then"}))), Err(Rejection::Claims));

    // The leeway is capped at five minutes whatever is configured.
    let lax = JwtVerifier::load(&JwtConfig {
        leeway: Duration::from_secs(86_400),
        ..config()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let token = with(json!({"exp": now - 400}));
    assert_eq!(lax.verify(&token, now), Err(Rejection::Expired));
    let token = with(json!({"exp": now - 200}));
    assert!(lax.verify(&token, now).is_ok());
}

#[test]
fn issuer_and_audience_are_checked_when_configured() {
    let strict = verifier(&config());
    let open = verifier(&JwtConfig::new(fixtures().join("jwks.json")));
    let token = |changes: Json| {
        let mut claims = claims();
        if let (Some(fields), Json::Object(changes)) = (claims.as_object_mut(), changes) {
            for (name, value) in changes {
                if value.is_null() {
                    fields.remove(&name);
                } else {
                    fields.insert(name, value);
                }
            }
        }
        sign(Algorithm::ES256, Some("test-ec"), &claims)
    };
    let now = now_s();
    let cases = [
        (json!({"iss": "https://evil.test"}), Rejection::Issuer),
        (json!({"iss": null}), Rejection::Issuer),
        (json!({"aud": "billing"}), Rejection::Audience),
        (json!({"aud": null}), Rejection::Audience),
    ];
    for (changes, rejection) in cases {
        let token = token(changes.clone());
        assert_eq!(strict.verify(&token, now), Err(rejection), "{changes}");
        assert!(open.verify(&token, now).is_ok(), "{changes}");
    }
    let token = token(json!({"aud": ["billing", "payments"]}));
    assert!(strict.verify(&token, now).is_ok());
}

#[test]
fn garbage_is_malformed() {
    let verifier = verifier(&config());
    let good = sign(Algorithm::RS256, Some("test-rsa"), &claims());
    let parts: Vec<&str> = good.split('.').collect();
    let header_only = format!("{}.{}", parts[0], parts[1]);
    // A payload that is not JSON, correctly signed.
    let (key, _) = signer(Algorithm::RS256);
    let message = format!("{}.{}", parts[0], URL_SAFE_NO_PAD.encode("not json"));
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::RS256)
        .unwrap_or_else(|e| panic!("{e}"));
    let bad_payload = format!("{message}.{signature}");
    let bad_signature = format!("{}.{}.AAAA", parts[0], parts[1]);
    let crit = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","kid":"test-rsa","crit":["exp"]}"#),
        parts[1],
        parts[2]
    );
    let huge = "a".repeat(MAX_TOKEN_BYTES + 1);
    for token in [
        "",
        "garbage",
        "a.b.c",
        "....",
        &header_only,
        &bad_payload,
        &crit,
        &huge,
    ] {
        assert_eq!(
            verifier.verify(token, now_s()),
            Err(Rejection::Malformed),
            "{token:.40}"
        );
    }
    assert_eq!(
        verifier.verify(&bad_signature, now_s()),
        Err(Rejection::Signature)
    );
}

#[test]
fn verified_claims_become_the_builtin_auth_record() {
    let mut claims = claims();
    claims["scp"] = json!(["payments:write", "admin"]);
    let Json::Object(claims) = claims else {
        panic!("claims are an object")
    };
    let auth = auth_facts(&claims, TokenMethod::Jwt);
    let now = now_s();
    assert_eq!(auth["method"], "jwt");
    assert_eq!(auth["issuer"], "https://idp.test");
    assert_eq!(auth["subject"], "alice");
    assert_eq!(auth["audience"], json!(["payments"]));
    assert_eq!(auth["scopes"], json!(["openid", "payments:write", "admin"]));
    assert_eq!(auth["issued_at"], json!(now - 10));
    assert_eq!(auth["expires_at"], json!(now + 300));
    assert_eq!(auth["mfa"], true);
    let kept = &auth["claims"];
    assert_eq!(kept["tier"], "gold");
    assert_eq!(kept["groups"], json!(["a", "b"]));
    assert_eq!(kept["nested"], json!({"level": 1}));
    for dropped in ["ratio", "gone"] {
        assert!(kept.get(dropped).is_none(), "{dropped} kept: {kept}");
    }
    let fields: Vec<&String> = auth
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    for field in fields {
        assert!(
            [
                "method",
                "issuer",
                "subject",
                "audience",
                "scopes",
                "issued_at",
                "expires_at",
                "mfa",
                "claims"
            ]
            .contains(&field.as_str()),
            "`{field}` is no field of the builtin context.auth"
        );
    }
    let oidc = auth_facts(&Map::new(), TokenMethod::Oidc);
    assert_eq!(oidc, json!({"method": "oidc", "scopes": [], "claims": {}}));
}

fn http_request(authorization: Option<&str>) -> Json {
    let mut headers = Map::new();
    headers.insert("x-request-id".into(), json!("1"));
    if let Some(value) = authorization {
        headers.insert("Authorization".into(), json!(value));
    }
    json!({"http": {"method": "GET", "path": "/", "headers": headers}})
}

#[test]
fn authenticate_fills_context_auth_only_from_a_verified_token() {
    let authenticator = Authenticator::load(config()).unwrap_or_else(|e| panic!("{e}"));
    let token = sign(Algorithm::RS256, Some("test-rsa"), &claims());

    let mut request = http_request(Some(&format!("Bearer {token}")));
    assert_eq!(
        authenticator.authenticate(&mut request, now_s()),
        Outcome::Verified
    );
    assert_eq!(request["context"]["auth"]["subject"], "alice");
    assert_eq!(request["context"]["auth"]["method"], "jwt");

    // Alice's signature on Mallory's claims.
    let mut mallory = claims();
    mallory["sub"] = json!("mallory");
    let forged_claims = sign(Algorithm::ES256, Some("test-ec"), &mallory);
    let parts: Vec<&str> = token.split('.').collect();
    let payload = forged_claims.split('.').nth(1).unwrap_or_default();
    let forged = format!("{}.{payload}.{}", parts[0], parts[2]);
    let mut request = http_request(Some(&format!("bearer {forged}")));
    assert_eq!(
        authenticator.authenticate(&mut request, now_s()),
        Outcome::Rejected(Rejection::Signature)
    );
    assert!(request.get("context").is_none());

    for value in [
        None,
        Some("Basic YWxpY2U6cHc="),
        Some("Bearer"),
        Some("Bearer  "),
    ] {
        let mut request = http_request(value);
        assert_eq!(
            authenticator.authenticate(&mut request, now_s()),
            Outcome::NoToken,
            "{value:?}"
        );
        assert!(request.get("context").is_none());
    }

    // A request without raw HTTP, or one that states its own auth, is left alone.
    let mut parts = json!({"principal": "User::\"a\"", "context": {}});
    assert_eq!(
        authenticator.authenticate(&mut parts, now_s()),
        Outcome::NoToken
    );
    let mut stated = http_request(Some(&format!("Bearer {token}")));
    stated["context"] = json!({"auth": {"method": "api_key"}});
    assert_eq!(
        authenticator.authenticate(&mut stated, now_s()),
        Outcome::StatedByCaller
    );
    assert_eq!(stated["context"]["auth"], json!({"method": "api_key"}));

    let mut request = http_request(Some(&format!("Bearer {token}")));
    assert_eq!(
        Authenticator::disabled().authenticate(&mut request, now_s()),
        Outcome::Disabled
    );
    assert!(request.get("context").is_none());
}

#[test]
fn key_sets_skip_foreign_keys_and_refuse_broken_ones() {
    let set = jwks::parse(
        r#"{"keys": [
            {"kty": "oct", "k": "c2VjcmV0"},
            {"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"},
            {"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"},
            {"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA",
             "x": "8CejjvelGGiR7-aCfcxf0htdL6gH8CDRey4hYbO3JN0"}
        ]}"#,
        "keys.json",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.keys.len(), 1);
    assert_eq!(set.skipped.len(), 3, "{:?}", set.skipped);

    let error = |text: &str| match jwks::parse(text, "keys.json") {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    };
    assert_eq!(
        error(r#"{"keys": [{"kty": "RSA", "kid": "small", "n": "AQAB", "e": "AQAB"}]}"#),
        "the key set `keys.json`: key `small`: the RSA modulus has 24 bits, at least 2048 \
         are required"
    );
    assert_eq!(
        error(r#"{"keys": [{"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}]}"#),
        "the key set `keys.json`: key 0: `x` has 3 bytes, expected 32"
    );
    let off_curve = URL_SAFE_NO_PAD.encode([7u8; 32]);
    assert!(error(&format!(
        r#"{{"keys": [{{"kty": "EC", "crv": "P-256", "x": "{off_curve}", "y": "{off_curve}"}}]}}"#
    ))
    .contains("not a valid ES256 public key"));
    // A set without a usable key parses to no keys: a start refuses it, a reload takes it.
    let empty = jwks::parse(r#"{"keys": []}"#, "keys.json").map(|set| set.keys.len());
    assert_eq!(empty.ok(), Some(0));
    assert_eq!(
        error("[]"),
        "the key set `keys.json` is not a JWKS: no `keys` array"
    );
}

#[test]
fn reload_swaps_the_key_set_and_keeps_the_old_one_on_failure() {
    let dir = std::env::temp_dir().join(format!("rampart-jwks-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("jwks.json");
    let all = read_fixture("jwks.json");
    std::fs::write(&path, &all).unwrap_or_else(|e| panic!("{e}"));
    let authenticator =
        Authenticator::load(JwtConfig::new(path.clone())).unwrap_or_else(|e| panic!("{e}"));
    let token = sign(Algorithm::EdDSA, Some("test-ed25519"), &claims());
    let bearer = format!("Bearer {token}");
    let outcome = |authenticator: &Authenticator| {
        authenticator.authenticate(&mut http_request(Some(&bearer)), now_s())
    };
    assert_eq!(outcome(&authenticator), Outcome::Verified);

    // The Ed25519 key is withdrawn from the file.
    let mut jwks: Json = serde_json::from_slice(&all).unwrap_or_default();
    if let Some(keys) = jwks["keys"].as_array_mut() {
        keys.retain(|k| k["kty"] != "OKP");
    }
    std::fs::write(&path, jwks.to_string()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(authenticator.reload().ok(), Some(2));
    assert_eq!(
        outcome(&authenticator),
        Outcome::Rejected(Rejection::UnknownKey)
    );

    // A broken file is refused; the last good key set keeps serving.
    std::fs::write(&path, "{").unwrap_or_else(|e| panic!("{e}"));
    assert!(authenticator.reload().is_err());
    let rsa = sign(Algorithm::RS256, Some("test-rsa"), &claims());
    let mut request = http_request(Some(&format!("Bearer {rsa}")));
    assert_eq!(
        authenticator.authenticate(&mut request, now_s()),
        Outcome::Verified
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_reload_to_a_set_without_signing_keys_revokes_every_key() {
    let dir = std::env::temp_dir().join(format!("rampart-jwks-revoke-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("jwks.json");
    let all = read_fixture("jwks.json");
    std::fs::write(&path, &all).unwrap_or_else(|e| panic!("{e}"));
    let authenticator =
        Authenticator::load(JwtConfig::new(path.clone())).unwrap_or_else(|e| panic!("{e}"));
    let rsa = format!(
        "Bearer {}",
        sign(Algorithm::RS256, Some("test-rsa"), &claims())
    );
    let outcome = |authenticator: &Authenticator| {
        authenticator.authenticate(&mut http_request(Some(&rsa)), now_s())
    };
    assert_eq!(outcome(&authenticator), Outcome::Verified);

    // Every key is re-marked for encryption: none may verify a signature any more.
    let mut jwks: Json = serde_json::from_slice(&all).unwrap_or_default();
    if let Some(keys) = jwks["keys"].as_array_mut() {
        for key in keys.iter_mut() {
            key["use"] = Json::from("enc");
        }
    }
    std::fs::write(&path, jwks.to_string()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(authenticator.reload().ok(), Some(0));
    assert_eq!(
        outcome(&authenticator),
        Outcome::Rejected(Rejection::UnknownKey)
    );

    // Back to the full set, then emptied: `{"keys": []}` revokes too.
    std::fs::write(&path, &all).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(authenticator.reload().ok(), Some(3));
    assert_eq!(outcome(&authenticator), Outcome::Verified);
    std::fs::write(&path, r#"{"keys": []}"#).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(authenticator.reload().ok(), Some(0));
    assert_eq!(
        outcome(&authenticator),
        Outcome::Rejected(Rejection::UnknownKey)
    );

    // A deleted or zero-byte file is a failed reload: the set last read (empty) stays.
    std::fs::write(&path, &all).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(authenticator.reload().ok(), Some(3));
    std::fs::write(&path, "").unwrap_or_else(|e| panic!("{e}"));
    assert!(authenticator.reload().is_err());
    assert_eq!(outcome(&authenticator), Outcome::Verified);
    std::fs::remove_file(&path).unwrap_or_else(|e| panic!("{e}"));
    let missing = authenticator.reload().err().map(|e| e.to_string());
    assert!(
        missing
            .as_deref()
            .is_some_and(|e| e.starts_with("cannot read the key set `")),
        "{missing:?}"
    );
    assert_eq!(outcome(&authenticator), Outcome::Verified);

    // A start needs at least one key.
    std::fs::write(&path, r#"{"keys": []}"#).unwrap_or_else(|e| panic!("{e}"));
    let start = Authenticator::load(JwtConfig::new(path.clone())).err();
    assert!(
        start
            .map(|e| e.to_string())
            .is_some_and(|e| e.ends_with("has no RS256, ES256 or EdDSA signing key")),
        "a start without keys was accepted"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// An authenticator with API keys only, from a file of `records` written to a temporary
/// folder named `name`.
fn with_api_keys(name: &str, records: serde_json::Value) -> (Authenticator, PathBuf) {
    let dir = std::env::temp_dir().join(format!("rampart-api-keys-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let file = dir.join("keys.json");
    std::fs::write(&file, json!({ "keys": records }).to_string()).unwrap_or_else(|e| panic!("{e}"));
    let auth = Authenticator::disabled()
        .with_api_keys(ApiKeyConfig {
            file: file.clone(),
            header: "X-Api-Key".to_owned(),
        })
        .unwrap_or_else(|e| panic!("{e}"));
    (auth, dir)
}

#[test]
fn api_keys_authenticate_header_pairs_and_request_json_alike() {
    let (auth, dir) = with_api_keys(
        "pairs",
        json!([{"id": "k", "sha256": api_key_hash("key-1"), "subject": "svc", "scopes": ["s"]}]),
    );
    assert!(auth.is_enabled());
    let now = now_s();
    let (outcome, facts) = auth.authenticate_headers([("x-api-key", "key-1")].into_iter(), now);
    assert_eq!(outcome, Outcome::ApiKeyVerified);
    let facts = facts.unwrap_or_default();
    assert_eq!(facts["method"], "api_key");
    assert_eq!(facts["subject"], "svc");
    assert_eq!(facts["claims"]["key_id"], "k");
    // The same key through the request JSON.
    let mut request =
        json!({"http": {"method": "GET", "path": "/", "headers": {"X-API-KEY": "key-1"}}});
    assert_eq!(
        auth.authenticate(&mut request, now),
        Outcome::ApiKeyVerified
    );
    assert_eq!(request["context"]["auth"], facts);
    // Unknown, repeated, absent.
    let (outcome, facts) = auth.authenticate_headers([("x-api-key", "key-2")].into_iter(), now);
    assert_eq!(
        (outcome, facts),
        (Outcome::ApiKeyRejected(ApiKeyRejection::Unknown), None)
    );
    let twice = [("x-api-key", "key-1"), ("X-Api-Key", "key-1")];
    assert_eq!(
        auth.authenticate_headers(twice.into_iter(), now).0,
        Outcome::ApiKeyRejected(ApiKeyRejection::Malformed)
    );
    assert_eq!(
        auth.authenticate_headers([("accept", "*/*")].into_iter(), now)
            .0,
        Outcome::NoToken
    );
    // A reload with a bad file keeps the keys; a good one replaces them.
    std::fs::write(dir.join("keys.json"), "{\"keys\": 1}").unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(auth.reload_api_keys(), Some(Err(_))));
    assert_eq!(
        auth.authenticate_headers([("x-api-key", "key-1")].into_iter(), now)
            .0,
        Outcome::ApiKeyVerified
    );
    std::fs::write(dir.join("keys.json"), "{\"keys\": []}").unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(auth.reload_api_keys(), Some(Ok(0))));
    assert_eq!(
        auth.authenticate_headers([("x-api-key", "key-1")].into_iter(), now)
            .0,
        Outcome::ApiKeyRejected(ApiKeyRejection::Unknown)
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_bearer_token_wins_over_an_api_key() {
    let (auth, dir) = with_api_keys(
        "bearer",
        json!([{"id": "k", "sha256": api_key_hash("key-1"), "subject": "svc"}]),
    );
    let jwt = JwtConfig::new(fixtures().join("jwks.json"));
    let mut both = Authenticator::load(jwt).unwrap_or_else(|e| panic!("{e}"));
    both.api_keys = auth.api_keys;
    let headers = [
        ("authorization", "Bearer not.a.token"),
        ("x-api-key", "key-1"),
    ];
    assert_eq!(
        both.authenticate_headers(headers.into_iter(), now_s()).0,
        Outcome::Rejected(Rejection::Malformed)
    );
    let _ = std::fs::remove_dir_all(dir);
}
