;; A canister written for localnet's conformance tests. State it reports (20 bytes, little-endian i32):
;; the mutable global, heap[0], stable[0], heap[4] (set by cleanup), heap[8] (timer firings).
(module
  (import "ic0" "msg_reply" (func $msg_reply))
  (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
  (import "ic0" "msg_arg_data_size" (func $arg_size (result i32)))
  (import "ic0" "trap" (func $trap (param i32 i32)))
  (import "ic0" "stable64_size" (func $stable_size (result i64)))
  (import "ic0" "stable64_grow" (func $stable_grow (param i64) (result i64)))
  (import "ic0" "stable64_write" (func $stable_write (param i64 i64 i64)))
  (import "ic0" "stable64_read" (func $stable_read (param i64 i64 i64)))
  (import "ic0" "global_timer_set" (func $timer_set (param i64) (result i64)))
  (import "ic0" "time" (func $time (result i64)))
  (import "ic0" "canister_self_size" (func $self_size (result i32)))
  (import "ic0" "canister_self_copy" (func $self_copy (param i32 i32 i32)))
  (import "ic0" "call_new" (func $call_new (param i32 i32 i32 i32 i32 i32 i32 i32)))
  (import "ic0" "call_on_cleanup" (func $call_on_cleanup (param i32 i32)))
  (import "ic0" "call_perform" (func $call_perform (result i32)))
  (import "ic0" "msg_reject_code" (func $reject_code (result i32)))
  (import "ic0" "not_a_real_api" (func $not_real))

  (memory 1)
  (table 4 funcref)
  (elem (i32.const 1) $on_reply_trap $on_reject $on_cleanup)
  (global $g (mut i32) (i32.const 0))
  (data (i32.const 200) "oops")
  (data (i32.const 210) "inc")

  (func $ensure_stable
    (if (i64.eq (call $stable_size) (i64.const 0))
      (then (drop (call $stable_grow (i64.const 1))))))

  (func $bump
    (global.set $g (i32.add (global.get $g) (i32.const 1)))
    (i32.store (i32.const 0) (i32.add (i32.load (i32.const 0)) (i32.const 1)))
    (call $ensure_stable)
    (call $stable_read (i64.const 16) (i64.const 0) (i64.const 4))
    (i32.store (i32.const 16) (i32.add (i32.load (i32.const 16)) (i32.const 1)))
    (call $stable_write (i64.const 0) (i64.const 16) (i64.const 4)))

  (func $reply_state
    (i32.store (i32.const 100) (global.get $g))
    (i32.store (i32.const 104) (i32.load (i32.const 0)))
    (i32.store (i32.const 108) (i32.const 0))
    (if (i64.gt_u (call $stable_size) (i64.const 0))
      (then (call $stable_read (i64.const 108) (i64.const 0) (i64.const 4))))
    (i32.store (i32.const 112) (i32.load (i32.const 4)))
    (i32.store (i32.const 116) (i32.load (i32.const 8)))
    (call $append (i32.const 100) (i32.const 20))
    (call $msg_reply))

  (func (export "canister_update inc") (call $bump) (call $reply_state))
  (func (export "canister_query read") (call $reply_state))
  (func (export "canister_query inc_in_query") (call $bump) (call $reply_state))

  ;; Changes everything, grows the heap, sets the timer, then traps.
  (func (export "canister_update inc_then_trap")
    (call $bump)
    (drop (call $timer_set (i64.const 1)))
    (drop (memory.grow (i32.const 10)))
    (call $trap (i32.const 200) (i32.const 4)))

  ;; Calls its own `inc`; the reply callback changes state and traps, so the cleanup runs.
  (func (export "canister_update call_self_trap_in_reply")
    (call $self_copy (i32.const 300) (i32.const 0) (call $self_size))
    (call $call_new (i32.const 300) (call $self_size) (i32.const 210) (i32.const 3)
                    (i32.const 1) (i32.const 0) (i32.const 2) (i32.const 0))
    (call $call_on_cleanup (i32.const 3) (i32.const 0))
    (drop (call $call_perform)))
  (func $on_reply_trap (param i32) (call $bump) (call $trap (i32.const 200) (i32.const 4)))
  (func $on_reject (param i32) (call $reply_state))
  (func $on_cleanup (param i32) (i32.store (i32.const 4) (i32.const 7)))

  (func (export "canister_update set_timer")
    (drop (call $timer_set (i64.add (call $time) (i64.const 1000000000))))
    (call $reply_state))
  (func (export "canister_global_timer")
    (i32.store (i32.const 8) (i32.add (i32.load (i32.const 8)) (i32.const 1))))

  (func (export "canister_update arm_pre_upgrade_trap")
    (i32.store (i32.const 12) (i32.const 1))
    (call $reply_state))
  (func (export "canister_pre_upgrade")
    (if (i32.ne (i32.load (i32.const 12)) (i32.const 0))
      (then (call $trap (i32.const 200) (i32.const 4)))))
  ;; Traps when given an argument: an upgrade that must be undone.
  (func (export "canister_post_upgrade")
    (if (i32.gt_u (call $arg_size) (i32.const 0))
      (then (call $trap (i32.const 200) (i32.const 4)))))

  (func (export "canister_update uses_unknown_api") (call $not_real))
  (func (export "canister_update no_reply"))
  ;; Known weights: 2 consts (1 each), i32.div_s (10), drop (1), a call (5) into msg_reply.
  (func $nothing)
  ;; Ten internal calls (5 each) to an empty function, then the reply (5 + the System API overhead).
  (func (export "canister_update weigh_calls")
    (call $nothing) (call $nothing) (call $nothing) (call $nothing) (call $nothing)
    (call $nothing) (call $nothing) (call $nothing) (call $nothing) (call $nothing)
    (call $msg_reply))
  (func (export "canister_update weigh")
    (drop (i32.div_s (i32.const 7) (i32.const 3)))
    (call $msg_reply))
  (func (export "canister_update burn")
    (loop $forever (br $forever)))
)
