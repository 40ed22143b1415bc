import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, parseConfig } from '../../../config/index.ts';
import { resolveSecrets } from '../../../config/secrets.ts';

const secrets = { authKey: 'a'.repeat(32), sccAuthKey: 's'.repeat(32) };

function configError(env: Record<string, string>, keys = secrets): ConfigError {
  try {
    parseConfig(env, keys);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error;
  }
  throw new Error('expected a ConfigError');
}

describe('config', function () {
  it('applies the documented defaults and freezes the result', function () {
    const config = parseConfig({}, secrets);
    assert.equal(config.port, 8000);
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.workers, 2);
    assert.equal(config.databaseUrl, 'sqlite:./data/warden.db');
    assert.equal(config.tokenTtl, 3600);
    assert.equal(config.tokenRenewInterval, 1800);
    assert.equal(config.allowedOrigins, null);
    assert.equal(config.maxPayload, 65536);
    assert.equal(config.sccStateServerPort, 7777);
    assert.equal(config.sccBrokerServerPort, 8888);
    assert.equal(Object.isFrozen(config), true);
  });

  it('names the variable of a bad value', function () {
    assert.equal(configError({ PORT: 'eighty' }).variable, 'PORT');
    assert.equal(configError({ PORT: '70000' }).variable, 'PORT');
    assert.equal(configError({ WORKERS: '0' }).variable, 'WORKERS');
    assert.equal(configError({ DATABASE_URL: 'postgres://x' }).variable, 'DATABASE_URL');
    assert.equal(configError({ NODE_ENV: 'prod' }).variable, 'NODE_ENV');
    assert.equal(configError({ ALLOWED_ORIGINS: 'not a url' }).variable, 'ALLOWED_ORIGINS');
    assert.equal(configError({ ALLOWED_ORIGINS: 'https://a.example/path' }).variable, 'ALLOWED_ORIGINS');
    assert.equal(configError({ TOKEN_TTL: '1800' }).variable, 'TOKEN_TTL');
    assert.equal(configError({ TOKEN_REUSE_GRACE: '0' }).variable, 'TOKEN_REUSE_GRACE');
    assert.equal(
      configError({ TOKEN_REUSE_GRACE: '2', REVOCATION_POLL_INTERVAL: '2000' }).variable,
      'REVOCATION_POLL_INTERVAL',
    );
    assert.equal(configError({}, { ...secrets, authKey: 'short' }).variable, 'AUTH_KEY');
    assert.equal(
      configError({}, { authKey: secrets.authKey, sccAuthKey: secrets.authKey }).variable,
      'SCC_AUTH_KEY',
    );
  });

  it('batches publishes to the brokers for 5 ms unless told otherwise, 0 turning it off', function () {
    assert.equal(parseConfig({}, secrets).sccPubSubBatchDuration, 5);
    assert.equal(parseConfig({ SCC_PUB_SUB_BATCH_DURATION: '20' }, secrets).sccPubSubBatchDuration, 20);
    assert.equal(parseConfig({ SCC_PUB_SUB_BATCH_DURATION: '0' }, secrets).sccPubSubBatchDuration, null);
    assert.equal(configError({ SCC_PUB_SUB_BATCH_DURATION: '-1' }).variable, 'SCC_PUB_SUB_BATCH_DURATION');
    assert.equal(configError({ SCC_PUB_SUB_BATCH_DURATION: 'soon' }).variable, 'SCC_PUB_SUB_BATCH_DURATION');
    assert.equal(parseConfig({}, secrets).revocationPollInterval, 50);
  });

  it('parses the operations settings: METRICS_PORT (0 = off), LOG_FORMAT, LOG_LEVEL', function () {
    const defaults = parseConfig({}, secrets);
    assert.equal(defaults.metricsPort, 9464);
    assert.equal(defaults.logLevel, 'info');
    // Tests never run on a terminal: JSON unless asked for.
    assert.equal(defaults.logFormat, process.stdout.isTTY === true ? 'pretty' : 'json');
    const set = parseConfig({ METRICS_PORT: '0', LOG_FORMAT: 'pretty', LOG_LEVEL: 'debug' }, secrets);
    assert.equal(set.metricsPort, null);
    assert.equal(set.logFormat, 'pretty');
    assert.equal(set.logLevel, 'debug');
    assert.equal(parseConfig({ LOG_FORMAT: 'json' }, secrets).logFormat, 'json');
    assert.equal(configError({ METRICS_PORT: '70000' }).variable, 'METRICS_PORT');
    assert.equal(configError({ METRICS_PORT: 'nine' }).variable, 'METRICS_PORT');
    assert.equal(configError({ LOG_FORMAT: 'xml' }).variable, 'LOG_FORMAT');
    assert.equal(configError({ LOG_LEVEL: 'loud' }).variable, 'LOG_LEVEL');
  });

  it('applies the defaults of the limits and proxy settings', function () {
    const config = parseConfig({ HOST: '127.0.0.1' }, secrets);
    assert.deepEqual(config.trustProxy, []);
    assert.equal(config.publicUrl, null);
    assert.deepEqual(config.loginRateLimit, { max: 60, windowSeconds: 60 });
    assert.deepEqual(config.loginFailureLimit, { perPair: 5, perAccount: 100, windowSeconds: 900 });
    assert.equal(config.socketRateLimit, 200);
    assert.equal(config.maxConnectionsPerAddress, 500);
    assert.equal(config.unauthenticatedTimeout, 30);
    assert.equal(config.sccBindHost, '127.0.0.1');
    assert.equal(config.passwordMinLength, 10);
  });

  it('parses TRUST_PROXY addresses and CIDRs and refuses anything else', function () {
    const config = parseConfig({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1,::1, fd00::/8' }, secrets);
    assert.deepEqual(config.trustProxy, ['10.0.0.0/8', '127.0.0.1', '::1', 'fd00::/8']);
    for (const bad of ['10.0.0.0/33', 'proxy.internal', '10.0.0.1/8/2', '::1/129', '*']) {
      assert.equal(configError({ TRUST_PROXY: bad }).variable, 'TRUST_PROXY', bad);
    }
  });

  it('derives the allowed origins from PUBLIC_URL unless ALLOWED_ORIGINS is set', function () {
    const fromPublic = parseConfig({ PUBLIC_URL: 'https://rt.example.com/app' }, secrets);
    assert.equal(fromPublic.publicUrl, 'https://rt.example.com');
    assert.deepEqual(fromPublic.allowedOrigins, ['https://rt.example.com']);
    const both = parseConfig(
      { PUBLIC_URL: 'https://rt.example.com', ALLOWED_ORIGINS: 'https://app.example.com' },
      secrets,
    );
    assert.deepEqual(both.allowedOrigins, ['https://app.example.com']);
    assert.equal(configError({ PUBLIC_URL: 'ftp://x.example' }).variable, 'PUBLIC_URL');
    assert.equal(configError({ PUBLIC_URL: 'not a url' }).variable, 'PUBLIC_URL');
  });

  it('names the variable of a bad limit', function () {
    for (const variable of [
      'LOGIN_FAILURE_LIMIT',
      'LOGIN_FAILURE_WINDOW',
      'LOGIN_ACCOUNT_FAILURE_LIMIT',
      'SOCKET_RATE_LIMIT',
      'MAX_CONNECTIONS_PER_ADDRESS',
      'UNAUTHENTICATED_TIMEOUT',
      'PASSWORD_MIN_LENGTH',
    ]) {
      assert.equal(configError({ [variable]: '0' }).variable, variable);
      assert.equal(configError({ [variable]: 'many' }).variable, variable);
    }
  });

  it('turns OpenID Connect on with OIDC_ISSUER, requiring an audience and asymmetric algorithms', function () {
    assert.equal(parseConfig({}, secrets).oidc, null);
    const config = parseConfig(
      { OIDC_ISSUER: 'https://kc.example.com/realms/acme/', OIDC_AUDIENCE: 'warden-app, account' },
      secrets,
    );
    assert.deepEqual(config.oidc, {
      issuer: 'https://kc.example.com/realms/acme',
      audiences: ['warden-app', 'account'],
      jwksUri: null,
      algorithms: ['RS256', 'PS256', 'ES256'],
      usernameClaim: 'preferred_username',
      rolesClaim: 'realm_access.roles',
      clockTolerance: 30,
    });
    const issuer = { OIDC_ISSUER: 'https://kc.example.com/realms/acme' };
    assert.equal(configError(issuer).variable, 'OIDC_AUDIENCE');
    assert.equal(
      configError({ ...issuer, OIDC_AUDIENCE: 'a', OIDC_ALGORITHMS: 'RS256,HS256' }).variable,
      'OIDC_ALGORITHMS',
    );
    assert.equal(
      configError({ ...issuer, OIDC_AUDIENCE: 'a', OIDC_ALGORITHMS: 'none' }).variable,
      'OIDC_ALGORITHMS',
    );
    assert.equal(
      configError({ OIDC_ISSUER: 'http://kc.example.com', OIDC_AUDIENCE: 'a' }).variable,
      'OIDC_ISSUER',
    );
    assert.equal(
      parseConfig({ OIDC_ISSUER: 'http://127.0.0.1:8080/realms/x', OIDC_AUDIENCE: 'a' }, secrets).oidc
        ?.issuer,
      'http://127.0.0.1:8080/realms/x',
    );
  });

  it('parses ALLOWED_ORIGINS into a list', function () {
    const config = parseConfig({ ALLOWED_ORIGINS: 'https://a.example, http://localhost:3000/' }, secrets);
    assert.deepEqual(config.allowedOrigins, ['https://a.example', 'http://localhost:3000']);
  });

  it('turns gateway identity on with GATEWAY_IDENTITY_HEADER, requiring the gateway and a long secret', function () {
    assert.equal(parseConfig({}, secrets).gateway, null);
    const gateway = {
      GATEWAY_IDENTITY_HEADER: 'X-Userinfo',
      GATEWAY_TRUSTED_PROXIES: '10.0.0.0/8, 192.0.2.7',
    };
    const config = parseConfig(gateway, secrets);
    assert.deepEqual(config.gateway, {
      identityHeader: 'x-userinfo',
      trustedProxies: ['10.0.0.0/8', '192.0.2.7'],
      secretHeader: null,
      secret: null,
      unauthAction: 'deny',
      usernameClaim: 'preferred_username',
      rolesClaim: 'realm_access.roles',
    });
    assert.equal(Object.isFrozen(config.gateway), true);
    const withSecret = parseConfig(
      {
        ...gateway,
        GATEWAY_SECRET_HEADER: 'X-Gateway-Secret',
        GATEWAY_SECRET: 'g'.repeat(32),
        GATEWAY_UNAUTH_ACTION: 'pass',
        OIDC_ROLES_CLAIM: 'roles',
      },
      secrets,
    );
    assert.equal(withSecret.gateway?.secretHeader, 'x-gateway-secret');
    assert.equal(withSecret.gateway?.unauthAction, 'pass');
    assert.equal(withSecret.gateway?.rolesClaim, 'roles');
    assert.equal(configError({ GATEWAY_IDENTITY_HEADER: 'X-Userinfo' }).variable, 'GATEWAY_TRUSTED_PROXIES');
    assert.equal(
      configError({ ...gateway, GATEWAY_TRUSTED_PROXIES: '10.0.0.0/33' }).variable,
      'GATEWAY_TRUSTED_PROXIES',
    );
    assert.equal(
      configError({ ...gateway, GATEWAY_IDENTITY_HEADER: 'X Userinfo' }).variable,
      'GATEWAY_IDENTITY_HEADER',
    );
    assert.equal(
      configError({ ...gateway, GATEWAY_SECRET: 'g'.repeat(32) }).variable,
      'GATEWAY_SECRET_HEADER',
    );
    assert.equal(configError({ ...gateway, GATEWAY_SECRET_HEADER: 'X-S' }).variable, 'GATEWAY_SECRET');
    const short = configError({
      ...gateway,
      GATEWAY_SECRET_HEADER: 'X-S',
      GATEWAY_SECRET: 'tooshort-secret',
    });
    assert.equal(short.variable, 'GATEWAY_SECRET');
    assert.equal(short.message.includes('tooshort-secret'), false, 'the secret is not quoted');
    assert.equal(
      configError({ ...gateway, GATEWAY_SECRET_HEADER: 'x-userinfo', GATEWAY_SECRET: 'g'.repeat(32) })
        .variable,
      'GATEWAY_SECRET_HEADER',
    );
    assert.equal(
      configError({ ...gateway, GATEWAY_UNAUTH_ACTION: 'allow' }).variable,
      'GATEWAY_UNAUTH_ACTION',
    );
    assert.equal(configError({ GATEWAY_TRUSTED_PROXIES: '10.0.0.1' }).variable, 'GATEWAY_TRUSTED_PROXIES');
  });

  it('turns anonymous access on with ANONYMOUS=on and validates its patterns', function () {
    assert.equal(parseConfig({ ANONYMOUS_SUBSCRIBE: 'news.*' }, secrets).anonymous, null);
    const config = parseConfig(
      { ANONYMOUS: 'on', ANONYMOUS_SUBSCRIBE: 'news.*, status.>', ANONYMOUS_INVOKE: 'ping' },
      secrets,
    );
    assert.deepEqual(config.anonymous, { subscribe: ['news.*', 'status.>'], publish: [], invoke: ['ping'] });
    assert.equal(configError({ ANONYMOUS: 'yes' }).variable, 'ANONYMOUS');
    assert.equal(configError({ ANONYMOUS: 'on', ANONYMOUS_PUBLISH: 'a..b' }).variable, 'ANONYMOUS_PUBLISH');
    assert.equal(
      configError({ ANONYMOUS: 'on', ANONYMOUS_SUBSCRIBE: '#publish' }).variable,
      'ANONYMOUS_SUBSCRIBE',
    );
    assert.equal(configError({ ANONYMOUS: 'on', ANONYMOUS_INVOKE: 'a.>.b' }).variable, 'ANONYMOUS_INVOKE');
  });

  it('parses the browser-credential settings: tickets, cookies, registration', function () {
    const defaults = parseConfig({}, secrets);
    assert.deepEqual(
      [defaults.ticketTtl, defaults.authCookie, defaults.registration, defaults.registrationRoles],
      [30, false, 'closed', ['user']],
    );
    const set = parseConfig(
      { TICKET_TTL: '5', AUTH_COOKIE: 'on', REGISTRATION: 'invite', REGISTRATION_ROLES: 'user, reader' },
      secrets,
    );
    assert.deepEqual(
      [set.ticketTtl, set.authCookie, set.registration, set.registrationRoles],
      [5, true, 'invite', ['user', 'reader']],
    );
    assert.equal(Object.isFrozen(set.registrationRoles), true);
    for (const [variable, value] of [
      ['TICKET_TTL', '0'],
      ['TICKET_TTL', '601'],
      ['AUTH_COOKIE', 'yes'],
      ['REGISTRATION', 'public'],
      ['REGISTRATION_ROLES', 'user,a.b'],
    ] as const) {
      assert.equal(configError({ [variable]: value }).variable, variable, `${variable}=${value}`);
    }
  });

  describe('secrets', function () {
    let dir: string;
    beforeEach(function () {
      dir = mkdtempSync(join(tmpdir(), 'warden-config-'));
    });
    afterEach(function () {
      rmSync(dir, { recursive: true, force: true });
    });

    it('refuses to generate secrets in production', function () {
      assert.throws(
        () => resolveSecrets({ NODE_ENV: 'production', DATA_DIR: dir }),
        (error: ConfigError) => error.variable === 'AUTH_KEY',
      );
      assert.throws(
        () => resolveSecrets({ NODE_ENV: 'production', DATA_DIR: dir, AUTH_KEY: 'a'.repeat(40) }),
        (error: ConfigError) => error.variable === 'SCC_AUTH_KEY',
      );
    });

    it('generates development keys once, mode 0600, and reuses them', function () {
      const first = resolveSecrets({ DATA_DIR: dir });
      const second = resolveSecrets({ DATA_DIR: dir });
      assert.deepEqual(first, second);
      assert.ok(Buffer.byteLength(first.authKey) >= 32);
      assert.notEqual(first.authKey, first.sccAuthKey);
      assert.equal(statSync(join(dir, 'auth.key')).mode & 0o777, 0o600);
      assert.equal(readFileSync(join(dir, 'auth.key'), 'utf8').trim(), first.authKey);
    });

    it('reads AUTH_KEY_FILE and names it when unreadable', function () {
      assert.throws(
        () => resolveSecrets({ DATA_DIR: dir, AUTH_KEY_FILE: join(dir, 'missing') }),
        (error: ConfigError) => error.variable === 'AUTH_KEY_FILE',
      );
    });
  });
});
