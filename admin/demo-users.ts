import { randomBytes } from 'node:crypto';
import type { PasswordHasher } from '../auth/passwords.ts';
import type { NewUser, Store } from '../store/types.ts';

type DemoUser = Omit<NewUser, 'passwordHash'>;

/**
 * Demo users whose permissions show both an allowed and a denied channel:
 * alice may publish to any `chat.*` channel and call `whoami`; bob may only read chat and post to
 * `chat.lobby`; carol lives in tenant "acme" and uses `tenant.{tenant}.>` channels.
 */
export const DEMO_USERS: readonly DemoUser[] = [
  {
    username: 'alice',
    tenant: null,
    roles: ['member'],
    publish: ['chat.*', 'user.{username}.>'],
    subscribe: ['chat.*', 'user.{username}.>', 'news'],
    invoke: ['whoami'],
  },
  {
    username: 'bob',
    tenant: null,
    roles: ['reader'],
    publish: ['chat.lobby'],
    subscribe: ['chat.*', 'news'],
    invoke: [],
  },
  {
    username: 'carol',
    tenant: 'acme',
    roles: ['member'],
    publish: ['tenant.{tenant}.>', 'chat.*'],
    subscribe: ['tenant.{tenant}.>', 'chat.*'],
    invoke: ['whoami'],
  },
];

/**
 * Creates the demo users when the store has no users at all, with random passwords; returns the
 * credentials to print once (empty when the store already had users).
 */
export async function seedDemoUsers(
  store: Store,
  hasher: PasswordHasher,
): Promise<Array<{ username: string; password: string }>> {
  if ((await store.countUsers()) > 0) return [];
  const created: Array<{ username: string; password: string }> = [];
  for (const user of DEMO_USERS) {
    const password = randomBytes(9).toString('base64url');
    await store.createUser({ ...user, passwordHash: await hasher.hash(password) });
    created.push({ username: user.username, password });
  }
  return created;
}
