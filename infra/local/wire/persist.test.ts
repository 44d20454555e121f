import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileAtomic, writeJsonAtomic, writeJsonAtomicSync } from './persist.ts';

const dir = mkdtempSync(join(tmpdir(), 'saga-persist-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('atomic writes', () => {
  it('write JSON compact or pretty, creating the directory when asked, and leave no temporary file', async () => {
    const file = join(dir, 'nested', 'state.json');
    await writeJsonAtomic(file, { a: 1 }, { mkdir: true, pretty: true });
    expect(readFileSync(file, 'utf8')).toBe('{\n  "a": 1\n}\n');
    writeJsonAtomicSync(file, { a: 2 });
    expect(readFileSync(file, 'utf8')).toBe('{"a":2}');
    // Concurrent writes each use their own temporary file; the last rename wins, whole.
    await Promise.all(Array.from({ length: 20 }, (_, i) => writeJsonAtomic(file, { i })));
    expect(JSON.parse(readFileSync(file, 'utf8'))).toHaveProperty('i');
    expect(readdirSync(join(dir, 'nested'))).toEqual(['state.json']);
  });

  it('a failed write leaves the old file and no temporary file', async () => {
    const file = join(dir, 'missing-dir', 'x.json');
    await expect(writeFileAtomic(file, 'x')).rejects.toThrow(/ENOENT/);
    const existing = join(dir, 'kept.txt');
    await writeFileAtomic(existing, 'old');
    // A directory in the way of the rename makes it fail after the temporary file was written.
    await expect(writeFileAtomic(dir, 'new')).rejects.toThrow();
    expect(readFileSync(existing, 'utf8')).toBe('old');
    expect(readdirSync(join(dir, '..')).filter((f) => f.startsWith(`${dir.split('/').pop()}.`))).toEqual([]);
  });
});
