import assert from 'node:assert/strict';
import jwt from 'jsonwebtoken';
import { idpSessionId } from '../../../auth/credentials.ts';
import type { TokenClaims } from '../../../auth/tokens.ts';
import { connectClient, rejection, type TestClient } from '../../helpers/clients.ts';
import { CLIENT_ID, startOidcProvider, type TestOidcProvider } from '../../helpers/oidc-provider.ts';
import { startTestWarden, testSecrets, type TestWarden } from '../../helpers/warden.ts';

/**
 * Warden with OIDC_ISSUER pointing at a real OpenID provider (oidc-provider on loopback, issuing
 * Keycloak-shaped access tokens): the access token on the socket itself, exchanged for a Warden
 * session over HTTP or `invoke('login')`, and ended by the provider's back-channel logout on
 * every worker.
 */
describe('OpenID Connect identities', function () {
  this.timeout(60_000);
  let idp: TestOidcProvider;
  let a: TestWarden;
  let b: TestWarden;
  let clock = Date.now();
  const clients: TestClient[] = [];

  before(async function () {
    idp = await startOidcProvider({ accessTokenTtl: 300 });
    const env = { OIDC_ISSUER: idp.issuer, OIDC_AUDIENCE: CLIENT_ID };
    const secrets = testSecrets();
    a = await startTestWarden(env, { secrets, now: () => clock });
    b = await startTestWarden(env, { secrets, databaseUrl: a.databaseUrl, now: () => clock });
    idp.backchannel.forwardTo(`${a.url}/auth/oidc/backchannel-logout`);
    await a.worker.store.createRole({
      name: 'chat',
      publish: ['chat.*', 'user.{username}.>'],
      subscribe: ['chat.*'],
      invoke: ['whoami'],
    });
  });
  after(async function () {
    for (const client of clients) client.socket.disconnect();
    await b?.close();
    await a?.close();
    await idp?.close();
  });
  beforeEach(function () {
    clock = Date.now();
  });

  async function connect(warden: TestWarden, token?: string) {
    const client = await connectClient(warden.port, token === undefined ? {} : { token });
    clients.push(client);
    return client;
  }

  const claimsOn = (warden: TestWarden, username: string) =>
    warden.worker.registry
      .all()
      .map((socket) => warden.worker.registry.claims(socket))
      .filter((claims): claims is TokenClaims => claims?.username === username);

  it('authenticates a socket whose token is the access token, until its exp, and does not renew it', async function () {
    const token = await idp.mintAccessToken({ account: 'ada', roles: ['chat'] });
    const client = await connect(a, token);
    assert.equal(client.status.isAuthenticated, true, JSON.stringify(client.status.authError));
    const [claims] = claimsOn(a, 'ada');
    assert.equal(claims?.idp, idp.issuer);
    assert.deepEqual(claims?.roles, ['chat']);
    assert.equal(claims?.exp, (jwt.decode(token) as { exp: number }).exp);
    // Its claims are its roles' patterns, placeholders filled in.
    assert.deepEqual(claims?.publish, ['chat.*', 'user.ada.>']);
    await client.socket.invokePublish('chat.lobby', 'hello');
    const refused = await rejection(client.socket.invokePublish('news', 'no'));
    assert.equal(refused.name, 'PublishError');
    assert.equal(((await client.socket.invoke('whoami', {})) as { username: string }).username, 'ada');
    // Past the token's exp: the server ends the socket's authentication and says why.
    const ended = client.socket.receiver('warden:authEnded').once();
    clock = (claims?.exp ?? 0) * 1000 + 1;
    a.worker.lifecycle.runDue();
    assert.equal(((await ended) as { name: string }).name, 'AuthTokenExpiredError');
    assert.equal(claimsOn(a, 'ada').length, 0);
  });

  it('re-authenticates a socket with a fresh access token', async function () {
    const client = await connect(a);
    await client.socket.authenticate(await idp.mintAccessToken({ account: 'bea' }));
    assert.equal(client.socket.authState, 'authenticated');
    await client.socket.authenticate(await idp.mintAccessToken({ account: 'bea' }));
    assert.equal(claimsOn(a, 'bea').length, 1);
  });

  it('refuses refresh tokens, ID tokens and tokens of another audience on the socket', async function () {
    const now = Math.floor(Date.now() / 1000);
    const base = { iss: idp.issuer, sub: 'cid', azp: CLIENT_ID, iat: now, exp: now + 300 };
    for (const token of [
      await idp.sign({ ...base, typ: 'Refresh', aud: idp.issuer }),
      await idp.sign({ ...base, typ: 'ID', aud: CLIENT_ID }),
      await idp.sign({ ...base, typ: 'Bearer', aud: 'other-app', azp: 'other-app' }),
    ]) {
      const client = await connect(a, token);
      assert.equal(client.status.isAuthenticated, false);
      assert.equal(client.status.authError?.name, 'AuthTokenInvalidError');
    }
  });

  it('exchanges an access token for a renewable Warden session bound to the IdP session, over HTTP and on the socket', async function () {
    const session = await idp.login({ account: 'cy', roles: ['chat'] });
    const response = await fetch(`${a.url}/auth/exchange`, {
      method: 'POST',
      headers: { authorization: `Bearer ${session.accessToken}` },
    });
    assert.equal(response.status, 200);
    const { token } = (await response.json()) as { token: string };
    const claims = jwt.decode(token) as TokenClaims;
    assert.equal(claims.username, 'cy');
    assert.equal(claims.idp, idp.issuer);
    assert.equal(claims.sid, idpSessionId(idp.issuer, session.sid));
    assert.deepEqual(claims.subscribe, ['chat.*']);
    const client = await connect(b, token);
    assert.equal(client.status.isAuthenticated, true);
    // Renewed like a local session: a new Warden token, same session.
    const renewed = client.socket.listener('authenticate').once();
    await b.worker.lifecycle.renew(
      b.worker.registry.all().find((s) => b.worker.registry.claims(s)?.username === 'cy')!,
    );
    await renewed;
    const next = jwt.decode(client.socket.signedAuthToken as string) as TokenClaims;
    assert.notEqual(next.jti, claims.jti);
    assert.equal(next.sid, claims.sid);

    const other = await connect(a);
    const result = (await other.socket.invoke('login', { accessToken: session.accessToken })) as {
      username: string;
    };
    assert.equal(result.username, 'cy');
  });

  it('answers a garbage access token with a named error', async function () {
    const response = await fetch(`${a.url}/auth/exchange`, {
      method: 'POST',
      headers: { authorization: 'Bearer not.a.token' },
    });
    assert.equal(response.status, 401);
    assert.equal(
      ((await response.json()) as { error: { name: string } }).error.name,
      'AuthTokenInvalidError',
    );
    const client = await connect(a);
    const error = await rejection(client.socket.invoke('login', { accessToken: 42 }));
    assert.equal(error.name, 'AuthTokenInvalidError');
  });

  it('ends every socket and session of an IdP session on every worker when the provider logs it out', async function () {
    const session = await idp.login({ account: 'dee', roles: ['chat'] });
    const direct = await connect(a, session.accessToken);
    const exchanged = (await (
      await fetch(`${a.url}/auth/exchange`, {
        method: 'POST',
        headers: { authorization: `Bearer ${session.accessToken}` },
      })
    ).json()) as { token: string };
    const onB = await connect(b, exchanged.token);
    assert.equal(direct.status.isAuthenticated && onB.status.isAuthenticated, true);
    const endedA = direct.socket.receiver('warden:authEnded').once();
    const endedB = onB.socket.receiver('warden:authEnded').once();
    await session.logout(); // the provider POSTs its logout token to worker a
    await endedA;
    await b.worker.feed.poll(); // worker b hears of it through the store's log (or the bus)
    await endedB;
    // From then on the access token of that session is refused, on both workers.
    const again = await connect(b, session.accessToken);
    assert.equal(again.status.authError?.name, 'AuthTokenRevokedError');
  });

  it('answers 400 to a replayed or forged logout token and 200 to one for an unknown session', async function () {
    await idp.sendBackchannelLogout('nobody', 'unknown-session');
    const forged = await fetch(`${a.url}/auth/oidc/backchannel-logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'logout_token=eyJhbGciOiJub25lIn0.e30.',
    });
    assert.equal(forged.status, 400);
  });

  it('refuses a logout token replayed to another worker (the replay check is cluster-wide)', async function () {
    const session = await idp.login({ account: 'eve' });
    idp.backchannel.forwardTo(null);
    await session.logout();
    // The receiver keeps every logout token it saw: take this session's.
    let token = await idp.backchannel.next();
    while ((jwt.decode(token) as { sid?: string }).sid !== session.sid) token = await idp.backchannel.next();
    idp.backchannel.forwardTo(`${a.url}/auth/oidc/backchannel-logout`);
    const post = (warden: TestWarden) =>
      fetch(`${warden.url}/auth/oidc/backchannel-logout`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ logout_token: token }).toString(),
      });
    const first = await post(a);
    assert.equal(first.status, 200, await first.text());
    const replay = await post(b);
    assert.equal(replay.status, 400);
    assert.equal(
      ((await replay.json()) as { error: { reason: string } }).error.reason,
      'logout-token-replayed',
    );
  });

  it('applies a role change at once to a socket authenticated by its access token, kicking what is no longer allowed', async function () {
    await a.worker.store.createRole({ name: 'radio', publish: [], subscribe: ['radio.*'], invoke: [] });
    const client = await connect(a, await idp.mintAccessToken({ account: 'fay', roles: ['radio'] }));
    assert.equal(client.status.isAuthenticated, true);
    const channel = client.socket.subscribe('radio.one');
    await channel.listener('subscribe').once();
    const kicked = client.socket.listener('kickOut').once();
    // As `warden role set radio --subscribe 'tv.*'` does it: the role, then the event workers follow.
    await a.worker.store.updateRole('radio', { subscribe: ['tv.*'] });
    const nowSeconds = Math.floor(Date.now() / 1000);
    await a.worker.store.appendEvent({
      kind: 'role-changed',
      subject: 'radio',
      value: 0,
      expiresAt: nowSeconds + 300,
    });
    await a.worker.feed.poll();
    assert.equal(((await kicked) as { channel: string }).channel, 'radio.one');
    const [claims] = claimsOn(a, 'fay');
    assert.deepEqual(claims?.subscribe, ['tv.*']);
    assert.equal(claims?.direct, true, 'still the access token session, not a Warden token');
  });
});
