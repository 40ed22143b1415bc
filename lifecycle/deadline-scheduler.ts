/**
 * One timer per worker for many per-socket deadlines (token expiry, renewal): deadlines are kept
 * in one-second buckets and a single timeout fires for the earliest bucket. Scheduling and
 * cancelling are O(1); no `setInterval` per socket. Due items are handed over in slices of 5, with
 * a rest after each three times as long as the slice took, so that ten thousand sockets coming due
 * in one second neither stall the event loop nor take more than a quarter of it.
 *
 * @example
 *   const scheduler = new DeadlineScheduler<Socket>({ onDue: (socket) => renew(socket) });
 *   scheduler.schedule(socket, Date.now() + 1_800_000);
 */
export interface DeadlineSchedulerOptions<K> {
  readonly onDue: (key: K) => void;
  /** Milliseconds since the epoch. */
  readonly now?: () => number;
  /**
   * How many due items to handle before yielding to the event loop. A renewal costs ~0.3 ms of
   * CPU here, its promise continuations included (they run before the next slice): 500 blocked
   * the loop for 55-65 ms (bench/, 10,000 sockets due at once), 50 for about 6 ms; 5 keeps a
   * block near 1.5 ms, and a yield costs a few microseconds.
   */
  readonly sliceSize?: number;
  /**
   * After each slice the scheduler rests `restRatio` times as long as the slice kept the loop busy
   * (its continuations included), at most MAX_REST_MS: a backlog of due items then takes at most
   * 1 / (1 + restRatio) of the loop, and publishes, handshakes and timers keep their turn while
   * ten thousand renewals drain. Default 3, a quarter of the loop: with 2 (a third) the
   * loop delay's p99 was 3.8-7.3 ms while 10,000 renewals drained, with 3 it was 3.7-3.8 ms
   * (bench/, renewal), and the backlog took 15-17 s instead of 10-11 s, well inside the jitter
   * window of minutes. 0: slices back to back.
   */
  readonly restRatio?: number;
  /** A monotonic clock in ms for measuring a slice (performance.now). */
  readonly monotonic?: () => number;
  /** Runs `fn` after a rest of `ms` (an unref'd setTimeout). */
  readonly setRest?: (fn: () => void, ms: number) => void;
  readonly setTimer?: (fn: () => void, ms: number) => unknown;
  readonly clearTimer?: (handle: unknown) => void;
}

const BUCKET_MS = 1000;
/** The longest rest between two slices: a busy loop must not starve the backlog. */
const MAX_REST_MS = 20;

export class DeadlineScheduler<K> {
  private readonly buckets = new Map<number, Set<K>>();
  private readonly bucketOf = new Map<K, number>();
  private timer: unknown = null;
  private timerBucket = Infinity;
  private readonly now: () => number;
  private readonly sliceSize: number;
  private readonly restRatio: number;
  private readonly monotonic: () => number;
  private readonly setRest: (fn: () => void, ms: number) => void;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (handle: unknown) => void;
  private stopped = false;
  /** Buckets whose time has come, oldest first, still being fired slice by slice. */
  private readonly dueBuckets: number[] = [];
  private draining = false;

  private readonly options: DeadlineSchedulerOptions<K>;

  constructor(options: DeadlineSchedulerOptions<K>) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.sliceSize = options.sliceSize ?? 5;
    this.restRatio = options.restRatio ?? 3;
    this.monotonic = options.monotonic ?? (() => performance.now());
    this.setRest = options.setRest ?? ((fn, ms) => setTimeout(fn, ms).unref());
    this.setTimer = options.setTimer ?? ((fn, ms) => setTimeout(fn, ms).unref());
    this.clearTimer = options.clearTimer ?? ((handle) => clearTimeout(handle as NodeJS.Timeout));
  }

  get size(): number {
    return this.bucketOf.size;
  }

  /** Schedules (or moves) `key` to fire at `at` (ms since the epoch), rounded up to the second. */
  schedule(key: K, at: number): void {
    this.cancel(key);
    const bucket = Math.ceil(at / BUCKET_MS);
    let set = this.buckets.get(bucket);
    if (set === undefined) {
      set = new Set();
      this.buckets.set(bucket, set);
    }
    set.add(key);
    this.bucketOf.set(key, bucket);
    if (bucket < this.timerBucket) this.arm(bucket);
  }

  cancel(key: K): void {
    const bucket = this.bucketOf.get(key);
    if (bucket === undefined) return;
    this.bucketOf.delete(key);
    const set = this.buckets.get(bucket);
    set?.delete(key);
    if (set?.size === 0) this.buckets.delete(bucket);
  }

  has(key: K): boolean {
    return this.bucketOf.has(key);
  }

  /**
   * Fires everything due at the current time; called by the timer, callable by tests. The first
   * slice runs now, the rest after rests (see `restRatio`); a key cancelled or moved meanwhile is
   * not fired, since keys stay in their bucket until their turn.
   */
  runDue(): void {
    this.timer = null;
    this.timerBucket = Infinity;
    const nowBucket = Math.floor(this.now() / BUCKET_MS);
    const known = new Set(this.dueBuckets);
    for (const bucket of this.buckets.keys())
      if (bucket <= nowBucket && !known.has(bucket)) this.dueBuckets.push(bucket);
    this.dueBuckets.sort((a, b) => a - b);
    if (!this.draining) this.fireSlice();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) this.clearTimer(this.timer);
    this.timer = null;
    this.buckets.clear();
    this.bucketOf.clear();
    this.dueBuckets.length = 0;
  }

  /** The next due key, taken out of its bucket; undefined when nothing more is due. */
  private takeDue(): K | undefined {
    while (this.dueBuckets.length > 0) {
      const bucket = this.dueBuckets[0] as number;
      const set = this.buckets.get(bucket);
      const next = set?.values().next();
      if (set === undefined || next === undefined || next.done === true) {
        this.dueBuckets.shift();
        this.buckets.delete(bucket);
        continue;
      }
      set.delete(next.value);
      this.bucketOf.delete(next.value);
      if (set.size === 0) {
        this.buckets.delete(bucket);
        this.dueBuckets.shift();
      }
      return next.value;
    }
    return undefined;
  }

  private fireSlice(): void {
    this.draining = true;
    const started = this.monotonic();
    for (let i = 0; i < this.sliceSize; i++) {
      const key = this.takeDue();
      if (key === undefined) break;
      try {
        this.options.onDue(key);
      } catch {
        // One failing item must not stop the others; onDue reports its own errors.
      }
    }
    if (this.dueBuckets.length === 0 || this.stopped) {
      this.draining = false;
      this.armNext();
      return;
    }
    // By the next turn the slice's continuations have run: the time since `started` is what the
    // slice cost the loop (and whatever I/O ran meanwhile, which only makes the rest longer).
    setImmediate(() => {
      if (this.stopped) return;
      const rest = Math.min(MAX_REST_MS, (this.monotonic() - started) * this.restRatio);
      if (rest < 1) this.fireSlice();
      else this.setRest(() => this.stopped || this.fireSlice(), rest);
    });
  }

  private armNext(): void {
    let earliest = Infinity;
    for (const bucket of this.buckets.keys()) if (bucket < earliest) earliest = bucket;
    if (earliest !== Infinity) this.arm(earliest);
  }

  private arm(bucket: number): void {
    if (this.stopped) return;
    if (this.timer !== null) this.clearTimer(this.timer);
    this.timerBucket = bucket;
    // setTimeout overflows past 2^31-1 ms (~24.8 days) and would fire at once; re-arm instead.
    const delay = Math.min(2 ** 31 - 1, Math.max(0, bucket * BUCKET_MS - this.now()));
    this.timer = this.setTimer(() => this.runDue(), delay);
  }
}
