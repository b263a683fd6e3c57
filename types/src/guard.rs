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

#[cfg(test)]
mod tests {
    use super::OnDrop;
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
