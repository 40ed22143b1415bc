import { chmodSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * Modes of what Warden keeps on disk: the SQLite database (password hashes) and the development
 * keys. Owner only, whatever the umask: the modes are set explicitly, not left to `open(2)`.
 */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** True when a file's mode lets its group or other users read, write or search it. */
export function sharedMode(mode: number): boolean {
  return (mode & 0o077) !== 0;
}

/** `0644`-style text for messages. */
export function octal(mode: number): string {
  return '0' + (mode & 0o777).toString(8);
}

/**
 * Creates `dir` and any missing parents with mode 0700. Directories that already exist keep
 * their mode: they may be shared ones (`/tmp`, a mounted volume) that are not Warden's to change.
 *
 * @example
 *   makePrivateDir('/var/lib/warden/data');
 */
export function makePrivateDir(path: string): void {
  // Absolute, so that the walk below stops at the first new directory and never reaches '.'.
  const dir = resolve(path);
  const first = mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (first === undefined) return;
  // mkdir's mode is filtered by the umask; chmod is not. Walk from `dir` up to the first new one.
  for (let current = dir; ; current = dirname(current)) {
    chmodSync(current, PRIVATE_DIR_MODE);
    if (current === first || dirname(current) === current) return;
  }
}
