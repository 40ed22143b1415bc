import express, { Router, type Response } from 'express';
import type { IncomingMessage } from 'node:http';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packagePath } from '../config/paths.ts';
import { DEMO_USERS } from '../admin/demo-users.ts';

const clientDir = packagePath('client');
/** The self-contained browser bundle that `client/scripts/build.js` writes. */
export const BROWSER_BUNDLE = join(clientDir, 'dist', 'warden-client.js');

export interface DemoRouteDeps {
  /** Throws for an Origin outside the allowed ones (middleware/origin-guard.ts). */
  readonly originGuard: (request: IncomingMessage) => void;
  /** Outside production: `GET /demo/users` lists the demo users' permissions (never passwords). */
  readonly showDemoUsers: boolean;
}

/**
 * The demo page (`GET /`), `client/public/` as static files, and the browser client's bundle at
 * `/warden-client.js`. The bundle answers CORS for the allowed origins, so a page on another
 * allowed origin can `import` it; for any other origin it is served without the header, and the
 * browser refuses to run it there.
 *
 * @example
 *   app.use(createDemoRoutes({ originGuard, showDemoUsers: config.nodeEnv !== 'production' }));
 */
export function createDemoRoutes(deps: DemoRouteDeps): Router {
  if (typeof deps.originGuard !== 'function')
    throw new TypeError('createDemoRoutes: originGuard is required');
  const router = Router();
  const bundleHeaders = (request: IncomingMessage, response: Response) => {
    response.setHeader('X-Content-Type-Options', 'nosniff');
    response.setHeader('Cache-Control', 'no-cache');
    response.setHeader('Vary', 'Origin');
    const origin = request.headers.origin;
    if (origin === undefined) return;
    try {
      deps.originGuard(request);
      response.setHeader('Access-Control-Allow-Origin', origin);
    } catch {
      // Not an allowed origin: no CORS header, so the browser keeps the script from that page.
    }
  };
  for (const [route, file] of [
    ['/warden-client.js', BROWSER_BUNDLE],
    ['/warden-client.js.map', `${BROWSER_BUNDLE}.map`],
  ] as const) {
    router.get(route, (request, response, next) => {
      if (!existsSync(file)) {
        // A checkout whose client was never built (`npm start` and `npm test` build it).
        response
          .status(503)
          .type('text/plain')
          .send('the browser client is not built: run `npm run build:client`');
        return;
      }
      bundleHeaders(request, response);
      response.sendFile(file, (error) => {
        if (error && !response.headersSent) next(error);
      });
    });
  }
  if (deps.showDemoUsers) {
    router.get('/demo/users', (_request, response) => {
      response.setHeader('Cache-Control', 'no-cache');
      response.json({
        users: DEMO_USERS.map(({ username, tenant, roles, publish, subscribe, invoke }) => ({
          username,
          tenant,
          roles,
          publish,
          subscribe,
          invoke,
        })),
      });
    });
  }
  router.use(
    express.static(join(clientDir, 'public'), {
      index: 'index.html',
      setHeaders: (response) => {
        response.setHeader('X-Content-Type-Options', 'nosniff');
        response.setHeader(
          'Content-Security-Policy',
          "default-src 'self'; connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
        );
      },
    }),
  );
  return router;
}
