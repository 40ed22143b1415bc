/** IPC between the OpenID Connect bench (hosting the workers) and its client process. */

export type ToClients =
  /** `count` connections with `token`, `parallel` at a time, each closed once its handshake is done. */
  | {
      readonly type: 'connects';
      readonly port: number;
      readonly token: string;
      readonly count: number;
      readonly parallel: number;
      readonly timeoutMs: number;
    }
  /** One socket on `port` with `token`, held until the server ends its authentication. */
  | { readonly type: 'hold'; readonly id: string; readonly port: number; readonly token: string }
  | { readonly type: 'close' };

export type FromClients =
  | {
      readonly type: 'connected-all';
      /** Wall time from the first connection's start to the last handshake, ms. */
      readonly ms: number;
      readonly authenticated: number;
      readonly failed: number;
      readonly firstError: string | null;
    }
  | {
      readonly type: 'held';
      readonly id: string;
      readonly authenticated: boolean;
      readonly error: string | null;
    }
  /** `warden:authEnded` arrived on socket `id` at `at` (wallMs, the clock this host's processes share). */
  | { readonly type: 'ended'; readonly id: string; readonly at: number; readonly name: string }
  | { readonly type: 'closed' }
  | { readonly type: 'fatal'; readonly message: string };
