import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic, writeFileAtomicSync } from '../wire/persist.ts';
import type { ExecutionRecord, LocalHistoryEvent } from './history.ts';

/** A persisted execution file could not be read or written. */
export class ExecutionStoreError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ExecutionStoreError';
  }
}

interface PendingWrite {
  dirty: boolean;
  readonly done: Promise<void>;
}

/**
 * Keeps one JSON file per execution under `<dir>/<stateMachineName>/<executionName>.json` (both names are
 * AWS-validated: no `/`, no `:`). Writes go to a temporary file renamed over the old one, so a reader or a
 * crash never sees half a file; bursts of events for one execution coalesce into one write in flight
 * plus at most one queued. Without a directory everything stays in memory.
 */
export class ExecutionStore {
  readonly #dir: string | undefined;
  readonly #pending = new Map<string, PendingWrite>();
  readonly #madeDirs = new Set<string>();
  #writeError: unknown;

  constructor(dir?: string) {
    this.#dir = dir;
  }

  /** Every execution persisted so far (synchronous: used once, at construction of the service). */
  loadAll(): ExecutionRecord[] {
    const dir = this.#dir;
    if (dir === undefined) return [];
    mkdirSync(dir, { recursive: true });
    const records: ExecutionRecord[] = [];
    for (const machine of readdirSync(dir, { withFileTypes: true })) {
      if (!machine.isDirectory()) continue;
      const machineDir = join(dir, machine.name);
      for (const file of readdirSync(machineDir)) {
        const path = join(machineDir, file);
        // A temporary file is a write that never got renamed: the previous complete file is still there.
        if (file.endsWith('.tmp')) {
          rmSync(path, { force: true });
          continue;
        }
        if (!file.endsWith('.json')) continue;
        try {
          records.push(reviveRecord(JSON.parse(readFileSync(path, 'utf8'))));
        } catch (error) {
          throw new ExecutionStoreError(
            `Cannot read the persisted Step Functions execution ${path}: ${(error as Error).message}. ` +
              'Delete that file (or the stepfunctions folder of the data directory) to start without it.',
            { cause: error },
          );
        }
      }
    }
    return records;
  }

  /** Writes a record now, synchronously (used on reload, before the service serves anything). */
  saveSync(record: ExecutionRecord): void {
    const path = this.#pathOf(record);
    if (path === undefined) return;
    writeFileAtomicSync(path, JSON.stringify(record), { mkdir: true });
  }

  /** Schedules a write of the record's current state (coalesced with writes already queued for it). */
  save(record: ExecutionRecord): void {
    const path = this.#pathOf(record);
    if (path === undefined) return;
    const pending = this.#pending.get(path);
    if (pending !== undefined) {
      pending.dirty = true;
      return;
    }
    const state: { dirty: boolean; done?: Promise<void> } = { dirty: true };
    const loop = async (): Promise<void> => {
      while (state.dirty) {
        state.dirty = false;
        await this.#writeAtomic(path, JSON.stringify(record));
      }
    };
    const done = loop()
      .catch((error: unknown) => {
        this.#writeError = error;
      })
      .finally(() => this.#pending.delete(path));
    this.#pending.set(path, Object.assign(state, { done }));
  }

  /** Resolves once every scheduled write is on disk; throws if one of them failed. */
  async flush(): Promise<void> {
    while (this.#pending.size > 0) {
      await Promise.all([...this.#pending.values()].map((pending) => pending.done));
    }
    if (this.#writeError !== undefined) {
      const cause = this.#writeError;
      this.#writeError = undefined;
      throw new ExecutionStoreError(
        `Could not persist a Step Functions execution under ${this.#dir}: ${(cause as Error).message}`,
        { cause },
      );
    }
  }

  #pathOf(record: ExecutionRecord): string | undefined {
    if (this.#dir === undefined) return undefined;
    // arn:aws:states:<region>:<account>:execution:<stateMachineName>:<executionName>
    const parts = record.executionArn.split(':');
    return join(this.#dir, parts[6] ?? '_', `${parts[7] ?? record.name}.json`);
  }

  async #writeAtomic(path: string, text: string): Promise<void> {
    const dir = join(path, '..');
    if (!this.#madeDirs.has(dir)) {
      await mkdir(dir, { recursive: true });
      this.#madeDirs.add(dir);
    }
    await writeFileAtomic(path, text);
  }
}

function reviveRecord(raw: Record<string, unknown>): ExecutionRecord {
  const events = (raw.events as Record<string, unknown>[]).map(
    (event) => ({ ...event, timestamp: new Date(event.timestamp as string) }) as LocalHistoryEvent,
  );
  return {
    ...(raw as unknown as ExecutionRecord),
    startDate: new Date(raw.startDate as string),
    ...(raw.stopDate === undefined ? {} : { stopDate: new Date(raw.stopDate as string) }),
    ...(raw.redriveDate === undefined ? {} : { redriveDate: new Date(raw.redriveDate as string) }),
    events,
  };
}
