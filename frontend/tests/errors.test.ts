import { describe, expect, it } from 'vitest';
import {
  approveErrorText,
  auditErrorText,
  callFailureText,
  claimErrorText,
  governanceErrorText,
  governedErrorText,
  inferErrorText,
  meteringErrorText,
  mergeNeuronsErrorText,
  moneyErrorText,
  proxyRegistryErrorText,
  royaltiesRegistryErrorText,
  setPermissionsErrorText,
  settleErrorText,
  splitErrorText,
  splitNeuronErrorText,
  TimeoutError,
  transferErrorText,
  transferFromErrorText,
  withTimeout,
} from '../src/lib/errors';
import type { Token } from '../src/lib/format';

const NNG: Token = { symbol: 'NNG', decimals: 8, fee: 10_000n };
const NUSD: Token = { symbol: 'NUSD', decimals: 8, fee: 10_000n };

// Every variant of every error type, with the text it must contain.
const sentence = /^\S.{10,}[.)]$/s;

// The cases are written as plain objects; each function's parameter type is what checks them.
function each<E>(f: (e: E) => string, cases: ReadonlyArray<readonly [unknown, RegExp]>) {
  for (const [e, re] of cases) {
    const text = f(e as E);
    expect(text, JSON.stringify(e, (_, v) => (typeof v === 'bigint' ? v.toString() : v))).toMatch(re);
    expect(text).toMatch(sentence);
    expect(text).not.toMatch(/unexpected/i);
  }
}

describe('error sentences', () => {
  it('governance', () => {
    // The treasury's cap is in the payment token, whatever the governance token is.
    expect(
      governanceErrorText(
        { __kind__: 'TreasuryCapExceeded', TreasuryCapExceeded: { cap: 1_000_000_000n, requested: 800_000_000n, used: 300_000_000n } },
        NNG,
        NUSD,
      ),
    ).toMatch(/7 NUSD is left and 8 NUSD is too much/);
    each((e: never) => governanceErrorText(e, NNG), [
      [{ __kind__: 'AlreadyVoted', AlreadyVoted: null }, /already voted/],
      [{ __kind__: 'InsufficientStakeForRejectCost', InsufficientStakeForRejectCost: { free: 500_000_000n, reject_cost: 1_000_000_000n } }, /5 NNG.*10 NNG/],
      [{ __kind__: 'Overflow', Overflow: null }, /too large/],
      [{ __kind__: 'StakeBelowMinimum', StakeBelowMinimum: { minimum: 1_000_000_000n } }, /minimum of 10 NNG/],
      [{ __kind__: 'Busy', Busy: null }, /in progress/],
      [{ __kind__: 'VotingClosed', VotingClosed: null }, /closed/],
      [{ __kind__: 'ProposalNotFound', ProposalNotFound: { proposal: 9n } }, /Proposal 9 does not exist/],
      [{ __kind__: 'NotDissolved', NotDissolved: {} }, /not dissolving/],
      [{ __kind__: 'NotDissolved', NotDissolved: { dissolved_at: 1_700_000_000_000_000_000n } }, /can be disbursed from/],
      [{ __kind__: 'NotAuthorized', NotAuthorized: null }, /do not control/],
      [{ __kind__: 'DissolveDelayTooShort', DissolveDelayTooShort: { minimum_seconds: 2_592_000n } }, /30 days/],
      [{ __kind__: 'LedgerUnavailable', LedgerUnavailable: { reason: 'down' } }, /down/],
      [{ __kind__: 'InvalidArgument', InvalidArgument: { field: 'title', reason: 'empty' } }, /^title: empty/],
      [{ __kind__: 'NeuronNotFound', NeuronNotFound: { neuron: 3n } }, /Neuron 3/],
      [{ __kind__: 'TreasuryCapExceeded', TreasuryCapExceeded: { cap: 1_000_000_000n, requested: 800_000_000n, used: 300_000_000n } }, /7 NNG is left and 8 NNG is too much/],
      [{ __kind__: 'TooManyOpenProposals', TooManyOpenProposals: { max: 5 } }, /5 open proposals/],
      [{ __kind__: 'TransferFailed', TransferFailed: { reason: 'InsufficientFunds' } }, /InsufficientFunds/],
      [{ __kind__: 'TooManyFollowees', TooManyFollowees: { max: 15 } }, /At most 15/],
      [{ __kind__: 'AnonymousCaller', AnonymousCaller: null }, /Sign in/],
      [{ __kind__: 'Pending', Pending: null }, /not known yet/],
      [{ __kind__: 'NoBallot', NoBallot: null }, /no ballot/],
      [{ __kind__: 'GenericFunctionNotFound', GenericFunctionNotFound: { function: 7n } }, /Generic function 7 is not registered/],
      [{ __kind__: 'GenericValidationFailed', GenericValidationFailed: { reason: 'max_nodes_per_call must be 1–10' } }, /refused the payload \(max_nodes_per_call must be 1–10\)/],
      [{ __kind__: 'WasmHashMismatch', WasmHashMismatch: { expected: new Uint8Array([0xab, 0x01]), actual: new Uint8Array([0xcd]) } }, /SHA-256 is cd, not the ab01/],
      [{ __kind__: 'ChunkNotStaged', ChunkNotStaged: { hash: new Uint8Array([0x0f]) } }, /chunk 0f is not staged/],
      [{ __kind__: 'StagingQuotaExceeded', StagingQuotaExceeded: { quota: 67_108_864n, staged: 67_000_000n } }, /quota of 67,108,864 bytes \(67,000,000 staged\)/],
    ]);
  });
  it('splitting, merging and permissions: what those calls return, in their own words', () => {
    const na = { __kind__: 'NotAuthorized', NotAuthorized: null } as const;
    const tf = { __kind__: 'TransferFailed', TransferFailed: { reason: 'BadFee' } } as const;
    each((e: never) => splitNeuronErrorText(e, NNG, 1_000_000_000n), [
      [{ __kind__: 'StakeBelowMinimum', StakeBelowMinimum: { minimum: 1_000_000_000n } }, /new neuron would get less than the minimum stake of 10 NNG: split off at least that much/],
      [
        { __kind__: 'InvalidArgument', InvalidArgument: { field: 'amount', reason: 'the neuron must keep at least 1000000000 free after the amount and the fee of 10000' } },
        /must keep at least the minimum stake of 10 NNG free .*: split off less/,
      ],
      [na, /Only the neuron's controller may split it/],
      [tf, /refused the transfer to the new neuron \(BadFee\); nothing changed/],
      [{ __kind__: 'Busy', Busy: null }, /stake, disbursement, split or merge of this neuron is in progress/],
      [{ __kind__: 'Pending', Pending: null }, /not known yet/],
      [{ __kind__: 'NeuronNotFound', NeuronNotFound: { neuron: 3n } }, /Neuron 3 does not exist/],
      [{ __kind__: 'AnonymousCaller', AnonymousCaller: null }, /Sign in/],
      [{ __kind__: 'LedgerUnavailable', LedgerUnavailable: { reason: 'down' } }, /did not answer \(down\)/],
      [{ __kind__: 'Overflow', Overflow: null }, /too large/],
    ]);
    expect(
      splitNeuronErrorText({ __kind__: 'InvalidArgument', InvalidArgument: { field: 'amount', reason: 'x' } }, NNG),
    ).toMatch(/at least the minimum stake free/);
    each((e: never) => mergeNeuronsErrorText(e, NNG), [
      [{ __kind__: 'InvalidArgument', InvalidArgument: { field: 'neuron', reason: 'neuron 4 is dissolving: stop dissolving it first' } }, /cannot be merged: neuron 4 is dissolving: stop dissolving it first\.$/],
      [
        { __kind__: 'InvalidArgument', InvalidArgument: { field: 'source', reason: 'it has an undecided proposal (its reject cost is not settled)' } },
        /undecided proposal .* Wait until its proposals are decided/,
      ],
      [{ __kind__: 'InvalidArgument', InvalidArgument: { field: 'source', reason: 'a neuron cannot be merged into itself' } }, /neuron to merge cannot be merged: a neuron cannot be merged into itself\.$/],
      [na, /controller of both neurons/],
      [tf, /between the neurons \(BadFee\)/],
      [{ __kind__: 'Busy', Busy: null }, /split or merge/],
      [{ __kind__: 'Pending', Pending: null }, /not known yet/],
      [{ __kind__: 'Overflow', Overflow: null }, /too large/],
    ]);
    each((e: never) => setPermissionsErrorText(e, NNG), [
      [{ __kind__: 'InvalidArgument', InvalidArgument: { field: 'principal', reason: 'anonymous or the controller' } }, /cannot be given permissions on this neuron \(anonymous or the controller\)/],
      [{ __kind__: 'InvalidArgument', InvalidArgument: { field: 'principal', reason: 'at most 10 grants' } }, /most grants allowed \(at most 10 grants\): withdraw one first/],
      [na, /Only the neuron's controller may give or withdraw permissions/],
      [{ __kind__: 'NeuronNotFound', NeuronNotFound: { neuron: 3n } }, /Neuron 3 does not exist/],
      [{ __kind__: 'AnonymousCaller', AnonymousCaller: null }, /Sign in/],
    ]);
    // Voting or proposing without the permission: the general sentence names hot keys and grants.
    expect(governanceErrorText(na, NNG)).toMatch(/do not control this neuron, and are neither one of its hot keys nor given the permission/);
  });
  it('royalties', () => {
    each((e: never) => claimErrorText(e, NUSD), [
      [{ __kind__: 'NothingToClaim', NothingToClaim: null }, /nothing to claim/],
      [{ __kind__: 'AlreadyProcessing', AlreadyProcessing: null }, /in progress/],
      [{ __kind__: 'Busy', Busy: { cap: 100 } }, /100 claims in progress/],
      [{ __kind__: 'MintingAccountDestination', MintingAccountDestination: null }, /minting account/],
      [{ __kind__: 'BelowFee', BelowFee: { fee: 10_000n, available: 5_000n } }, /0.00005 NUSD.*0.0001 NUSD/],
      [{ __kind__: 'LedgerUnavailable', LedgerUnavailable: { reason: 'r' } }, /nothing was recorded/],
      [{ __kind__: 'TransferFailed', TransferFailed: { payout: 4n, reason: 'r' } }, /payout 4.*restored/],
      [{ __kind__: 'AnonymousCaller', AnonymousCaller: null }, /Sign in/],
    ]);
    each(royaltiesRegistryErrorText, [
      [{ __kind__: 'InsufficientShares', InsufficientShares: { requested: 10n, held: 3n } }, /hold 3 share units/],
      [{ __kind__: 'TooManyModels', TooManyModels: { max: 10n } }, /10 models/],
      [{ __kind__: 'NotModelManager', NotModelManager: { model: 1n } }, /model 1/],
      [{ __kind__: 'RateLimited', RateLimited: { changes_per_minute: 6 } }, /6 registry changes/],
      [{ __kind__: 'InvalidArgument', InvalidArgument: { field: 'price', reason: 'too high' } }, /price: too high/],
      [{ __kind__: 'UnknownModel', UnknownModel: { model: 8n } }, /Model 8/],
      [{ __kind__: 'Moderated', Moderated: { model: 2n, status: 'Suspended' } }, /^The DAO suspended model 2: only another proposal can change its status\.$/],
      [{ __kind__: 'Moderated', Moderated: { model: 3n, status: 'Delisted' } }, /The DAO delisted model 3/],
      [{ __kind__: 'AnonymousCaller', AnonymousCaller: null }, /Sign in/],
    ]);
    each(governedErrorText, [
      [{ __kind__: 'NotGovernance', NotGovernance: null }, /Only the governance canister.*ModerateModel or SetPayoutSettings proposal/],
      [{ __kind__: 'InvalidArgument', InvalidArgument: { field: 'reason', reason: 'the reason must have 1–2000 bytes' } }, /^reason: the reason must have 1–2000 bytes\. Correct it/],
      [{ __kind__: 'UnknownModel', UnknownModel: { model: 9n } }, /Model 9 is not registered in royalties/],
      [{ __kind__: 'ProposalAlreadyApplied', ProposalAlreadyApplied: { proposal_id: 4n } }, /Proposal 4 was already applied with this very payload/],
      [{ __kind__: 'ProposalConflict', ProposalConflict: { proposal_id: 4n } }, /Proposal 4 was already applied with another payload; nothing changed/],
    ]);
    each(splitErrorText, [
      [{ __kind__: 'ProposalAlreadyApplied', ProposalAlreadyApplied: { version: 2, proposal_id: 5n } }, /Proposal 5 already set split version 2/],
      [{ __kind__: 'ProposalConflict', ProposalConflict: { proposal_id: 5n } }, /Proposal 5 was already applied with another split/],
      [{ __kind__: 'NotGovernance', NotGovernance: null }, /SetRoyaltySplit proposal/],
      [{ __kind__: 'InvalidSplit', InvalidSplit: { total_bps: 9_000 } }, /9000 basis points/],
    ]);
    each(settleErrorText, [
      [{ __kind__: 'EmptyBatch', EmptyBatch: null }, /no receipts/],
      [{ __kind__: 'TooManyReceipts', TooManyReceipts: { max: 500 } }, /500/],
      [{ __kind__: 'DuplicateReceiptInBatch', DuplicateReceiptInBatch: { receipt: 3n } }, /Receipt 3/],
      [{ __kind__: 'ReceiptsOutOfOrder', ReceiptsOutOfOrder: { receipt: 4n, after: 7n } }, /Receipt 4 is listed after receipt 7: .*increasing id/],
      [{ __kind__: 'NotInferenceProxy', NotInferenceProxy: null }, /inference proxy/],
      [{ __kind__: 'MeteredInFuture', MeteredInFuture: { now: 1n, receipt: 2n, metered_at: 3n } }, /Receipt 2/],
    ]);
    each(auditErrorText, [
      [{ __kind__: 'LedgerUnavailable', LedgerUnavailable: { reason: 'r' } }, /did not tell/],
      [{ __kind__: 'AnonymousCaller', AnonymousCaller: null }, /sign in/],
    ]);
  });
  it('inference proxy', () => {
    each((e: never) => meteringErrorText(e, NUSD), [
      [{ __kind__: 'Overflow', Overflow: null }, /too large/],
      [{ __kind__: 'ReceiptTooLarge', ReceiptTooLarge: { amount: 1n } }, /does not fit/],
      [{ __kind__: 'UnknownHold', UnknownHold: { hold: 1n } }, /Hold 1/],
      [{ __kind__: 'ZeroAmount', ZeroAmount: null }, /zero/],
      [{ __kind__: 'InsufficientBalance', InsufficientBalance: { needed: 200_000_000n, available: 100_000_000n } }, /needs 2 NUSD.*is 1 NUSD: deposit more/],
      [{ __kind__: 'FeeReserveTooLow', FeeReserveTooLow: { fee: 2n, reserve: 1n } }, /do not cover/],
      [{ __kind__: 'UnknownBatch', UnknownBatch: { batch: 1n } }, /Batch 1/],
      [{ __kind__: 'AnonymousCaller', AnonymousCaller: null }, /Sign in/],
    ]);
    each((e: never) => moneyErrorText(e, NUSD), [
      [{ __kind__: 'AlreadyProcessing', AlreadyProcessing: null }, /in progress/],
      [{ __kind__: 'ZeroAmount', ZeroAmount: null }, /zero/],
      [{ __kind__: 'Busy', Busy: { cap: 500 } }, /500 deposits and withdrawals/],
      [{ __kind__: 'MintingAccountDestination', MintingAccountDestination: null }, /minting/],
      [{ __kind__: 'Metering', Metering: { __kind__: 'ZeroAmount', ZeroAmount: null } }, /zero/],
      [{ __kind__: 'BelowFee', BelowFee: { fee: 10_000n, amount: 1n } }, /ledger fee/],
      [{ __kind__: 'LedgerUnavailable', LedgerUnavailable: { reason: 'r' } }, /did not answer/],
      [{ __kind__: 'TransferFailed', TransferFailed: { reason: 'r' } }, /refused/],
      [{ __kind__: 'AnonymousCaller', AnonymousCaller: null }, /Sign in/],
      [{ __kind__: 'Pending', Pending: { intent: 3n } }, /intent 3/],
    ]);
    each((e: never) => inferErrorText(e, NUSD), [
      [{ __kind__: 'InvalidInput', InvalidInput: { reason: 'empty prompt' } }, /empty prompt/],
      [{ __kind__: 'Metering', Metering: { __kind__: 'InsufficientBalance', InsufficientBalance: { needed: 2n, available: 1n } } }, /deposit more/],
      [{ __kind__: 'InsufficientCycles', InsufficientCycles: { needed: 2n, available: 1n } }, /cycles/],
      [{ __kind__: 'RateLimited', RateLimited: { calls_per_minute: 60 } }, /60 calls per minute/],
      [{ __kind__: 'Busy', Busy: { cap: 500 } }, /500 calls in flight/],
      [{ __kind__: 'ModelPaused', ModelPaused: { model: 1n } }, /paused/],
      [{ __kind__: 'ModelModerated', ModelModerated: { model: 2n, status: 'Suspended' } }, /^The DAO suspended model 2 \(the reason is in the settlement log\); nothing was charged: choose another model\.$/],
      [{ __kind__: 'ModelModerated', ModelModerated: { model: 5n, status: 'Delisted' } }, /The DAO delisted model 5/],
      [{ __kind__: 'NoNodeAvailable', NoNodeAvailable: null }, /No admitted node/],
      [{ __kind__: 'UnknownModel', UnknownModel: { model: 1n } }, /unknown/],
      [{ __kind__: 'AnonymousCaller', AnonymousCaller: null }, /Sign in/],
      [{ __kind__: 'AllNodesFailed', AllNodesFailed: { failures: [[0n, 'timeout'], [1n, 'refused']] } }, /node 0: timeout; node 1: refused/],
    ]);
    each(proxyRegistryErrorText, [
      [{ __kind__: 'ProposalAlreadyExecuted', ProposalAlreadyExecuted: { proposal: 1n } }, /already executed/],
      [{ __kind__: 'ProposalConflict', ProposalConflict: { proposal: 1n } }, /another payload/],
      [{ __kind__: 'UnknownNode', UnknownNode: { node: 1n } }, /Node 1/],
      [{ __kind__: 'NotRoyalties', NotRoyalties: null }, /royalties/],
      [{ __kind__: 'NodeRemoved', NodeRemoved: { node: 1n } }, /removed/],
      [{ __kind__: 'TooManyNodes', TooManyNodes: { max_nodes: 64, max_pending_per_principal: 2 } }, /64 nodes/],
      [{ __kind__: 'InvalidArgument', InvalidArgument: { field: 'endpoint', reason: 'not https' } }, /endpoint: not https/],
      [{ __kind__: 'NotGovernance', NotGovernance: null }, /governance/],
      [{ __kind__: 'AnonymousCaller', AnonymousCaller: null }, /Sign in/],
    ]);
  });
  it('ledgers', () => {
    const common = [
      [{ __kind__: 'GenericError', GenericError: { message: 'm', error_code: 7n } }, /code 7/],
      [{ __kind__: 'TemporarilyUnavailable', TemporarilyUnavailable: null }, /temporarily/],
      [{ __kind__: 'Duplicate', Duplicate: { duplicate_of: 12n } }, /block 12/],
      [{ __kind__: 'BadFee', BadFee: { expected_fee: 10_000n } }, /0.0001 NNG/],
      [{ __kind__: 'CreatedInFuture', CreatedInFuture: { ledger_time: 1n } }, /clock/],
      [{ __kind__: 'TooOld', TooOld: null }, /too old/],
      [{ __kind__: 'InsufficientFunds', InsufficientFunds: { balance: 100_000_000n } }, /\(1 NNG\)/],
    ] as const;
    each((e: never) => transferErrorText(e, NNG), [...common, [{ __kind__: 'BadBurn', BadBurn: { min_burn_amount: 1n } }, /burn/]]);
    each((e: never) => approveErrorText(e, NNG), [
      ...common,
      [{ __kind__: 'AllowanceChanged', AllowanceChanged: { current_allowance: 1n } }, /allowance changed/],
      [{ __kind__: 'Expired', Expired: { ledger_time: 1n } }, /expired/],
    ]);
    each((e: never) => transferFromErrorText(e, NNG), [
      ...common,
      [{ __kind__: 'InsufficientAllowance', InsufficientAllowance: { allowance: 1n } }, /approve again/],
      [{ __kind__: 'BadBurn', BadBurn: { min_burn_amount: 1n } }, /burn/],
    ]);
  });
  it('call failures and timeouts', async () => {
    expect(callFailureText(new TypeError('Failed to fetch'))).toMatch(/network did not answer/);
    expect(callFailureText(new Error('Call failed:\n  Reject code: 5\n  Reject text: Canister trapped: boom'))).toBe(
      'The canister refused the call: Canister trapped: boom',
    );
    expect(callFailureText(new Error('Invalid certificate: Signature verification failed'))).toMatch(/did not verify/);
    const slow = new Promise((r) => setTimeout(r, 1000));
    await expect(withTimeout(slow, 10, 'Governance')).rejects.toBeInstanceOf(TimeoutError);
    expect(callFailureText(new TimeoutError('Governance', 30_000))).toBe(
      'Governance did not answer within 30 seconds. Nothing is assumed: the page re-reads the state from the canister.',
    );
    await expect(withTimeout(Promise.resolve(3), 1000, 'x')).resolves.toBe(3);
  });
});
