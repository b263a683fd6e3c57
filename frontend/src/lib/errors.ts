// Every typed error of the canisters as a sentence that says what happened and what to do. One function
// per error type; each switch is exhaustive (a new variant in a .did is a type error here).
import type { GovernanceError } from '../bindings/governance/governance';
import type {
  AuditError,
  ClaimError,
  GovernedError,
  RegistryError as RoyaltiesRegistryError,
  SettleError,
  SplitError,
} from '../bindings/royalties/royalties';
import type {
  InferError,
  MeteringError,
  MoneyError,
  ProxyAuditError,
  RegistryError as ProxyRegistryError,
} from '../bindings/inference_proxy/inference_proxy';
import type { ApproveError, TransferError, TransferFromError } from '../bindings/icrc_ledger/icrc_ledger';
import { formatDuration, formatTime, toHex, tokenAmount, type Token } from './format';

const never = (x: never): string => `An unexpected error (${JSON.stringify(x)}).`;
const amount = (v: bigint, token?: Token): string => tokenAmount(v, token);
const signIn = 'Sign in first: the canister does not accept calls from the anonymous identity.';

/** `token`: the governance token (stakes, fees); `payToken`: the payment token the treasury holds. */
export function governanceErrorText(e: GovernanceError, token?: Token, payToken: Token | undefined = token): string {
  switch (e.__kind__) {
    case 'AlreadyVoted':
      return 'This neuron has already voted on this proposal; a vote cannot be changed.';
    case 'InsufficientStakeForRejectCost':
      return `The neuron's free stake (${amount(e.InsufficientStakeForRejectCost.free, token)}) cannot pay the reject cost of ${amount(e.InsufficientStakeForRejectCost.reject_cost, token)}: propose with a neuron holding more stake.`;
    case 'Overflow':
      return 'The numbers are too large for governance to compute: use smaller values.';
    case 'StakeBelowMinimum':
      return `The stake is below the minimum of ${amount(e.StakeBelowMinimum.minimum, token)}: stake at least that much.`;
    case 'Busy':
      return 'A stake, disbursement, split or merge of this neuron is in progress: wait a few seconds and try again.';
    case 'VotingClosed':
      return 'Voting on this proposal is closed (it is decided, or its ballots are still being prepared): reload to see its status.';
    case 'ProposalNotFound':
      return `Proposal ${e.ProposalNotFound.proposal.toString()} does not exist: check the id.`;
    case 'NotDissolved': {
      const at = e.NotDissolved.dissolved_at;
      return at === undefined || at === null
        ? 'The neuron is not dissolving: start dissolving it and disburse once its dissolve delay has passed.'
        : `The neuron is still dissolving: it can be disbursed from ${formatTime(at)}.`;
    }
    case 'NotAuthorized':
      return 'You do not control this neuron, and are neither one of its hot keys nor given the permission for this: sign in as its controller, or ask it for the permission.';
    case 'DissolveDelayTooShort':
      return `The neuron's dissolve delay is below the ${formatDuration(e.DissolveDelayTooShort.minimum_seconds)} needed to vote or propose: increase it first.`;
    case 'LedgerUnavailable':
      return `The governance ledger did not answer (${e.LedgerUnavailable.reason}); nothing changed: try again later.`;
    case 'InvalidArgument':
      return `${e.InvalidArgument.field}: ${e.InvalidArgument.reason}. Correct it and submit again.`;
    case 'NeuronNotFound':
      return `Neuron ${e.NeuronNotFound.neuron.toString()} does not exist: reload your neurons.`;
    case 'TreasuryCapExceeded': {
      const c = e.TreasuryCapExceeded;
      const left = c.cap > c.used ? c.cap - c.used : 0n;
      return `The treasury may move at most ${amount(c.cap, payToken)} in 7 days; ${amount(c.used, payToken)} is used, so ${amount(left, payToken)} is left and ${amount(c.requested, payToken)} is too much: ask for less or wait.`;
    }
    case 'TooManyOpenProposals':
      return `This neuron already has ${e.TooManyOpenProposals.max} open proposals, the most allowed: wait until one is decided.`;
    case 'TransferFailed':
      return `The ledger refused the transfer (${e.TransferFailed.reason}); nothing changed: check the balance and the allowance.`;
    case 'TooManyFollowees':
      return `At most ${e.TooManyFollowees.max} followees per topic: remove some.`;
    case 'AnonymousCaller':
      return signIn;
    case 'Pending':
      return "The ledger transfer's outcome is not known yet; it completes or is undone by itself: reload in a minute.";
    case 'NoBallot':
      return 'This neuron has no ballot on this proposal (it was made after the proposal, or had too short a dissolve delay then).';
    case 'WasmHashMismatch':
      return `The module's SHA-256 is ${toHex(e.WasmHashMismatch.actual)}, not the ${toHex(e.WasmHashMismatch.expected)} the proposal names: stage the module the proposal was made for.`;
    case 'ChunkNotStaged':
      return `The chunk ${toHex(e.ChunkNotStaged.hash)} is not staged by the proposing neuron (never, or it expired after 7 days): stage the module again, then propose.`;
    case 'GenericFunctionNotFound':
      return `Generic function ${e.GenericFunctionNotFound.function.toString()} is not registered (never, or removed by a proposal): see the registered functions.`;
    case 'GenericValidationFailed':
      return `The function's validator refused the payload (${e.GenericValidationFailed.reason}); nothing was proposed: correct the payload.`;
    case 'StagingQuotaExceeded':
      return `Staging this chunk would pass the quota of ${e.StagingQuotaExceeded.quota.toLocaleString('en-US')} bytes (${e.StagingQuotaExceeded.staged.toLocaleString('en-US')} staged): clear the neuron's staged chunks (governance's clear_staged_chunks) or wait until they expire after 7 days.`;
    default:
      return never(e);
  }
}

/** `split_neuron`'s refusals; `minStake`: the parameters' minimum stake, when known. */
export function splitNeuronErrorText(e: GovernanceError, token?: Token, minStake?: bigint): string {
  switch (e.__kind__) {
    case 'StakeBelowMinimum':
      return `The new neuron would get less than the minimum stake of ${amount(e.StakeBelowMinimum.minimum, token)}: split off at least that much.`;
    case 'InvalidArgument':
      if (e.InvalidArgument.field !== 'amount') break;
      return `The neuron must keep at least ${minStake === undefined ? 'the minimum stake' : `the minimum stake of ${amount(minStake, token)}`} free (its stake less reject costs) after the amount and the ledger fee leave it: split off less.`;
    case 'NotAuthorized':
      return 'Only the neuron\'s controller may split it (hot keys and grantees may not): sign in as its controller.';
    case 'TransferFailed':
      return `The ledger refused the transfer to the new neuron (${e.TransferFailed.reason}); nothing changed: reload and try again.`;
  }
  return governanceErrorText(e, token);
}

/** `merge_neurons`' refusals. */
export function mergeNeuronsErrorText(e: GovernanceError, token?: Token): string {
  switch (e.__kind__) {
    case 'InvalidArgument': {
      const { field, reason } = e.InvalidArgument;
      if (field === 'neuron') return `The neurons cannot be merged: ${reason}.`;
      if (field !== 'source') break;
      return /undecided proposal/.test(reason)
        ? `The neuron to merge cannot be merged: ${reason}. Wait until its proposals are decided, or merge the other way round.`
        : `The neuron to merge cannot be merged: ${reason}.`;
    }
    case 'NotAuthorized':
      return 'Only the controller of both neurons may merge them: sign in as the controller of both.';
    case 'TransferFailed':
      return `The ledger refused the transfer between the neurons (${e.TransferFailed.reason}); nothing changed: reload and try again.`;
  }
  return governanceErrorText(e, token);
}

/** `set_permissions`' refusals. */
export function setPermissionsErrorText(e: GovernanceError, token?: Token): string {
  switch (e.__kind__) {
    case 'InvalidArgument':
      if (e.InvalidArgument.field !== 'principal') break;
      if (/^at most \d+ grants$/.test(e.InvalidArgument.reason)) {
        return `The neuron already holds the most grants allowed (${e.InvalidArgument.reason}): withdraw one first.`;
      }
      return `That principal cannot be given permissions on this neuron (${e.InvalidArgument.reason}): choose another principal.`;
    case 'NotAuthorized':
      return "Only the neuron's controller may give or withdraw permissions: sign in as its controller.";
  }
  return governanceErrorText(e, token);
}

export function claimErrorText(e: ClaimError, token?: Token): string {
  switch (e.__kind__) {
    case 'NothingToClaim':
      return 'There is nothing to claim yet: credits arrive as inferences of your models are settled.';
    case 'AlreadyProcessing':
      return 'Another claim of yours is in progress: wait for it to complete, then reload.';
    case 'Busy':
      return `Royalties has ${e.Busy.cap} claims in progress, its most; nothing changed: try again in a moment.`;
    case 'MintingAccountDestination':
      return "The destination is the ledger's minting account (a payment there would be burnt): choose another account.";
    case 'BelowFee':
      return `Your claimable ${amount(e.BelowFee.available, token)} does not cover the ledger fee of ${amount(e.BelowFee.fee, token)}: wait until more is credited.`;
    case 'LedgerUnavailable':
      return `The payment ledger did not tell its fee (${e.LedgerUnavailable.reason}); nothing was recorded: try again later.`;
    case 'TransferFailed':
      return `The ledger refused payout ${e.TransferFailed.payout.toString()} (${e.TransferFailed.reason}); your credits were restored: try again.`;
    case 'AnonymousCaller':
      return signIn;
    default:
      return never(e);
  }
}

export function royaltiesRegistryErrorText(e: RoyaltiesRegistryError): string {
  switch (e.__kind__) {
    case 'InsufficientShares':
      return `You hold ${e.InsufficientShares.held.toString()} share units and asked to move ${e.InsufficientShares.requested.toString()}: move at most what you hold.`;
    case 'TooManyModels':
      return `You already manage ${e.TooManyModels.max.toString()} models, the most one principal may.`;
    case 'NotModelManager':
      return `Only the principal that registered model ${e.NotModelManager.model.toString()} may change its price or status.`;
    case 'RateLimited':
      return `At most ${e.RateLimited.changes_per_minute} registry changes per minute: wait a minute and try again.`;
    case 'InvalidArgument':
      return `${e.InvalidArgument.field}: ${e.InvalidArgument.reason}. Correct it and try again.`;
    case 'UnknownModel':
      return `Model ${e.UnknownModel.model.toString()} is not registered: check the id.`;
    case 'Moderated':
      return `The DAO ${e.Moderated.status.toLowerCase()} model ${e.Moderated.model.toString()}: only another proposal can change its status.`;
    case 'AnonymousCaller':
      return signIn;
    default:
      return never(e);
  }
}

export function splitErrorText(e: SplitError): string {
  switch (e.__kind__) {
    case 'ProposalAlreadyApplied':
      return `Proposal ${e.ProposalAlreadyApplied.proposal_id.toString()} already set split version ${e.ProposalAlreadyApplied.version}.`;
    case 'ProposalConflict':
      return `Proposal ${e.ProposalConflict.proposal_id.toString()} was already applied with another split; nothing changed.`;
    case 'NotGovernance':
      return 'Only the governance canister may set the split: make a SetRoyaltySplit proposal.';
    case 'InvalidSplit':
      return `The split sums to ${e.InvalidSplit.total_bps} basis points; it must sum to 10,000.`;
    default:
      return never(e);
  }
}

/** Royalties' answer to governance's calls other than `set_split` (moderating a model, the payout settings). */
export function governedErrorText(e: GovernedError): string {
  switch (e.__kind__) {
    case 'NotGovernance':
      return 'Only the governance canister may moderate models or change the payout settings: make a ModerateModel or SetPayoutSettings proposal.';
    case 'InvalidArgument':
      return `${e.InvalidArgument.field}: ${e.InvalidArgument.reason}. Correct it and propose again.`;
    case 'UnknownModel':
      return `Model ${e.UnknownModel.model.toString()} is not registered in royalties: check the model id and propose again.`;
    case 'ProposalAlreadyApplied':
      return `Proposal ${e.ProposalAlreadyApplied.proposal_id.toString()} was already applied with this very payload; nothing changed again.`;
    case 'ProposalConflict':
      return `Proposal ${e.ProposalConflict.proposal_id.toString()} was already applied with another payload; nothing changed.`;
    default:
      return never(e);
  }
}

export function settleErrorText(e: SettleError): string {
  switch (e.__kind__) {
    case 'EmptyBatch':
      return 'The batch has no receipts.';
    case 'TooManyReceipts':
      return `A batch holds at most ${e.TooManyReceipts.max} receipts.`;
    case 'DuplicateReceiptInBatch':
      return `Receipt ${e.DuplicateReceiptInBatch.receipt.toString()} appears twice in the batch.`;
    case 'ReceiptsOutOfOrder':
      return `Receipt ${e.ReceiptsOutOfOrder.receipt.toString()} is listed after receipt ${e.ReceiptsOutOfOrder.after.toString()}: a batch lists its receipts by increasing id.`;
    case 'NotInferenceProxy':
      return 'Only the inference proxy settles batches.';
    case 'MeteredInFuture':
      return `Receipt ${e.MeteredInFuture.receipt.toString()} was metered after royalties' clock (${formatTime(e.MeteredInFuture.metered_at)} > ${formatTime(e.MeteredInFuture.now)}); the proxy offers the batch again later.`;
    default:
      return never(e);
  }
}

export function auditErrorText(e: AuditError | ProxyAuditError): string {
  switch (e.__kind__) {
    case 'LedgerUnavailable':
      return `The ledger did not tell the balance (${e.LedgerUnavailable.reason}): try again later.`;
    case 'AnonymousCaller':
      return 'The audit costs a ledger call: sign in to ask for one.';
    default:
      return never(e);
  }
}

export function meteringErrorText(e: MeteringError, token?: Token): string {
  switch (e.__kind__) {
    case 'Overflow':
      return 'The amounts are too large to meter: use a smaller request.';
    case 'ReceiptTooLarge':
      return `The charge of ${amount(e.ReceiptTooLarge.amount, token)} does not fit one receipt: ask for fewer tokens.`;
    case 'UnknownHold':
      return `Hold ${e.UnknownHold.hold.toString()} is unknown to the proxy.`;
    case 'ZeroAmount':
      return 'The amount is zero: enter more than 0.';
    case 'InsufficientBalance':
      return `This needs ${amount(e.InsufficientBalance.needed, token)} but your prepaid balance is ${amount(e.InsufficientBalance.available, token)}: deposit more first.`;
    case 'FeeReserveTooLow':
      return `The call fees collected (${amount(e.FeeReserveTooLow.reserve, token)}) do not cover the ledger fee of a batch transfer (${amount(e.FeeReserveTooLow.fee, token)}) yet: try again after more calls.`;
    case 'UnknownBatch':
      return `Batch ${e.UnknownBatch.batch.toString()} is unknown to the proxy.`;
    case 'AnonymousCaller':
      return signIn;
    default:
      return never(e);
  }
}

export function moneyErrorText(e: MoneyError, token?: Token): string {
  switch (e.__kind__) {
    case 'AlreadyProcessing':
      return 'Another deposit or withdrawal of yours is in progress: wait for it, then reload.';
    case 'Busy':
      return `The proxy has ${e.Busy.cap} deposits and withdrawals in progress, its most; nothing changed: try again in a moment.`;
    case 'ZeroAmount':
      return 'The amount is zero: enter more than 0.';
    case 'MintingAccountDestination':
      return "The destination is the ledger's minting account (a transfer there would be burnt): choose another account.";
    case 'Metering':
      return meteringErrorText(e.Metering, token);
    case 'BelowFee':
      return `${amount(e.BelowFee.amount, token)} does not cover the ledger fee of ${amount(e.BelowFee.fee, token)}: move more.`;
    case 'LedgerUnavailable':
      return `The payment ledger did not answer (${e.LedgerUnavailable.reason}); nothing changed: try again later.`;
    case 'TransferFailed':
      return `The ledger refused the transfer (${e.TransferFailed.reason}); nothing changed: check your balance and allowance.`;
    case 'AnonymousCaller':
      return signIn;
    case 'Pending':
      return `The transfer's outcome is not known yet (intent ${e.Pending.intent.toString()}); it completes or is undone by itself: reload in a minute.`;
    default:
      return never(e);
  }
}

export function inferErrorText(e: InferError, token?: Token): string {
  switch (e.__kind__) {
    case 'InvalidInput':
      return `The request is not valid: ${e.InvalidInput.reason}. Change it and send again.`;
    case 'Metering':
      return meteringErrorText(e.Metering, token);
    case 'InsufficientCycles':
      return `The proxy cannot pay for the outcalls now (needs ${e.InsufficientCycles.needed.toString()} cycles, has ${e.InsufficientCycles.available.toString()}); nothing was held: try again later.`;
    case 'RateLimited':
      return `At most ${e.RateLimited.calls_per_minute} calls per minute: wait a moment and send again.`;
    case 'ModelPaused':
      return `Model ${e.ModelPaused.model.toString()} is paused by its owner: choose another model.`;
    case 'ModelModerated':
      return `The DAO ${e.ModelModerated.status.toLowerCase()} model ${e.ModelModerated.model.toString()} (the reason is in the settlement log); nothing was charged: choose another model.`;
    case 'NoNodeAvailable':
      return 'No admitted node serves this model now; nothing was charged: try again later or choose another model.';
    case 'Busy':
      return `The proxy has ${e.Busy.cap} calls in flight, its most; nothing was held or charged: try again in a moment.`;
    case 'UnknownModel':
      return `Model ${e.UnknownModel.model.toString()} is unknown to the proxy: choose a registered model.`;
    case 'AnonymousCaller':
      return signIn;
    case 'AllNodesFailed': {
      const list = e.AllNodesFailed.failures.map(([n, why]) => `node ${n.toString()}: ${why}`).join('; ');
      return `Every node tried failed (${list}); nothing was charged: try again later.`;
    }
    default:
      return never(e);
  }
}

export function proxyRegistryErrorText(e: ProxyRegistryError): string {
  switch (e.__kind__) {
    case 'ProposalAlreadyExecuted':
      return `Proposal ${e.ProposalAlreadyExecuted.proposal.toString()} was already executed.`;
    case 'ProposalConflict':
      return `Proposal ${e.ProposalConflict.proposal.toString()} was already applied with another payload; nothing changed.`;
    case 'UnknownNode':
      return `Node ${e.UnknownNode.node.toString()} is not in the registry.`;
    case 'NotRoyalties':
      return 'Only the royalties canister may do this.';
    case 'NodeRemoved':
      return `Node ${e.NodeRemoved.node.toString()} was removed and cannot change any more.`;
    case 'TooManyNodes':
      return `The registry is full (at most ${e.TooManyNodes.max_nodes} nodes) or you have ${e.TooManyNodes.max_pending_per_principal} applications waiting, the most one principal may: wait for a decision.`;
    case 'InvalidArgument':
      return `${e.InvalidArgument.field}: ${e.InvalidArgument.reason}. Correct it and apply again.`;
    case 'NotGovernance':
      return 'Only governance decides on nodes: make a proposal.';
    case 'AnonymousCaller':
      return signIn;
    default:
      return never(e);
  }
}

function ledgerCommon(
  e: TransferError | ApproveError | TransferFromError,
  token?: Token,
): string | undefined {
  switch (e.__kind__) {
    case 'GenericError':
      return `The ledger refused (${e.GenericError.message}, code ${e.GenericError.error_code.toString()}).`;
    case 'TemporarilyUnavailable':
      return 'The ledger is temporarily unavailable: try again in a moment.';
    case 'Duplicate':
      return `The ledger already executed this request (block ${e.Duplicate.duplicate_of.toString()}): reload your balance.`;
    case 'BadFee':
      return `The ledger's fee is ${amount(e.BadFee.expected_fee, token)}, not what was sent: reload and try again.`;
    case 'CreatedInFuture':
      return "Your computer's clock is ahead of the ledger's: correct the clock and try again.";
    case 'TooOld':
      return "The request is too old for the ledger (check your computer's clock) and try again.";
    case 'InsufficientFunds':
      return `Your balance (${amount(e.InsufficientFunds.balance, token)}) is not enough for the amount and the fee: enter less.`;
    default:
      return undefined;
  }
}

export function transferErrorText(e: TransferError, token?: Token): string {
  if (e.__kind__ === 'BadBurn') return `A burn must be at least ${amount(e.BadBurn.min_burn_amount, token)}.`;
  return ledgerCommon(e, token) ?? never(e as never);
}

export function approveErrorText(e: ApproveError, token?: Token): string {
  switch (e.__kind__) {
    case 'AllowanceChanged':
      return `The allowance changed meanwhile (now ${amount(e.AllowanceChanged.current_allowance, token)}): try again.`;
    case 'Expired':
      return 'The approval had already expired when the ledger received it: try again.';
    default:
      return ledgerCommon(e, token) ?? never(e as never);
  }
}

export function transferFromErrorText(e: TransferFromError, token?: Token): string {
  switch (e.__kind__) {
    case 'InsufficientAllowance':
      return `The allowance (${amount(e.InsufficientAllowance.allowance, token)}) does not cover the amount and the fee: approve again.`;
    case 'BadBurn':
      return `A burn must be at least ${amount(e.BadBurn.min_burn_amount, token)}.`;
    default:
      return ledgerCommon(e, token) ?? never(e as never);
  }
}

/** A call that failed below the canister's typed errors: a reject, a trap, a timeout, the network. */
export function callFailureText(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof TimeoutError) return `${err.message} Nothing is assumed: the page re-reads the state from the canister.`;
  if (/Failed to fetch|NetworkError|ECONNREFUSED|fetch failed/i.test(message)) {
    return 'The network did not answer: check that the local network (or the IC) is reachable, then reload.';
  }
  if (/certificate|signature/i.test(message) && /verif|invalid|fail/i.test(message)) {
    return `The answer did not verify (${firstLine(message)}): it was not trusted. Reload; if it persists the network's keys changed.`;
  }
  const reject = /Reject (?:text|message):\s*(.+)/i.exec(message);
  if (reject?.[1]) return `The canister refused the call: ${reject[1].trim()}`;
  return `The call failed: ${firstLine(message)}`;
}

const firstLine = (s: string): string => (s.split('\n').find((l) => l.trim() !== '') ?? s).slice(0, 300);

export class TimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`${what} did not answer within ${Math.round(ms / 1000)} seconds.`);
    this.name = 'TimeoutError';
  }
}

/** Rejects with a TimeoutError after `ms`: no wait without an end. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(what, ms)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
