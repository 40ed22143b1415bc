import express, { type Express, type RequestHandler } from 'express';
import helmet from 'helmet';
import type { IncomingMessage } from 'node:http';
import { WardenError } from '../errors/catalogue.ts';
import type { Logger } from '../log/logger.ts';
import type { ReplayCache } from '../auth/oidc-logout.ts';
import type { OidcVerifier } from '../auth/oidc-verifier.ts';
import { createAuthRoutes, type AuthRouteDeps } from './auth-routes.ts';
import { createOidcRoutes } from './oidc-routes.ts';
import { createErrorResponder, notFound } from './errors.ts';
import { createHealthRoutes, type HealthDeps } from './health-routes.ts';
import { createDemoRoutes } from './demo-routes.ts';

export interface HttpAppDeps extends AuthRouteDeps, HealthDeps {
  readonly log: Logger;
  readonly originGuard: (request: IncomingMessage) => void;
  readonly allowedOrigins: readonly string[] | null;
  /** Outside production: the demo page also lists the demo users' permissions. */
  readonly development?: boolean;
  /** OpenID Connect's routes (exchange, back-channel logout); null when OIDC_ISSUER is not set. */
  readonly oidc: {
    readonly verifier: OidcVerifier;
    readonly replays: ReplayCache;
    readonly sessionMaxAge: number;
    readonly now: () => number;
  } | null;
  /** Largest JSON body accepted, bytes. */
  readonly bodyLimit?: number;
}

/**
 * Refuses cross-origin browser requests from origins outside ALLOWED_ORIGINS and answers CORS
 * for the allowed ones, so a team's web app on another origin can call /auth/*.
 */
function corsAndOrigin(deps: HttpAppDeps): RequestHandler {
  return (request, response, next) => {
    const origin = request.headers.origin;
    if (origin === undefined) return next();
    try {
      deps.originGuard(request);
    } catch (error) {
      return next(error);
    }
    if (deps.allowedOrigins !== null) {
      response.setHeader('Access-Control-Allow-Origin', origin);
      // Cookie sessions: an allowed origin's page may send and receive the cookie (fetch's
      // `credentials: 'include'`); never with `*`, which the cookie check does not honour.
      if (deps.cookie != null && deps.cookie.originAllowed(origin))
        response.setHeader('Access-Control-Allow-Credentials', 'true');
      response.setHeader('Vary', 'Origin');
      response.setHeader('Access-Control-Allow-Headers', 'Content-Type, Authorization');
      response.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
      response.setHeader('Access-Control-Max-Age', '600');
    }
    if (request.method === 'OPTIONS') return void response.status(204).end();
    next();
  };
}

/**
 * helmet's headers on every response: nosniff, a strict Referrer-Policy, HSTS (ignored by
 * browsers on plain http), and a CSP whose `frame-ancestors 'none'` keeps the demo page out of
 * other sites' frames. `connect-src` allows the page's own WebSocket.
 */
function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        connectSrc: ["'self'", 'ws:', 'wss:'],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        frameAncestors: ["'none'"],
        formAction: ["'self'"],
      },
    },
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginResourcePolicy: false,
  });
}

/** Responses under /auth carry tokens (or refuse them): no cache may keep them. */
const noStore: RequestHandler = (_request, response, next) => {
  response.setHeader('Cache-Control', 'no-store');
  response.setHeader('Pragma', 'no-cache');
  next();
};

/**
 * The Express app on Warden's HTTP server: auth, health, the demo page; JSON errors from the
 * shared catalogue.
 *
 * @example
 *   const app = createHttpApp({ store, hasher, limiter, tokens, revocations, revoke, ... });
 *   http.createServer(app);
 */
export function createHttpApp(deps: HttpAppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(securityHeaders());
  app.use(createHealthRoutes(deps));
  app.use(
    '/auth',
    noStore,
    corsAndOrigin(deps),
    express.json({ limit: deps.bodyLimit ?? 16 * 1024, strict: true }),
  );
  app.use('/auth', (request, _response, next) => {
    const json = request.path === '/login' || request.path === '/register';
    if (request.method === 'POST' && json && !request.is('application/json')) {
      return next(new WardenError('BadRequestError', 'send the credentials as application/json'));
    }
    next();
  });
  app.use('/auth', createAuthRoutes(deps));
  if (deps.oidc !== null) {
    app.use(
      '/auth',
      createOidcRoutes({
        acceptor: deps.acceptor,
        oidc: deps.oidc.verifier,
        replays: deps.oidc.replays,
        revoke: deps.revoke,
        clientAddress: deps.clientAddress,
        sessionMaxAge: deps.oidc.sessionMaxAge,
        now: deps.oidc.now,
        log: deps.log,
      }),
    );
  }
  app.use(createDemoRoutes({ originGuard: deps.originGuard, showDemoUsers: deps.development === true }));
  app.use(notFound);
  app.use(createErrorResponder(deps.log));
  return app;
}
