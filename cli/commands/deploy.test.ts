import { describe, expect, test } from 'vitest';
import { settingChanges } from './deploy.ts';

describe('settingChanges: what a deploy on a running cloud would change', () => {
  const running = {
    timeScale: 0.1,
    endpoint: 'http://127.0.0.1:4566',
    startedAt: '2026-12-03T08:00:00.000Z',
  };
  const before = Date.parse(running.startedAt) - 60_000;

  test('the same settings (no --edge-port: any port) → nothing', () => {
    expect(settingChanges(running, { timeScale: 0.1 }, false, before)).toEqual([]);
    expect(settingChanges(running, { timeScale: 0.1, edgePort: 4566 }, false, before)).toEqual([]);
  });

  test('time scale, edge port and a new synthesis are each named', () => {
    expect(settingChanges(running, { timeScale: 1, edgePort: 5556 }, true, before)).toEqual([
      'time scale 0.1 → 1',
      'edge port 4566 → 5556',
      'a new synthesis of the app',
    ]);
  });

  test('a template written after the cloud started (e.g. `npm run synth`) is a new synthesis', () => {
    expect(settingChanges(running, { timeScale: 0.1 }, false, Date.parse(running.startedAt) + 1)).toEqual([
      'a new synthesis of the app',
    ]);
  });
});
