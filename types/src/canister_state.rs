//! How a canister shell holds its state: one thread-local cell per state, shared by the endpoints
//! (which read or mutate it synchronously) and the async flows (which take the `Rc` and borrow
//! only between awaits). One definition, so that no shell writes its own `read`/`mutate`.

/// `canister_state!(pub(crate) proxy: ProxyState = ProxyState::open(memory));` makes a module
/// `proxy` with `proxy::shared()` (the cell, for async flows), `proxy::read(|s| …)` and
/// `proxy::mutate(|s| …)`. The initializer runs on first use, in the module's parent scope.
#[macro_export]
macro_rules! canister_state {
    ($vis:vis $name:ident: $ty:ty = $init:expr;) => {
        $vis mod $name {
            #[allow(unused_imports)]
            use super::*;

            thread_local! {
                static STATE: ::std::rc::Rc<::std::cell::RefCell<$ty>> =
                    ::std::rc::Rc::new(::std::cell::RefCell::new($init));
            }

            /// The state's cell, for flows that await between borrows.
            #[allow(dead_code)]
            pub fn shared() -> ::std::rc::Rc<::std::cell::RefCell<$ty>> {
                STATE.with(::std::rc::Rc::clone)
            }

            #[allow(dead_code)]
            pub fn read<R>(f: impl FnOnce(&$ty) -> R) -> R {
                STATE.with(|s| f(&s.borrow()))
            }

            #[allow(dead_code)]
            pub fn mutate<R>(f: impl FnOnce(&mut $ty) -> R) -> R {
                STATE.with(|s| f(&mut s.borrow_mut()))
            }
        }
    };
}

#[cfg(test)]
mod tests {
    crate::canister_state!(counter: u64 = 40;);

    #[test]
    fn the_cell_is_one_state_for_readers_writers_and_flows() {
        counter::mutate(|c| *c += 1);
        assert_eq!(counter::read(|c| *c), 41);
        *counter::shared().borrow_mut() += 1;
        assert_eq!(counter::read(|c| *c), 42);
    }
}
