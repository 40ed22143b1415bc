/**
 * Rewrites BENCHMARKS.md from bench/results/latest.json (a full stacks run) without running the
 * bench again, keeping its Decisions section: `node --import tsx bench/stacks/write-benchmarks.ts`.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { BenchReport } from '../report.ts';
import { renderBenchmarks } from './benchmarks-md.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const report = JSON.parse(await readFile(`${ROOT}bench/results/latest.json`, 'utf8')) as BenchReport;
const stacks = report.stacks;
if (stacks === null || stacks === undefined || 'error' in stacks) {
  throw new Error('bench/results/latest.json holds no stacks run');
}
const previous = await readFile(`${ROOT}BENCHMARKS.md`, 'utf8').catch(() => null);
await writeFile(
  `${ROOT}BENCHMARKS.md`,
  renderBenchmarks(stacks, report.machine, report.gitCommit, report.loadAverageAtEnd, previous),
);
console.log('written: BENCHMARKS.md');
