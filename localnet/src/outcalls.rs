//! HTTPS outcalls: requests canisters make through the management canister, held until a test
//! answers them or localnet itself fetches loopback URLs, then transformed, charged and answered.

use crate::canister::Entry;
use crate::scheduler::Origin;
use crate::system_api::{EntryKind, Exec};
use crate::{cost, http, reject, reject_code, LocalNet, MessageId, Reject, MANAGEMENT_CANISTER};
use candid::Principal;

/// An outcall and whom to answer.
pub(crate) struct PendingOutcall {
    request: http::PendingHttpRequest,
    transform: Option<ic_management_canister_types::TransformContext>,
    request_bytes: u64,
    cycles: u128,
    origin: Origin,
    ingress: Option<MessageId>,
}

impl LocalNet {
    pub(crate) fn start_outcall(
        &mut self,
        caller: Principal,
        arg: &[u8],
        cycles: u128,
        origin: Origin,
        ingress: Option<MessageId>,
    ) -> Result<(), Reject> {
        let args: ic_management_canister_types::HttpRequestArgs =
            candid::decode_one(arg).map_err(|e| {
                reject(
                    reject_code::CANISTER_ERROR,
                    format!("invalid http_request: {e}"),
                )
            })?;
        let request_bytes = http::request_bytes(&args);
        if request_bytes > http::MAX_REQUEST_BYTES || args.headers.len() > 64 {
            return Err(reject(
                reject_code::CANISTER_REJECT,
                "the request exceeds 2 MB or 64 headers",
            ));
        }
        let max_response_bytes = args.max_response_bytes.unwrap_or(http::MAX_RESPONSE_BYTES);
        if max_response_bytes > http::MAX_RESPONSE_BYTES {
            return Err(reject(
                reject_code::CANISTER_REJECT,
                format!("max_response_bytes above {}", http::MAX_RESPONSE_BYTES),
            ));
        }
        let replicated = args.is_replicated != Some(false);
        let floor = cost::http_request_cost_v2(&cost::HttpUsage {
            request_bytes,
            replicated,
            ..Default::default()
        });
        if cycles < floor {
            return Err(reject(
                reject_code::CANISTER_REJECT,
                format!("http_request needs at least {floor} cycles attached, got {cycles}"),
            ));
        }
        let id = self.fresh_id();
        self.http_pending.insert(
            id,
            PendingOutcall {
                request: http::PendingHttpRequest {
                    id,
                    canister: caller,
                    url: args.url,
                    method: args.method,
                    headers: args.headers,
                    body: args.body.unwrap_or_default(),
                    max_response_bytes,
                    is_replicated: replicated,
                },
                transform: args.transform,
                request_bytes,
                cycles,
                origin,
                ingress,
            },
        );
        Ok(())
    }

    /// Outcalls waiting for a response.
    pub fn pending_http_requests(&self) -> Vec<http::PendingHttpRequest> {
        self.http_pending
            .values()
            .map(|p| p.request.clone())
            .collect()
    }

    /// Lets localnet make outcalls to these `host:port`s itself, over plain HTTP.
    pub fn allow_loopback_http(&mut self, authority: impl Into<String>) {
        self.http_loopback.push(authority.into());
    }

    /// Answers a pending outcall as the remote server would (or fails it with a reject): the
    /// transform runs as a query on the calling canister, the response size is checked, the cycles
    /// are charged for what the outcall used and the rest refunded.
    pub fn mock_http_response(
        &mut self,
        id: u64,
        response: Result<ic_management_canister_types::HttpRequestResult, Reject>,
        roundtrip_ms: u64,
    ) {
        let Some(p) = self.http_pending.remove(&id) else {
            return;
        };
        let raw_bytes = response.as_ref().map_or(0, |r| {
            (r.body.len()
                + r.headers
                    .iter()
                    .map(|h| h.name.len() + h.value.len())
                    .sum::<usize>()) as u64
        });
        let mut transform_instructions = 0;
        let result = response.and_then(|raw| {
            if raw.body.len() as u64 > p.request.max_response_bytes {
                return Err(reject(
                    reject_code::SYS_FATAL,
                    format!(
                        "Http body exceeds size limit of {} bytes",
                        p.request.max_response_bytes
                    ),
                ));
            }
            let Some(transform) = &p.transform else {
                return Ok(raw);
            };
            let target = transform.function.0.principal;
            let method = transform.function.0.method.clone();
            let arg = candid::encode_one(ic_management_canister_types::TransformArgs {
                response: raw,
                context: transform.context.clone(),
            })
            .expect("transform args encode");
            let mut exec = Exec::new(EntryKind::Query, self.time);
            exec.method = method.clone();
            exec.arg = arg;
            exec.caller = MANAGEMENT_CANISTER;
            exec.can_respond = true;
            if target != p.request.canister
                || self.slot(target).map(|s| s.code.is_none()).unwrap_or(true)
            {
                return Err(reject(
                    reject_code::CANISTER_ERROR,
                    "the transform must be a query of the calling canister",
                ));
            }
            let outcome = self.run_with_rollback(
                target,
                &Entry::Export(format!("canister_query {method}")),
                exec,
            );
            transform_instructions = outcome.instructions;
            match (outcome.result, outcome.exec.response) {
                (Ok(()), Some(Ok(bytes))) => candid::decode_one(&bytes).map_err(|e| {
                    reject(
                        reject_code::CANISTER_ERROR,
                        format!("bad transform result: {e}"),
                    )
                }),
                (Ok(()), Some(Err((code, message)))) => Err(reject(code, message)),
                (Ok(()), None) => Err(reject(
                    reject_code::CANISTER_ERROR,
                    "the transform did not reply",
                )),
                (Err(message), _) => Err(reject(reject_code::CANISTER_ERROR, message)),
            }
        });
        let transformed_bytes = result.as_ref().map_or(0, |r| r.body.len() as u64);
        let used = cost::http_request_cost_v2(&cost::HttpUsage {
            request_bytes: p.request_bytes,
            roundtrip_ms,
            raw_response_bytes: raw_bytes,
            transformed_response_bytes: transformed_bytes,
            transform_instructions,
            replicated: p.request.is_replicated,
        });
        let (result, refund) = if used > p.cycles {
            (
                Err(reject(
                    reject_code::CANISTER_REJECT,
                    format!(
                        "the outcall used {used} cycles, more than the {} attached",
                        p.cycles
                    ),
                )),
                0,
            )
        } else {
            (result, p.cycles - used)
        };
        let reply = result.map(|r| candid::encode_one(r).expect("result encodes"));
        self.answer(p.origin, reply, refund, p.ingress);
    }

    pub(crate) fn serve_loopback_outcalls(&mut self) {
        let due: Vec<http::PendingHttpRequest> = self
            .http_pending
            .values()
            .filter(|p| {
                http::split_url(&p.request.url)
                    .is_some_and(|(authority, _)| self.http_loopback.contains(&authority))
            })
            .map(|p| p.request.clone())
            .collect();
        for request in due {
            let started = std::time::Instant::now();
            let response = http::send(&request, std::time::Duration::from_secs(60))
                .map_err(|e| reject(reject_code::SYS_TRANSIENT, e));
            let ms = started.elapsed().as_millis() as u64;
            self.mock_http_response(request.id, response, ms);
        }
    }
}
