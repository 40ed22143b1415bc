import assert from 'node:assert/strict';
import { renderMarkdown, type BenchReport } from '../../../bench/report.ts';
import { machineInfo } from '../../../bench/lib/machine.ts';
import { runStacksBench, STACKS_DEFAULTS, type StacksResult } from '../../../bench/stacks/side-by-side.ts';
import { DECISIONS_END, DECISIONS_START, renderBenchmarks } from '../../../bench/stacks/benchmarks-md.ts';

const positive = (value: number | null | undefined, what: string) => {
  assert.ok(typeof value === 'number' && Number.isFinite(value) && value > 0, `${what}: ${value}`);
};
const finite = (value: number | null | undefined, what: string) => {
  assert.ok(typeof value === 'number' && Number.isFinite(value), `${what}: ${value}`);
};

// Only that the instrument produces figures: speed is never asserted.
describe('bench: the side-by-side stacks (one tiny round)', function () {
  this.timeout(120_000);
  let result: StacksResult;

  before(async () => {
    result = await runStacksBench(
      {
        ...STACKS_DEFAULTS,
        stacks: ['ws', 'sc'],
        rounds: 1,
        durationMs: 300,
        warmupMs: 100,
        connectParallel: 4,
        pubsubSockets: 4,
        inFlight: 2,
        fanoutSubscribers: 4,
        idleSockets: 20,
        subscriptionsPerSocket: 1,
      },
      () => {},
    );
  });

  it('measures every scenario on each stack in its processes', () => {
    assert.deepEqual(
      result.rounds.map((r) => [r.stack, r.error]),
      [
        ['ws', null],
        ['sc', null],
      ],
    );
    for (const r of result.rounds) {
      positive(r.pubsub?.perSecond, `${r.stack} 1:1 msg/s`);
      positive(r.pubsub?.cpuMicrosPerMessage.worker, `${r.stack} worker CPU per message`);
      positive(r.fanout?.deliveriesPerSecond, `${r.stack} fan-out deliveries/s`);
      positive(r.connects?.perSecond, `${r.stack} connects/s`);
      assert.equal(r.memory?.sockets, 20);
      assert.equal(r.memory?.subscriptions, 20);
      finite(r.memory?.heapPerSocketKB, `${r.stack} heap per socket`);
      finite(r.memory?.rssPerSocketKB, `${r.stack} RSS per socket`);
      finite(r.memory?.heapPerSubscriptionKB, `${r.stack} heap per subscription`);
    }
    positive(result.rounds[1]?.connectsNoToken?.perSecond, 'bare SC connects/s without a token');
  });

  it('renders the table with the targets beside it', () => {
    const report: BenchReport = {
      machine: machineInfo(),
      gitCommit: null,
      runSeconds: 1,
      loadAverageAtEnd: [0, 0, 0],
      renewal: null,
      revocation: null,
      storm: null,
      stacks: result,
    };
    const markdown = renderMarkdown(report);
    assert.match(markdown, /\| workload \| raw ws \| bare SC \|/);
    assert.match(markdown, /\| 1:1 pub\/sub, msg\/s \| [\d.]+k? \| [\d.]+k? \|/);
    assert.match(markdown, /\| heap per idle authenticated socket \| .* \| <= 1\.15x \| - \|/);
  });

  it('writes BENCHMARKS.md with the table and keeps the Decisions section it had', () => {
    const previous = `# old\n${DECISIONS_START}\n## Decisions\n\nKeep SCC, with batching.\n${DECISIONS_END}\n`;
    const text = renderBenchmarks(result, machineInfo(), 'abc', [0, 0, 0], previous);
    assert.match(text, /## Side by side\n/);
    assert.match(text, /\| workload \| raw ws \| bare SC \|/);
    assert.match(text, /## Capacity on paper\n/);
    assert.ok(
      text.includes(`${DECISIONS_START}\n## Decisions\n\nKeep SCC, with batching.\n${DECISIONS_END}`),
    );
  });
});
