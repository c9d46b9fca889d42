//! Target order per request: the alias's [`Strategy`] turned into a list of target indices.
//!
//! Pure: the router supplies the shared state (a round-robin counter and per-target request
//! counts, both read from the key-value store) and a random seed (`wasi:random`), so the same
//! inputs always give the same order and tests can check distributions with fixed seeds.

use std::collections::BTreeMap;

use crate::config::{Strategy, TargetRef};

/// What the strategies read besides the targets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoutingState {
    /// The alias's round-robin counter (the router increments it once per request).
    pub counter: u64,
    /// Requests recorded per target, by [`TargetRef::id`] (`provider/model`); a target missing
    /// here counts 0. `least-used` puts the smallest count first.
    pub usage: BTreeMap<String, u64>,
}

impl RoutingState {
    /// The recorded requests of `target`.
    pub fn usage_of(&self, target: &TargetRef) -> u64 {
        self.usage.get(&target.id()).copied().unwrap_or(0)
    }
}

/// The indices of `targets` in the order to try them.
///
/// - `failover`: as listed;
/// - `round-robin`: the list rotated by `state.counter`;
/// - `weighted`: drawn one by one without replacement, each draw in proportion to the remaining
///   targets' weights (so the first pick follows the weights exactly); weight-0 targets last, in
///   list order;
/// - `random`: a uniform shuffle;
/// - `least-used`: ascending `state.usage`, ties in list order.
pub fn order(
    strategy: Strategy,
    targets: &[TargetRef],
    state: &RoutingState,
    rng_seed: u64,
) -> Vec<usize> {
    let n = targets.len();
    let mut rng = Rng::new(rng_seed);
    match strategy {
        Strategy::Failover => (0..n).collect(),
        Strategy::RoundRobin => {
            let first = if n == 0 {
                0
            } else {
                (state.counter % n as u64) as usize
            };
            (0..n).map(|i| (first + i) % n).collect()
        }
        Strategy::Weighted => weighted(targets, &mut rng),
        Strategy::Random => {
            let mut out: Vec<usize> = (0..n).collect();
            // Fisher–Yates.
            for i in (1..n).rev() {
                let j = rng.below(i as u64 + 1) as usize;
                out.swap(i, j);
            }
            out
        }
        Strategy::LeastUsed => {
            let mut out: Vec<usize> = (0..n).collect();
            // Stable: equal counts keep list order.
            out.sort_by_key(|&i| targets.get(i).map_or(0, |t| state.usage_of(t)));
            out
        }
    }
}

/// Weighted random order without replacement; zero weights after, in list order.
fn weighted(targets: &[TargetRef], rng: &mut Rng) -> Vec<usize> {
    let mut pool: Vec<(usize, u64)> = targets
        .iter()
        .enumerate()
        .filter(|(_, t)| t.weight > 0)
        .map(|(i, t)| (i, u64::from(t.weight)))
        .collect();
    let mut out = Vec::with_capacity(targets.len());
    while !pool.is_empty() {
        let total: u64 = pool.iter().map(|(_, w)| w).sum();
        let mut ticket = rng.below(total);
        let mut pick = pool.len() - 1;
        for (at, (_, w)) in pool.iter().enumerate() {
            if ticket < *w {
                pick = at;
                break;
            }
            ticket -= w;
        }
        out.push(pool.remove(pick).0);
    }
    out.extend(
        targets
            .iter()
            .enumerate()
            .filter(|(_, t)| t.weight == 0)
            .map(|(i, _)| i),
    );
    out
}

/// A small deterministic PRNG (SplitMix64): good enough to spread load, not for secrets.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound` (0 when `bound` is 0), without modulo bias (Lemire's method).
    pub fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 {
            return 0;
        }
        let threshold = bound.wrapping_neg() % bound;
        loop {
            let product = u128::from(self.next_u64()) * u128::from(bound);
            if (product as u64) >= threshold {
                return (product >> 64) as u64;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DRAWS: u64 = 10_000;

    fn targets(weights: &[u32]) -> Vec<TargetRef> {
        weights
            .iter()
            .enumerate()
            .map(|(i, w)| TargetRef {
                weight: *w,
                ..TargetRef::new("p", format!("m{i}"))
            })
            .collect()
    }

    /// How often each target comes first over `DRAWS` requests with seeds 0, 1, 2, ...
    fn first_picks(strategy: Strategy, targets: &[TargetRef]) -> Vec<u64> {
        let mut counts = vec![0; targets.len()];
        for seed in 0..DRAWS {
            let state = RoutingState {
                counter: seed,
                ..RoutingState::default()
            };
            let order = order(strategy, targets, &state, seed);
            counts[order[0]] += 1;
        }
        counts
    }

    fn is_permutation(order: &[usize], n: usize) -> bool {
        let mut sorted = order.to_vec();
        sorted.sort_unstable();
        sorted == (0..n).collect::<Vec<_>>()
    }

    #[test]
    fn failover_keeps_the_list_order() {
        let t = targets(&[1, 5, 1]);
        assert_eq!(
            order(Strategy::Failover, &t, &RoutingState::default(), 42),
            vec![0, 1, 2]
        );
        assert!(order(Strategy::Failover, &[], &RoutingState::default(), 1).is_empty());
    }

    #[test]
    fn round_robin_is_exactly_even_and_rotates() {
        let t = targets(&[1, 1, 1, 1]);
        assert_eq!(first_picks(Strategy::RoundRobin, &t), vec![2500; 4]);
        let state = RoutingState {
            counter: 6,
            ..RoutingState::default()
        };
        assert_eq!(order(Strategy::RoundRobin, &t, &state, 0), vec![2, 3, 0, 1]);
        assert!(order(Strategy::RoundRobin, &[], &state, 0).is_empty());
    }

    #[test]
    fn weighted_three_to_one_is_75_percent_within_2_points() {
        let t = targets(&[3, 1]);
        let counts = first_picks(Strategy::Weighted, &t);
        let share = counts[0] as f64 / DRAWS as f64;
        assert!((share - 0.75).abs() <= 0.02, "{counts:?}");
        for seed in 0..100 {
            let order = order(Strategy::Weighted, &t, &RoutingState::default(), seed);
            assert!(is_permutation(&order, 2), "{order:?}");
        }
    }

    #[test]
    fn weighted_follows_uneven_weights_and_puts_zero_weights_last() {
        let t = targets(&[0, 1, 2, 5, 0]);
        let counts = first_picks(Strategy::Weighted, &t);
        assert_eq!((counts[0], counts[4]), (0, 0));
        for (i, expected) in [(1, 1.0 / 8.0), (2, 2.0 / 8.0), (3, 5.0 / 8.0)] {
            let share = counts[i] as f64 / DRAWS as f64;
            assert!((share - expected).abs() <= 0.02, "{i}: {counts:?}");
        }
        let order = order(Strategy::Weighted, &t, &RoutingState::default(), 9);
        assert!(is_permutation(&order, 5));
        assert_eq!(&order[3..], &[0, 4], "standby targets last, in list order");
    }

    #[test]
    fn random_shuffles_uniformly() {
        let t = targets(&[1, 1, 1]);
        let counts = first_picks(Strategy::Random, &t);
        for count in &counts {
            let share = *count as f64 / DRAWS as f64;
            assert!((share - 1.0 / 3.0).abs() <= 0.02, "{counts:?}");
        }
        let a = order(Strategy::Random, &t, &RoutingState::default(), 5);
        assert!(is_permutation(&a, 3));
        assert_eq!(
            a,
            order(Strategy::Random, &t, &RoutingState::default(), 5),
            "same seed, same order"
        );
    }

    #[test]
    fn least_used_goes_by_count_then_list_order() {
        let t = targets(&[1, 1, 1, 1]);
        let state = RoutingState {
            counter: 0,
            usage: [("p/m0", 7), ("p/m1", 2), ("p/m3", 2)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        };
        // m2 has no record: 0.
        assert_eq!(order(Strategy::LeastUsed, &t, &state, 0), vec![2, 1, 3, 0]);
    }

    #[test]
    fn rng_is_deterministic_and_in_bounds() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..1000 {
            let x = a.below(10);
            assert!(x < 10);
            assert_eq!(x, b.below(10));
        }
        assert_eq!(Rng::new(1).below(0), 0);
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }
}
