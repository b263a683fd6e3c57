//! Releasing what a message holds (a single-flight flag, a caller's busy mark, an intent being
//! driven) by `Drop` instead of by code after an `await`. ic-cdk drops a future whose callback trapped
//! in its cleanup callback, whose changes persist: a guard released there cannot leave the flag set
//! until an upgrade, as a reset written after the `await` would.

/// Runs `release` once, when it goes out of scope however the scope ends.
pub struct OnDrop<F: FnOnce()>(Option<F>);

impl<F: FnOnce()> OnDrop<F> {
    pub fn new(release: F) -> Self {
        Self(Some(release))
    }
}

impl<F: FnOnce()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        if let Some(release) = self.0.take() {
            release();
        }
    }
}

/// Why [`InFlight::try_begin`] refused a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// This key is already in flight (a second claim or withdrawal of the same caller).
    AlreadyInFlight,
    /// `cap` keys are in flight: the canister takes no more until one ends.
    Full { cap: u32 },
}

/// The keys whose work is in flight (heap only: an upgrade ends every message that held one), at
/// most `cap` at once, each once. Released by an [`OnDrop`] the caller holds, never by code after an
/// `await`.
#[derive(Clone, Debug)]
pub struct InFlight<K: Ord> {
    keys: std::collections::BTreeSet<K>,
    cap: u32,
}

impl<K: Ord> InFlight<K> {
    pub fn new(cap: u32) -> Self {
        Self {
            keys: std::collections::BTreeSet::new(),
            cap,
        }
    }

    pub fn try_begin(&mut self, key: K) -> Result<(), Refusal> {
        if self.keys.contains(&key) {
            return Err(Refusal::AlreadyInFlight);
        }
        if self.keys.len() >= self.cap as usize {
            return Err(Refusal::Full { cap: self.cap });
        }
        self.keys.insert(key);
        Ok(())
    }

    pub fn end(&mut self, key: &K) {
        self.keys.remove(key);
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_admits_each_key_once_and_at_most_cap() {
        let mut f = InFlight::new(2);
        assert_eq!(f.try_begin(1), Ok(()));
        assert_eq!(f.try_begin(1), Err(Refusal::AlreadyInFlight));
        assert_eq!(f.try_begin(2), Ok(()));
        assert_eq!(f.try_begin(3), Err(Refusal::Full { cap: 2 }));
        f.end(&1);
        assert_eq!(f.try_begin(3), Ok(()));
        assert_eq!(f.len(), 2);
    }
    use std::cell::Cell;

    #[test]
    fn releases_once_on_every_way_out() {
        let released = Cell::new(0);
        {
            let _guard = OnDrop::new(|| released.set(released.get() + 1));
        }
        assert_eq!(released.get(), 1);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _guard = OnDrop::new(|| released.set(released.get() + 1));
            panic!("a trap after the await");
        }));
        assert!(result.is_err());
        assert_eq!(released.get(), 2, "released while unwinding too");
    }
}
