// Builds warden-client into dist/: the ES module for bundlers and Node (socketcluster-client stays
// an import), the self-contained browser bundle a Warden server serves at /warden-client.js, and
// the type declarations from the TypeScript sources. Run from any directory: `node client/scripts/build.js`.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const require = createRequire(import.meta.url);

rmSync(dist, { recursive: true, force: true });

const common = {
  absWorkingDir: root,
  bundle: true,
  target: 'es2022',
  legalComments: 'none',
  logLevel: 'warning',
};

await Promise.all([
  // For bundlers and Node: the package's own code in one module; socketcluster-client is a dependency.
  build({
    ...common,
    entryPoints: { index: 'src/index.ts', node: 'src/node.ts' },
    outdir: dist,
    format: 'esm',
    platform: 'neutral',
    external: ['socketcluster-client', 'node:*'],
    sourcemap: true,
  }),
  // For a <script type="module"> tag: everything in one file, socketcluster-client's browser
  // build included (its `browser` field maps `ws` to the page's WebSocket).
  build({
    ...common,
    entryPoints: { 'warden-client': 'src/browser.ts' },
    outdir: dist,
    format: 'esm',
    platform: 'browser',
    mainFields: ['browser', 'module', 'main'],
    minify: true,
    sourcemap: 'linked',
    define: { global: 'globalThis' },
  }),
]);

// Declarations only; the root type check (tsc --noEmit) covers the sources' correctness too.
const tsc = require.resolve('typescript/bin/tsc');
const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
if (result.status !== 0) process.exit(result.status ?? 1);

// The sources import each other as `./x.ts`; the declarations must name the emitted `./x.js`.
for (const file of readdirSync(dist).filter((name) => name.endsWith('.d.ts'))) {
  const path = join(dist, file);
  const text = readFileSync(path, 'utf8');
  writeFileSync(path, text.replace(/(from '\.\.?\/[^']+)\.ts'/g, "$1.js'"));
}
