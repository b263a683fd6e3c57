//! What executions cost: the IC's per-operator instruction weights (applied as wasmtime fuel), the
//! System API overheads, and the cycles fee table of a 13-node application subnet (docs/localnet.md, "Platform figures").

use wasmtime::OperatorCost;

/// Instruction limits per message kind (docs/localnet.md, "Platform figures").
pub const UPDATE_INSTRUCTION_LIMIT: u64 = 40_000_000_000;
pub const QUERY_INSTRUCTION_LIMIT: u64 = 5_000_000_000;
pub const INSTALL_INSTRUCTION_LIMIT: u64 = 300_000_000_000;

/// Cycles: per update message executed, per instruction, per inter-canister call and byte sent.
pub const UPDATE_MESSAGE_FEE: u128 = 5_000_000;
pub const CYCLES_PER_INSTRUCTION: u128 = 1;
pub const CALL_FEE: u128 = 260_000;
pub const CALL_FEE_PER_BYTE: u128 = 1_000;
/// Cycles a new canister starts with.
pub const INITIAL_CYCLES: u128 = 100_000_000_000_000;

/// Instructions charged for entering the System API once, plus one per byte copied.
pub const SYSTEM_API_OVERHEAD: u64 = 100;
/// wasmtime's charge for entering a wasm function, which the IC does not make (see `ic_operator_cost`).
pub const FUNCTION_ENTRY_FUEL: u64 = 1;
/// Extra instructions for the heavier System API calls.
pub const CALL_PERFORM_OVERHEAD: u64 = 5_000;
pub const STABLE_GROW_OVERHEAD: u64 = 100;

/// Cost of an inter-canister call of `bytes` (method name and payload).
pub fn call_cost(bytes: u64) -> u128 {
    CALL_FEE + CALL_FEE_PER_BYTE * bytes as u128
}

/// Cost of an HTTPS outcall on a 13-node subnet: a base per node and a per-byte charge on the
/// request and on the largest response allowed.
pub fn http_request_cost(request_bytes: u64, max_response_bytes: u64) -> u128 {
    const NODES: u128 = 13;
    (3_000_000 + 60_000 * NODES) * NODES
        + 400 * NODES * request_bytes as u128
        + 800 * NODES * max_response_bytes as u128
}

/// The IC's weights: 0 for block markers, 1 for most arithmetic, locals, loads and stores; 2 for
/// globals and branches; 5 for calls, 10 for indirect calls and integer division; 20 for most float
/// arithmetic and truncation; 100 for bulk memory operations; 300 for `memory.grow`.
pub fn ic_operator_cost() -> OperatorCost {
    let mut c = OperatorCost::new();
    c.Nop = 1;
    c.Drop = 1;
    c.Unreachable = 1;
    c.Return = 1;
    c.Block = 0;
    c.Loop = 0;
    c.Else = 0;
    c.End = 0;
    for op in [&mut c.If, &mut c.Br, &mut c.BrIf, &mut c.BrTable] {
        *op = 2;
    }
    // wasmtime charges 1 on entering every wasm function, which the IC does not: a call to a wasm
    // function is 4 + 1 here (the IC's 5), a call into the System API 4 + 1 charged by the System API,
    // and the execution's own entry is subtracted from its count.
    c.Call = 4;
    c.CallIndirect = 9;
    c.GlobalGet = 2;
    c.GlobalSet = 2;
    // The IC charges 300 for memory.grow, data.drop, elem.drop and table.grow; wasmtime's table holds
    // u8 weights, so these are 255.
    c.MemoryGrow = 255;
    c.MemorySize = 20;
    for op in [
        &mut c.I32DivS,
        &mut c.I32DivU,
        &mut c.I32RemS,
        &mut c.I32RemU,
        &mut c.I64DivS,
        &mut c.I64DivU,
        &mut c.I64RemS,
        &mut c.I64RemU,
    ] {
        *op = 10;
    }
    for op in [
        &mut c.F32Add,
        &mut c.F32Sub,
        &mut c.F32Mul,
        &mut c.F32Div,
        &mut c.F32Min,
        &mut c.F32Max,
        &mut c.F32Ceil,
        &mut c.F32Floor,
        &mut c.F32Trunc,
        &mut c.F32Nearest,
        &mut c.F32Sqrt,
        &mut c.F64Add,
        &mut c.F64Sub,
        &mut c.F64Mul,
        &mut c.F64Div,
        &mut c.F64Min,
        &mut c.F64Max,
        &mut c.F64Ceil,
        &mut c.F64Floor,
        &mut c.F64Trunc,
        &mut c.F64Nearest,
        &mut c.F64Sqrt,
        &mut c.I32TruncF32S,
        &mut c.I32TruncF32U,
        &mut c.I32TruncF64S,
        &mut c.I32TruncF64U,
        &mut c.I64TruncF32S,
        &mut c.I64TruncF32U,
        &mut c.I64TruncF64S,
        &mut c.I64TruncF64U,
        &mut c.I32TruncSatF32S,
        &mut c.I32TruncSatF32U,
        &mut c.I32TruncSatF64S,
        &mut c.I32TruncSatF64U,
        &mut c.I64TruncSatF32S,
        &mut c.I64TruncSatF32U,
        &mut c.I64TruncSatF64S,
        &mut c.I64TruncSatF64U,
    ] {
        *op = 20;
    }
    for op in [
        &mut c.F32Abs,
        &mut c.F32Neg,
        &mut c.F32Copysign,
        &mut c.F64Abs,
        &mut c.F64Neg,
        &mut c.F64Copysign,
    ] {
        *op = 2;
    }
    for op in [
        &mut c.F32Eq,
        &mut c.F32Ne,
        &mut c.F32Lt,
        &mut c.F32Gt,
        &mut c.F32Le,
        &mut c.F32Ge,
        &mut c.F64Eq,
        &mut c.F64Ne,
        &mut c.F64Lt,
        &mut c.F64Gt,
        &mut c.F64Le,
        &mut c.F64Ge,
        &mut c.F32ConvertI32S,
        &mut c.F32ConvertI64S,
        &mut c.F64ConvertI32S,
        &mut c.F64ConvertI64S,
    ] {
        *op = 3;
    }
    for op in [
        &mut c.F32ConvertI32U,
        &mut c.F32ConvertI64U,
        &mut c.F64ConvertI32U,
        &mut c.F64ConvertI64U,
    ] {
        *op = 16;
    }
    for op in [
        &mut c.MemoryFill,
        &mut c.MemoryCopy,
        &mut c.MemoryInit,
        &mut c.TableCopy,
        &mut c.TableInit,
        &mut c.TableFill,
    ] {
        *op = 100;
    }
    c.DataDrop = 255;
    c.ElemDrop = 255;
    c.TableGrow = 255;
    c.TableSize = 100;
    c.TableGet = 5;
    c.TableSet = 5;
    c.RefIsNull = 5;
    c.RefFunc = 130;
    c
}

/// Fee for creating a canister (13-node subnet).
pub const CREATE_CANISTER_FEE: u128 = 500_000_000_000;

/// The resources an HTTPS outcall uses, as `ic0.cost_http_request_v2` prices them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HttpUsage {
    pub request_bytes: u64,
    pub roundtrip_ms: u64,
    pub raw_response_bytes: u64,
    pub transformed_response_bytes: u64,
    pub transform_instructions: u64,
    pub replicated: bool,
}

/// Pay-as-you-go (pricing version 2) cost of an outcall. The IC's exact table is not public in a form
/// localnet can read, so this is an approximation calibrated to the figure in docs/localnet.md (a
/// non-replicated 2 KB request, 8 KB response, 20 s outcall ≈ 113 M cycles; this gives 119.6 M):
/// per node 400 K + 400 per request or raw response byte + 100 per transformed byte + 200 per
/// millisecond + 1 per 10 transform instructions, scaled by the subnet size (13), and by the 13 nodes
/// that do the work when the outcall is replicated.
pub fn http_request_cost_v2(u: &HttpUsage) -> u128 {
    const SUBNET: u128 = 13;
    let per_node = 400_000
        + 400 * u.request_bytes as u128
        + 400 * u.raw_response_bytes as u128
        + 100 * u.transformed_response_bytes as u128
        + 200 * u.roundtrip_ms as u128
        + u.transform_instructions as u128 / 10;
    let working_nodes = if u.replicated { SUBNET } else { 1 };
    SUBNET * per_node * working_nodes
}
