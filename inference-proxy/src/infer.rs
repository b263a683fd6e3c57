//! One paid inference: check, hold the quoted maximum, call nodes (failing over), verify the signed
//! receipt, charge exactly, release the rest. Generic over [`NodeTransport`] (the canister's
//! non-replicated outcall; natively, a signing stand-in).

use crate::metering::{price_of, Charged, MeteringError};
use crate::registry::ModelEntry;
use crate::registry::{NodeId, NodeRecord};
use crate::signed_usage::verify;
use crate::state::{ProxyConfig, ProxyState};
use candid::Principal;
use neuranft_types::guard::{OnDrop, Refusal};
use neuranft_types::node::{ChatMessage, InferRequest};
pub use neuranft_types::proxy::{InferArgs, InferError, InferOk, Message};
use neuranft_types::royalties::ModelStatus;
use std::cell::Cell;
use std::cell::RefCell;

/// The hold's bound of a call's input tokens is its bytes (every token but a template's special ones
/// is at least one byte) plus these for the prompt template and start tokens…
pub const TEMPLATE_TOKENS: u64 = 16;
/// …plus these per chat message (the role header and end-of-turn tokens chat templates add: Llama 3's
/// adds 4 and the role; ChatML 3 and the role).
pub const MESSAGE_TEMPLATE_TOKENS: u64 = 8;
/// The most messages one chat may carry.
pub const MAX_MESSAGES: usize = 256;
/// The roles a chat message may have (those of the OpenAI and Ollama chat APIs).
pub const ROLES: [&str; 4] = ["system", "user", "assistant", "tool"];

/// Bytes of the request body a call's outcall carries at most: the prompt or the messages (each with
/// room for its role and JSON framing) and the fixed fields. The outcall's cycles are reserved for
/// this many bytes, and `infer_outcall_cost` quotes the same number.
pub fn request_bytes(args: &InferArgs) -> u64 {
    let prompt = args.prompt.as_ref().map_or(0, String::len);
    let messages = args
        .messages
        .as_ref()
        .map_or(0, |m| m.iter().map(|m| m.content.len() + 32).sum::<usize>());
    (prompt + messages) as u64 + 512
}

/// How the proxy reaches a node: a POST of the request JSON, answering the status and body.
#[allow(async_fn_in_trait)]
pub trait NodeTransport {
    async fn post(&self, node: &NodeRecord, body: Vec<u8>) -> Result<(u16, Vec<u8>), String>;
    /// The proxy's clock.
    fn now(&self) -> u64;
}

/// Checks the input; returns the most input tokens it can be (bytes, template and per-message
/// tokens), the bound the hold is quoted for.
fn check(args: &InferArgs, max_prompt_bytes: u64, max_tokens: u32) -> Result<u64, InferError> {
    let bad = |reason: String| Err(InferError::InvalidInput { reason });
    let (bytes, messages) = match (&args.prompt, &args.messages) {
        (Some(p), None) => (p.len() as u64, 0),
        (None, Some(m)) if !m.is_empty() => {
            if m.len() > MAX_MESSAGES {
                return bad(format!("at most {MAX_MESSAGES} messages"));
            }
            if let Some(i) = m.iter().position(|m| !ROLES.contains(&m.role.as_str())) {
                return bad(format!("message {i}: the role must be one of {ROLES:?}"));
            }
            if let Some(i) = m.iter().position(|m| m.content.is_empty()) {
                return bad(format!("message {i} is empty"));
            }
            let bytes = m.iter().map(|m| (m.role.len() + m.content.len()) as u64);
            (bytes.sum(), m.len() as u64)
        }
        _ => return bad("give exactly one of prompt and a non-empty messages".into()),
    };
    if bytes == 0 {
        return bad("the input is empty".into());
    }
    if bytes > max_prompt_bytes {
        return bad(format!(
            "the input is {bytes} bytes; at most {max_prompt_bytes}"
        ));
    }
    if args.max_tokens == 0 || args.max_tokens > max_tokens {
        return bad(format!("max_tokens must be 1–{max_tokens}"));
    }
    if args.temperature.is_some_and(|t| !(0.0..=2.0).contains(&t)) {
        return bad("temperature must be within 0–2".into());
    }
    Ok(bytes + TEMPLATE_TOKENS + messages * MESSAGE_TEMPLATE_TOKENS)
}

/// The most a call can cost: the price of the largest input the prompt can be and of `max_tokens`,
/// plus the call fee (`None` if it overflows).
pub fn quote(state: &ProxyState, args: &InferArgs) -> Result<u128, InferError> {
    let model = state
        .registry
        .model(args.model)
        .ok_or(InferError::UnknownModel { model: args.model })?;
    quote_for(&state.config(), &model, args)
}

fn quote_for(
    config: &ProxyConfig,
    model: &ModelEntry,
    args: &InferArgs,
) -> Result<u128, InferError> {
    let input_tokens = check(args, config.max_prompt_bytes, config.max_output_tokens)?;
    // A receipt's amount is a u64: a hold whose usage part could not be one is refused here, before
    // a node does the work, rather than failing the charge after it.
    price_of(&model.price, input_tokens, args.max_tokens as u64)
        .filter(|usage| *usage <= u64::MAX as u128)
        .and_then(|p| p.checked_add(config.call_fee))
        .ok_or(InferError::Metering(MeteringError::Overflow))
}

pub async fn infer<T: NodeTransport>(
    state: &RefCell<ProxyState>,
    transport: &T,
    caller: Principal,
    args: InferArgs,
    entropy: u64,
) -> Result<InferOk, InferError> {
    if caller == Principal::anonymous() {
        return Err(InferError::AnonymousCaller);
    }
    let now = transport.now();
    let (hold, model, config) = {
        let mut s = state.borrow_mut();
        let config = s.config();
        let model = s
            .registry
            .model(args.model)
            .ok_or(InferError::UnknownModel { model: args.model })?;
        match model.status {
            ModelStatus::Active => {}
            ModelStatus::Paused => return Err(InferError::ModelPaused { model: args.model }),
            status @ (ModelStatus::Suspended | ModelStatus::Delisted) => {
                return Err(InferError::ModelModerated {
                    model: args.model,
                    status,
                })
            }
        }
        let max = quote_for(&config, &model, &args)?;
        if !s.admit_call(caller, now, config.calls_per_user_per_minute) {
            return Err(InferError::RateLimited {
                calls_per_minute: config.calls_per_user_per_minute,
            });
        }
        let hold = s.metering.hold(&caller, args.model, max, now)?;
        if let Err(refusal) = s.calls_in_flight.try_begin(hold.id) {
            s.metering
                .release(hold.id)
                .expect("BUG: a fresh hold is gone");
            let Refusal::Full { cap } = refusal else {
                unreachable!("BUG: a fresh hold id is already in flight")
            };
            return Err(InferError::Busy { cap });
        }
        (hold, model, config)
    };
    // However the call ends — a trap in a callback after the outcall included — its hold is released
    // unless it was charged, the node's call is no longer in flight and the call's slot is freed.
    let node_in_flight: Cell<Option<NodeId>> = Cell::new(None);
    let _in_flight = OnDrop::new(|| {
        if let Ok(mut s) = state.try_borrow_mut() {
            s.calls_in_flight.end(&hold.id);
            // Gone once charged or released: then this does nothing.
            let _ = s.metering.release(hold.id);
            if let Some(node) = node_in_flight.get() {
                s.registry.call_abandoned(node);
            }
        }
    });
    let mut tried: Vec<NodeId> = Vec::new();
    let mut failures = Vec::new();
    for attempt in 0..config.max_nodes_per_call {
        let node = state.borrow().registry.pick_node(
            &model.base_model,
            &tried,
            entropy
                .wrapping_add(attempt as u64)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        let Some(node) = node else { break };
        tried.push(node.id);
        let request_id = format!("h{}a{attempt}", hold.id);
        let request = InferRequest {
            request_id: request_id.clone(),
            model: model.base_model.clone(),
            prompt: args.prompt.clone(),
            messages: args.messages.as_ref().map(|m| {
                m.iter()
                    .map(|m| ChatMessage {
                        role: m.role.clone(),
                        content: m.content.clone(),
                    })
                    .collect()
            }),
            max_tokens: args.max_tokens,
            temperature: args.temperature,
            seed: args.seed,
        };
        let body = serde_json::to_vec(&request).expect("request encodes");
        state.borrow_mut().registry.call_started(node.id);
        node_in_flight.set(Some(node.id));
        let started = transport.now();
        let answer = transport.post(&node, body).await;
        node_in_flight.set(None);
        let latency_ms = transport.now().saturating_sub(started) / 1_000_000;
        let result = answer.and_then(|(status, body)| {
            if status != 200 {
                return Err(format!("the node answered HTTP {status}"));
            }
            verify(
                &body,
                &node.public_key,
                &request_id,
                &model.base_model,
                args.max_tokens as u64,
            )
            .map_err(|e| format!("bad receipt: {e:?}"))
        });
        let mut s = state.borrow_mut();
        let charged = result.and_then(|usage| {
            let split_version = s.split_version();
            s.metering
                .charge(
                    hold.id,
                    &usage,
                    &model.price,
                    config.call_fee,
                    node.operator,
                    split_version,
                    transport.now(),
                )
                .map(|c| (c, usage))
                .map_err(|e| format!("cannot charge: {e:?}"))
        });
        match charged {
            Ok((
                Charged {
                    receipt,
                    charged,
                    released,
                },
                usage,
            )) => {
                s.registry.record_success(node.id, latency_ms);
                return Ok(InferOk {
                    output: usage.output().to_string(),
                    input_tokens: usage.usage().input_tokens,
                    output_tokens: usage.usage().output_tokens,
                    charged,
                    released,
                    node: node.id,
                    receipt: receipt.map(|r| r.id),
                });
            }
            Err(reason) => {
                s.registry
                    .record_failure(node.id, &reason, config.failures_before_suspension);
                failures.push((node.id, reason));
            }
        }
    }
    state
        .borrow_mut()
        .metering
        .release(hold.id)
        .expect("the hold is still there");
    if failures.is_empty() {
        Err(InferError::NoNodeAvailable)
    } else {
        Err(InferError::AllNodesFailed { failures })
    }
}
