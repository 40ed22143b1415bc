import type { AGServer } from 'socketcluster-server';
import { toWardenError } from '../errors/catalogue.ts';
import type { WardenSocket } from '../sockets/socket-facade.ts';
import type { AsyncAuthorizer, Authorizer, MiddlewareAction } from './action.ts';
import type { RefusalRecorder } from './refusals.ts';

export interface InboundAuthorizers {
  readonly authenticate: Authorizer;
  readonly publish: Authorizer;
  readonly subscribe: Authorizer;
  readonly invoke: Authorizer;
}

/** Runs one authorizer on an action: allow when it returns, block with a client-safe error when it throws. */
function decide(
  action: MiddlewareAction,
  authorizer: Authorizer | undefined,
  onError: (error: unknown) => void,
  onRefused?: RefusalRecorder,
  allowed?: (action: MiddlewareAction) => void,
): void {
  try {
    authorizer?.(action);
    allowed?.(action);
    action.allow();
  } catch (error) {
    const wardenError = toWardenError(error);
    if (wardenError.name === 'InternalError') onError(error);
    onRefused?.(action, wardenError);
    action.block(wardenError);
  }
}

/** decide, for an authorizer that may need to wait (the store, in the handshake). */
async function decideAsync(
  action: MiddlewareAction,
  authorizer: AsyncAuthorizer,
  onError: (error: unknown) => void,
  onRefused?: RefusalRecorder,
): Promise<void> {
  try {
    await authorizer(action);
    action.allow();
  } catch (error) {
    const wardenError = toWardenError(error);
    if (wardenError.name === 'InternalError') onError(error);
    onRefused?.(action, wardenError);
    action.block(wardenError);
  }
}

/**
 * Installs Warden's middleware on an AGServer: SocketCluster allows one middleware function per
 * type, each given a per-socket stream of actions, so this dispatches each action to the
 * authorizer of its type. Anything without an authorizer is allowed (deny-by-default lives in the
 * authorizers of the actions that carry client intent).
 *
 * @example
 *   installMiddleware(agServer, { inbound: {...}, handshake: originGuard, onError: log.error });
 */
export function installMiddleware(
  agServer: AGServer,
  options: {
    inbound: InboundAuthorizers;
    /** HANDSHAKE_SC; may be async (a gateway's identity reads its roles from the store). */
    handshake: AsyncAuthorizer;
    /** Runs on every INBOUND action before its authorizer (the socket rate limit). */
    limit?: Authorizer;
    /** Sees every raw frame before SocketCluster queues it for parsing; throwing drops it. */
    raw?: FrameGuard;
    /** Sees the HTTP upgrade request (HANDSHAKE_WS), before the WebSocket exists. */
    upgrade?: Authorizer;
    onError: (error: unknown) => void;
    /** Sees every blocked action with its error (counts and audits it: middleware/refusals.ts). */
    onRefused?: RefusalRecorder;
    /** Sees every action that carries client intent (publish, subscribe, invoke, transmit). */
    onActivity?: (action: MiddlewareAction) => void;
    /** Runs for every INBOUND action its authorizer allowed, just before SC goes on with it. */
    allowed?: (action: MiddlewareAction) => void;
  },
): void {
  const byType: Partial<Record<MiddlewareAction['type'], Authorizer>> = {
    authenticate: options.inbound.authenticate,
    publishIn: options.inbound.publish,
    subscribe: options.inbound.subscribe,
    invoke: options.inbound.invoke,
    transmit: options.inbound.invoke,
  };
  const limit = options.limit;
  if (limit !== undefined) {
    for (const [type, authorize] of Object.entries(byType) as Array<[MiddlewareAction['type'], Authorizer]>) {
      byType[type] = (action) => {
        limit(action);
        authorize(action);
      };
    }
  }
  const intent = new Set<MiddlewareAction['type']>(['publishIn', 'subscribe', 'invoke', 'transmit']);
  // One handler for every socket's stream (a closure per socket would cost its heap).
  const decideInbound = (action: MiddlewareAction) => {
    if (intent.has(action.type)) options.onActivity?.(action);
    decide(action, byType[action.type], options.onError, options.onRefused, options.allowed);
  };
  agServer.setMiddleware(agServer.MIDDLEWARE_INBOUND, (stream) => {
    decideOnWrite(stream as unknown as ActionQueue, decideInbound);
  });
  // One stream per connection (the upgrade, then its handshake): SC awaits each decision in turn,
  // and waiting for the store in one handshake blocks no other socket.
  const decideHandshake = (action: MiddlewareAction) => {
    if (action.type === 'handshakeSC')
      void decideAsync(action, options.handshake, options.onError, options.onRefused);
    else decide(action, options.upgrade, options.onError, options.onRefused);
  };
  agServer.setMiddleware(agServer.MIDDLEWARE_HANDSHAKE, (stream) => {
    decideOnWrite(stream as unknown as ActionQueue, decideHandshake);
  });
  if (options.raw !== undefined) guardFrames(agServer, options.raw);
}

/** The part of SocketCluster's per-socket INBOUND middleware stream that actions are written to. */
interface ActionQueue {
  write(action: MiddlewareAction): void;
}

/**
 * Decides each action as SocketCluster hands it to a middleware stream, instead of in a consumer
 * loop per socket (INBOUND) or per connection (HANDSHAKE). socketcluster-server 20.0.1's
 * `_processMiddlewareAction` (server.js 293-300) writes the action to the stream and then awaits
 * `action.promise`, which `decide` settles before the write returns (`decideAsync` a little
 * later); every INBOUND action goes through it (serversocket.js 753, 775 and 1572), and both
 * handshake actions (server.js 375, serversocket.js 391); closing and killing a stream at
 * disconnect use its internal `_write`, not `write`.
 * A loop would cost each socket 2.1 KB of heap while idle (its consumer, promise and async frame)
 * and each action a hop through the stream's linked list and a promise turn (about 10 µs of
 * worker CPU per publish).
 */
function decideOnWrite(queue: ActionQueue, handle: (action: MiddlewareAction) => void): void {
  queue.write = handle;
}

/** Inspects one raw frame of a socket; throwing drops the frame. */
export type FrameGuard = (socket: WardenSocket, frame: unknown) => void;

/** The part of SocketCluster's server socket that frames pass through on their way in. */
interface FrameQueue {
  inboundMessageStream: GuardedStream;
}

/** A socket's inbound frame stream, marked with its socket for the shared guarded write. */
interface GuardedStream {
  write(frame: unknown): void;
  [SOCKET_OF_STREAM]?: WardenSocket;
}

const SOCKET_OF_STREAM = Symbol('warden.socketOfStream');

/**
 * Runs `guard` on every frame a socket receives, before SocketCluster queues it for parsing.
 * SC's INBOUND_RAW middleware would do it too, but at the price of a consumer loop per socket
 * (about 1.5 KB of heap) and an action, a promise and a stream hop per frame (5-7 µs of worker
 * CPU per publish). SC's WebSocket listener writes each frame to the socket's
 * `inboundMessageStream` synchronously and parses it later, so a guard on that write sees every
 * frame in order, before anything of it runs. SC emits `handshake` as it creates the socket, a
 * microtask before the first frame can be read from the network. Every stream gets the same
 * write function, which finds its socket on the stream (a bound function and a closure per
 * socket, as before, were most of the 0.26 KB of heap per socket the guard cost).
 */
function guardFrames(agServer: AGServer, guard: FrameGuard): void {
  function guardedWrite(this: GuardedStream, frame: unknown): void {
    const socket = this[SOCKET_OF_STREAM];
    if (socket !== undefined) {
      try {
        guard(socket, frame);
      } catch {
        return;
      }
    }
    // The stream's own write (WritableConsumableStream.prototype.write).
    (Object.getPrototypeOf(this) as GuardedStream).write.call(this, frame);
  }
  void (async () => {
    for await (const { socket } of agServer.listener('handshake')) {
      const stream = (socket as unknown as FrameQueue).inboundMessageStream;
      stream[SOCKET_OF_STREAM] = socket;
      stream.write = guardedWrite;
    }
  })();
}
