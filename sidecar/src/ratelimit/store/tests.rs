//! Store URLs, key layout, the script's arguments and the reading of its replies.

use super::*;

#[test]
fn the_four_schemes_are_read_and_shown_without_a_password() {
    let tcp = StoreUrl::parse("redis://:s3cret@10.0.0.5:6380/2").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(tcp.shown(), "redis://10.0.0.5:6380/2");
    assert!(!tcp.tls);
    let tls =
        StoreUrl::parse("rediss://user:pw@redis.internal:6379").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(tls.shown(), "rediss://redis.internal:6379");
    assert!(tls.tls);
    for socket in [
        "redis+unix:///run/redis/redis.sock",
        "unix:///run/redis/redis.sock?db=3&pass=secret",
    ] {
        let url = StoreUrl::parse(socket).unwrap_or_else(|e| panic!("{socket}: {e}"));
        assert!(
            url.shown().ends_with(":///run/redis/redis.sock"),
            "{}",
            url.shown()
        );
        assert!(!url.shown().contains("secret"));
    }
}

#[test]
fn bad_store_urls_are_refused_with_a_reason() {
    let long = format!("redis://{}:6379", "h".repeat(3000));
    for (url, reason) in [
        ("http://redis:6379", "expected redis://"),
        ("redis-server:6379", "expected redis://"),
        ("redis+unix://", "names no socket path"),
        ("redis:///", "names no host"),
        ("redis://localhost:6379/not-a-number", "database"),
        (long.as_str(), "longer than"),
    ] {
        match StoreUrl::parse(url) {
            Ok(parsed) => panic!("{url} was read as {parsed:?}"),
            Err(error) => assert!(
                error.to_lowercase().contains(reason),
                "{url}: `{error}` does not say `{reason}`"
            ),
        }
    }
    // An error message about a URL never repeats its password.
    let shown = StoreUrl::redacted("redis://:hunter2@host:6379/x");
    assert!(!shown.contains("hunter2"), "{shown}");
}

#[test]
fn prefixes_are_printable_without_braces() {
    assert!(check_prefix(DEFAULT_PREFIX).is_ok());
    assert!(check_prefix("fleet-a:rl:").is_ok());
    assert!(check_prefix("").is_ok());
    for bad in ["a b", "{x}:", "tab\t", "é"] {
        assert!(check_prefix(bad).is_err(), "{bad:?}");
    }
    assert!(check_prefix(&"p".repeat(129)).is_err());
}

#[test]
fn keys_hash_the_value_and_tag_the_rule() {
    let key = redis_key("rampart:rl:", "write-rate", 100, 60, "User::\"alice\"");
    let (head, hash) = key.rsplit_once(':').unwrap_or_else(|| panic!("{key}"));
    assert_eq!(head, "rampart:rl:{write-rate}:100:60");
    assert_eq!(hash.len(), 32);
    assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()));
    // The first 128 bits of SHA-256("User::\"alice\"").
    let digest = Sha256::digest(b"User::\"alice\"");
    let mut expected = String::new();
    push_hex(&mut expected, &digest, 32);
    assert_eq!(hash, expected);
    // Same inputs, same key (every replica computes it alike); any change, another key.
    assert_eq!(
        key,
        redis_key("rampart:rl:", "write-rate", 100, 60, "User::\"alice\"")
    );
    for other in [
        redis_key("rampart:rl:", "write-rate", 100, 60, "User::\"bob\""),
        redis_key("rampart:rl:", "read-rate", 100, 60, "User::\"alice\""),
        redis_key("rampart:rl:", "write-rate", 101, 60, "User::\"alice\""),
        redis_key("rampart:rl:", "write-rate", 100, 61, "User::\"alice\""),
        redis_key("fleet-b:", "write-rate", 100, 60, "User::\"alice\""),
    ] {
        assert_ne!(key, other);
    }
}

#[test]
fn a_huge_value_or_an_odd_rule_makes_a_short_key() {
    let huge = "x".repeat(64 * 1024);
    let key = redis_key("rampart:rl:", "r", 1, 1, &huge);
    assert!(key.len() < 80, "{}", key.len());
    assert!(!key.contains("xxxx"));
    for rule in ["", "has space", "{brace}", "ünïcode", &"r".repeat(65)] {
        let key = redis_key("p:", rule, 1, 1, "k");
        let tag = key
            .strip_prefix("p:{#")
            .and_then(|rest| rest.split_once('}'))
            .map(|(tag, _)| tag)
            .unwrap_or_else(|| panic!("{rule:?} → {key}"));
        assert_eq!(tag.len(), 32, "{key}");
        assert_eq!(key.matches('{').count(), 1, "{key}");
    }
}

#[test]
fn gcra_arguments_are_the_token_bucket() {
    // 200 per hour: one every 18 s, a burst of 200.
    assert_eq!(gcra_args(200, 3600), (18_000_000, 3_600_000_000));
    // 3 per 7 s: the interval rounds to a microsecond, the burst stays 3.
    assert_eq!(gcra_args(3, 7), (2_333_333, 6_999_999));
    // Above a million per second the interval is held at 1 µs; the burst stays the limit.
    assert_eq!(gcra_args(5_000_000, 1), (1, 5_000_000));
    // Zeros are read as 1, and huge values stay below 2^50 (exact in Lua's doubles).
    assert_eq!(gcra_args(0, 0), (1_000_000, 1_000_000));
    let (interval, capacity) = gcra_args(u64::MAX, u64::MAX);
    assert!(interval >= 1 && capacity <= 1 << 50 && capacity >= interval);
    let (interval, capacity) = gcra_args(1, u64::MAX);
    assert_eq!((interval, capacity), (1 << 50, 1 << 50));
}

#[test]
fn replies_are_read_strictly() {
    assert_eq!(read_reply(&[0, 0], 2, 100), Ok(Verdict::Allowed));
    assert_eq!(
        read_reply(&[2, 40], 2, 100),
        Ok(Verdict::Denied {
            index: 1,
            wait_us: 40
        })
    );
    for garbage in [
        &[][..],
        &[0],
        &[0, 1],
        &[3, 10],
        &[-1, 10],
        &[1, -5],
        &[1, 101],
        &[1, 2, 3],
        &[i64::MAX, i64::MAX],
    ] {
        assert!(read_reply(garbage, 2, 100).is_err(), "{garbage:?}");
    }
}
