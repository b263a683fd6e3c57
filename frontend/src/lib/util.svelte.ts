// Running a call from a screen: busy while it runs (never without an end), its failure as a sentence,
// and a re-read from the canister afterwards whatever happened.
import { callFailureText, withTimeout } from './errors';
import { QUERY_TIMEOUT_MS, UPDATE_TIMEOUT_MS } from './api';

/** A canister's typed refusal, already a sentence. */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}

export type CandidResult<T, E> = { __kind__: 'Ok'; Ok: T } | { __kind__: 'Err'; Err: E };

export function unwrap<T, E>(r: CandidResult<T, E>, text: (e: E) => string): T {
  if (r.__kind__ === 'Ok') return r.Ok;
  throw new UserError(text(r.Err));
}

export const errorText = (e: unknown): string => (e instanceof UserError ? e.message : callFailureText(e));

export const query = <T>(p: Promise<T>, what: string): Promise<T> => withTimeout(p, QUERY_TIMEOUT_MS, what);
export const update = <T>(p: Promise<T>, what: string): Promise<T> => withTimeout(p, UPDATE_TIMEOUT_MS, what);

export class Task {
  busy = $state(false);
  error = $state<string | null>(null);
  done = $state<string | null>(null);
  step = $state<string | null>(null);

  /** Runs `fn`; its returned text is shown as done. `after` re-reads state, success or not. */
  async run(fn: (step: (s: string) => void) => Promise<string | void>, after?: () => Promise<void> | void): Promise<boolean> {
    if (this.busy) return false;
    this.busy = true;
    this.error = null;
    this.done = null;
    let ok = false;
    try {
      const msg = await fn((s) => (this.step = s));
      this.done = msg ?? 'Done.';
      ok = true;
    } catch (e) {
      this.error = errorText(e);
    } finally {
      this.busy = false;
      this.step = null;
    }
    try {
      await after?.();
    } catch (e) {
      this.error = `${this.error ? `${this.error} ` : ''}Re-reading failed: ${errorText(e)}`;
    }
    return ok;
  }

  /** A validation failure: shown, nothing sent. */
  refuse(reason: string): void {
    this.error = reason;
    this.done = null;
  }
}

/** Loads data for a screen; `error` when it fails or times out. */
export class Loader<T> {
  value = $state<T | undefined>(undefined);
  error = $state<string | null>(null);
  loading = $state(false);

  /** Which load is the latest: an earlier one that answers later is dropped, not shown. */
  private generation = 0;

  async load(fn: () => Promise<T>): Promise<void> {
    const mine = ++this.generation;
    this.loading = true;
    this.error = null;
    try {
      const value = await fn();
      if (mine === this.generation) this.value = value;
    } catch (e) {
      if (mine === this.generation) this.error = errorText(e);
    } finally {
      if (mine === this.generation) this.loading = false;
    }
  }

  /** Starts a background read: a load begun after it wins. Returns a check that it is still current. */
  begin(): () => boolean {
    const mine = this.generation;
    return () => mine === this.generation;
  }
}
