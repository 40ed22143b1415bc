import type { StacksResult } from './side-by-side.ts';
import { STACK_LABELS, type StackId } from './stacks.ts';
import { medianOf, type MetricName } from './targets.ts';

const cell = (value: number | null | undefined): string =>
  value === null || value === undefined || Number.isNaN(value) ? '-' : String(value);

/** 12345 -> 12.3k; small figures as they are. */
const rate = (value: number | null): string =>
  value === null
    ? '-'
    : value >= 1000
      ? `${(value / 1000).toFixed(value >= 100_000 ? 0 : 1)}k`
      : String(value);

const ROWS: ReadonlyArray<{ label: string; metric: MetricName; format?: (value: number | null) => string }> =
  [
    { label: '1:1 pub/sub, msg/s', metric: 'pubsub', format: rate },
    { label: 'worker CPU per message, µs', metric: 'workerCpu' },
    { label: 'broker (or cluster primary) CPU per message, µs', metric: 'brokerCpu' },
    { label: 'all server processes, CPU per message, µs', metric: 'allCpu' },
    { label: 'fan-out 1->200, deliveries/s', metric: 'fanout', format: rate },
    { label: 'fan-out: worker CPU per delivery, µs', metric: 'fanoutWorkerCpu' },
    { label: 'fan-out: broker (or primary) CPU per delivery, µs', metric: 'fanoutBrokerCpu' },
    { label: 'connects/s (with the stack token)', metric: 'connects', format: rate },
    { label: 'connects/s without a token', metric: 'connectsNoToken', format: rate },
    { label: 'heap per idle socket, KB', metric: 'heapPerSocket' },
    { label: 'RSS per idle socket, KB (all processes)', metric: 'rssPerSocket' },
    { label: 'idle sockets: server CPU per socket-second, µs', metric: 'idleCpu' },
    { label: 'heap per subscription, KB', metric: 'heapPerSubscription' },
    { label: 'RSS per subscription, KB (all processes)', metric: 'rssPerSubscription' },
  ];

/**
 * The side-by-side table (medians over rounds, one column per stack) and the targets with the
 * ratio of each round, as markdown lines.
 *
 * @example
 *   lines.push(...stacksTable(result));
 */
export function stacksTable(result: StacksResult): string[] {
  const stacks = result.options.stacks;
  const header = ['workload', ...stacks.map((id: StackId) => STACK_LABELS[id])];
  const lines = [
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
  ];
  for (const row of ROWS) {
    const values = stacks.map((id) => medianOf(result.rounds, id, row.metric));
    if (values.every((v) => v === null)) continue;
    lines.push(`| ${row.label} | ${values.map((v) => (row.format ?? cell)(v)).join(' | ')} |`);
  }
  lines.push(
    '',
    '| target | figure | per round | median | target | met |',
    '|---|---|---|---:|---:|---|',
    ...result.targets.map(
      (t) =>
        `| ${t.name} | ${t.figure} | ${t.perRound.map(cell).join(', ')} | ${cell(t.median)} | ${t.target} | ` +
        `${t.met === null ? '-' : t.met ? 'met' : '**not met**'}${t.note === undefined ? '' : ` (${t.note})`} |`,
    ),
  );
  return lines;
}

/** Rounds that failed, and figures that were only partly measured (lost window slots), as lines. */
export function stacksProblems(result: StacksResult): string[] {
  const lines: string[] = [];
  for (const r of result.rounds) {
    if (r.error !== null) lines.push(`- round ${r.round} ${r.stack}: **failed**: ${r.error}`);
    const lost = (r.pubsub?.lost ?? 0) + (r.fanout?.lost ?? 0);
    if (lost > 0) lines.push(`- round ${r.round} ${r.stack}: ${lost} in-flight slots given up as lost`);
    if ((r.connects?.failed ?? 0) > 0)
      lines.push(`- round ${r.round} ${r.stack}: ${r.connects?.failed} connects failed`);
  }
  return lines;
}
