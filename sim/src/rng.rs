//! The simulation's only source of randomness: SplitMix64 (Steele, Lea and Flood, 2014), a 64-bit
//! generator that gives the same numbers on every platform. Each run and each entity draws from its
//! own stream, derived from the master seed and labels, so results do not depend on the order in
//! which runs are scheduled on threads.

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitMix64 {
    state: u64,
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The stream of `labels` (e.g. run number, entity kind, entity index) under `master`.
    pub fn stream(master: u64, labels: &[u64]) -> Self {
        let seed = labels.iter().fold(mix(master), |acc, l| {
            mix(acc ^ l.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        });
        Self::new(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.state)
    }

    /// Uniform in `0..n` (`n > 0`), without modulo bias (Lemire's method).
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0)");
        let threshold = n.wrapping_neg() % n;
        loop {
            let product = self.next_u64() as u128 * n as u128;
            if (product as u64) >= threshold {
                return (product >> 64) as u64;
            }
        }
    }

    /// Uniform in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }

    /// True with probability `ppm` parts per million.
    pub fn chance(&mut self, ppm: u32) -> bool {
        self.below(1_000_000) < ppm as u64
    }

    /// The number of successes in `trials` draws of probability `ppm`.
    pub fn binomial(&mut self, trials: u32, ppm: u32) -> u32 {
        (0..trials).filter(|_| self.chance(ppm)).count() as u32
    }

    /// An index chosen with probability proportional to `weights` (`None` if they sum to 0).
    pub fn weighted(&mut self, weights: &[u64]) -> Option<usize> {
        let total: u64 = weights.iter().sum();
        if total == 0 {
            return None;
        }
        let mut point = self.below(total);
        for (i, w) in weights.iter().enumerate() {
            if point < *w {
                return Some(i);
            }
            point -= w;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_the_published_splitmix64() {
        // First outputs of SplitMix64 seeded with 0 (the reference implementation's values).
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn streams_differ_by_label_and_draws_stay_in_range() {
        let a = SplitMix64::stream(7, &[1, 2]).next_u64();
        let b = SplitMix64::stream(7, &[1, 3]).next_u64();
        assert_ne!(a, b);
        assert_eq!(a, SplitMix64::stream(7, &[1, 2]).next_u64());
        let mut r = SplitMix64::new(1);
        for _ in 0..10_000 {
            assert!(r.below(7) < 7);
            let x = r.between(3, 5);
            assert!((3..=5).contains(&x));
        }
        let hits = (0..100_000).filter(|_| r.chance(250_000)).count();
        assert!((24_000..26_000).contains(&hits), "{hits}");
        assert_eq!(r.weighted(&[0, 0]), None);
        assert_eq!(r.weighted(&[0, 5]), Some(1));
    }
}
