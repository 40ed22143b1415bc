import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface FileLimit {
  readonly soft: number;
  readonly hard: number;
}

/** RLIMIT_NOFILE of this process, from /proc (Node has no getrlimit); null where /proc is absent. */
export function openFileLimit(): FileLimit | null {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const [soft, hard] = (line ?? '').replace('Max open files', '').trim().split(/\s+/);
    const parse = (value: string | undefined) =>
      value === 'unlimited' ? Number.POSITIVE_INFINITY : Number(value);
    const limit = { soft: parse(soft), hard: parse(hard) };
    return Number.isNaN(limit.soft) || Number.isNaN(limit.hard) ? null : limit;
  } catch {
    return null;
  }
}

export interface MachineInfo {
  readonly date: string;
  readonly node: string;
  readonly platform: string;
  readonly cpus: number;
  readonly cpuModel: string;
  readonly totalMemoryMiB: number;
  readonly openFileLimit: FileLimit | null;
  /** 1, 5 and 15 minute load averages when the run started (this host may be shared). */
  readonly loadAverage: readonly number[];
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    totalMemoryMiB: Math.round(os.totalmem() / 2 ** 20),
    openFileLimit: openFileLimit(),
    loadAverage: loadAverage(),
  };
}

export function loadAverage(): number[] {
  return os.loadavg().map((load) => Math.round(load * 100) / 100);
}
