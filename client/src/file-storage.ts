import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { TokenStorage } from './storage.ts';

/**
 * Node only (`warden-client/node`): keeps the token in a file, mode 0600, so a CLI or a service
 * stays logged in across restarts. The file holds a secret: it is written to a temporary file of
 * the same mode and renamed, so no reader ever sees a half-written or wider-mode file.
 *
 * @example
 *   import { createWardenClient } from 'warden-client';
 *   import { fileTokenStorage } from 'warden-client/node';
 *   const warden = createWardenClient({ url: 'https://rt.example.com', storage: fileTokenStorage('.warden-token') });
 */
let writes = 0;

export function fileTokenStorage(path: string): TokenStorage {
  const load = async (): Promise<string | null> => {
    try {
      const text = (await readFile(path, 'utf8')).trim();
      return text === '' ? null : text;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  };
  return {
    saveToken: async (_name, token) => {
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      const temporary = `${path}.${process.pid}.${++writes}.tmp`;
      await writeFile(temporary, token, { mode: 0o600 });
      await chmod(temporary, 0o600);
      await rename(temporary, path);
      return token;
    },
    removeToken: async () => {
      const old = await load();
      await rm(path, { force: true });
      return old;
    },
    loadToken: () => load(),
  };
}
