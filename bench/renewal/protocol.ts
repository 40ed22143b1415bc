/** IPC between the renewal bench (hosting the worker) and its client process, both directions. */

export type ToClients =
  | {
      readonly type: 'connect';
      readonly port: number;
      readonly tokens: readonly string[];
      readonly concurrency: number;
    }
  /** Count the 'authenticate' events (renewed tokens) from now on; report once `expected` arrived. */
  | { readonly type: 'arm'; readonly expected: number }
  | { readonly type: 'report' }
  | { readonly type: 'close' };

export interface RenewalCounts {
  /** 'authenticate' events since 'arm': each one a renewed token stored by the client. */
  readonly renewed: number;
  /** wallMs() of the first and last of them; null before the first. */
  readonly firstAt: number | null;
  readonly lastAt: number | null;
  /** Sockets that lost their authentication or their connection since 'arm'. */
  readonly deauthenticated: number;
  readonly closed: number;
}

export type FromClients =
  | {
      readonly type: 'connected';
      readonly sockets: number;
      readonly authenticated: number;
      readonly failed: number;
      readonly firstError: string | null;
      readonly ms: number;
    }
  | { readonly type: 'armed' }
  /** Sent once `expected` renewals arrived, and in answer to 'report'. */
  | ({ readonly type: 'renewals'; readonly complete: boolean } & RenewalCounts)
  | { readonly type: 'closed' }
  | { readonly type: 'fatal'; readonly message: string };
