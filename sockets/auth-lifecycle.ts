import type { AGServer } from 'socketcluster-server';
import { compilePatterns } from '../auth/patterns.ts';
import { permissionsOf } from '../auth/permissions.ts';
import { Revocations, type Revocation, type RevocationList } from '../auth/revocations.ts';
import type { TokenClaims, TokenService } from '../auth/tokens.ts';
import { sessionAgeProblem } from '../auth/credentials.ts';
import { WardenError } from '../errors/catalogue.ts';
import { DeadlineScheduler } from '../lifecycle/deadline-scheduler.ts';
import type { Logger } from '../log/logger.ts';
import type { Permissions, Store } from '../store/types.ts';
import { claimsOf, isOpen, type WardenSocket } from './socket-facade.ts';
import type { SocketRegistry } from './socket-registry.ts';
import { fillPermissions } from '../auth/role-permissions.ts';

/** Client event that tells a socket why it lost its authentication (SC's own deauth carries no reason). */
export const AUTH_ENDED_EVENT = 'warden:authEnded';

export interface AuthLifecycleOptions {
  readonly registry: SocketRegistry;
  readonly tokens: TokenService;
  readonly store: Store;
  readonly revocations: RevocationList;
  /** Revokes a replaced token cluster-wide (ClusterControl.revoke). */
  readonly revoke: (revocation: Revocation) => Promise<void>;
  /** Seconds between renewals of a socket's token. */
  readonly renewInterval: number;
  /** Seconds a replaced token is still accepted. */
  readonly reuseGrace: number;
  readonly sessionMaxAge: number;
  /** Seconds without client activity after which a socket is not renewed; null: no limit. */
  readonly sessionIdleTimeout: number | null;
  readonly log: Logger;
  /** The union of these roles' patterns: what an external identity's renewed token allows. */
  readonly rolePermissions?: (roles: readonly string[]) => Promise<Permissions>;
  /** Channels an unauthenticated socket may stay subscribed to (ANONYMOUS_SUBSCRIBE); none: all are kicked. */
  readonly anonymousSubscribe?: readonly string[];
  readonly now?: () => number;
  readonly random?: () => number;
}

const RETRY_AFTER_STORE_FAILURE_MS = 30_000;

/**
 * Makes every live socket follow its token. SocketCluster checks `exp` only when the client
 * sends something, and keeps a socket's subscriptions after deauthentication; here one
 * DeadlineScheduler per worker wakes each socket at its renewal time (reissue with fresh claims
 * from the store) or, failing that, at its expiry (deauthenticate), and every change of token
 * kicks the socket out of channels its new claims no longer allow.
 *
 * @example
 *   const lifecycle = new AuthLifecycle({ registry, tokens, store, revocations, revoke, renewInterval: 1800, ... });
 *   lifecycle.attach(agServer);
 */
export class AuthLifecycle {
  private readonly scheduler: DeadlineScheduler<WardenSocket>;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly renewing = new Set<WardenSocket>();
  /** Last client activity per socket (ms); a WeakMap so closed sockets cost nothing. */
  private readonly lastActive = new WeakMap<WardenSocket, number>();
  private readonly anonymous: (channel: string) => boolean;

  constructor(private readonly options: AuthLifecycleOptions) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.anonymous = compilePatterns(options.anonymousSubscribe ?? []);
    this.scheduler = new DeadlineScheduler({ onDue: (socket) => this.due(socket), now: this.now });
  }

  get scheduled(): number {
    return this.scheduler.size;
  }

  /** Records client activity (a publish, subscribe, invoke or transmit), for SESSION_IDLE_TIMEOUT. */
  touch(socket: WardenSocket): void {
    this.lastActive.set(socket, this.now());
  }

  /** Handles every renewal and expiry due at the current time now (tests with an injected clock). */
  runDue(): void {
    this.scheduler.runDue();
  }

  attach(agServer: AGServer): void {
    void (async () => {
      for await (const { socket } of agServer.listener('authentication')) this.onAuthenticated(socket);
    })();
    void (async () => {
      for await (const { socket } of agServer.listener('deauthentication')) this.onDeauthenticated(socket);
    })();
    void (async () => {
      for await (const { socket } of agServer.listener('closure')) this.forget(socket);
    })();
  }

  /** Ends a socket's authentication with a reason, on this worker. */
  endAuthentication(socket: WardenSocket, reason: WardenError): void {
    this.forget(socket);
    if (!isOpen(socket)) return;
    socket.transmit(AUTH_ENDED_EVENT, { name: reason.name, code: reason.code, message: reason.message }, {});
    void socket.deauthenticate();
    this.reconcileSubscriptions(socket, null);
  }

  /** Deauthenticates this worker's sockets that a new revocation covers. */
  enforce(revocation: Revocation): void {
    const { registry } = this.options;
    const sockets =
      revocation.kind === 'token' || revocation.kind === 'replaced'
        ? registry.ofToken(revocation.jti)
        : revocation.kind === 'session'
          ? registry.ofSession(revocation.sid)
          : registry.ofUser(revocation.userId);
    for (const socket of sockets) {
      const claims = registry.claims(socket);
      const nowSeconds = Math.floor(this.now() / 1000);
      const problem =
        claims === undefined
          ? null
          : this.options.revocations.problem(claims, nowSeconds, this.options.reuseGrace);
      if (problem !== null) this.endAuthentication(socket, problem);
    }
  }

  /** Reissues the tokens of every socket of this user at once (permissions changed, disabled). */
  async renewUser(userId: string): Promise<void> {
    await Promise.all(this.options.registry.ofUser(userId).map((socket) => this.renew(socket)));
  }

  /** Reissues the tokens of every socket holding this role at once (changed patterns, or removed). */
  async renewRole(role: string): Promise<void> {
    await Promise.all(
      this.options.registry
        .ofRole(role)
        .map((socket) =>
          this.options.registry.claims(socket)?.direct === true
            ? this.refreshDirect(socket)
            : this.renew(socket),
        ),
    );
  }

  /**
   * A role of a socket authenticated by its IdP token (or a gateway) changed: there is no Warden
   * token to reissue, so its claims are re-derived from the roles on the server alone (the
   * client's token stays what it is) and what they no longer allow is kicked at once.
   */
  private async refreshDirect(socket: WardenSocket): Promise<void> {
    const old = this.options.registry.claims(socket);
    if (old === undefined || this.options.rolePermissions === undefined) return;
    const permissions = await this.options.rolePermissions(old.roles);
    if (!isOpen(socket) || this.options.registry.claims(socket) !== old) return;
    const values = { username: old.username, sub: old.sub, tenant: old.tenant ?? null };
    const claims: TokenClaims = Object.freeze({
      ...old,
      ...fillPermissions(permissions, values),
    });
    // SocketCluster reads the socket's claims from `authToken`; nothing is sent to the client.
    (socket as { authToken: unknown }).authToken = claims;
    this.options.registry.set(socket, claims);
    this.reconcileSubscriptions(socket, claims);
  }

  /** Reissues one socket's token with claims re-read from the store. */
  async renew(socket: WardenSocket): Promise<void> {
    const old = this.options.registry.claims(socket);
    // An IdP's own access token is never renewed here: the client brings a fresh one.
    if (old === undefined || old.direct === true || this.renewing.has(socket)) return;
    this.renewing.add(socket);
    try {
      await this.reissue(socket, old);
    } finally {
      this.renewing.delete(socket);
    }
  }

  stop(): void {
    this.scheduler.stop();
  }

  private async reissue(socket: WardenSocket, old: TokenClaims): Promise<void> {
    const nowSeconds = Math.floor(this.now() / 1000);
    const ended = this.sessionProblem(socket, old, nowSeconds);
    if (ended !== null) {
      this.endAuthentication(socket, ended);
      return;
    }
    if (old.idp !== undefined) {
      await this.reissueExternal(socket, old, nowSeconds);
      return;
    }
    let user;
    let roles;
    try {
      user = await this.options.store.findUserById(old.sub);
      roles = user === null ? [] : await this.options.store.findRoles(user.roles);
    } catch (error) {
      // Keep the socket on the token it has; try again later, and expiry still applies.
      this.options.log.warn('renewal postponed: store unavailable', { error });
      this.scheduler.schedule(socket, Math.min(old.exp * 1000, this.now() + RETRY_AFTER_STORE_FAILURE_MS));
      return;
    }
    if (user === null || user.disabled) {
      this.endAuthentication(
        socket,
        new WardenError('AuthTokenRevokedError', 'the account is disabled or removed'),
      );
      return;
    }
    if (!isOpen(socket) || this.options.registry.claims(socket) !== old) return;
    const claims = this.options.tokens.claimsFor(
      user,
      {
        sid: old.sid,
        authTime: old.auth_time,
        // The last token of a session ends with it: renewal never stretches SESSION_MAX_AGE.
        notAfter: old.auth_time + this.options.sessionMaxAge,
      },
      undefined,
      roles,
    );
    await socket.setAuthToken(claims as never);
    // The browser's cookie still holds a cookie socket's token: replacing it here would make the
    // next page load look like reuse. The cookie is rotated by POST /auth/refresh instead.
    if (old.cookie === true) return;
    // The replaced token is revoked; `value` records when, for reuse detection. Not awaited: the
    // socket's renewal is complete once it holds the new token.
    void this.options
      .revoke(Revocations.replaced(old, nowSeconds))
      .catch((error: unknown) =>
        this.options.log.warn('replaced token revoked on the live cluster only', { error }),
      );
  }

  /**
   * Renews a session exchanged for an IdP identity: there is no user row; its roles' patterns are
   * re-read from the store. The IdP ends it with a back-channel logout.
   */
  private async reissueExternal(socket: WardenSocket, old: TokenClaims, nowSeconds: number): Promise<void> {
    let permissions: Permissions;
    try {
      permissions = (await this.options.rolePermissions?.(old.roles)) ?? old;
    } catch (error) {
      this.options.log.warn('renewal postponed: store unavailable', { error });
      this.scheduler.schedule(socket, Math.min(old.exp * 1000, this.now() + RETRY_AFTER_STORE_FAILURE_MS));
      return;
    }
    if (!isOpen(socket) || this.options.registry.claims(socket) !== old) return;
    const claims = this.options.tokens.claimsForExternal(
      { idp: old.idp as string, sub: old.sub, username: old.username, roles: old.roles },
      permissions,
      { sid: old.sid, authTime: old.auth_time, notAfter: old.auth_time + this.options.sessionMaxAge },
    );
    await socket.setAuthToken(claims as never);
    void this.options
      .revoke(Revocations.replaced(old, nowSeconds))
      .catch((error: unknown) =>
        this.options.log.warn('replaced token revoked on the live cluster only', { error }),
      );
  }

  /** Why this session may not be renewed (too old, or idle too long), or null. */
  private sessionProblem(socket: WardenSocket, claims: TokenClaims, nowSeconds: number): WardenError | null {
    const tooOld = sessionAgeProblem(claims, nowSeconds, this.options.sessionMaxAge);
    if (tooOld !== null) return tooOld;
    const idle = this.options.sessionIdleTimeout;
    const lastActive = this.lastActive.get(socket);
    if (idle !== null && lastActive !== undefined && this.now() - lastActive > idle * 1000) {
      return new WardenError('SessionExpiredError', 'the session was idle for too long; log in again');
    }
    return null;
  }

  private onAuthenticated(socket: WardenSocket): void {
    const claims = claimsOf(socket);
    if (claims === null || !isOpen(socket)) return;
    // A revocation applied while this token was being issued (a login racing `warden user
    // disable`) found no socket to end: the token is checked once more now that it is in use.
    const nowSeconds = Math.floor(this.now() / 1000);
    const revoked = this.options.revocations.problem(claims, nowSeconds, this.options.reuseGrace);
    if (revoked !== null) {
      this.endAuthentication(socket, revoked);
      return;
    }
    this.options.registry.set(socket, claims);
    // Authenticating counts as activity (a login, a reconnect with a stored token).
    if (!this.lastActive.has(socket)) this.touch(socket);
    // A token already replaced (accepted within the reuse grace) is renewed right away.
    const replaced = this.options.revocations.replacedAt(claims.jti) !== null;
    this.scheduler.schedule(socket, replaced ? this.now() : this.deadline(claims));
    this.reconcileSubscriptions(socket, claims);
  }

  private onDeauthenticated(socket: WardenSocket): void {
    this.forget(socket);
    if (isOpen(socket) && claimsOf(socket) === null) this.reconcileSubscriptions(socket, null);
  }

  private forget(socket: WardenSocket): void {
    this.options.registry.delete(socket);
    this.scheduler.cancel(socket);
  }

  /**
   * The next wake-up: the renewal time, jittered over the last tenth of the interval (at most
   * 5 min) so that sockets authenticated in the same second do not all renew in the same tick.
   */
  private deadline(claims: TokenClaims): number {
    if (claims.direct === true) return claims.exp * 1000;
    const interval = this.options.renewInterval * 1000;
    const jitter = this.random() * Math.min(interval / 10, 300_000);
    return Math.min(claims.iat * 1000 + interval - jitter, claims.exp * 1000);
  }

  private due(socket: WardenSocket): void {
    const claims = this.options.registry.claims(socket);
    if (claims === undefined) return;
    if (this.now() >= claims.exp * 1000) {
      const nowSeconds = Math.floor(this.now() / 1000);
      this.endAuthentication(
        socket,
        sessionAgeProblem(claims, nowSeconds, this.options.sessionMaxAge) ??
          new WardenError('AuthTokenExpiredError', 'the auth token has expired'),
      );
      return;
    }
    this.renew(socket).catch((error: unknown) => this.options.log.error('renewal failed', { error }));
  }

  /**
   * Kicks the socket out of every channel `claims` do not allow; when null (unauthenticated), of
   * every channel but those anonymous access allows.
   */
  private reconcileSubscriptions(socket: WardenSocket, claims: TokenClaims | null): void {
    const allowed = claims === null ? this.anonymous : permissionsOf(claims).canSubscribe;
    const kicked = socket.subscriptions().filter((channel) => !allowed(channel));
    if (kicked.length > 0) void socket.kickOut(kicked, 'not allowed by the current auth token');
  }
}
