import type { AGServer } from 'socketcluster-server';
import { compilePatterns } from '../auth/patterns.ts';
import { permissionsOf } from '../auth/permissions.ts';
import { Revocations, type Revocation, type RevocationList } from '../auth/revocations.ts';
import type { TokenClaims, TokenService } from '../auth/tokens.ts';
import { sessionAgeProblem } from '../auth/credentials.ts';
import { WardenError } from '../errors/catalogue.ts';
import { DeadlineScheduler } from '../lifecycle/deadline-scheduler.ts';
import { audit } from '../log/audit.ts';
import type { Logger } from '../log/logger.ts';
import { metrics } from '../metrics/metrics.ts';
import type { Permissions, Store } from '../store/types.ts';
import { claimsOf, isOpen, type WardenSocket } from './socket-facade.ts';
import type { SocketRegistry } from './socket-registry.ts';
import { fillPermissions } from '../auth/role-permissions.ts';
import { AUTH_ENDED_EVENT, type AuthEndedPayload, type AuthEndedReason } from '../client/src/protocol.ts';

export { AUTH_ENDED_EVENT };

/** Why a revocation of this kind ended a socket's authentication, as the client is told. */
const REASON_OF_REVOCATION: Readonly<Record<Revocation['kind'], AuthEndedReason>> = {
  token: 'logout-elsewhere',
  session: 'session-ended',
  user: 'revoked',
  replaced: 'revoked',
};

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
/** Longest wait for a client to adopt the token another of its tabs was renewed to. */
const FOLLOW_WAIT_MS = 2_000;
/** How long a local renewal is remembered for that purpose (the revocation covers it after that). */
const FOLLOW_MEMORY_MS = 60_000;

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
  /** Sockets that already waited once for their client to follow another socket's renewal. */
  private readonly waitedToFollow = new WeakSet<WardenSocket>();
  /**
   * Tokens a renewal on this worker has begun to replace (jti -> ms): known at once, before the
   * replaced token's revocation has gone round the cluster.
   */
  private readonly renewingTokens = new Map<string, number>();

  private readonly options: AuthLifecycleOptions;

  constructor(options: AuthLifecycleOptions) {
    this.options = options;
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

  /**
   * Ends a socket's authentication on this worker, telling the client the error and why
   * (`reason`, which its UI can tell apart: an own logout is not an attack).
   */
  endAuthentication(socket: WardenSocket, error: WardenError, reason: AuthEndedReason): void {
    this.forget(socket);
    if (!isOpen(socket)) return;
    const payload: AuthEndedPayload = { name: error.name, code: error.code, message: error.message, reason };
    socket.transmit(AUTH_ENDED_EVENT, payload, {});
    void socket.deauthenticate();
    this.reconcileSubscriptions(socket, null);
  }

  /** Stops following this socket's token without telling it anything (its own logout). */
  release(socket: WardenSocket): void {
    this.forget(socket);
  }

  /**
   * Deauthenticates this worker's sockets that a new revocation covers. A user's revocation is
   * reported as `disabled` when the account is disabled or gone (`warden user disable` revokes
   * through the same path); finding that out costs one store read per revocation, not per socket,
   * and the sockets' claims are checked again after it.
   */
  enforce(revocation: Revocation): void {
    if (revocation.kind === 'user') {
      void this.options.store
        .findUserById(revocation.userId)
        .then(
          (user) => (user === null || user.disabled ? 'disabled' : 'revoked'),
          () => 'revoked' as const,
        )
        .then((reason) => this.enforceNow(revocation, reason));
      return;
    }
    this.enforceNow(revocation, REASON_OF_REVOCATION[revocation.kind]);
  }

  private enforceNow(revocation: Revocation, reason: AuthEndedReason): void {
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
      if (problem !== null) this.endAuthentication(socket, problem, reason);
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
    this.renewingTokens.delete(old.jti);
    this.renewingTokens.set(old.jti, this.now());
    const nowSeconds = Math.floor(this.now() / 1000);
    const ended = this.sessionProblem(socket, old, nowSeconds);
    if (ended !== null) {
      renewalFailed(old, 'session-ended', ended.message);
      this.endAuthentication(socket, ended, 'session-ended');
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
      renewalFailed(old, 'store-unavailable', 'postponed');
      this.scheduler.schedule(socket, Math.min(old.exp * 1000, this.now() + RETRY_AFTER_STORE_FAILURE_MS));
      return;
    }
    if (user === null || user.disabled) {
      renewalFailed(old, user === null ? 'user-removed' : 'user-disabled', 'authentication ended');
      this.endAuthentication(
        socket,
        new WardenError('AuthTokenRevokedError', 'the account is disabled or removed'),
        'disabled',
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
    metrics.renewals.inc();
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
      renewalFailed(old, 'store-unavailable', 'postponed');
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
    metrics.renewals.inc();
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
      const kind = this.options.revocations.refusedBy(claims, nowSeconds, this.options.reuseGrace);
      this.endAuthentication(socket, revoked, REASON_OF_REVOCATION[kind ?? 'user']);
      return;
    }
    this.options.registry.set(socket, claims);
    // Authenticating counts as activity (a login, a reconnect with a stored token).
    if (!this.lastActive.has(socket)) this.touch(socket);
    // A token already replaced (accepted within the reuse grace) is renewed right away.
    const replaced = this.options.revocations.replacedAt(claims.jti) !== null;
    if (replaced) this.waitedToFollow.add(socket);
    else this.waitedToFollow.delete(socket);
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
      const sessionOver = sessionAgeProblem(claims, nowSeconds, this.options.sessionMaxAge);
      if (sessionOver !== null) this.endAuthentication(socket, sessionOver, 'session-ended');
      else
        this.endAuthentication(
          socket,
          new WardenError('AuthTokenExpiredError', 'the auth token has expired'),
          'expired',
        );
      return;
    }
    // Another socket holding this same token (another tab of the same browser, which shares its
    // storage) was renewed first: its client hands the new token to this one, which then
    // re-authenticates with it. Waiting a moment for that keeps one renewal per token rather
    // than one per tab; a client that does not follow is renewed on the second wake-up.
    if (this.replacedElsewhere(claims.jti) && !this.waitedToFollow.has(socket)) {
      this.waitedToFollow.add(socket);
      const wait = Math.min((this.options.reuseGrace * 1000) / 2, FOLLOW_WAIT_MS);
      this.scheduler.schedule(socket, Math.min(this.now() + wait, claims.exp * 1000));
      return;
    }
    this.renew(socket).catch((error: unknown) => {
      this.options.log.error('renewal failed', { error });
      const claims = this.options.registry.claims(socket);
      if (claims !== undefined) renewalFailed(claims, 'error', 'will be retried at the next deadline');
    });
  }

  /** Whether another socket's renewal replaced (or is replacing) this token. */
  private replacedElsewhere(jti: string): boolean {
    const now = this.now();
    // Entries are kept in the order they were made (reissue deletes before it sets), so the
    // stale ones are at the front: pruning stops at the first fresh one. Scanning the whole map
    // on every due socket made a wave of 10,000 renewals quadratic (a third of its CPU).
    for (const [key, at] of this.renewingTokens) {
      if (now - at <= FOLLOW_MEMORY_MS) break;
      this.renewingTokens.delete(key);
    }
    const started = this.renewingTokens.get(jti);
    return (
      (started !== undefined && now - started <= FOLLOW_MEMORY_MS) ||
      this.options.revocations.replacedAt(jti) !== null
    );
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

/** Counts and audits a renewal that did not happen (the metric counts every one). */
function renewalFailed(claims: TokenClaims, reason: string, outcome: string): void {
  metrics.renewalFailures.inc({ reason });
  audit('renewal_failed', {
    reason,
    outcome,
    username: claims.username,
    sub: claims.sub,
    session: claims.sid,
  });
}
