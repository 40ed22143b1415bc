import { createHmac, type KeyObject } from 'node:crypto';
import { ConfigError } from '../config/index.ts';
import type { Store } from '../store/types.ts';

/** The meta row holding the fingerprint of the AUTH_KEY that the cluster's workers share. */
export const AUTH_KEY_FINGERPRINT = 'auth_key_fingerprint';

/**
 * A fingerprint of the JWT key that reveals nothing about it: an HMAC of a fixed label under the
 * key. Two workers with different keys get different fingerprints.
 */
export function authKeyFingerprint(key: KeyObject): string {
  return createHmac('sha256', key).update('warden:auth-key-fingerprint:v1').digest('base64url');
}

/**
 * Refuses to start a worker whose AUTH_KEY differs from the one the rest of the cluster uses.
 * Without this, a mis-deployed worker would start fine and then fail intermittently: tokens it
 * issues are "invalid" on every other worker and vice versa, depending on where a client lands.
 * The first worker to start on a database records its fingerprint (first writer wins).
 */
export async function assertSharedAuthKey(store: Store, key: KeyObject): Promise<void> {
  const mine = authKeyFingerprint(key);
  const cluster = await store.claimMeta(AUTH_KEY_FINGERPRINT, mine);
  if (cluster !== mine) {
    throw new ConfigError(
      'AUTH_KEY',
      'differs from the key the other workers of this cluster use (its fingerprint in the database ' +
        'does not match). Give every worker the same AUTH_KEY; to rotate the key on purpose, stop ' +
        'every worker and run `warden auth-key reset`.',
    );
  }
}
