import {
  AUTH_ENDED_EVENT,
  AUTH_TOKEN_NAME,
  CloseCodes,
  HELLO_EVENT,
  SESSION_EVENT,
  isAuthEndedReason,
  isTerminalCloseCode,
  type AuthEndedReason,
} from './protocol.ts';
import { createScSocket, decodeToken, type ReconnectOptions, type ScSocket } from './socket.ts';
import { localTokenStorage, memoryTokenStorage, type TokenStorage } from './storage.ts';
import { linkTabs, type TabLink, type TabMessage } from './tabs.ts';

export type ClientMode = 'token' | 'ticket' | 'cookie';
export type ClientState = 'anonymous' | 'authenticated' | 'ended';
export type ConnectionState = 'connecting' | 'open' | 'closed';

/** A Warden token's claims (the server signs them; the client only reads them). */
export interface Claims {
  readonly sub: string;
  readonly username: string;
  readonly tenant?: string | null;
  readonly roles: readonly string[];
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
  readonly invoke: readonly string[];
  readonly jti: string;
  readonly iat: number;
  readonly exp: number;
  readonly sid?: string;
  readonly [claim: string]: unknown;
}

/** An error as the server named it (`LoginError`, `PublishError`, ...), with its stable `code`. */
export class WardenClientError extends Error {
  readonly code: string | undefined;
  /** Why, where the server says more (`ticket-used`, an auth end's reason, ...). */
  readonly reason: string | undefined;
  /** Seconds to wait, for a RateLimitError. */
  readonly retryAfter: number | undefined;

  constructor(
    name: string,
    message: string,
    extra: { code?: string; reason?: string; retryAfter?: number } = {},
  ) {
    super(message);
    this.name = name;
    this.code = extra.code;
    this.reason = extra.reason;
    this.retryAfter = extra.retryAfter;
  }

  /** The same error from whatever the server or socketcluster-client produced. */
  static from(value: unknown): WardenClientError {
    if (value instanceof WardenClientError) return value;
    const source = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
    const text = (key: string) => (typeof source[key] === 'string' ? (source[key] as string) : undefined);
    const error = new WardenClientError(
      text('name') ?? 'Error',
      text('message') ?? (typeof value === 'string' ? value : 'unknown error'),
      {
        ...(text('code') === undefined ? {} : { code: text('code') as string }),
        ...(text('reason') === undefined ? {} : { reason: text('reason') as string }),
        ...(typeof source.retryAfter === 'number' ? { retryAfter: source.retryAfter } : {}),
      },
    );
    return error;
  }
}

export interface WardenEvents {
  /** The socket became authenticated: a login, a stored token accepted in the handshake, another tab's login. */
  authenticated: { readonly claims: Claims; readonly source: 'login' | 'handshake' | 'tab' | 'token' };
  /** The socket holds a newer token of the same authentication (a renewal here or in another tab). */
  renewed: { readonly claims: Claims; readonly expiresAt: number; readonly source: 'server' | 'tab' };
  /** The token expires in `inSeconds` and no renewal has come yet. */
  expiring: { readonly expiresAt: number; readonly inSeconds: number };
  /** The authentication ended; exactly once per end in each tab. */
  authEnded: { readonly reason: AuthEndedReason; readonly error: WardenClientError | null };
  /**
   * The connection changed. `terminal`: the client stopped retrying (the server refused it for
   * good, or closed an unauthenticated socket after an end); `login()` connects again.
   */
  connection: {
    readonly state: ConnectionState;
    readonly code?: number;
    readonly terminal: boolean;
    readonly why?: string;
  };
  /** A handshake completed; `authError` says why a stored token was refused. */
  connect: { readonly authenticated: boolean; readonly authError: WardenClientError | null };
  /** A message on a subscribed channel. */
  message: { readonly channel: string; readonly data: unknown };
  /** The server removed this client from a channel (its claims no longer allow it). */
  kickOut: { readonly channel: string; readonly message: string };
  /** The subscriptions changed (subscribed, unsubscribed, kicked out). */
  subscriptions: { readonly channels: readonly string[] };
  /** Anything else the socket reported. */
  error: WardenClientError;
  /** A server-sent event this client does not handle itself (`warden:hello` and the application's own). */
  receive: { readonly event: string; readonly data: unknown };
}

export type WardenEventName = keyof WardenEvents;

export interface WardenClientOptions {
  /** The server's http(s) origin; in a page, default: the origin that served it. */
  readonly url?: string;
  /**
   * How the socket is authenticated:
   * - `token` (default): the token is in `storage` (a browser: localStorage `socketcluster.authToken`);
   * - `ticket`: logins go over HTTP for a one-time code the socket redeems; the token stays in memory;
   * - `cookie`: the HttpOnly session cookie authenticates the handshake; the token stays in memory.
   */
  readonly mode?: ClientMode;
  /** Where the token is kept (see memoryTokenStorage, localTokenStorage, `warden-client/node`'s fileTokenStorage). */
  readonly storage?: TokenStorage;
  /** Share logins, renewals and logouts with the origin's other tabs (default: on where the browser can). */
  readonly tabs?: boolean;
  /** Back-off after a lost connection. */
  readonly reconnect?: Partial<ReconnectOptions>;
  /** Seconds before expiry at which `expiring` fires (default: 60, or a fifth of a shorter lifetime). */
  readonly expiringLead?: number;
  /** The WebSocket path (default `/socketcluster/`). */
  readonly path?: string;
  /** A ticket or code to redeem in the handshake (`?ticket=`), e.g. one obtained by a server-side login. */
  readonly ticket?: string;
  /** Do not connect until `connect()` or a login (default: connect at once). */
  readonly lazy?: boolean;
}

/**
 * After a lost connection the first retry comes 0.5-1.5 s later, so a client whose worker went away
 * is back on another worker within about a second; repeated failures back off to 10 s at most.
 * The randomness spreads a reconnect storm after a worker dies.
 */
export const RECONNECT_OPTIONS: ReconnectOptions = Object.freeze({
  initialDelay: 500,
  randomness: 1000,
  multiplier: 1.5,
  maxDelay: 10_000,
});

/** Terminal close codes, by the words a page can show. */
const TERMINAL_WHY: Readonly<Record<number, string>> = {
  [CloseCodes.ORIGIN_FORBIDDEN]: 'this origin is not allowed by the server',
  [CloseCodes.GATEWAY_IDENTITY_REQUIRED]: 'log in at the gateway first',
};

/** Why a stored token was refused in a handshake, as an end reason. */
function reasonOfRefusal(error: WardenClientError): AuthEndedReason {
  if (isAuthEndedReason(error.reason)) return error.reason;
  switch (error.name) {
    case 'AuthTokenExpiredError':
      return 'expired';
    case 'SessionExpiredError':
      return 'session-ended';
    default:
      return 'revoked';
  }
}

type Listener<E extends WardenEventName> = (payload: WardenEvents[E]) => void;

/**
 * Connects to a Warden server and follows its authentication: see createWardenClient.
 */
export class WardenClient {
  readonly mode: ClientMode;
  readonly url: string;
  private readonly socket: ScSocket;
  private readonly listeners = new Map<WardenEventName, Set<(payload: never) => void>>();
  private readonly tabs: TabLink | null;
  private readonly expiringLead: number | undefined;
  private currentState: ClientState = 'anonymous';
  private currentClaims: Claims | null = null;
  /** jti of the last authentication that ended here: a second report of the same end is dropped. */
  private endedJti: string | null = null;
  /** Set while this client logs out, so the socket's own deauthentication is reported as `logout`. */
  private loggingOut = false;
  /** Set while a token from another tab is being adopted (its `authenticate` is not re-broadcast). */
  private adopting: string | null = null;
  private expiringTimer: ReturnType<typeof setTimeout> | null = null;
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private closed = false;
  private readonly pending = new Map<string, Array<{ resolve: () => void; reject: (e: Error) => void }>>();
  private readonly consumers = new Set<string>();
  private worker: string | null = null;

  constructor(options: WardenClientOptions = {}) {
    this.mode = options.mode ?? 'token';
    if (!['token', 'ticket', 'cookie'].includes(this.mode)) {
      throw new TypeError(
        `createWardenClient: mode must be token, ticket or cookie, not ${String(this.mode)}`,
      );
    }
    const pageOrigin = (globalThis as { location?: { origin?: string } }).location?.origin;
    const url = options.url ?? pageOrigin;
    if (url === undefined) throw new TypeError('createWardenClient: url is required outside a page');
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new TypeError(`createWardenClient: url must be http(s), not ${parsed.protocol}`);
    }
    this.url = parsed.origin;
    this.expiringLead = options.expiringLead;
    const inPage = pageOrigin !== undefined;
    const storage =
      options.storage ?? (this.mode === 'token' && inPage ? localTokenStorage() : memoryTokenStorage());
    const secure = parsed.protocol === 'https:';
    this.socket = createScSocket({
      hostname: parsed.hostname,
      port: parsed.port === '' ? (secure ? 443 : 80) : Number(parsed.port),
      secure,
      path: options.path ?? '/socketcluster/',
      authTokenName: AUTH_TOKEN_NAME,
      authEngine: this.tracked(storage),
      autoReconnectOptions: { ...RECONNECT_OPTIONS, ...options.reconnect },
      ...(options.ticket === undefined ? {} : { query: { ticket: options.ticket } }),
      ...(options.lazy === true ? { autoConnect: false } : {}),
    });
    const useTabs = options.tabs ?? inPage;
    this.tabs = useTabs
      ? linkTabs(`warden-client:${this.url}`, this.mode === 'token' ? AUTH_TOKEN_NAME : null, (message) =>
          this.onTabMessage(message),
        )
      : null;
    this.wire();
  }

  /** The last write of a token to storage (socketcluster-client does not wait for it). */
  private lastSave: Promise<unknown> = Promise.resolve();

  /** `storage`, with its writes remembered so that a login can wait until the token is kept. */
  private tracked(storage: TokenStorage): TokenStorage {
    return {
      saveToken: (name, token, options) => {
        const saved = storage.saveToken(name, token, options);
        this.lastSave = saved.catch(() => undefined);
        return saved;
      },
      removeToken: (name) => storage.removeToken(name),
      loadToken: (name) => storage.loadToken(name),
    };
  }

  /** `anonymous` (never authenticated here), `authenticated`, or `ended` (an authentication ended). */
  get state(): ClientState {
    return this.currentState;
  }

  /** The current token's claims, or null unless authenticated. */
  get claims(): Claims | null {
    return this.currentState === 'authenticated' ? this.currentClaims : null;
  }

  /** When the current token expires (seconds since the epoch), or null. */
  get expiresAt(): number | null {
    return this.claims?.exp ?? null;
  }

  /** The WebSocket's state. */
  get connection(): ConnectionState {
    return this.socket.state;
  }

  /** The server's name for the worker process serving this connection, when it says (development). */
  get servedBy(): string | null {
    return this.worker;
  }

  /** The channels subscribed to (or being subscribed to). */
  get subscriptions(): readonly string[] {
    return this.socket.subscriptions(true);
  }

  /**
   * Listens to an event; returns a function that removes the listener.
   *
   * @example
   *   const off = warden.on('authEnded', ({ reason }) => show(reason));
   */
  on<E extends WardenEventName>(event: E, listener: Listener<E>): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener as (payload: never) => void);
    return () => {
      set.delete(listener as (payload: never) => void);
    };
  }

  /** Connects (again) after `close()`-free stops: a terminal refusal, or `lazy`. */
  connect(): void {
    if (this.closed) throw new WardenClientError('ClientClosedError', 'the client was closed');
    this.stopped = false;
    if (this.socket.state === 'closed') this.socket.connect();
  }

  /**
   * Logs in and resolves once the socket is authenticated (`state === 'authenticated'` right
   * after the `await`). Rejects with the server's LoginError, RateLimitError or BadRequestError.
   * In `token` mode the credentials go over the socket; in `ticket` and `cookie` modes over HTTP
   * (see loginHttp).
   */
  async login(username: string, password: string): Promise<Claims> {
    if (this.mode !== 'token') return this.loginHttp(username, password);
    this.connect();
    const result = await this.untilAuthenticated(() => this.socket.invoke('login', { username, password }));
    return result;
  }

  /**
   * Logs in over HTTP (`POST /auth/login`), then authenticates the socket with the result: the
   * token (`token` mode), a one-time code redeemed on the socket (`ticket`), or the session cookie
   * the response set (`cookie`, by reconnecting so the handshake carries it).
   */
  async loginHttp(username: string, password: string): Promise<Claims> {
    this.connect();
    if (this.mode === 'ticket') {
      const body = await this.post<{ code: string }>('/auth/login', { username, password, response: 'code' });
      return this.redeemTicket(body.code);
    }
    const body = await this.post<{ token?: string; expiresAt: number }>('/auth/login', {
      username,
      password,
    });
    if (this.mode === 'cookie') {
      this.scheduleRefresh(body.expiresAt);
      return this.untilAuthenticated(async () => {
        // The handshake authenticates from the cookie just set: reconnect to send it.
        this.socket.disconnect(1000, 'reconnect with the session cookie');
        this.socket.connect();
      });
    }
    if (typeof body.token !== 'string') {
      throw new WardenClientError('LoginError', 'the server answered without a token');
    }
    return this.authenticate(body.token);
  }

  /**
   * Authenticates the socket with a token obtained elsewhere (an OpenID provider's access token,
   * a token from a server-side login). Rejects with the server's AuthToken*Error.
   */
  async authenticate(token: string): Promise<Claims> {
    this.connect();
    return this.untilAuthenticated(async () => {
      const status = await this.socket.authenticate(token);
      if (!status.isAuthenticated) {
        throw WardenClientError.from(
          status.authError ?? { name: 'AuthTokenInvalidError', message: 'refused' },
        );
      }
    }, 'token');
  }

  /** Redeems a one-time ticket or code on the socket (`invoke('login', {ticket})`). */
  async redeemTicket(ticket: string): Promise<Claims> {
    this.connect();
    return this.untilAuthenticated(() => this.socket.invoke('login', { ticket }));
  }

  /**
   * Asks the server for a one-time ticket for another connection (`POST /auth/ticket`), e.g. for a
   * worker or an iframe that should not see the token itself.
   */
  async ticket(): Promise<{ ticket: string; expiresAt: number }> {
    const token = this.socket.signedAuthToken;
    return this.post<{ ticket: string; expiresAt: number }>(
      '/auth/ticket',
      undefined,
      this.mode === 'cookie' || token === null ? undefined : token,
    );
  }

  /**
   * Logs out: the server revokes the token cluster-wide and this client reports `authEnded` with
   * reason `logout` (the origin's other tabs: `logout-elsewhere`). The token is dropped here even
   * when the server cannot be reached (the error is rethrown).
   */
  async logout(): Promise<void> {
    const claims = this.currentState === 'authenticated' ? this.currentClaims : null;
    this.loggingOut = true;
    try {
      if (this.mode === 'cookie') {
        await this.post<unknown>('/auth/logout', undefined).catch((error: unknown) => {
          if (this.socket.state !== 'open') throw error;
        });
      }
      // The cookie's logout above ended the socket's session too; a token socket logs out itself.
      if (this.mode !== 'cookie' && claims !== null && this.socket.state === 'open')
        await this.socket.invoke('logout');
    } finally {
      this.loggingOut = false;
      if (
        this.socket.authState === 'authenticated' ||
        (await this.socket.auth.loadToken(AUTH_TOKEN_NAME)) !== null
      ) {
        await this.socket.deauthenticate();
      }
      if (claims !== null) this.end(claims.jti, 'logout', null, true);
    }
  }

  /**
   * Subscribes; resolves once the server accepted, rejects with its SubscribeError. Messages
   * arrive as `message` events. A subscription survives reconnects.
   */
  subscribe(channel: string): Promise<void> {
    const subscription = this.socket.subscribe(channel);
    if (!this.consumers.has(channel)) {
      this.consumers.add(channel);
      this.consume(subscription, (data) => this.emit('message', { channel, data }));
    }
    this.emitSubscriptions();
    if (this.socket.isSubscribed(channel)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiting = this.pending.get(channel) ?? [];
      waiting.push({ resolve, reject });
      this.pending.set(channel, waiting);
    });
  }

  unsubscribe(channel: string): void {
    this.socket.unsubscribe(channel);
    this.socket.closeChannel(channel);
    this.consumers.delete(channel);
    this.settle(
      channel,
      new WardenClientError('UnsubscribedError', `unsubscribed from ${channel} before the server answered`),
    );
    this.emitSubscriptions();
  }

  /** Publishes and resolves once the server accepted; rejects with its PublishError. */
  async publish(channel: string, data: unknown): Promise<void> {
    try {
      await this.socket.invokePublish(channel, data);
    } catch (error) {
      throw WardenClientError.from(error);
    }
  }

  /** Calls a procedure (`whoami`, or one of the application's); rejects with its InvokeError. */
  async invoke<T = unknown>(procedure: string, data?: unknown): Promise<T> {
    try {
      return (await this.socket.invoke(procedure, data)) as T;
    } catch (error) {
      throw WardenClientError.from(error);
    }
  }

  /** Disconnects for good, leaves the other tabs, and ends every listener. */
  close(): void {
    this.closed = true;
    this.stopped = true;
    this.clearTimers();
    this.tabs?.close();
    this.socket.disconnect(1000, 'client closed');
    this.socket.closeAllListeners();
    this.socket.closeAllReceivers();
    this.socket.closeAllChannels();
    this.consumers.clear();
    for (const channel of [...this.pending.keys()]) {
      this.settle(channel, new WardenClientError('ClientClosedError', 'the client was closed'));
    }
  }

  // ---- internals

  /**
   * Runs `start` and resolves with the claims once the socket holds a token issued or accepted
   * after it began: socketcluster-client stores a token asynchronously, so the answer to `login`
   * can arrive before the socket is authenticated (issue: `await login()` was 20-50 ms early).
   */
  private async untilAuthenticated(
    start: () => Promise<unknown>,
    source: 'login' | 'token' = 'login',
  ): Promise<Claims> {
    const before = this.currentState === 'authenticated' ? this.currentClaims?.jti : undefined;
    let cleanup = () => {};
    const next = new Promise<Claims>((resolve, reject) => {
      const offs = [
        this.on('authenticated', ({ claims }) => resolve(claims)),
        this.on('renewed', ({ claims }) => resolve(claims)),
        this.on('connection', ({ state, terminal, why }) => {
          if (state === 'closed' && terminal)
            reject(
              new WardenClientError('ConnectionRefusedError', why ?? 'the server refused the connection'),
            );
        }),
      ];
      cleanup = () => offs.forEach((off) => off());
    });
    next.catch(() => {}); // awaited below only when needed
    this.authenticating = source;
    try {
      await start();
      const now = this.currentState === 'authenticated' ? this.currentClaims : null;
      const claims = now !== null && now.jti !== before ? now : await next;
      // Kept, too (a CLI that logs in and exits finds its token file written).
      await this.lastSave;
      return this.currentState === 'authenticated' && this.currentClaims !== null
        ? this.currentClaims
        : claims;
    } catch (error) {
      throw WardenClientError.from(error);
    } finally {
      cleanup();
      this.authenticating = null;
    }
  }

  /** What is authenticating the socket right now (a login, `authenticate`), for `authenticated`'s `source`. */
  private authenticating: 'login' | 'token' | null = null;

  private wire(): void {
    const { socket } = this;
    this.consume(socket.listener('connect'), (status) => {
      const authError =
        status.authError === undefined || status.authError === null
          ? null
          : WardenClientError.from(status.authError);
      this.emit('connection', { state: 'open', terminal: false });
      this.emit('connect', { authenticated: status.isAuthenticated === true, authError });
      // A stored token the server refused: the authentication it carried has ended.
      if (authError !== null && status.isAuthenticated !== true) {
        const stored = typeof status.authToken === 'string' ? decodeToken(status.authToken) : null;
        const jti =
          typeof stored?.jti === 'string' ? stored.jti : (this.currentClaims?.jti ?? 'stored-token');
        this.end(jti, reasonOfRefusal(authError), authError, true);
      }
    });
    this.consume(socket.listener('connecting'), () =>
      this.emit('connection', { state: 'connecting', terminal: false }),
    );
    this.consume(socket.listener('close'), ({ code }) =>
      this.onClose(typeof code === 'number' ? code : 1006),
    );
    this.consume(socket.listener('authenticate'), ({ signedAuthToken }) => {
      if (typeof signedAuthToken === 'string') this.onToken(signedAuthToken);
    });
    this.consume(socket.listener('deauthenticate'), () => this.onDeauthenticated());
    this.consume(socket.receiver(AUTH_ENDED_EVENT), (payload) => {
      const error = WardenClientError.from(payload);
      const given = (payload as { reason?: unknown } | null)?.reason;
      const jti = this.currentClaims?.jti;
      if (jti === undefined) return;
      if (this.loggingOut) this.end(jti, 'logout', null, true);
      else this.end(jti, isAuthEndedReason(given) ? given : reasonOfRefusal(error), error, true);
    });
    this.consume(socket.receiver(SESSION_EVENT), (data) => {
      const claims = (data as { claims?: unknown } | null)?.claims as Claims | undefined;
      if (this.mode === 'cookie' && typeof claims?.jti === 'string') this.onClaims(claims, null);
    });
    this.consume(socket.receiver(HELLO_EVENT), (data) => {
      const worker = (data as { worker?: unknown } | null)?.worker;
      if (typeof worker === 'string') this.worker = worker;
      this.emit('receive', { event: HELLO_EVENT, data });
    });
    this.consume(socket.listener('subscribe'), ({ channel }) => {
      if (typeof channel === 'string') this.settle(channel, null);
      this.emitSubscriptions();
    });
    this.consume(socket.listener('subscribeFail'), ({ channel, error }) => {
      if (typeof channel === 'string') this.settle(channel, WardenClientError.from(error));
    });
    this.consume(socket.listener('kickOut'), ({ channel, message }) => {
      if (typeof channel !== 'string') return;
      this.emit('kickOut', { channel, message: typeof message === 'string' ? message : '' });
      this.emitSubscriptions();
    });
    this.consume(socket.listener('error'), ({ error }) => this.emit('error', WardenClientError.from(error)));
  }

  /** The socket holds a token: a login, a handshake, a renewal, or one adopted from another tab. */
  private onToken(token: string): void {
    const claims = decodeToken(token) as Claims | null;
    if (claims === null || typeof claims.jti !== 'string') return;
    this.onClaims(claims, token);
  }

  /**
   * The socket is authenticated with these claims: from a token it holds, or (cookie mode) from
   * the server's word after a handshake the HttpOnly cookie authenticated (`token` null).
   */
  private onClaims(claims: Claims, token: string | null): void {
    const previous = this.currentState === 'authenticated' ? this.currentClaims : null;
    if (previous?.jti === claims.jti) return;
    const fromTab = token !== null && this.adopting === token;
    this.currentClaims = claims;
    this.currentState = 'authenticated';
    this.endedJti = null;
    this.scheduleExpiring(claims);
    // Cookie mode after a reload: the cookie's expiry is not known here; the token's is close to it.
    if (this.mode === 'cookie' && this.refreshTimer === null) this.scheduleRefresh(claims.exp);
    if (previous === null) {
      const source = fromTab ? 'tab' : (this.authenticating ?? 'handshake');
      this.emit('authenticated', { claims, source });
    } else {
      this.emit('renewed', { claims, expiresAt: claims.exp, source: fromTab ? 'tab' : 'server' });
    }
    // Another tab's socket follows: this one's token is the newest.
    if (!fromTab && token !== null) this.tabs?.post({ type: 'token', token });
  }

  private onDeauthenticated(): void {
    const claims = this.currentClaims;
    if (claims === null || this.currentState !== 'authenticated') return;
    if (this.loggingOut) {
      this.end(claims.jti, 'logout', null, true);
      return;
    }
    // A deauthentication the server did not explain (its AUTH_ENDED_EVENT comes first when it does).
    const expired = claims.exp * 1000 <= Date.now();
    this.end(claims.jti, expired ? 'expired' : 'revoked', null, true);
  }

  /** Reports the end of the authentication `jti` once, here; `broadcast`: tell the other tabs too. */
  private end(
    jti: string,
    reason: AuthEndedReason,
    error: WardenClientError | null,
    broadcast: boolean,
  ): void {
    if (this.endedJti === jti) return;
    if (this.currentState === 'authenticated' && this.currentClaims?.jti !== jti) return;
    this.endedJti = jti;
    this.currentState = 'ended';
    this.clearTimers();
    if (broadcast) this.tabs?.post({ type: 'ended', jti, reason });
    this.emit('authEnded', { reason, error });
  }

  private onTabMessage(message: TabMessage): void {
    switch (message.type) {
      case 'token':
        void this.adopt(message.token);
        return;
      case 'ended': {
        // This tab's own logout is under way: it reports `logout` itself.
        if (this.loggingOut) return;
        if (this.currentState !== 'authenticated' || this.currentClaims?.jti !== message.jti) return;
        // Another tab's own logout is, from here, a logout elsewhere.
        const reason = message.reason === 'logout' ? 'logout-elsewhere' : message.reason;
        this.end(message.jti, reason, null, false);
        void this.socket.deauthenticate();
        return;
      }
      case 'refreshed':
        // A tab waiting for the lock to refresh sees this and does not refresh again.
        this.lastRefresh = Math.max(this.lastRefresh, message.expiresAt);
        this.scheduleRefresh(message.expiresAt);
        return;
    }
  }

  /** Adopts another tab's newer token: one re-authentication of this tab's socket per new token. */
  private async adopt(token: string): Promise<void> {
    const claims = decodeToken(token);
    if (claims === null || typeof claims.jti !== 'string' || typeof claims.iat !== 'number') return;
    const mine = this.currentState === 'authenticated' ? this.currentClaims : null;
    // Newest by `iat`; two tokens of the same second (both tabs renewed at once, e.g. by a
    // permission change) by `jti`, so that the tabs settle on one instead of swapping.
    if (mine !== null && (mine.iat > claims.iat || (mine.iat === claims.iat && mine.jti >= claims.jti)))
      return;
    if (this.closed) return;
    if (this.socket.state !== 'open') {
      // Used by the next handshake.
      await this.socket.auth.saveToken(AUTH_TOKEN_NAME, token);
      return;
    }
    this.adopting = token;
    try {
      await this.socket.authenticate(token);
    } catch (error) {
      this.emit('error', WardenClientError.from(error));
    } finally {
      if (this.adopting === token) this.adopting = null;
    }
  }

  private onClose(code: number): void {
    const terminal = isTerminalCloseCode(code);
    // Closed because it stayed unauthenticated after its authentication ended: retrying would
    // only be closed again; wait for a login.
    const idleAfterEnd = code === CloseCodes.UNAUTHENTICATED_TIMEOUT && this.currentState !== 'authenticated';
    if ((terminal || idleAfterEnd) && !this.closed) {
      this.stopped = true;
      this.socket.disconnect(1000, 'stopped retrying');
    }
    const why = TERMINAL_WHY[code] ?? (idleAfterEnd ? 'not logged in; log in to connect again' : undefined);
    this.emit('connection', {
      state: 'closed',
      code,
      terminal: this.stopped,
      ...(why === undefined ? {} : { why }),
    });
  }

  private scheduleExpiring(claims: Claims): void {
    if (this.expiringTimer !== null) clearTimeout(this.expiringTimer);
    const lifetime = claims.exp - claims.iat;
    const lead = this.expiringLead ?? Math.min(60, Math.max(1, Math.floor(lifetime / 5)));
    const at = (claims.exp - lead) * 1000;
    this.expiringTimer = setTimeout(
      () => {
        this.expiringTimer = null;
        if (this.currentClaims?.jti !== claims.jti || this.currentState !== 'authenticated') return;
        this.emit('expiring', {
          expiresAt: claims.exp,
          inSeconds: Math.max(0, Math.round(claims.exp - Date.now() / 1000)),
        });
      },
      Math.max(0, at - Date.now()),
    );
    (this.expiringTimer as { unref?: () => void }).unref?.();
  }

  /**
   * Cookie mode: the cookie is rotated (`POST /auth/refresh`) before it expires, by one tab (a
   * Web Lock) whose answer the others hear, so N tabs make one request.
   */
  private scheduleRefresh(expiresAt: number): void {
    if (this.mode !== 'cookie' || this.closed) return;
    if (this.refreshTimer !== null) clearTimeout(this.refreshTimer);
    const lead = Math.min(60, Math.max(1, (expiresAt - Date.now() / 1000) / 5));
    const at = (expiresAt - lead) * 1000 + Math.random() * 1000;
    this.refreshTimer = setTimeout(() => void this.refresh(expiresAt), Math.max(0, at - Date.now()));
    (this.refreshTimer as { unref?: () => void }).unref?.();
  }

  private async refresh(seen: number): Promise<void> {
    const run = async () => {
      if (this.lastRefresh > seen) return; // another tab refreshed while this one waited
      try {
        const { expiresAt } = await this.post<{ expiresAt: number }>('/auth/refresh', undefined);
        this.lastRefresh = expiresAt;
        this.tabs?.post({ type: 'refreshed', expiresAt });
        this.scheduleRefresh(expiresAt);
      } catch (error) {
        this.emit('error', WardenClientError.from(error));
      }
    };
    await (this.tabs === null ? run() : this.tabs.exclusive('refresh', run));
  }

  private lastRefresh = 0;

  private clearTimers(): void {
    if (this.expiringTimer !== null) clearTimeout(this.expiringTimer);
    if (this.refreshTimer !== null) clearTimeout(this.refreshTimer);
    this.expiringTimer = null;
    this.refreshTimer = null;
  }

  /** POSTs JSON to the server; a non-2xx answer rejects with the server's named error. */
  private async post<T>(path: string, body: unknown, bearer?: string): Promise<T> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (bearer !== undefined) headers.authorization = `Bearer ${bearer}`;
    const response = await fetch(`${this.url}${path}`, {
      method: 'POST',
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      credentials: this.mode === 'cookie' ? 'include' : 'same-origin',
    });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      parsed = null;
    }
    if (!response.ok) {
      const error = (parsed as { error?: unknown } | null)?.error;
      throw WardenClientError.from(
        error ?? { name: 'HttpError', message: `${path} answered ${response.status}` },
      );
    }
    return parsed as T;
  }

  private emitSubscriptions(): void {
    this.emit('subscriptions', { channels: this.socket.subscriptions(true) });
  }

  private settle(channel: string, error: Error | null): void {
    const waiting = this.pending.get(channel);
    if (waiting === undefined) return;
    this.pending.delete(channel);
    for (const { resolve, reject } of waiting) {
      if (error === null) resolve();
      else reject(error);
    }
  }

  private consume<T>(stream: AsyncIterable<T>, onValue: (value: T) => void): void {
    void (async () => {
      for await (const value of stream) onValue(value);
    })();
  }

  private emit<E extends WardenEventName>(event: E, payload: WardenEvents[E]): void {
    for (const listener of this.listeners.get(event) ?? []) {
      try {
        (listener as Listener<E>)(payload);
      } catch (error) {
        // One broken listener must not stop the others, nor the client's event loops.
        console.error(`warden-client: a "${event}" listener threw`, error);
      }
    }
  }
}
