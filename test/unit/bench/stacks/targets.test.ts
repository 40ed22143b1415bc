import assert from 'node:assert/strict';
import type { StackRound } from '../../../../bench/stacks/side-by-side.ts';
import type { StackId } from '../../../../bench/stacks/stacks.ts';
import { evaluateTargets, median, medianOf } from '../../../../bench/stacks/targets.ts';

function stackRound(stack: StackId, round: number, pubsub: number | null, heapPerSocketKB = 10): StackRound {
  return {
    stack,
    round,
    startupMs: 1,
    processes: [],
    pubsub: pubsub === null ? null : { perSecond: pubsub, cpuMicrosPerMessage: { worker: 10 }, lost: 0 },
    fanout: null,
    connects: { perSecond: 100, failed: 0 },
    connectsNoToken: stack === 'sc' ? { perSecond: 200, failed: 0 } : null,
    memory: {
      sockets: 10,
      subscriptions: 10,
      heapPerSocketKB,
      rssPerSocketKB: 20,
      heapPerSubscriptionKB: null,
      rssPerSubscriptionKB: 0.4,
      baselineRssMiB: 50,
      idleCpuMicrosPerSocketSecond: null,
    },
    error: null,
  };
}

describe('bench stacks: targets', () => {
  it('takes the median of known values', () => {
    assert.equal(median([3, null, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([null, Number.NaN]), null);
  });

  it('divides within each round, not medians by medians', () => {
    // Round 1: the machine was slow for both; round 2 fast for both; round 3 Warden failed.
    const rounds = [
      stackRound('warden-solo', 1, 900),
      stackRound('sc-pass', 1, 1000),
      stackRound('warden-solo', 2, 1900),
      stackRound('sc-pass', 2, 2000),
      stackRound('warden-solo', 3, null),
      stackRound('sc-pass', 3, 3000),
    ];
    const target = evaluateTargets(rounds).find((t) => t.name === '1:1 pub/sub without the cluster');
    assert.deepEqual(target?.perRound, [0.9, 0.95, null]);
    assert.equal(target?.median, 0.925);
    assert.equal(target?.met, true);
    assert.equal(medianOf(rounds, 'sc-pass', 'pubsub'), 2000);
  });

  it('judges an upper bound and says when nothing was measured', () => {
    const rounds = [stackRound('warden-solo', 1, 1, 13), stackRound('sc', 1, 1, 10)];
    const targets = evaluateTargets(rounds);
    const heap = targets.find((t) => t.name === 'heap per idle authenticated socket');
    assert.equal(heap?.median, 1.3);
    assert.equal(heap?.met, false);
    const cluster = targets.find((t) => t.name === '1:1 pub/sub through the cluster');
    assert.equal(cluster?.met, null);
    assert.deepEqual(cluster?.perRound, [null]);
  });

  it('falls back to RSS per subscription for warden start, and says so', () => {
    const target = evaluateTargets([stackRound('warden-1', 1, 1)]).find(
      (t) => t.name === 'per subscription through the cluster',
    );
    assert.equal(target?.median, 0.4);
    assert.equal(target?.met, true);
    assert.match(target?.note ?? '', /RSS, not heap/);
  });

  it("judges the heap of Warden's worker on the cluster (warden-scc) where it ran", () => {
    const scc = stackRound('warden-scc', 1, 1);
    assert.ok(scc.memory);
    const rounds = [
      { ...scc, memory: { ...scc.memory, heapPerSubscriptionKB: 0.55 } },
      stackRound('warden-1', 1, 1),
    ];
    const target = evaluateTargets(rounds).find((t) => t.name === 'per subscription through the cluster');
    assert.equal(target?.figure, 'warden-scc heap per subscription, KB');
    assert.equal(target?.median, 0.55);
    assert.equal(target?.met, false);
    assert.equal(target?.note, undefined);
  });
});
