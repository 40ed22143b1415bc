import assert from 'node:assert/strict';
import { AUTH_ENDED_EVENT, type AuthEndedPayload } from '../../../client/src/protocol.ts';
import { connectClient, socketLogin, type TestClient } from '../../helpers/clients.ts';
import { startTestWarden, type TestWarden } from '../../helpers/warden.ts';

/** Every AUTH_ENDED_EVENT payload the socket receives. */
function endsOf(client: TestClient): AuthEndedPayload[] {
  const seen: AuthEndedPayload[] = [];
  void (async () => {
    for await (const payload of client.socket.receiver(AUTH_ENDED_EVENT))
      seen.push(payload as AuthEndedPayload);
  })();
  return seen;
}

describe('the reason the server gives when it ends an authentication', function () {
  let warden: TestWarden;
  const open: TestClient[] = [];
  before(async function () {
    warden = await startTestWarden();
  });
  afterEach(function () {
    for (const client of open.splice(0)) client.socket.disconnect();
  });
  after(async function () {
    await warden?.close();
  });

  it("does not tell a socket that logged out that its token was revoked; the token's other sockets hear logout-elsewhere", async function () {
    const { user, password } = await warden.createUser();
    const own = await connectClient(warden.port);
    open.push(own);
    const token = await socketLogin(own, user.username, password);
    const other = await connectClient(warden.port, { token });
    open.push(other);
    assert.equal(other.status.isAuthenticated, true);
    const ownEnds = endsOf(own);
    const otherEnds = endsOf(other);
    const otherEnded = other.socket.receiver(AUTH_ENDED_EVENT).once();

    await own.socket.invoke('logout', {});
    await otherEnded;
    // A round trip on the own socket: anything the server sent it before has arrived.
    await own.socket.invoke('login', { username: user.username, password });
    assert.deepEqual(ownEnds, []);
    assert.deepEqual(
      otherEnds.map(({ name, reason }) => [name, reason]),
      [['AuthTokenRevokedError', 'logout-elsewhere']],
    );
  });
});
