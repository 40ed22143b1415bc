import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The directory that holds Warden's package.json: the repository, or /app in the image. The same
 * module runs from the sources (`config/paths.ts`, under tsx in tests) and from the build
 * (`dist/config/paths.js`), one level deeper, so files outside the code (package.json, bin/,
 * client/) are found from here rather than relative to the importing module.
 */
function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

/**
 * A path inside the package.
 *
 * @example
 *   packagePath('client', 'public') // "/app/client/public"
 */
export function packagePath(...segments: string[]): string {
  return join(PACKAGE_ROOT, ...segments);
}
