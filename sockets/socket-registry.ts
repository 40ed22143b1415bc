import type { WardenSocket } from './socket-facade.ts';
import type { TokenClaims } from '../auth/tokens.ts';

/**
 * This worker's authenticated sockets, indexed by user, session, token id and role, so that a
 * revocation, a user change or a role change reaches exactly the affected sockets without a scan.
 */
export class SocketRegistry {
  private readonly byUser = new Map<string, Set<WardenSocket>>();
  private readonly bySession = new Map<string, Set<WardenSocket>>();
  private readonly byToken = new Map<string, Set<WardenSocket>>();
  private readonly byRole = new Map<string, Set<WardenSocket>>();
  private readonly entries = new Map<WardenSocket, TokenClaims>();

  get size(): number {
    return this.entries.size;
  }

  /** Records (or updates) the claims a socket is authenticated with. */
  set(socket: WardenSocket, claims: TokenClaims): void {
    this.delete(socket);
    this.entries.set(socket, claims);
    add(this.byUser, claims.sub, socket);
    add(this.bySession, claims.sid, socket);
    add(this.byToken, claims.jti, socket);
    for (const role of claims.roles) add(this.byRole, role, socket);
  }

  delete(socket: WardenSocket): void {
    const claims = this.entries.get(socket);
    if (claims === undefined) return;
    this.entries.delete(socket);
    remove(this.byUser, claims.sub, socket);
    remove(this.bySession, claims.sid, socket);
    remove(this.byToken, claims.jti, socket);
    for (const role of claims.roles) remove(this.byRole, role, socket);
  }

  claims(socket: WardenSocket): TokenClaims | undefined {
    return this.entries.get(socket);
  }

  ofUser(userId: string): WardenSocket[] {
    return [...(this.byUser.get(userId) ?? [])];
  }

  ofSession(sid: string): WardenSocket[] {
    return [...(this.bySession.get(sid) ?? [])];
  }

  ofToken(jti: string): WardenSocket[] {
    return [...(this.byToken.get(jti) ?? [])];
  }

  ofRole(role: string): WardenSocket[] {
    return [...(this.byRole.get(role) ?? [])];
  }

  all(): WardenSocket[] {
    return [...this.entries.keys()];
  }
}

function add(map: Map<string, Set<WardenSocket>>, key: string, socket: WardenSocket): void {
  let set = map.get(key);
  if (set === undefined) {
    set = new Set();
    map.set(key, set);
  }
  set.add(socket);
}

function remove(map: Map<string, Set<WardenSocket>>, key: string, socket: WardenSocket): void {
  const set = map.get(key);
  set?.delete(socket);
  if (set?.size === 0) map.delete(key);
}
