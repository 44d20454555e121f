/**
 * Atomic file writes for the local cloud's persisted state: the data goes to a temporary file beside the target
 * (`<file>.<pid>.<n>.tmp`) that is then renamed over it, so a reader or a crash never sees half a file — only the
 * old one or the new one. A leftover `*.tmp` is a write that never got renamed; loaders may delete it.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Options of the atomic writes. */
export interface AtomicWriteOptions {
  /** Create the file's directory first (recursively). @default false */
  readonly mkdir?: boolean;
}

/** Options of the atomic JSON writes. */
export interface AtomicJsonOptions extends AtomicWriteOptions {
  /** Indent by two spaces and end with a newline (files people read); else compact. @default false */
  readonly pretty?: boolean;
}

let sequence = 0;

/** A temporary name no other write of this process (nor of another process) uses at the same time. */
function temporaryName(file: string): string {
  sequence = (sequence + 1) % Number.MAX_SAFE_INTEGER;
  return `${file}.${process.pid}.${sequence}.tmp`;
}

function jsonText(value: unknown, options: AtomicJsonOptions): string {
  return options.pretty ? `${JSON.stringify(value, null, 2)}\n` : JSON.stringify(value);
}

/** Replaces `file` with `data` atomically (temporary file, then rename). */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  if (options.mkdir) await mkdir(dirname(file), { recursive: true });
  const temp = temporaryName(file);
  try {
    await writeFile(temp, data);
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw error;
  }
}

/** {@link writeFileAtomic}, synchronously. */
export function writeFileAtomicSync(
  file: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): void {
  if (options.mkdir) mkdirSync(dirname(file), { recursive: true });
  const temp = temporaryName(file);
  try {
    writeFileSync(temp, data);
    renameSync(temp, file);
  } catch (error) {
    try {
      rmSync(temp, { force: true });
    } catch {
      // The write already failed; that error is the one to report.
    }
    throw error;
  }
}

/** Replaces `file` with `value` as JSON, atomically. */
export async function writeJsonAtomic(
  file: string,
  value: unknown,
  options: AtomicJsonOptions = {},
): Promise<void> {
  await writeFileAtomic(file, jsonText(value, options), options);
}

/** {@link writeJsonAtomic}, synchronously. */
export function writeJsonAtomicSync(file: string, value: unknown, options: AtomicJsonOptions = {}): void {
  writeFileAtomicSync(file, jsonText(value, options), options);
}
