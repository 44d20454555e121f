/**
 * The operating system's processes as the lifecycle needs them: whether one exists (a zombie counts as gone), whether
 * it is this data folder's cloud, whether its edge answers, whether a port is free, and stopping a process group
 * (and what a killed cloud left behind).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Whether a process with this id exists (EPERM: it exists, but belongs to someone else). A zombie (dead,
 * not yet reaped by its parent) counts as gone.
 */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  return pid <= 0 || !isZombie(pid);
}

function isZombie(pid: number): boolean {
  try {
    // /proc/<pid>/stat: "pid (comm) S …" — comm may hold spaces and parentheses, the state follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false; // no /proc (not Linux), or already gone
  }
}

function commandLineOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    // Not Linux: ask ps.
    const ps = spawnSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8' });
    return ps.status === 0 ? ps.stdout.trim() : undefined;
  }
}

/**
 * Whether `pid` is this data folder's local cloud: alive, and started with `--data-dir <dataDir>` (a recycled
 * pid belongs to some other program and does not carry that argument).
 */
export function isOurProcess(pid: number, dataDir: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || !processExists(pid)) return false;
  const commandLine = commandLineOf(pid);
  return commandLine === undefined || commandLine.includes(dataDir);
}

export async function edgeAnswers(endpoint: string, pid: number, healthPath: string): Promise<boolean> {
  try {
    const res = await fetch(new URL(healthPath, endpoint), { signal: AbortSignal.timeout(2_000) });
    if (!res.ok) return false;
    const body = (await res.json()) as { pid?: unknown };
    return body.pid === pid;
  } catch {
    return false;
  }
}

/** Whether 127.0.0.1:`port` can be listened on now (where the edge listens). */
export async function portIsFree(port: number): Promise<boolean> {
  return await new Promise((done) => {
    const server = createServer();
    server.unref();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!processExists(pid)) return true;
    await sleep(50);
  }
  return !processExists(pid);
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  // The process leads its own group (detached), which holds its children (DynamoDB Local's JVM).
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, signal);
    } catch {
      // already gone
    }
  }
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL the whole process group. */
export async function terminate(pid: number, graceMs: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  if (!(await waitForExit(pid, graceMs))) {
    signalGroup(pid, 'SIGKILL');
    await waitForExit(pid, 5_000);
  }
  // Children left behind by a crash (e.g. the JVM) still carry the group id.
  if (processExists(-pid)) {
    signalGroup(pid, 'SIGKILL');
    await sleep(100);
  }
}

/**
 * Kills what a cloud that died without stopping (SIGKILL, OOM) left behind: its children (DynamoDB Local's JVM)
 * outlive it in its process group, holding the database files. The leader being gone, the group id cannot have
 * been reused (Linux keeps a pid reserved while a group carries it); a member must still name `dataDir` on its
 * command line, so a group this project did not start is never touched.
 */
export async function reapLeftovers(pid: number | undefined, dataDir: string): Promise<void> {
  if (pid === undefined || !Number.isInteger(pid) || pid <= 1 || processExists(pid)) return;
  if (!processExists(-pid)) return;
  const ps = spawnSync('ps', ['-A', '-o', 'pid=,pgid=,args='], { encoding: 'utf8' });
  const members = (ps.stdout ?? '').split('\n').flatMap((line) => {
    const match = /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line);
    return match && Number(match[2]) === pid ? [{ pid: Number(match[1]), args: match[3] ?? '' }] : [];
  });
  if (!members.some((member) => member.args.includes(dataDir))) return;
  signalGroup(pid, 'SIGTERM');
  const deadline = Date.now() + 5_000;
  while (processExists(-pid) && Date.now() < deadline) await sleep(50);
  if (processExists(-pid)) signalGroup(pid, 'SIGKILL');
  while (processExists(-pid) && Date.now() < deadline + 5_000) await sleep(50);
}
