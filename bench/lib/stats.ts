import type { IntervalHistogram } from 'node:perf_hooks';

/** Order statistics of a set of samples, in the samples' unit (ms throughout the bench). */
export interface Summary {
  readonly count: number;
  readonly min: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

const round = (value: number, digits = 3): number => Number(value.toFixed(digits));

/** Nearest-rank percentile of an ascending array (p in 0..100). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

/**
 * Summarizes samples; null when there are none.
 *
 * @example
 *   summarize([3, 1, 2]); // { count: 3, min: 1, p50: 2, ... }
 */
export function summarize(samples: readonly number[]): Summary | null {
  if (samples.length === 0) return null;
  const sorted = [...samples].sort((a, b) => a - b);
  const total = sorted.reduce((sum, value) => sum + value, 0);
  return {
    count: sorted.length,
    min: round(sorted[0] as number),
    mean: round(total / sorted.length),
    p50: round(percentile(sorted, 50)),
    p90: round(percentile(sorted, 90)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted[sorted.length - 1] as number),
  };
}

/**
 * Event-loop delay from monitorEventLoopDelay, in ms: how late its timer fired. The histogram
 * records the whole interval between two ticks, resolution included (an idle loop at resolution
 * 10 shows ~10.1 ms), so the resolution is subtracted, as fastify's under-pressure does.
 */
export interface LoopDelay {
  /** How many delay samples the histogram holds (one per timer tick). */
  readonly samples: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

export function loopDelayOf(histogram: IntervalHistogram, resolutionMs: number): LoopDelay {
  const ms = (ns: number) =>
    histogram.count === 0 ? Number.NaN : round(Math.max(0, ns / 1e6 - resolutionMs));
  return {
    samples: histogram.count,
    p50: ms(histogram.percentile(50)),
    p99: ms(histogram.percentile(99)),
    max: ms(histogram.max),
    mean: ms(histogram.mean),
  };
}

export { round };
