/**
 * The self-contained browser bundle (`/warden-client.js` on a Warden server): the package's API,
 * and `window.Warden` for classic scripts and the devtools console.
 */
import * as Warden from './index.ts';

export * from './index.ts';

(globalThis as { Warden?: typeof Warden }).Warden = Warden;
