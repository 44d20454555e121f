/** Where a domain function lets failure injection act: before its side effect and right after it commits. */
export interface FailureHooks {
  before(): Promise<void>;
  afterCommit(): Promise<void>;
  /** Told when the step answered from its own ledger (no dependency called, no flag consulted). */
  answeredFromLedger?(detail: Record<string, unknown>): void;
}

/** Hooks that inject nothing (domain functions called outside a handler). */
export const NO_FAILURES: FailureHooks = {
  before: async () => undefined,
  afterCommit: async () => undefined,
};
