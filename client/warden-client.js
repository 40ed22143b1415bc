/**
 * Warden's browser client: a thin layer over socketcluster-client's browser bundle.
 *
 * socketcluster-client 20 ships its browser bundle as an ES module (`export { create, ... }`, no
 * `socketClusterClient` global), so this file is an ES module too: load it with
 * `<script type="module">` or `import`. No bundler is needed; the server serves both files.
 *
 * The token lives in localStorage under exactly `socketcluster.authToken`, through
 * socketcluster-client's default auth engine (docs/websocket.md). v20 would
 * otherwise derive a host-specific key (`socketcluster.authToken.<host>:<port>`), so the name is
 * set explicitly. A page that loads with a stored token is authenticated in the handshake.
 *
 * @example
 *   import { createWardenClient } from '/warden-client.js';
 *   const warden = createWardenClient();
 *   warden.on('authEnded', (reason) => console.log(reason.name, reason.message));
 *   warden.on('message', ({ channel, data }) => console.log(channel, data));
 *   await warden.login('alice', password);
 *   await warden.subscribe('chat.lobby');
 *   await warden.publish('chat.lobby', { text: 'hello' }); // rejects with a PublishError if refused
 */
import { create } from './vendor/socketcluster-client.min.js';

/** The localStorage key of the token (docs/websocket.md, "The browser client"). */
export const AUTH_TOKEN_NAME = 'socketcluster.authToken';

/** Event the server transmits when it ends a socket's authentication (sockets/auth-lifecycle.ts). */
export const AUTH_ENDED_EVENT = 'warden:authEnded';

/**
 * Back-off after a lost connection: the first retry comes 0.5-1.5 s later, so a client whose
 * worker went away (close code 4100) is back on another worker within about a second; repeated
 * failures back off to at most 10 s.
 */
export const RECONNECT_OPTIONS = Object.freeze({
  initialDelay: 500,
  randomness: 1000,
  multiplier: 1.5,
  maxDelay: 10000,
});

/**
 * Connects to Warden (by default the server that served the page) and returns a WardenClient.
 * `options` are passed to socketcluster-client's `create` (hostname, port, secure, ...).
 *
 * @example
 *   const warden = createWardenClient({ hostname: 'realtime.example.com', secure: true });
 */
export function createWardenClient(options = {}) {
  return new WardenClient(options);
}

/**
 * Events (`on(name, handler)` returns a function that removes the handler):
 * - `connect` `{isAuthenticated, authError}`: a handshake completed; `authError` (an Error) says
 *   why a stored token was refused.
 * - `disconnect` `{code, reason}`: the connection was lost; the client reconnects by itself.
 * - `authenticate` `{username, claims}`: a token arrived (login, handshake, renewal).
 * - `deauthenticate` `{}`: the token is gone (logout, or the server ended the authentication).
 * - `authStateChange` `{authenticated, username}`: either of the two above changed the state.
 * - `authEnded` Error `{name, code, message}`: the server ended this socket's authentication
 *   (expiry, revocation, disabled user); followed by `deauthenticate`.
 * - `message` `{channel, data}`: a message on a subscribed channel.
 * - `kickOut` `{channel, message}`: the server removed this socket from a channel.
 * - `error` Error: anything else the socket reported.
 */
export class WardenClient {
  constructor(options = {}) {
    this._handlers = new Map();
    /** Channel names with a running message consumer. */
    this._consumers = new Set();
    /** Channel name -> callbacks waiting for its subscribe or subscribeFail. */
    this._pending = new Map();
    this.socket = create({
      authTokenName: AUTH_TOKEN_NAME,
      autoReconnectOptions: { ...RECONNECT_OPTIONS },
      ...options,
    });
    this._wireEvents();
  }

  /** True when the server accepted this socket's token. */
  get authenticated() {
    return this.socket.authState === 'authenticated';
  }

  /** The `username` claim of the current token, or null. */
  get username() {
    return this.authenticated ? (this.socket.authToken?.username ?? null) : null;
  }

  /** The decoded claims of the current token, or null. */
  get claims() {
    return this.authenticated ? this.socket.authToken : null;
  }

  /** `connecting`, `open` or `closed`. */
  get state() {
    return this.socket.state;
  }

  on(event, handler) {
    let handlers = this._handlers.get(event);
    if (handlers === undefined) {
      handlers = new Set();
      this._handlers.set(event, handlers);
    }
    handlers.add(handler);
    return () => handlers.delete(handler);
  }

  /** Logs in; rejects with a LoginError (or RateLimitError, BadRequestError) on failure. */
  login(username, password) {
    return this.socket.invoke('login', { username, password });
  }

  /**
   * Logs out: the server deauthenticates the socket and revokes the token cluster-wide. The token
   * is dropped from this browser even when the server cannot be reached (the error is rethrown).
   */
  async logout() {
    try {
      if (this.authenticated && this.socket.state === 'open') await this.socket.invoke('logout');
    } finally {
      if (this.authenticated || (await this.socket.auth.loadToken(this.socket.authTokenName)) !== null) {
        await this.socket.deauthenticate();
      }
    }
  }

  /**
   * Subscribes; resolves once the server accepted, rejects with its SubscribeError. Messages
   * arrive as `message` events. A subscription survives reconnects (SocketCluster renews it).
   */
  subscribe(channelName) {
    const channel = this.socket.subscribe(channelName);
    if (!this._consumers.has(channelName)) {
      this._consumers.add(channelName);
      this._consume(channel, (data) => this._emit('message', { channel: channelName, data }));
    }
    if (this.socket.isSubscribed(channelName)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiting = this._pending.get(channelName) ?? [];
      waiting.push({ resolve, reject });
      this._pending.set(channelName, waiting);
    });
  }

  unsubscribe(channelName) {
    this.socket.unsubscribe(channelName);
    this.socket.closeChannel(channelName);
    this._consumers.delete(channelName);
    this._settle(channelName, new Error(`unsubscribed from ${channelName} before the server answered`));
  }

  /** Publishes and resolves once the server accepted; rejects with its PublishError. */
  publish(channelName, data) {
    return this.socket.invokePublish(channelName, data);
  }

  /** Calls a procedure (`whoami`, or one of the application's). */
  invoke(procedure, data) {
    return this.socket.invoke(procedure, data);
  }

  /** Disconnects for good and ends every listener. */
  close() {
    this.socket.disconnect();
    this.socket.closeAllListeners();
    this.socket.closeAllReceivers();
    this.socket.closeAllChannels();
    this._consumers.clear();
    for (const channelName of [...this._pending.keys()]) {
      this._settle(channelName, new Error('the client was closed'));
    }
  }

  _wireEvents() {
    const { socket } = this;
    this._consume(socket.listener('connect'), (status) => {
      const authError = status.authError ? namedError(status.authError) : null;
      this._emit('connect', { isAuthenticated: status.isAuthenticated === true, authError });
    });
    this._consume(socket.listener('close'), ({ code, reason }) => this._emit('disconnect', { code, reason }));
    this._consume(socket.listener('authenticate'), ({ authToken }) =>
      this._emit('authenticate', { username: authToken?.username ?? null, claims: authToken }),
    );
    this._consume(socket.listener('deauthenticate'), () => this._emit('deauthenticate', {}));
    this._consume(socket.listener('authStateChange'), () =>
      this._emit('authStateChange', { authenticated: this.authenticated, username: this.username }),
    );
    this._consume(socket.receiver(AUTH_ENDED_EVENT), (reason) =>
      this._emit('authEnded', namedError(reason ?? {})),
    );
    this._consume(socket.listener('subscribe'), ({ channel }) => this._settle(channel, null));
    this._consume(socket.listener('subscribeFail'), ({ channel, error }) =>
      this._settle(channel, namedError(error ?? {})),
    );
    this._consume(socket.listener('kickOut'), ({ channel, message }) =>
      this._emit('kickOut', { channel, message }),
    );
    this._consume(socket.listener('error'), ({ error }) => this._emit('error', namedError(error ?? {})));
  }

  _settle(channelName, error) {
    const waiting = this._pending.get(channelName);
    if (waiting === undefined) return;
    this._pending.delete(channelName);
    for (const { resolve, reject } of waiting) {
      if (error === null) resolve();
      else reject(error);
    }
  }

  _consume(stream, onValue) {
    void (async () => {
      for await (const value of stream) onValue(value);
    })();
  }

  _emit(event, value) {
    for (const handler of this._handlers.get(event) ?? []) {
      try {
        handler(value);
      } catch (error) {
        // One broken handler must not stop the others, nor the client's event loops.
        console.error(`warden-client: a "${event}" handler threw`, error);
      }
    }
  }
}

/** An Error carrying the server's `name` and `code` (it may arrive as a plain object). */
function namedError(value) {
  if (value instanceof Error) return value;
  const error = new Error(typeof value.message === 'string' ? value.message : 'unknown error');
  error.name = typeof value.name === 'string' ? value.name : 'Error';
  if (value.code !== undefined) error.code = value.code;
  if (value.reason !== undefined) error.reason = value.reason;
  return error;
}

// For classic scripts that run after this module, and for trying the client from the devtools console.
if (typeof window !== 'undefined') window.Warden = { createWardenClient, WardenClient, AUTH_TOKEN_NAME };
