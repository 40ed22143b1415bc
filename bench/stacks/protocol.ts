/**
 * Messages of the stacks bench: between the bench and a server process it forked
 * (./servers/*.ts), and between the bench and the client process (./client-process.ts).
 */

/** How a client speaks to a stack: the raw ws JSON protocol, socketcluster-client, socket.io-client. */
export type WireProtocol = 'ws' | 'sc' | 'sio';

export interface ClientTarget {
  readonly protocol: WireProtocol;
  readonly port: number;
  /** Sent with every connection when set (SC: as the stored auth token; Socket.IO: in `auth`). */
  readonly token: string | null;
}

/** The bench -> a server process it forked. */
export type ToServer = { readonly type: 'heap' } | { readonly type: 'close' };

/** A server process -> the bench. */
export type FromServer =
  | {
      readonly type: 'ready';
      readonly port: number;
      /** A token the stack accepts (stacks with authentication). */
      readonly token: string | null;
      /** The stack's processes other than the forked one (node:cluster workers), with their role. */
      readonly others: readonly { readonly pid: number; readonly role: string }[];
    }
  /** heapUsed after a full gc, summed over the processes that can tell (the forked one and its workers). */
  | { readonly type: 'heap'; readonly bytes: number }
  | { readonly type: 'fatal'; readonly message: string };

/** The first line of the raw ws protocol: {t:'s',c} subscribes, {t:'p',c,d} publishes, {t:'m',c,d} delivers. */
export type WsFrame =
  | { readonly t: 's'; readonly c: string }
  | { readonly t: 'ok'; readonly c: string }
  | { readonly t: 'p'; readonly c: string; readonly d: unknown }
  | { readonly t: 'm'; readonly c: string; readonly d: unknown };

export interface Window {
  /** Messages (1:1) or deliveries (fan-out) counted in the measured window. */
  readonly count: number;
  readonly ms: number;
}

/** The bench -> the client process. */
export type ToClients =
  | {
      readonly type: 'connects';
      readonly target: ClientTarget;
      readonly parallel: number;
      readonly durationMs: number;
    }
  | {
      readonly type: 'pubsub';
      readonly target: ClientTarget;
      readonly sockets: number;
      readonly inFlight: number;
      readonly warmupMs: number;
      readonly durationMs: number;
    }
  | {
      readonly type: 'fanout';
      readonly target: ClientTarget;
      readonly subscribers: number;
      readonly inFlight: number;
      readonly warmupMs: number;
      readonly durationMs: number;
    }
  | {
      readonly type: 'hold';
      readonly target: ClientTarget;
      readonly sockets: number;
      readonly parallel: number;
    }
  | { readonly type: 'subscribe-held'; readonly perSocket: number; readonly parallel: number }
  | { readonly type: 'release' }
  | { readonly type: 'close' };

/** The client process -> the bench. */
export type FromClients =
  | {
      readonly type: 'connects';
      readonly connects: Window;
      readonly failed: number;
      readonly firstError: string | null;
    }
  /** The measured window of a pubsub or fanout run begins now (the bench samples CPU here). */
  | { readonly type: 'window-start' }
  | {
      readonly type: 'window-end';
      readonly window: Window;
      readonly failed: number;
      readonly firstError: string | null;
    }
  | {
      readonly type: 'held';
      readonly sockets: number;
      readonly failed: number;
      readonly firstError: string | null;
    }
  | {
      readonly type: 'subscribed';
      readonly subscriptions: number;
      readonly failed: number;
      readonly firstError: string | null;
    }
  | { readonly type: 'released' }
  | { readonly type: 'fatal'; readonly message: string };

/** Channel names every stack accepts (Warden's bench user may use `chat.*`). */
export const channelName = (kind: string, index: number, extra?: number): string =>
  extra === undefined ? `chat.${kind}${index}` : `chat.${kind}${index}x${extra}`;
