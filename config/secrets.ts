import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { makePrivateDir, PRIVATE_FILE_MODE } from '../store/file-modes.ts';
import { ConfigError, type ResolvedSecrets } from './config.ts';

/**
 * Resolves AUTH_KEY and SCC_AUTH_KEY: from the variable, from `*_FILE`, or (development only) from
 * a key generated once and kept in the data directory (created 0700) with mode 0600, so that
 * restarts and every worker on this host share it. Production never generates a secret.
 */
export function resolveSecrets(env: NodeJS.ProcessEnv): ResolvedSecrets {
  const production = env.NODE_ENV === 'production';
  const dataDir = resolve(env.DATA_DIR || './data');
  return {
    authKey: resolveOne(env, 'AUTH_KEY', production, join(dataDir, 'auth.key')),
    sccAuthKey: resolveOne(env, 'SCC_AUTH_KEY', production, join(dataDir, 'scc.key')),
  };
}

function resolveOne(env: NodeJS.ProcessEnv, name: string, production: boolean, devFile: string): string {
  const direct = env[name];
  if (direct) return direct;
  const file = env[`${name}_FILE`];
  if (file) {
    try {
      return readFileSync(file, 'utf8').trim();
    } catch (error) {
      throw new ConfigError(`${name}_FILE`, `cannot read ${file}: ${(error as Error).message}`);
    }
  }
  if (production) throw new ConfigError(name, 'is required when NODE_ENV=production');
  return readOrCreateKey(devFile);
}

function readOrCreateKey(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  makePrivateDir(dirname(path));
  const key = randomBytes(48).toString('base64url');
  try {
    // 'wx': if another process created it first, keep theirs so every worker shares one key.
    writeFileSync(path, key + '\n', { mode: PRIVATE_FILE_MODE, flag: 'wx' });
    chmodSync(path, PRIVATE_FILE_MODE);
    return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(path, 'utf8').trim();
    throw error;
  }
}
