/** IPC between the socket-flood bench (hosting the worker) and its two client processes. */

/** To the flood process: K raw sockets that publish as fast as the worker answers. */
export type ToFlood =
  | {
      readonly type: 'connect';
      readonly port: number;
      readonly tokens: readonly string[];
      /** Most publishes one socket keeps unanswered (the flood's window). */
      readonly window: number;
    }
  | { readonly type: 'flood'; readonly durationMs: number }
  | { readonly type: 'close' };

export interface FloodCounts {
  /** Publishes sent, and their answers by outcome. */
  readonly sent: number;
  readonly accepted: number;
  readonly rateLimited: number;
  readonly otherErrors: number;
  /** Sent but never answered (the socket closed first). */
  readonly unanswered: number;
  /** Close codes of the flooding sockets, counted. */
  readonly closes: Readonly<Record<string, number>>;
  /** ms from the flood's start to each 4129 close. */
  readonly closedAfterMs: readonly number[];
  readonly durationMs: number;
}

export type FromFlood =
  | { readonly type: 'connected'; readonly sockets: number }
  | ({ readonly type: 'flooded' } & FloodCounts)
  | { readonly type: 'closed' }
  | { readonly type: 'fatal'; readonly message: string };

/** To the control process: one authenticated client timing publishes to its own channel. */
export type ToControl =
  | { readonly type: 'connect'; readonly port: number; readonly token: string; readonly channel: string }
  /** Round trips, one after another with `gapMs` between them, for `durationMs`. */
  | {
      readonly type: 'measure';
      readonly durationMs: number;
      readonly gapMs: number;
      readonly timeoutMs: number;
    }
  | { readonly type: 'close' };

export type FromControl =
  | { readonly type: 'connected' }
  | {
      readonly type: 'measured';
      /** Round-trip times, ms, each with when it started (ms after the measurement began). */
      readonly samples: ReadonlyArray<readonly [at: number, ms: number]>;
      /** Round trips that got no delivery within timeoutMs. */
      readonly timeouts: number;
    }
  | { readonly type: 'closed' }
  | { readonly type: 'fatal'; readonly message: string };
