/**
 * The CPU cost of accepting an IdP access token against Warden's own token: verifications per
 * second, one at a time on one core, of
 * - an RS256 (and an ES256) Keycloak-shaped access token through auth/oidc-verifier.ts, its key
 *   already cached (the steady state: the JWK set is fetched once, from a loopback server here);
 * - a Warden HS256 token through TokenService.verify (auth/tokens.ts).
 *
 * Run alone: `node --import tsx bench/oidc/verify-cost.ts [--rounds N] [--seconds N]`; `runVerifyCost()` is
 * what bench/run.ts can call.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { createOidcVerifier } from '../../auth/oidc-verifier.ts';
import { TokenService } from '../../auth/tokens.ts';
import { loadAverage } from '../lib/machine.ts';

export interface VerifyCostOptions {
  /** Rounds; each measures every kind of token in turn, so that a load spike hits all alike. */
  readonly rounds: number;
  /** Measuring time per kind of token and round, seconds (after a warm-up of a fifth of it). */
  readonly seconds: number;
}

export const VERIFY_COST_DEFAULTS: VerifyCostOptions = { rounds: 5, seconds: 1 };

export interface VerifyRate {
  /** The median round's verifications per second, and the best round's. */
  readonly perSecond: number;
  readonly bestPerSecond: number;
  /** Microseconds per verification in the median round. */
  readonly microsecondsEach: number;
}

export interface VerifyCostResult {
  readonly rs256AccessToken: VerifyRate;
  readonly es256AccessToken: VerifyRate;
  readonly wardenHs256Token: VerifyRate;
  /** How many Warden-token verifications cost as much as one RS256 access-token verification (medians). */
  readonly rs256CostInWardenTokens: number;
  /** 1, 5 and 15 minute load averages at the end (this host may be shared). */
  readonly loadAverage: readonly number[];
}

/** Verifications per second, one at a time, for `seconds` after a warm-up. */
async function rate(seconds: number, verify: () => unknown): Promise<number> {
  const run = async (ms: number): Promise<number> => {
    const start = performance.now();
    let count = 0;
    let elapsed: number;
    do {
      // Batches of 100 keep the clock reads out of the measurement.
      for (let i = 0; i < 100; i += 1) await verify();
      count += 100;
      elapsed = performance.now() - start;
    } while (elapsed < ms);
    return (count / elapsed) * 1000;
  };
  await run(seconds * 200);
  return run(seconds * 1000);
}

function summary(rates: readonly number[]): VerifyRate {
  const sorted = [...rates].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
  return {
    perSecond: Math.round(median),
    bestPerSecond: Math.round(sorted.at(-1) ?? 0),
    microsecondsEach: Math.round(1e7 / median) / 10,
  };
}

export async function runVerifyCost(
  options: VerifyCostOptions = VERIFY_COST_DEFAULTS,
): Promise<VerifyCostResult> {
  const rsa = await generateKeyPair('RS256');
  const ec = await generateKeyPair('ES256');
  const jwks = JSON.stringify({
    keys: [
      { ...(await exportJWK(rsa.publicKey)), kid: 'rsa', alg: 'RS256', use: 'sig' },
      { ...(await exportJWK(ec.publicKey)), kid: 'ec', alg: 'ES256', use: 'sig' },
    ],
  });
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' }).end(jwks);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const oidc = createOidcVerifier({ issuer: origin, audiences: ['warden-app'], jwksUri: `${origin}/jwks` });
    const now = Math.floor(Date.now() / 1000);
    // A Keycloak access token's claims (about 1 KB signed with RS256, like a realm's default token).
    const claims = {
      iss: origin,
      sub: 'f3b1c1e0-5d0e-4c39-9d7e-6f1f0c3d2a11',
      aud: 'account',
      azp: 'warden-app',
      typ: 'Bearer',
      iat: now,
      exp: now + 3600,
      jti: 'b0c4f0f1-2a8e-4d7a-9c55-1f0e7d3b9a22',
      sid: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
      scope: 'openid profile email',
      preferred_username: 'alice',
      email: 'alice@example.com',
      email_verified: true,
      realm_access: { roles: ['default-roles-acme', 'offline_access', 'uma_authorization', 'chat'] },
      resource_access: { account: { roles: ['manage-account', 'view-profile'] } },
    };
    const rs256 = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'rsa', typ: 'JWT' })
      .sign(rsa.privateKey);
    const es256 = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: 'ec', typ: 'JWT' })
      .sign(ec.privateKey);
    await oidc.verify(rs256); // fetches and caches the key set once

    const tokens = new TokenService({ key: 'k'.repeat(48), ttl: 3600 });
    const { token: warden } = tokens.issue({
      id: 'user-1',
      username: 'alice',
      passwordHash: 'x',
      tenant: null,
      roles: ['chat'],
      publish: ['chat.*'],
      subscribe: ['chat.*', 'user.{username}.>'],
      invoke: ['whoami'],
      disabled: false,
      tokensValidFrom: 0,
      createdAt: 0,
      updatedAt: 0,
    });

    const kinds = {
      rs256: () => oidc.verify(rs256),
      es256: () => oidc.verify(es256),
      warden: () => tokens.verify(warden),
    };
    const rates = { rs256: [] as number[], es256: [] as number[], warden: [] as number[] };
    for (let round = 0; round < options.rounds; round += 1) {
      for (const kind of ['rs256', 'es256', 'warden'] as const)
        rates[kind].push(await rate(options.seconds, kinds[kind]));
    }
    const rs256AccessToken = summary(rates.rs256);
    const es256AccessToken = summary(rates.es256);
    const wardenHs256Token = summary(rates.warden);
    return {
      rs256AccessToken,
      es256AccessToken,
      wardenHs256Token,
      rs256CostInWardenTokens:
        Math.round((wardenHs256Token.perSecond / rs256AccessToken.perSecond) * 10) / 10,
      loadAverage: loadAverage(),
    };
  } finally {
    server.close();
    server.closeAllConnections();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { seconds: { type: 'string' }, rounds: { type: 'string' } } });
  const seconds = values.seconds === undefined ? VERIFY_COST_DEFAULTS.seconds : Number(values.seconds);
  const rounds = values.rounds === undefined ? VERIFY_COST_DEFAULTS.rounds : Number(values.rounds);
  if (!(seconds > 0)) throw new Error('--seconds must be a positive number');
  if (!Number.isSafeInteger(rounds) || rounds < 1) throw new Error('--rounds must be a positive integer');
  const result = await runVerifyCost({ rounds, seconds });
  const line = (name: string, verifyRate: VerifyRate) =>
    console.log(
      `${name.padEnd(34)} ${String(verifyRate.perSecond).padStart(7)} verifications/s median, ` +
        `${String(verifyRate.bestPerSecond).padStart(7)} best  (${verifyRate.microsecondsEach} µs each)`,
    );
  line('RS256 access token (key cached)', result.rs256AccessToken);
  line('ES256 access token (key cached)', result.es256AccessToken);
  line('Warden HS256 token', result.wardenHs256Token);
  console.log(`one RS256 access token costs as much as ${result.rs256CostInWardenTokens} Warden tokens`);
  console.log(`load average at the end: ${result.loadAverage.join(' ')}`);
}
