//! What the System API works on: the kind of entry point executing, the state of one execution
//! (`Exec`: its message, answer and calls made) and everything a canister's store carries (`Ctx`).

use crate::cost;
use candid::Principal;
use wasmtime::Memory;

/// What kind of entry point is executing: decides which System API calls are allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    Init,
    PreUpgrade,
    PostUpgrade,
    Update,
    Query,
    InspectMessage,
    ReplyCallback,
    RejectCallback,
    Cleanup,
    GlobalTimer,
}

impl EntryKind {
    pub(super) fn has_arg(self) -> bool {
        matches!(
            self,
            Self::Init
                | Self::PostUpgrade
                | Self::Update
                | Self::Query
                | Self::InspectMessage
                | Self::ReplyCallback
        )
    }
    pub(super) fn has_caller(self) -> bool {
        !matches!(self, Self::Cleanup | Self::GlobalTimer)
    }
    pub(super) fn can_call(self) -> bool {
        matches!(
            self,
            Self::Update | Self::ReplyCallback | Self::RejectCallback | Self::GlobalTimer
        )
    }
}

/// An inter-canister call made by an execution.
#[derive(Clone, Debug)]
pub struct NewCall {
    pub callee: Principal,
    pub method: String,
    pub arg: Vec<u8>,
    pub reply: (u32, u32),
    pub reject: (u32, u32),
    pub cleanup: Option<(u32, u32)>,
    pub timeout_seconds: Option<u32>,
    pub cycles: u128,
}

/// The response an execution gave to its call context.
pub type Response = Result<Vec<u8>, (u32, String)>;

/// What `ic0.data_certificate_*` returns in a query: a certificate made when the canister first asks
/// for it (making one costs a BLS signature, and most queries never ask).
pub enum DataCertificate {
    Made(Vec<u8>),
    Deferred(Box<dyn FnOnce() -> Vec<u8> + Send>),
}

impl DataCertificate {
    pub fn bytes(&mut self) -> &[u8] {
        if let Self::Deferred(_) = self {
            let Self::Deferred(make) = std::mem::replace(self, Self::Made(Vec::new())) else {
                unreachable!("matched above")
            };
            *self = Self::Made(make());
        }
        match self {
            Self::Made(bytes) => bytes,
            Self::Deferred(_) => unreachable!("made above"),
        }
    }
}

impl std::fmt::Debug for DataCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Made(bytes) => write!(f, "DataCertificate({} bytes)", bytes.len()),
            Self::Deferred(_) => write!(f, "DataCertificate(deferred)"),
        }
    }
}

/// The state of one execution, visible to the System API.
#[derive(Debug)]
pub struct Exec {
    pub kind: EntryKind,
    pub method: String,
    pub arg: Vec<u8>,
    pub caller: Principal,
    pub reject: Option<(u32, String)>,
    pub time: u64,
    /// The call context can still be answered.
    pub can_respond: bool,
    pub reply_buffer: Vec<u8>,
    pub response: Option<Response>,
    pub building: Option<NewCall>,
    pub new_calls: Vec<NewCall>,
    pub accepted: bool,
    pub certificate: Option<DataCertificate>,
    pub deadline: u64,
    pub cycles_available: u128,
    pub cycles_accepted: u128,
    pub cycles_refunded: u128,
}

impl Exec {
    pub fn new(kind: EntryKind, time: u64) -> Self {
        Self {
            kind,
            method: String::new(),
            arg: Vec::new(),
            caller: Principal::anonymous(),
            reject: None,
            time,
            can_respond: false,
            reply_buffer: Vec::new(),
            response: None,
            building: None,
            new_calls: Vec::new(),
            accepted: false,
            certificate: None,
            deadline: 0,
            cycles_available: 0,
            cycles_accepted: 0,
            cycles_refunded: 0,
        }
    }
}

/// Everything a canister's store carries: its persistent system state and the current execution.
pub struct Ctx {
    pub id: Principal,
    pub controllers: Vec<Principal>,
    pub memory: Option<Memory>,
    pub stable: Vec<u8>,
    /// Undo records of stable writes in this execution: (offset, previous bytes).
    pub stable_journal: Vec<(u64, Vec<u8>)>,
    pub certified_data: Vec<u8>,
    pub global_timer: u64,
    pub cycles: u128,
    pub version: u64,
    pub exec: Exec,
    /// Instructions charged by System API calls in this execution.
    pub api_instructions: u64,
    /// The fuel the execution started with (its instruction limit).
    pub fuel_limit: u64,
    pub log: Vec<String>,
    pub print_log: bool,
}

impl Ctx {
    pub fn new(id: Principal, controllers: Vec<Principal>) -> Self {
        Self {
            id,
            controllers,
            memory: None,
            stable: Vec::new(),
            stable_journal: Vec::new(),
            certified_data: Vec::new(),
            global_timer: 0,
            cycles: cost::INITIAL_CYCLES,
            version: 0,
            exec: Exec::new(EntryKind::Init, 0),
            api_instructions: 0,
            fuel_limit: 0,
            log: Vec::new(),
            print_log: std::env::var_os("LOCALNET_LOG").is_some(),
        }
    }
}
