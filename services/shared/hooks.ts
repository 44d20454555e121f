/** Where a domain function lets failure injection act: before its side effect and right after it commits. */
export interface FailureHooks {
  before(): Promise<void>;
  afterCommit(): Promise<void>;
}

/** Hooks that inject nothing (domain functions called outside a handler). */
export const NO_FAILURES: FailureHooks = {
  before: async () => undefined,
  afterCommit: async () => undefined,
};
