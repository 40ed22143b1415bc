import type { AuthEndedReason } from './protocol.ts';

/** What one tab tells the others of its origin. */
export type TabMessage =
  | { readonly type: 'token'; readonly token: string }
  | { readonly type: 'ended'; readonly jti: string; readonly reason: AuthEndedReason }
  | { readonly type: 'refreshed'; readonly expiresAt: number };

export interface TabLink {
  post(message: TabMessage): void;
  /** Runs `task` while holding the named lock across the origin's tabs (Web Locks), or at once. */
  exclusive<T>(name: string, task: () => Promise<T>): Promise<T>;
  close(): void;
}

interface LockManagerLike {
  request(name: string, callback: () => Promise<unknown>): Promise<unknown>;
}

/**
 * The tabs of one origin, linked: a BroadcastChannel where there is one, else `storage` events
 * on the shared token key (token mode; older browsers), which carry token changes but no reasons.
 * A tab never hears its own messages.
 */
export function linkTabs(
  name: string,
  tokenKey: string | null,
  onMessage: (message: TabMessage) => void,
): TabLink | null {
  const g = globalThis as typeof globalThis & { navigator?: { locks?: LockManagerLike } };
  const locks = g.navigator?.locks;
  const exclusive = <T>(lockName: string, task: () => Promise<T>): Promise<T> =>
    locks === undefined ? task() : (locks.request(`${name}:${lockName}`, task) as Promise<T>);

  if (typeof g.BroadcastChannel === 'function') {
    const channel = new g.BroadcastChannel(name);
    channel.onmessage = (event: MessageEvent<unknown>) => {
      if (isTabMessage(event.data)) onMessage(event.data);
    };
    return {
      post: (message) => channel.postMessage(message),
      exclusive,
      close: () => channel.close(),
    };
  }
  if (tokenKey === null || typeof g.addEventListener !== 'function') return null;
  const onStorage = (event: StorageEvent) => {
    if (event.key !== tokenKey) return;
    if (event.newValue !== null) onMessage({ type: 'token', token: event.newValue });
  };
  g.addEventListener('storage', onStorage);
  return { post: () => {}, exclusive, close: () => g.removeEventListener('storage', onStorage) };
}

function isTabMessage(value: unknown): value is TabMessage {
  if (typeof value !== 'object' || value === null) return false;
  const message = value as Record<string, unknown>;
  switch (message.type) {
    case 'token':
      return typeof message.token === 'string';
    case 'ended':
      return typeof message.jti === 'string' && typeof message.reason === 'string';
    case 'refreshed':
      return typeof message.expiresAt === 'number';
    default:
      return false;
  }
}
