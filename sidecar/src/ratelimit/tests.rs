//! Unit tests of the token buckets, with an explicit clock.

use super::*;

const SECOND: u64 = 1_000_000_000;

fn allow(limits: &[(&str, &str, u64, u64)]) -> Decision {
    Decision {
        decision: Effect::Allow,
        rules: vec!["r".into()],
        reasons: Vec::new(),
        errors: Vec::new(),
        obligations: limits
            .iter()
            .map(|(rule, key, limit, per_s)| ObligationOut::RateLimit {
                limit: *limit,
                per_s: *per_s,
                key: (*key).into(),
                rule: (*rule).into(),
            })
            .collect(),
        controls: Vec::new(),
    }
}

#[test]
fn a_burst_of_the_limit_passes_then_the_next_request_is_limited() {
    let limiter = RateLimiter::new(100);
    let decision = allow(&[("write-rate", "User::\"alice\"", 3, 60)]);
    for _ in 0..3 {
        assert_eq!(limiter.enforce_at(&decision, 0), None);
    }
    let limited = limiter.enforce_at(&decision, 0);
    assert_eq!(
        limited,
        Some(RateLimited {
            rule: "write-rate".into(),
            limit: 3,
            per_s: 60,
            retry_after_s: 20,
            store_unavailable: false,
        })
    );
    let denied = limited.map(|l| l.decision());
    assert_eq!(
        denied.as_ref().map(|d| (d.decision, d.rules.clone())),
        Some((Effect::Deny, vec!["write-rate".to_string()]))
    );
    assert_eq!(
        denied.map(|d| d.reasons),
        Some(vec!["rate limit of 3 per 1m exceeded".to_string()])
    );
}

#[test]
fn tokens_come_back_at_the_limit_per_period() {
    let limiter = RateLimiter::new(100);
    let decision = allow(&[("r", "k", 2, 10)]);
    assert_eq!(limiter.enforce_at(&decision, 0), None);
    assert_eq!(limiter.enforce_at(&decision, 0), None);
    // One token every 5 s: 3 s in, 2 s remain.
    let limited = limiter.enforce_at(&decision, 3 * SECOND);
    assert_eq!(limited.map(|l| l.retry_after_s), Some(2));
    assert_eq!(limiter.enforce_at(&decision, 5 * SECOND), None);
    assert!(limiter.enforce_at(&decision, 5 * SECOND).is_some());
    // A long pause refills to the limit, never beyond it.
    assert_eq!(limiter.enforce_at(&decision, 1000 * SECOND), None);
    assert_eq!(limiter.enforce_at(&decision, 1000 * SECOND), None);
    assert!(limiter.enforce_at(&decision, 1000 * SECOND).is_some());
}

#[test]
fn keys_and_rules_have_buckets_of_their_own() {
    let limiter = RateLimiter::new(100);
    assert_eq!(
        limiter.enforce_at(&allow(&[("r", "alice", 1, 60)]), 0),
        None
    );
    assert!(limiter
        .enforce_at(&allow(&[("r", "alice", 1, 60)]), 0)
        .is_some());
    assert_eq!(limiter.enforce_at(&allow(&[("r", "bob", 1, 60)]), 0), None);
    assert_eq!(
        limiter.enforce_at(&allow(&[("other", "alice", 1, 60)]), 0),
        None
    );
    // The fingerprint separates rule and key: ("ab", "c") is not ("a", "bc").
    assert_eq!(limiter.enforce_at(&allow(&[("ab", "c", 1, 60)]), 0), None);
    assert_eq!(limiter.enforce_at(&allow(&[("a", "bc", 1, 60)]), 0), None);
    assert_eq!(limiter.len(), 5);
}

#[test]
fn an_exhausted_limit_gives_back_the_tokens_of_the_others() {
    let limiter = RateLimiter::new(100);
    let both = allow(&[("wide", "tenant", 2, 60), ("narrow", "alice", 1, 60)]);
    assert_eq!(limiter.enforce_at(&both, 0), None);
    let limited = limiter.enforce_at(&both, 0);
    assert_eq!(limited.map(|l| l.rule), Some("narrow".to_string()));
    // `wide` still has its second token: the refused request did not use it.
    assert_eq!(
        limiter.enforce_at(&allow(&[("wide", "tenant", 2, 60)]), 0),
        None
    );
    assert!(limiter
        .enforce_at(&allow(&[("wide", "tenant", 2, 60)]), 0)
        .is_some());
}

#[test]
fn denials_and_decisions_without_limits_take_nothing() {
    let limiter = RateLimiter::new(100);
    let mut deny = allow(&[("r", "k", 1, 60)]);
    deny.decision = Effect::Deny;
    for _ in 0..3 {
        assert_eq!(limiter.enforce(&deny), None);
        assert_eq!(limiter.enforce(&allow(&[])), None);
    }
    assert!(limiter.is_empty());
}

#[test]
fn a_changed_limit_keeps_what_was_used() {
    let limiter = RateLimiter::new(100);
    for _ in 0..3 {
        assert_eq!(limiter.enforce_at(&allow(&[("r", "k", 10, 60)]), 0), None);
    }
    // Down to 4 per minute after a reload: 3 used, 1 left.
    assert_eq!(limiter.enforce_at(&allow(&[("r", "k", 4, 60)]), 0), None);
    assert!(limiter
        .enforce_at(&allow(&[("r", "k", 4, 60)]), 0)
        .is_some());
}

#[test]
fn a_flood_of_keys_never_grows_past_the_bound() {
    let limiter = RateLimiter::new(1000);
    assert!(limiter.capacity() <= 1000 && limiter.capacity() >= 900);
    let hot = allow(&[("login", "203.0.113.7", 1, 3600)]);
    assert_eq!(limiter.enforce_at(&hot, 0), None);
    for n in 0..100_000u64 {
        let key = format!("10.{}.{}.{}", n >> 16, (n >> 8) & 255, n & 255);
        let now = n * 1000;
        assert_eq!(
            limiter.enforce_at(&allow(&[("login", &key, 1, 3600)]), now),
            None
        );
        assert!(limiter.len() <= limiter.capacity());
        if n % 100 == 0 {
            // The throttled key keeps sending, so it stays recent and stays limited.
            assert!(limiter.enforce_at(&hot, now).is_some(), "after {n} keys");
        }
    }
    assert!(limiter.len() <= 1000);
}

#[test]
fn idle_buckets_are_dropped_before_busy_ones() {
    let limiter = RateLimiter::with_shards(16, 1);
    assert_eq!(limiter.capacity(), 16);
    // Eight busy keys (their one token used for a minute), the oldest first, then eight
    // that refill in 60 ms.
    for n in 0..8u64 {
        let busy = allow(&[("busy", &format!("b{n}"), 1, 60)]);
        assert_eq!(limiter.enforce_at(&busy, n), None);
    }
    for n in 8..16u64 {
        let quick = allow(&[("quick", &format!("q{n}"), 1000, 60)]);
        assert_eq!(limiter.enforce_at(&quick, n), None);
    }
    assert_eq!(limiter.len(), 16);
    // A second later the quick ones are idle: a new key drops them, not the oldest.
    let _ = limiter.enforce_at(&allow(&[("busy", "new", 1, 60)]), SECOND);
    assert_eq!(limiter.len(), 9);
    let oldest = allow(&[("busy", "b0", 1, 60)]);
    assert!(limiter.enforce_at(&oldest, SECOND).is_some());
}

#[test]
fn a_full_shard_of_busy_buckets_drops_the_least_recently_used_eighth() {
    let limiter = RateLimiter::with_shards(16, 1);
    for n in 0..16u64 {
        let _ = limiter.enforce_at(&allow(&[("r", &format!("k{n}"), 1, 60)]), n);
    }
    let _ = limiter.enforce_at(&allow(&[("r", "new", 1, 60)]), 100);
    // Down to 14 of 16, then the new key: k0 and k1 were forgotten, k2 was not.
    assert_eq!(limiter.len(), 15);
    assert_eq!(limiter.enforce_at(&allow(&[("r", "k0", 1, 60)]), 200), None);
    assert!(limiter
        .enforce_at(&allow(&[("r", "k2", 1, 60)]), 200)
        .is_some());
}

#[test]
fn a_tiny_limiter_still_holds_one_key() {
    let limiter = RateLimiter::new(0);
    assert_eq!(limiter.capacity(), 1);
    assert_eq!(limiter.enforce_at(&allow(&[("r", "a", 1, 60)]), 0), None);
    assert!(limiter
        .enforce_at(&allow(&[("r", "a", 1, 60)]), 0)
        .is_some());
    assert_eq!(limiter.enforce_at(&allow(&[("r", "b", 1, 60)]), 0), None);
    assert_eq!(limiter.len(), 1);
}
