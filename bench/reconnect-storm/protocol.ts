/** IPC between the reconnect-storm bench and its client process, both directions. */

export interface ReconnectOptions {
  readonly initialDelay: number;
  readonly randomness: number;
  readonly multiplier: number;
  readonly maxDelay: number;
}

export type ToStormClients =
  | {
      readonly type: 'connect';
      readonly port: number;
      readonly token: string;
      readonly sockets: number;
      readonly concurrency: number;
      readonly reconnect: ReconnectOptions;
      /** Every socket of this process sends a round trip (invoke 'whoami') every `probeIntervalMs`. */
      readonly probe: boolean;
      readonly probeIntervalMs: number;
    }
  /** From now on, count sockets that close and come back; report 'allBack' when every one has. */
  | { readonly type: 'arm' }
  | { readonly type: 'report' }
  /** Disconnects every socket (between rounds). */
  | { readonly type: 'reset' }
  | { readonly type: 'close' };

export interface RoundTrip {
  /** wallMs() when it was sent. */
  readonly at: number;
  readonly ms: number;
  /** The socket lost its connection at some point after 'arm' (a client of the killed worker). */
  readonly moved: boolean;
  readonly failed: boolean;
}

export type FromStormClients =
  | {
      readonly type: 'connected';
      readonly sockets: number;
      readonly failed: number;
      readonly firstError: string | null;
      readonly ms: number;
    }
  | { readonly type: 'armed' }
  | { readonly type: 'allBack'; readonly at: number }
  | {
      readonly type: 'report';
      /** Sockets that closed after 'arm'. */
      readonly closed: number;
      /** wallMs() of each closed socket's first authenticated reconnect, in no order. */
      readonly backAt: readonly number[];
      /** Failed reconnect attempts (handshake refused or aborted), all sockets. */
      readonly failedAttempts: number;
      /** Close codes seen after 'arm', by code. */
      readonly closeCodes: Readonly<Record<string, number>>;
      readonly roundTrips: readonly RoundTrip[];
    }
  | { readonly type: 'reset' }
  | { readonly type: 'closed' }
  | { readonly type: 'fatal'; readonly message: string };
