use super::*;

fn config(text: &str) -> Config {
    crate::config::load(Some(text), &|name| match name {
        "alice_key" => Some("sk-alice".into()),
        "bob_key" => Some("sk-bob".into()),
        _ => None,
    })
    .unwrap()
}

const LIMITS: &str = r#"
[gateway]
api_keys = { alice = "alice_key", bob = "bob_key" }
[limits."*"]
requests_per_minute = 100
[limits.alice]
requests_per_minute = 2
window_secs = 10
budget_usd = 1.5
budget_period = "day"
[limits.alice.models.echo]
tokens_per_minute = 50
"#;

#[test]
fn a_key_s_own_table_replaces_the_default_and_aliases_add_theirs() {
    let config = config(LIMITS);
    let alice = applying(&config, "alice", "echo");
    assert_eq!(alice.len(), 2);
    assert_eq!(alice[0].0, "*");
    assert_eq!(alice[0].1.requests_per_window, Some(2));
    assert_eq!(alice[0].1.budget_micro_usd, Some(1_500_000));
    assert_eq!(alice[1].0, "echo");
    assert_eq!(alice[1].1.tokens_per_window, Some(50));
    assert_eq!(applying(&config, "alice", "other").len(), 1);
    let bob = applying(&config, "bob", "echo");
    assert_eq!(bob.len(), 1);
    assert_eq!(bob[0].1.requests_per_window, Some(100));
}

#[test]
fn limits_name_keys_that_exist_and_sane_numbers() {
    let unknown = crate::config::load(
        Some("[gateway]\napi_keys = { alice = \"alice_key\" }\n[limits.mallory]\nrequests_per_minute = 1"),
        &|_| Some("k".into()),
    )
    .unwrap_err();
    assert_eq!(unknown.path, "limits.mallory");
    let zero = crate::config::load(Some("[limits.anonymous]\nrequests_per_minute = 0"), &|_| {
        None
    })
    .unwrap_err();
    assert_eq!(zero.path, "limits.anonymous.requests_per_minute");
    let period = crate::config::load(
        Some("[limits.anonymous]\nbudget_tokens = 5\nbudget_period = \"fortnight\""),
        &|_| None,
    )
    .unwrap_err();
    assert_eq!(period.path, "limits.anonymous.budget_period");
    let price = crate::config::load(Some("[prices.gpt]\ninput = 1.0\noutput = 2.0"), &|_| None)
        .unwrap_err();
    assert_eq!(price.path, "prices.gpt");
}

#[test]
fn windows_counters_and_expiry() {
    let config = config(LIMITS);
    let alice = applying(&config, "alice", "echo");
    let limits = alice[0].1;
    assert_eq!(Counted::Requests.window(limits, 1005), (1000, 1010));
    assert_eq!(
        Counted::BudgetCost.window(limits, 90_000),
        (86_400, 172_800)
    );
    let key = counter_key("alice", "*", Counted::Requests, 1010);
    assert_eq!(key, "apex:limit:alice:*:req:1010");
    assert!(!expired(&key, 1010));
    assert!(expired(&key, 1011));
    let day = usage_key("alice", 20_793, "input");
    assert_eq!(day, "apex:usage:alice:2026-12-06:input");
    assert!(!expired(&day, 20_793 * 86_400));
    assert!(expired(&day, (20_793 + 401) * 86_400));
    assert!(!expired("apex:stats:x:1", 0));
}

#[test]
fn refusals_say_which_limit_and_when_to_retry() {
    let refusal = Refusal {
        what: Counted::BudgetCost,
        scope_is_alias: true,
        cap: 1_500_000,
        retry_after_secs: 42,
    };
    assert_eq!(
        refusal.message("alice", "echo"),
        "Gateway key `alice` has reached its budget of $1.50 for model `echo` (budget_usd); retry in 42 s."
    );
    assert_eq!(dollars(30), "0.00003");
    assert_eq!(dollars(0), "0.00");
    assert_eq!(dollars(12_340_000), "12.34");
    let used = Tokens {
        input: 10,
        output: 5,
        ..Tokens::default()
    };
    assert_eq!(Counted::Tokens.used(&used, 7), 15);
    assert_eq!(Counted::BudgetCost.used(&used, 7), 7);
    let mut day = DayUsage {
        requests: 1,
        tokens: used,
        cost_micro_usd: 7,
    };
    day.add(&day.clone());
    assert_eq!(DayUsage::from_values(day.values()), day);
    assert_eq!(day.render()["input_tokens"], 20);
    assert_eq!(day.render()["cost_usd"], 0.000014);
}

#[test]
fn counters_read_in_every_host_s_encoding() {
    assert_eq!(decode_counter(b"42"), Some(42));
    assert_eq!(decode_counter(b"-3"), Some(-3));
    assert_eq!(decode_counter(&7i64.to_le_bytes()), Some(7));
    assert_eq!(
        decode_counter(b"12345678"),
        Some(12_345_678),
        "8 digits are text"
    );
    assert_eq!(decode_counter(b"{}"), None);
    assert_eq!(decode_counter(b""), None);
}
