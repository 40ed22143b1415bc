import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** One server process of a stack and what it does there. */
export interface StackProcess {
  readonly pid: number;
  /** worker, broker, state, supervisor (warden start's primary) or primary (node:cluster's, Socket.IO). */
  readonly role: string;
}

let ticksPerSecond: number | null = null;

/** USER_HZ, the unit of utime and stime in /proc/<pid>/stat (100 nearly everywhere). */
function clockTicks(): number {
  if (ticksPerSecond !== null) return ticksPerSecond;
  try {
    ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    ticksPerSecond = 100;
  }
  return ticksPerSecond;
}

function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // pid (comm) state ...: comm may hold spaces and parentheses, so split after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** utime + stime of `pid` in microseconds; null when the process is gone. */
export function cpuMicros(pid: number): number | null {
  const fields = statFields(pid);
  if (fields === null) return null;
  // After the comm: state(0) ppid(1) ... utime(11) stime(12).
  return ((Number(fields[11]) + Number(fields[12])) / clockTicks()) * 1e6;
}

/** Resident set size of `pid` in bytes (VmRSS); null when the process is gone. */
export function rssBytes(pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? null : Number(match[1]) * 1024;
  } catch {
    return null;
  }
}

/** Every live descendant of `root` (children, grandchildren, ...), from the ppid in /proc. */
export function descendants(root: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(Number(entry));
    if (fields === null || fields[0] === 'Z') continue;
    parentOf.set(Number(entry), Number(fields[1]));
  }
  const found: number[] = [];
  const frontier = [root];
  while (frontier.length > 0) {
    const parent = frontier.pop() as number;
    for (const [pid, ppid] of parentOf) {
      if (ppid === parent) {
        found.push(pid);
        frontier.push(pid);
      }
    }
  }
  return found;
}

/** The processes of `warden start` under its supervisor, each with its role from its command line. */
export function wardenProcesses(supervisor: number): StackProcess[] {
  const processes: StackProcess[] = [{ pid: supervisor, role: 'supervisor' }];
  for (const pid of descendants(supervisor)) {
    let args: string[];
    try {
      args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    } catch {
      continue;
    }
    const role = args.at(-1);
    if (role === 'worker' || role === 'broker' || role === 'state') processes.push({ pid, role });
  }
  return processes;
}

/** CPU microseconds of each process, sampled now; compare two samples with cpuSince. */
export function sampleCpu(processes: readonly StackProcess[]): Map<number, number> {
  const sample = new Map<number, number>();
  for (const { pid } of processes) {
    const micros = cpuMicros(pid);
    if (micros !== null) sample.set(pid, micros);
  }
  return sample;
}

/** CPU microseconds spent between two samples, summed per role. */
export function cpuSince(
  processes: readonly StackProcess[],
  before: ReadonlyMap<number, number>,
  after: ReadonlyMap<number, number>,
): Record<string, number> {
  const perRole: Record<string, number> = {};
  for (const { pid, role } of processes) {
    const start = before.get(pid);
    const end = after.get(pid);
    if (start === undefined || end === undefined) continue;
    perRole[role] = (perRole[role] ?? 0) + (end - start);
  }
  return perRole;
}

/** RSS summed over the processes, bytes. */
export function totalRss(processes: readonly StackProcess[]): number {
  return processes.reduce((sum, { pid }) => sum + (rssBytes(pid) ?? 0), 0);
}
