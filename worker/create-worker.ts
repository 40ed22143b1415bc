import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AGServer } from 'socketcluster-server';
import type { Config } from '../config/index.ts';
import { PasswordHasher } from '../auth/passwords.ts';
import { CredentialAcceptor } from '../auth/credentials.ts';
import { createStoreReplayCache, DEFAULT_MAX_AGE as DEFAULT_LOGOUT_MAX_AGE } from '../auth/oidc-logout.ts';
import { createOidcVerifier } from '../auth/oidc-verifier.ts';
import { createRolePermissions } from '../auth/role-permissions.ts';
import { FairAdmission } from '../auth/fair-admission.ts';
import { LoginThrottle } from '../auth/login-throttle.ts';
import { RevocationList, type Revocation } from '../auth/revocations.ts';
import { assertSharedAuthKey } from '../auth/key-fingerprint.ts';
import { createScAuthEngine } from '../auth/sc-auth-engine.ts';
import { TOKEN_ALGORITHM, TokenService, newId } from '../auth/tokens.ts';
import { ClusterControl, PURGE_INTERVAL_MS } from '../cluster/cluster-control.ts';
import { ControlBus } from '../cluster/control-bus.ts';
import { EventFeed } from '../cluster/event-feed.ts';
import { CloseCodes } from '../errors/close-codes.ts';
import { createHttpApp } from '../http/app.ts';
import { childLogger, createLogger, type Logger } from '../log/logger.ts';
import { instrumentStore } from '../metrics/store-metrics.ts';
import { observeSockets } from '../metrics/socket-metrics.ts';
import { createRefusalRecorder } from '../middleware/refusals.ts';
import { installMiddleware } from '../middleware/install.ts';
import { createInvokeAuthorizer } from '../middleware/invoke-authorizer.ts';
import { createOriginGuard } from '../middleware/origin-guard.ts';
import { createPublishAuthorizer } from '../middleware/publish-authorizer.ts';
import { createSubscribeAuthorizer } from '../middleware/subscribe-authorizer.ts';
import { createTokenAuthenticator } from '../middleware/token-authenticator.ts';
import { createConnectionLimiter } from '../middleware/connection-limiter.ts';
import { createSocketRateLimiter } from '../middleware/socket-rate-limiter.ts';
import { createHandshakeGuard } from '../middleware/handshake-guard.ts';
import { createGatewayAuthenticator } from '../middleware/gateway-authenticator.ts';
import { createGatewayRequestReader } from '../auth/gateway-identity.ts';
import { OneTimeSecrets } from '../auth/one-time-secrets.ts';
import { cookieIsSecure, createCookieOriginCheck } from '../auth/session-cookie.ts';
import { createHandshakeCredentials } from '../middleware/handshake-credentials.ts';
import { UnauthenticatedTimeout } from '../sockets/unauthenticated-timeout.ts';
import { AuthLifecycle } from '../sockets/auth-lifecycle.ts';
import {
  createProcedures,
  PUBLIC_PROCEDURES,
  SESSION_PROCEDURES,
  serveProcedures,
} from '../sockets/procedures.ts';
import { SocketRegistry } from '../sockets/socket-registry.ts';
import { announceWorker } from '../sockets/hello.ts';
import { createSocketAddressOf } from '../sockets/socket-facade.ts';
import { createClientAddressResolver } from '../net/client-address.ts';
import { openStore } from '../store/index.ts';
import type { Store } from '../store/types.ts';

export interface WorkerOptions {
  readonly config: Config;
  readonly log?: Logger;
  /** Milliseconds since the epoch; injectable so tests can move time. */
  readonly now?: () => number;
  /** Runs after the AGServer exists and before it listens (attaches the SCC broker client). */
  readonly beforeListen?: (agServer: AGServer) => Promise<void> | void;
  /** Readiness of the cluster's broker layer; a lone worker is always ready. */
  readonly brokerReady?: () => boolean;
}

export interface WardenWorker {
  readonly id: string;
  readonly config: Config;
  readonly httpServer: Server;
  readonly agServer: AGServer;
  readonly store: Store;
  readonly tokens: TokenService;
  readonly revocations: RevocationList;
  readonly registry: SocketRegistry;
  readonly lifecycle: AuthLifecycle;
  /** Closes sockets that stay unauthenticated (UNAUTHENTICATED_TIMEOUT). */
  readonly unauthenticated: UnauthenticatedTimeout;
  readonly control: ClusterControl;
  readonly feed: EventFeed;
  readonly port: number;
  /** http://host:port of this worker (127.0.0.1 when bound to every interface). */
  readonly url: string;
  /** True until the worker starts draining. */
  accepting(): boolean;
  /**
   * Drains: stops accepting connections (readyz turns 503), waits for in-flight RPCs (at most
   * SHUTDOWN_TIMEOUT), closes every socket with `code` (default WORKER_DRAINING, so clients
   * reconnect elsewhere) and releases every resource.
   */
  close(code?: number): Promise<void>;
}

/**
 * The worker's composition root: builds every part from the config and wires them to one HTTP
 * server carrying both Express and the AGServer. No business logic lives here.
 *
 * @example
 *   const worker = await startWorker({ config: loadConfig() });
 *   console.log(worker.url);
 */
export async function startWorker(options: WorkerOptions): Promise<WardenWorker> {
  const { config } = options;
  const id = newId();
  const now = options.now ?? Date.now;
  const log =
    options.log ?? createLogger({ role: 'worker', level: config.logLevel, format: config.logFormat });
  const store = instrumentStore(openStore(config.databaseUrl));
  await store.migrate();
  const tokens = new TokenService({ key: config.authKey, ttl: config.tokenTtl, now });
  await assertSharedAuthKey(store, tokens.key).catch(async (error: unknown) => {
    await store.close();
    throw error;
  });

  const hasher = new PasswordHasher({ cost: config.passwordHashCost });
  await hasher.warmUp();
  const throttle = new LoginThrottle({
    store,
    perPair: config.loginFailureLimit.perPair,
    perAccount: config.loginFailureLimit.perAccount,
    failureWindow: config.loginFailureLimit.windowSeconds,
    perAddress: config.loginRateLimit.max,
    addressWindow: config.loginRateLimit.windowSeconds,
  });
  // Two hashes at once (each 128 MiB at the default cost); a few per address; see fair-admission.ts.
  const admission = new FairAdmission({ concurrency: 2, perKey: 8, maxQueue: 512 });
  const revocations = new RevocationList();
  const registry = new SocketRegistry();

  let revoke: (revocation: Revocation) => Promise<void> = async () => {};
  const oidc =
    config.oidc === null
      ? null
      : createOidcVerifier({ ...config.oidc, jwksUri: config.oidc.jwksUri ?? undefined, now });
  const rolePermissions = createRolePermissions(store);
  const secrets = new OneTimeSecrets({ store, now });
  const httpServer = createServer();
  const ownOrigins = () => {
    const { port } = httpServer.address() as AddressInfo;
    return [`http://localhost:${port}`, `http://127.0.0.1:${port}`];
  };
  const cookieOrigin = config.authCookie
    ? createCookieOriginCheck({ allowedOrigins: config.allowedOrigins, ownOrigins })
    : null;
  const acceptor = new CredentialAcceptor({
    secrets,
    ticketTtl: config.ticketTtl,
    cookieOrigin,
    registration: {
      mode: config.registration,
      roles: config.registrationRoles,
      passwordMinLength: config.passwordMinLength,
    },
    oidc,
    gateway: config.gateway,
    rolePermissions,
    tokens,
    revocations,
    password: { store, hasher, throttle, admission, now },
    reuseGrace: config.tokenReuseGrace,
    sessionMaxAge: config.sessionMaxAge,
    // Reuse of a replaced token means two parties hold the session: it ends everywhere.
    revoke: (revocation) => revoke(revocation),
    onRevokeFailed: (error) => log.warn('session revoked on the live cluster only', { error }),
    now,
  });

  const agServer = new AGServer({
    httpServer,
    // A KeyObject: see auth/tokens.ts. Passing a key also stops SC from generating its own.
    authKey: tokens.key as never,
    authAlgorithm: TOKEN_ALGORITHM,
    authVerifyAlgorithms: [TOKEN_ALGORITHM],
    authEngine: createScAuthEngine(acceptor, tokens) as never,
    maxPayload: config.maxPayload,
    socketChannelLimit: config.maxChannelsPerSocket,
    // Warden reports refusals to the client; SC would also emit each one as a socket error.
    middlewareEmitFailures: false,
  });
  void (async () => {
    for await (const { error } of agServer.listener('error')) {
      // ws re-emits the HTTP server's listen error, which startWorker rejects with (reported once).
      const { syscall } = error as { syscall?: string };
      if (syscall !== 'listen' && syscall !== 'bind') log.warn('socket server error', { error });
    }
  })();

  let accepting = true;
  const clusterLog = childLogger(log, { module: 'cluster' });
  const bus = new ControlBus({ exchange: agServer.exchange, origin: id, log: clusterLog });
  let lifecycle: AuthLifecycle | null = null;
  const control = new ClusterControl({
    store,
    revocations,
    bus,
    log: clusterLog,
    now,
    onRevoked: (revocation) => lifecycle?.enforce(revocation),
    onUserChanged: (userId) => void lifecycle?.renewUser(userId),
    onRoleChanged: (role) => void lifecycle?.renewRole(role),
  });
  revoke = (revocation: Revocation) => control.revoke(revocation);
  lifecycle = new AuthLifecycle({
    registry,
    tokens,
    store,
    revocations,
    revoke,
    renewInterval: config.tokenRenewInterval,
    reuseGrace: config.tokenReuseGrace,
    sessionMaxAge: config.sessionMaxAge,
    sessionIdleTimeout: config.sessionIdleTimeout,
    rolePermissions,
    anonymousSubscribe: config.anonymous?.subscribe ?? [],
    log: childLogger(log, { module: 'lifecycle' }),
    now,
  });
  lifecycle.attach(agServer);
  if (config.nodeEnv !== 'production') announceWorker(agServer, `pid ${process.pid}`);
  const stopObserving = observeSockets(agServer, { brokerReady: options.brokerReady ?? (() => true) });

  const clientAddress = createClientAddressResolver({ trustProxy: config.trustProxy });
  const socketAddress = createSocketAddressOf(clientAddress);
  const procedures = createProcedures({
    acceptor,
    revoke,
    log,
    clientAddress: socketAddress,
    release: (socket) => lifecycle.release(socket),
  });
  const originGuard = createOriginGuard({ allowedOrigins: config.allowedOrigins, ownOrigins });
  const authenticateHandshake = createHandshakeCredentials({
    acceptor,
    clientAddress,
    cookies: config.authCookie,
    log,
  });
  const authenticateGateway =
    config.gateway === null
      ? null
      : createGatewayAuthenticator({
          read: createGatewayRequestReader({ ...config.gateway, log, now }),
          acceptor,
          unauthAction: config.gateway.unauthAction,
          clientAddress,
        });
  const connectionLimiter = createConnectionLimiter({ max: config.maxConnectionsPerAddress, clientAddress });
  // Anonymous access welcomes unauthenticated sockets: none is closed for staying so.
  const unauthenticated = new UnauthenticatedTimeout({
    timeout: config.anonymous === null ? config.unauthenticatedTimeout : null,
    now,
  });
  unauthenticated.attach(agServer);
  const procedureServer = serveProcedures(procedures, log);
  installMiddleware(agServer, {
    inbound: {
      authenticate: createTokenAuthenticator({ acceptor }),
      publish: createPublishAuthorizer({ anonymous: config.anonymous?.publish ?? [] }),
      subscribe: createSubscribeAuthorizer({
        maxChannels: config.maxChannelsPerSocket,
        anonymous: config.anonymous?.subscribe ?? [],
      }),
      invoke: createInvokeAuthorizer({
        procedures: new Set(procedures.keys()),
        public: PUBLIC_PROCEDURES,
        authenticated: SESSION_PROCEDURES,
        anonymous: config.anonymous?.invoke ?? [],
      }),
    },
    handshake: async (action) => {
      if (action.request !== undefined) originGuard(action.request);
      connectionLimiter.admitHandshake(action);
      await authenticateGateway?.(action);
      await authenticateHandshake(action);
    },
    upgrade: connectionLimiter.countUpgrade,
    raw: createHandshakeGuard(),
    limit: createSocketRateLimiter({ rate: config.socketRateLimit, now }),
    onError: (error) => log.error('middleware failed', { error }),
    onRefused: createRefusalRecorder({ clientAddress, socketAddress }),
    onActivity: (action) => {
      if (action.socket !== undefined) lifecycle.touch(action.socket);
    },
    allowed: (action) => {
      if (action.type === 'invoke' && action.socket !== undefined && action.procedure !== undefined)
        procedureServer.expect(action.socket, action.procedure);
    },
  });

  const feed = new EventFeed({
    store,
    interval: config.revocationPollInterval,
    log: clusterLog,
    now,
    onEvent: (event) => control.handleEvent(event),
    afterPoll: () => control.flushPending(),
  });
  await feed.start();
  bus.start((message) => control.handleMessage(message));
  const purger = setInterval(() => {
    control.purgeExpired().catch((error: unknown) => log.warn('purge postponed', { error }));
    secrets.purge().catch((error: unknown) => log.warn('ticket purge postponed', { error }));
  }, PURGE_INTERVAL_MS).unref();

  const app = createHttpApp({
    store,
    acceptor,
    revoke,
    log,
    clientAddress,
    originGuard,
    allowedOrigins: config.allowedOrigins,
    development: config.nodeEnv !== 'production',
    cookie:
      cookieOrigin === null
        ? null
        : { secure: cookieIsSecure(config.publicUrl), originAllowed: cookieOrigin },
    now,
    brokerReady: options.brokerReady ?? (() => true),
    accepting: () => accepting,
    oidc:
      oidc === null
        ? null
        : {
            verifier: oidc,
            // Shared by every worker: a replay is refused wherever it arrives.
            replays: createStoreReplayCache(store, {
              windowSeconds: DEFAULT_LOGOUT_MAX_AGE + (config.oidc?.clockTolerance ?? 0),
            }),
            sessionMaxAge: config.sessionMaxAge,
            now,
          },
  });
  httpServer.on('request', app);

  await options.beforeListen?.(agServer);
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.port, config.host, () => {
      httpServer.off('error', reject);
      resolve();
    });
  });
  const port = (httpServer.address() as AddressInfo).port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;

  const close = async (code: number = CloseCodes.WORKER_DRAINING) => {
    accepting = false;
    const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
    await procedureServer.idle(config.shutdownTimeout * 1000);
    feed.stop();
    clearInterval(purger);
    await control.stop();
    lifecycle.stop();
    stopObserving();
    unauthenticated.stop();
    bus.stop();
    for (const socket of Object.values(agServer.clients)) socket.disconnect(code, 'worker draining');
    await agServer.close();
    httpServer.closeAllConnections();
    await closed;
    agServer.killAllListeners();
    await store.close();
  };

  return {
    id,
    config,
    httpServer,
    agServer,
    store,
    tokens,
    revocations,
    registry,
    lifecycle,
    unauthenticated,
    control,
    feed,
    port,
    url: `http://${host}:${port}`,
    accepting: () => accepting,
    close,
  };
}
