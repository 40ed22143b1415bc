import { WardenError } from '../errors/catalogue.ts';

export interface FairAdmissionOptions {
  /** Tasks run at once (password hashes: each scrypt at the default cost takes 128 MiB). */
  readonly concurrency: number;
  /** Most tasks one key (client address) may have waiting or running; beyond, it is refused. */
  readonly perKey: number;
  /** Most tasks waiting in all; when full, the newest task of the lowest-priority key is dropped. */
  readonly maxQueue: number;
}

export interface AdmissionTicket {
  /**
   * Lower runs first: the key's standing (e.g. its recent failed logins, cluster-wide). Ties are
   * served in start-time fair order, so keys of equal standing alternate.
   */
  readonly priority?: number;
}

interface Waiting {
  readonly key: string;
  readonly tag: number;
  readonly seq: number;
  readonly priority: number;
  readonly start: () => void;
  readonly refuse: (error: WardenError) => void;
}

function busy(message: string): WardenError {
  return new WardenError('RateLimitError', message, { details: { retryAfter: 1 } });
}

/**
 * Admission to a scarce resource (the password hash) that is fair across keys (client
 * addresses), so that a flood from some addresses cannot keep a login from another address
 * waiting: each key has at most `perKey` tasks admitted, waiting tasks are picked by `priority`
 * (a clean address before one that keeps failing), then by start-time fair queuing tags (a key
 * that just had a task run waits behind keys that did not). A newcomer of good standing thus
 * waits only for the tasks already running. Nothing here is shared between workers: it schedules
 * this worker's own CPU.
 *
 * @example
 *   const admission = new FairAdmission({ concurrency: 2, perKey: 4, maxQueue: 512 });
 *   const ok = await admission.run(clientAddress, () => hasher.verify(password, stored));
 */
export class FairAdmission {
  private active = 0;
  private seq = 0;
  /** Virtual time: the start tag of the task that started last. */
  private virtualTime = 0;
  /** Per key, the virtual time at which its last admitted task ends. */
  private readonly lastTag = new Map<string, number>();
  private readonly perKeyCount = new Map<string, number>();
  private readonly waiting: Waiting[] = [];

  private readonly options: FairAdmissionOptions;

  constructor(options: FairAdmissionOptions) {
    this.options = options;
    for (const name of ['concurrency', 'perKey', 'maxQueue'] as const) {
      if (!Number.isInteger(options[name]) || options[name] < 1)
        throw new TypeError(`FairAdmission: ${name} must be a positive integer`);
    }
  }

  /** Tasks running or waiting. */
  get pending(): number {
    return this.active + this.waiting.length;
  }

  /** Throws the RateLimitError `run` would throw at once for this key: a check before costly work. */
  assertRoom(key: string): void {
    if ((this.perKeyCount.get(key) ?? 0) >= this.options.perKey)
      throw busy('too many logins in progress from your address');
  }

  async run<T>(key: string, task: () => Promise<T>, ticket: AdmissionTicket = {}): Promise<T> {
    this.assertRoom(key);
    const count = this.perKeyCount.get(key) ?? 0;
    this.perKeyCount.set(key, count + 1);
    let started = false;
    try {
      const tag = this.startTag(key);
      if (this.active < this.options.concurrency && this.waiting.length === 0) {
        this.virtualTime = tag;
        this.active++;
      } else {
        await this.enqueue(key, tag, ticket.priority ?? 0); // the dispatcher counts it as active when it starts it
      }
      started = true;
      return await task();
    } finally {
      const left = (this.perKeyCount.get(key) ?? 1) - 1;
      if (left <= 0) this.perKeyCount.delete(key);
      else this.perKeyCount.set(key, left);
      if (started) {
        this.active--;
        this.dispatch();
      }
    }
  }

  /**
   * Start-time fair queuing: a key's task starts at the later of the virtual time and the end
   * of the key's previous task, so an idle key's first task ranks with the task running now.
   */
  private startTag(key: string): number {
    const tag = Math.max(this.virtualTime, this.lastTag.get(key) ?? 0);
    this.lastTag.set(key, tag + 1);
    return tag;
  }

  private enqueue(key: string, tag: number, priority: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const entry: Waiting = {
        key,
        tag,
        seq: this.seq++,
        priority,
        start: resolve,
        refuse: reject,
      };
      if (this.waiting.length >= this.options.maxQueue) {
        const worst = this.pickWorst();
        if (worst === undefined || this.before(worst, entry)) {
          reject(busy('the server is busy; try again shortly'));
          return;
        }
        this.waiting.splice(this.waiting.indexOf(worst), 1);
        worst.refuse(busy('the server is busy; try again shortly'));
      }
      this.waiting.push(entry);
    });
  }

  /** Starts the best waiting tasks while slots are free. */
  private dispatch(): void {
    while (this.active < this.options.concurrency && this.waiting.length > 0) {
      const next = this.pickBest();
      this.waiting.splice(this.waiting.indexOf(next), 1);
      this.virtualTime = Math.max(this.virtualTime, next.tag);
      this.active++;
      next.start();
    }
    // Tags of idle keys only matter relative to the virtual time: forget them now and then.
    if (this.waiting.length === 0 && this.lastTag.size > 10_000) this.lastTag.clear();
  }

  /**
   * A key's standing when a slot frees: its ticket's priority plus the tasks it has admitted right
   * now. Read at pick time, so a flood's first requests (which arrived with a clean record) rank
   * behind a newcomer once the flood has filled its share of the queue.
   */
  private standing(entry: Waiting): number {
    return entry.priority + (this.perKeyCount.get(entry.key) ?? 0);
  }

  private before(a: Waiting, b: Waiting): boolean {
    const standingA = this.standing(a);
    const standingB = this.standing(b);
    if (standingA !== standingB) return standingA < standingB;
    if (a.tag !== b.tag) return a.tag < b.tag;
    return a.seq < b.seq;
  }

  private pickBest(): Waiting {
    let best = this.waiting[0] as Waiting;
    for (const entry of this.waiting) if (this.before(entry, best)) best = entry;
    return best;
  }

  private pickWorst(): Waiting | undefined {
    let worst = this.waiting[0];
    for (const entry of this.waiting) if (worst !== undefined && this.before(worst, entry)) worst = entry;
    return worst;
  }
}
