import type { WardenSocket } from './socket-facade.ts';
import type { TokenClaims } from '../auth/tokens.ts';

/**
 * Sockets under one key: the socket itself while it is the only one (most sessions and tokens
 * have one socket, and a Set costs ~130 bytes of heap per socket), a Set from the second on.
 */
type Members = WardenSocket | Set<WardenSocket>;

/**
 * This worker's authenticated sockets, indexed by user, session, token id and role, so that a
 * revocation, a user change or a role change reaches exactly the affected sockets without a scan.
 */
export class SocketRegistry {
  private readonly byUser = new Map<string, Members>();
  private readonly bySession = new Map<string, Members>();
  private readonly byToken = new Map<string, Members>();
  private readonly byRole = new Map<string, Members>();
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
    return list(this.byUser.get(userId));
  }

  ofSession(sid: string): WardenSocket[] {
    return list(this.bySession.get(sid));
  }

  ofToken(jti: string): WardenSocket[] {
    return list(this.byToken.get(jti));
  }

  ofRole(role: string): WardenSocket[] {
    return list(this.byRole.get(role));
  }

  all(): WardenSocket[] {
    return [...this.entries.keys()];
  }
}

function list(members: Members | undefined): WardenSocket[] {
  if (members === undefined) return [];
  return members instanceof Set ? [...members] : [members];
}

function add(map: Map<string, Members>, key: string, socket: WardenSocket): void {
  const members = map.get(key);
  if (members === undefined) map.set(key, socket);
  else if (members instanceof Set) members.add(socket);
  else if (members !== socket) map.set(key, new Set([members, socket]));
}

function remove(map: Map<string, Members>, key: string, socket: WardenSocket): void {
  const members = map.get(key);
  if (members === socket) map.delete(key);
  else if (members instanceof Set) {
    members.delete(socket);
    if (members.size === 1) map.set(key, members.values().next().value as WardenSocket);
  }
}
