import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/saga', import.meta.url));

/** `saga` run as a real process (bin/saga on this Node), for what only a process has: signals, exit codes. */
export interface SagaProcess {
  readonly child: ChildProcess;
  /** stdout and stderr so far (on a pty, both are the terminal's output, in stdout). */
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Resolves when stdout or stderr matches `pattern` (rejects after `timeoutMs` or when the process ends first). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** The exit code (a signal's death is 128 + its number) and when it came. */
  readonly exited: Promise<{ code: number; at: number }>;
  /** Ctrl-C: the byte 0x03 typed on the pty (the terminal turns it into SIGINT), else SIGINT sent to the process. */
  interrupt(): void;
}

/**
 * Starts `saga <args>` in `cwd`, not on a terminal (no colour); with `pty`, on a real pseudo-terminal (util-linux
 * `script`, 120×40). Kill it if the test fails.
 */
export function spawnSaga(
  args: readonly string[],
  cwd: string,
  options: { env?: NodeJS.ProcessEnv; pty?: boolean } = {},
): SagaProcess {
  const env = { ...(options.env ?? process.env), NO_COLOR: '1' };
  const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(' ');
  const child = options.pty
    ? spawn('script', ['-qfec', `stty cols 120 rows 40; exec ${quoted}`, '/dev/null'], {
        cwd,
        env,
        stdio: ['pipe', 'pipe', 'pipe'],
      })
    : spawn(process.execPath, [BIN, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  const changed = () => {
    for (const w of waiters) w();
  };
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
    changed();
  });
  child.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
    changed();
  });
  // 'close', not 'exit': only then has all the output been read (on a pty, `script` relays it after the exit).
  const exited = new Promise<{ code: number; at: number }>((resolve) => {
    child.on('close', (code, signal) => {
      resolve({
        code: code ?? 128 + (signal === 'SIGINT' ? 2 : signal === 'SIGKILL' ? 9 : 15),
        at: Date.now(),
      });
      changed();
    });
  });
  return {
    child,
    interrupt: () => {
      if (options.pty) child.stdin?.write('\x03');
      else child.kill('SIGINT');
    },
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = (out + err).match(pattern);
          if (match) {
            cleanup();
            resolve(match);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            cleanup();
            reject(new Error(`saga ${args.join(' ')} ended before ${pattern}:\n${out}\n${err}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`saga ${args.join(' ')}: no ${pattern} within ${timeoutMs} ms:\n${out}\n${err}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
  };
}
