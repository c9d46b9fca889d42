//! Cooldown rules: subjects, strikes, Retry-After, planning around cooling keys and targets.

use super::*;
use crate::routing::targets::attempts;

const NOW: u64 = 1_700_000_000_000;

fn config() -> Config {
    let text = "[gateway]\ncooldown_secs = 30\nauth_cooldown_secs = 600\n\
                [providers.a]\nbase_url = \"http://a\"\nkeys = [\"k1\", \"k2\"]\n\
                [providers.b]\nbase_url = \"http://b\"\nkeys = []\n\
                [models.m]\ntargets = [\"a/x\", \"b/y\"]";
    crate::config::load(Some(text), &|name| Some(format!("v-{name}"))).unwrap()
}

fn labels(attempts: &[Attempt]) -> Vec<String> {
    attempts
        .iter()
        .map(|a| format!("{}#{}", a.target.id(), a.key_index))
        .collect()
}

fn bench(until_ms: u64, reason: FailureClass) -> Cooldown {
    Cooldown {
        until_ms,
        reason,
        strikes: 0,
        told: matches!(reason, FailureClass::RateLimited | FailureClass::Auth),
        at_ms: NOW,
    }
}

#[test]
fn cooldowns_honour_retry_after_and_bench_auth_longer() {
    let config = config();
    use FailureClass::*;
    assert_eq!(cooldown_ms(RateLimited, Some(2_500), &config), Some(2_500));
    assert_eq!(cooldown_ms(RateLimited, None, &config), Some(30_000));
    assert_eq!(cooldown_ms(Overloaded, None, &config), Some(30_000));
    assert_eq!(cooldown_ms(Server, Some(1_000), &config), Some(1_000));
    assert_eq!(cooldown_ms(Timeout, None, &config), Some(30_000));
    assert_eq!(cooldown_ms(Connect, None, &config), Some(30_000));
    assert_eq!(cooldown_ms(Auth, Some(5_000), &config), Some(600_000));
    assert_eq!(cooldown_ms(Auth, None, &config), Some(600_000));
    assert_eq!(cooldown_ms(NotFound, None, &config), Some(30_000));
    assert_eq!(cooldown_ms(MalformedReply, None, &config), None);
    assert_eq!(cooldown_ms(ContextTooLong, None, &config), None);
    assert_eq!(
        cooldown_ms(RateLimited, Some(u64::MAX), &config),
        Some(MAX_COOLDOWN_SECS * 1000)
    );
    assert_eq!(cooldown_ms(RateLimited, Some(0), &config), None);
    let c = cooldown(RateLimited, Some(2_000), &config, NOW).unwrap();
    assert_eq!(c, bench(NOW + 2_000, RateLimited));
}

#[test]
fn rate_limits_and_auth_bench_the_key_the_rest_the_target() {
    let config = config();
    let targets = config.targets("m").unwrap();
    let all = attempts(&config, &targets, |_| 1).unwrap();
    let first = &all[0];
    assert_eq!(
        subject_for(FailureClass::RateLimited, first, &config),
        Some(Subject::key("a", 1))
    );
    assert_eq!(
        subject_for(FailureClass::Auth, first, &config),
        Some(Subject::key("a", 1))
    );
    assert_eq!(
        subject_for(FailureClass::Server, first, &config),
        Some(Subject::target(&TargetRef::new("a", "x")))
    );
    assert_eq!(
        subjects(&all),
        vec![
            Subject::key("a", 1),
            Subject::target(&TargetRef::new("a", "x")),
            Subject::key("a", 0),
            Subject::key("b", 0),
            Subject::target(&TargetRef::new("b", "y")),
        ]
    );
}

#[test]
fn a_missing_model_the_client_made_up_benches_nothing() {
    let text = "[providers.a]\nbase_url = \"http://a\"\nkeys = [\"k1\"]\n\
                [providers.b]\nbase_url = \"http://b\"\nkeys = []\n\
                [models.m]\ntargets = [\"a/x\"]\n\
                [[model_patterns]]\npattern = \"claude-*\"\nmodel = \"b/pinned\"";
    let config = crate::config::load(Some(text), &|name| Some(format!("v-{name}"))).unwrap();
    let subject = |class, name: &str| {
        let targets = config.targets(name).unwrap();
        let all = attempts(&config, &targets, |_| 0).unwrap();
        subject_for(class, &all[0], &config)
    };
    let target =
        |provider: &str, model: &str| Some(Subject::target(&TargetRef::new(provider, model)));
    assert_eq!(config.targets("a/made-up").unwrap()[0].id(), "a/made-up");
    // A 404 for a name the client typed: the client's mistake, nothing to bench or store.
    assert_eq!(subject(FailureClass::NotFound, "a/made-up"), None);
    assert_eq!(subject(FailureClass::NotFound, "b/made-up"), None);
    // A model the config names is missing: benched, whichever way it was asked for.
    assert_eq!(subject(FailureClass::NotFound, "m"), target("a", "x"));
    assert_eq!(subject(FailureClass::NotFound, "a/x"), target("a", "x"));
    assert_eq!(
        subject(FailureClass::NotFound, "b/pinned"),
        target("b", "pinned")
    );
    // Other failures of a direct name still count against its target; keys as ever.
    assert_eq!(
        subject(FailureClass::Server, "a/made-up"),
        target("a", "made-up")
    );
    assert_eq!(
        subject(FailureClass::RateLimited, "a/made-up"),
        Some(Subject::key("a", 0))
    );
}

#[test]
fn entry_names_round_trip_and_never_hold_key_values() {
    let key = Subject::key("open#ai", 3);
    assert_eq!(key.kv_key(), "apex:cool:key:open#ai#3");
    assert_eq!(key.label(), "open#ai#3");
    assert_eq!(Subject::from_kv_key(&key.kv_key()), Some(key));
    let target = Subject::target(&TargetRef::new("a", "org/model:free"));
    assert_eq!(target.kv_key(), "apex:cool:target:a/org/model:free");
    assert_eq!(Subject::from_kv_key(&target.kv_key()), Some(target));
    assert_eq!(Subject::from_kv_key("apex:cool:key:a#x"), None);
    assert_eq!(Subject::from_kv_key("apex:rotation:a"), None);
}

#[test]
fn flaky_failures_count_strikes_and_instructions_bench_at_once() {
    let config = crate::config::load(None, &|_| None).unwrap();
    assert_eq!(config.allowed_fails, 3);
    let first = after_failure(None, FailureClass::Server, None, &config, NOW).unwrap();
    assert_eq!((first.until_ms, first.strikes), (0, 1));
    assert!(!first.is_active(NOW));
    let second = after_failure(Some(first), FailureClass::Timeout, None, &config, NOW).unwrap();
    assert_eq!(second.strikes, 2);
    let third = after_failure(Some(second), FailureClass::Server, None, &config, NOW).unwrap();
    assert!(third.is_active(NOW + 29_000) && !third.is_active(NOW + 30_000));
    assert_eq!(third.strikes, 0);
    // Retry-After, a rate limit or a refused key bench at once.
    let told = after_failure(None, FailureClass::Overloaded, Some(5_000), &config, NOW).unwrap();
    assert_eq!(told.until_ms, NOW + 5_000);
    let limited = after_failure(None, FailureClass::RateLimited, None, &config, NOW).unwrap();
    assert!(limited.is_active(NOW));
    // A malformed reply depends on the request: nothing is counted.
    assert_eq!(
        after_failure(None, FailureClass::MalformedReply, None, &config, NOW),
        None
    );
}

#[test]
fn expired_entries_are_forgotten() {
    let mut health = Health::default();
    health.insert(
        &Subject::key("a", 0),
        bench(NOW + 1, FailureClass::RateLimited),
    );
    health.insert(&Subject::key("a", 1), bench(NOW, FailureClass::RateLimited));
    health.forget_expired(NOW);
    let names: Vec<&String> = health.entries.keys().collect();
    assert_eq!(names, ["apex:cool:key:a#0"]);
}

#[test]
fn entries_expire_with_their_bench_and_strikes_after_a_day() {
    let config = crate::config::load(None, &|_| None).unwrap();
    let first = after_failure(None, FailureClass::Server, None, &config, NOW).unwrap();
    assert_eq!(first.at_ms, NOW);
    assert_eq!(first.expires_at_ms(), NOW + STRIKES_KEPT_MS);
    let benched = after_failure(None, FailureClass::RateLimited, None, &config, NOW).unwrap();
    assert_eq!(benched.expires_at_ms(), benched.until_ms);
    // A strike from more than a day ago no longer counts.
    let later = NOW + STRIKES_KEPT_MS;
    let next = after_failure(Some(first), FailureClass::Server, None, &config, later).unwrap();
    assert_eq!((next.strikes, next.at_ms), (1, later));
    let next = after_failure(Some(first), FailureClass::Server, None, &config, later - 1);
    assert_eq!(next.map(|c| c.strikes), Some(2));
    // Entries written before `at_ms` existed: strikes are stale, a bench expires as before.
    let old = Cooldown::decode(br#"{"until_ms":0,"reason":"server","strikes":2}"#).unwrap();
    assert!(old.expires_at_ms() <= NOW);
    let old = Cooldown::decode(br#"{"until_ms":5000,"reason":"server"}"#).unwrap();
    assert_eq!(old.expires_at_ms(), 5000);
}

#[test]
fn inferred_benches_are_probed_when_nothing_else_is_left() {
    let text = "[providers.a]\nbase_url = \"http://a\"\nkeys = []\n[providers.b]\nbase_url = \"http://b\"\nkeys = []\n[models.m]\ntargets = [\"a/x\", \"b/y\"]";
    let config = crate::config::load(Some(text), &|_| None).unwrap();
    let targets = config.targets("m").unwrap();
    let attempts = crate::routing::targets::attempts(&config, &targets, |_| 0).unwrap();
    let mut health = Health::default();
    let inferred = |until_ms| Cooldown {
        until_ms,
        reason: FailureClass::Server,
        strikes: 0,
        told: false,
        at_ms: 0,
    };
    health.insert(&Subject::target(&targets[0]), inferred(NOW + 9_000));
    health.insert(&Subject::target(&targets[1]), inferred(NOW + 3_000));
    let probes = health.plan(attempts.clone(), NOW).unwrap();
    let order: Vec<String> = probes.iter().map(|a| a.target.id()).collect();
    assert_eq!(order, ["b/y", "a/x"], "soonest free first");
    // A bench the provider asked for is respected; the inferred one is still probed.
    health.insert(
        &Subject::key("b", 0),
        bench(NOW + 5_000, FailureClass::RateLimited),
    );
    let probes = health.plan(attempts.clone(), NOW).unwrap();
    assert_eq!(probes.len(), 1);
    assert_eq!(probes[0].target.id(), "a/x");
    health.insert(
        &Subject::key("a", 0),
        bench(NOW + 5_000, FailureClass::Auth),
    );
    let refused = health.plan(attempts, NOW).unwrap_err();
    assert_eq!(refused.status, 503);
}

#[test]
fn a_lapsed_bench_re_arms_on_the_next_failures() {
    let config = crate::config::load(None, &|_| None).unwrap();
    let benched = after_failure(None, FailureClass::Server, Some(2_000), &config, NOW).unwrap();
    assert!(benched.is_active(NOW + 1_000));
    // The probe right after the bench lapsed fails: benched again at once.
    let later = NOW + 3_000;
    let again = after_failure(
        Some(benched),
        FailureClass::Overloaded,
        None,
        &config,
        later,
    )
    .unwrap();
    assert!(again.is_active(later) && again.is_active(later + 29_000));
    // Long after the bench, failures count as strikes again (they accumulate, not reset).
    let much_later = NOW + 3_600_000;
    let first = after_failure(
        Some(benched),
        FailureClass::Server,
        None,
        &config,
        much_later,
    )
    .unwrap();
    assert_eq!((first.until_ms, first.strikes), (0, 1));
    let second =
        after_failure(Some(first), FailureClass::Server, None, &config, much_later).unwrap();
    let third = after_failure(
        Some(second),
        FailureClass::Server,
        None,
        &config,
        much_later,
    )
    .unwrap();
    assert!(third.is_active(much_later));
    // What is stored: the strikes counted after the lapsed bench, not the bench.
    assert_eq!(Cooldown::later(Some(benched), first), first);
    let mut health = Health::default();
    health.insert(&Subject::key("a", 0), benched);
    health.insert(&Subject::key("a", 0), first);
    assert_eq!(health.entries[&Subject::key("a", 0).kv_key()].strikes, 1);
}

#[test]
fn entries_encode_and_keep_the_later_expiry() {
    let auth = bench(NOW + 600_000, FailureClass::Auth);
    let bytes = auth.encode();
    assert_eq!(
        String::from_utf8(bytes.clone()).unwrap(),
        r#"{"until_ms":1700000600000,"reason":"auth","strikes":0,"told":true,"at_ms":1700000000000}"#
    );
    assert_eq!(Cooldown::decode(&bytes), Some(auth));
    assert_eq!(Cooldown::decode(b"garbage"), None);
    let short = bench(NOW + 1_000, FailureClass::RateLimited);
    assert_eq!(Cooldown::later(Some(auth), short), auth);
    assert_eq!(Cooldown::later(Some(short), auth), auth);
    assert_eq!(Cooldown::later(None, short), short);
    let mut health = Health::default();
    health.insert(&Subject::key("a", 0), auth);
    health.insert(&Subject::key("a", 0), short);
    assert_eq!(health.active(&Subject::key("a", 0), NOW), Some(auth));
    assert_eq!(health.active(&Subject::key("a", 0), NOW + 600_000), None);
    let json = serde_json::to_string(&health).unwrap();
    assert_eq!(serde_json::from_str::<Health>(&json).unwrap(), health);
}

#[test]
fn earliest_retry_rounds_up_and_ignores_the_past() {
    assert!(is_cooling(NOW, NOW + 1) && !is_cooling(NOW, NOW));
    assert_eq!(earliest_retry(NOW, [NOW + 4_001, NOW + 9_000]), Some(5));
    assert_eq!(earliest_retry(NOW, [NOW + 10, NOW - 5]), Some(1));
    assert_eq!(earliest_retry(NOW, [NOW - 5]), None);
    assert_eq!(earliest_retry(NOW, []), None);
}

#[test]
fn plan_skips_cooling_keys_and_targets() {
    let config = config();
    let targets = config.targets("m").unwrap();
    let all = attempts(&config, &targets, |_| 0).unwrap();
    assert_eq!(labels(&all), vec!["a/x#0", "a/x#1", "b/y#0"]);

    let mut health = Health::default();
    health.insert(
        &Subject::key("a", 0),
        bench(NOW + 5_000, FailureClass::Auth),
    );
    // Expired: ignored.
    health.insert(
        &Subject::target(&targets[1]),
        bench(NOW - 1, FailureClass::Server),
    );
    let planned = health.plan(all.clone(), NOW).unwrap();
    assert_eq!(labels(&planned), vec!["a/x#1", "b/y#0"]);

    health.insert(
        &Subject::target(&targets[0]),
        bench(NOW + 2_000, FailureClass::Server),
    );
    // An inferred bench demotes: a/x#1 goes after b/y#0.
    let planned = health.plan(all.clone(), NOW).unwrap();
    assert_eq!(labels(&planned), vec!["b/y#0", "a/x#1"]);
    assert_eq!(
        health.active_all(NOW),
        vec![
            (Subject::key("a", 0), bench(NOW + 5_000, FailureClass::Auth)),
            (
                Subject::target(&targets[0]),
                bench(NOW + 2_000, FailureClass::Server)
            ),
        ]
    );
    assert!(Health::default().plan(Vec::new(), NOW).unwrap().is_empty());
}

#[test]
fn all_cooling_answers_with_the_soonest_retry() {
    let config = config();
    let targets = config.targets("m").unwrap();
    let all = attempts(&config, &targets, |_| 0).unwrap();
    let mut health = Health::default();
    for i in 0..2 {
        health.insert(
            &Subject::key("a", i),
            bench(NOW + 20_000, FailureClass::RateLimited),
        );
    }
    health.insert(
        &Subject::key("b", 0),
        bench(NOW + 7_200, FailureClass::RateLimited),
    );
    let limited = health.plan(all.clone(), NOW).unwrap_err();
    assert_eq!(limited.status, 429);
    assert_eq!(limited.retry_after_secs, 8);
    let error = limited.error();
    assert_eq!((error.status, error.retry_after_secs), (429, Some(8)));
    assert!(error.message.contains("rate-limited"), "{}", error.message);

    // An attempt is free only when both its key and its target are: b/y#0 waits for its
    // target (30 s), so a/x's keys (20 s) come first.
    health.insert(
        &Subject::target(&targets[1]),
        bench(NOW + 30_000, FailureClass::Overloaded),
    );
    let unavailable = health.plan(all, NOW).unwrap_err();
    assert_eq!(unavailable.status, 503);
    assert_eq!(unavailable.retry_after_secs, 20);
    assert_eq!(
        unavailable.reasons,
        vec![FailureClass::RateLimited, FailureClass::Overloaded]
    );
    assert_eq!(unavailable.error().status, 503);
}
