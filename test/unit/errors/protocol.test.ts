import assert from 'node:assert/strict';
import * as client from '../../../client/src/index.ts';
import { ERRORS, WardenError } from '../../../errors/catalogue.ts';
import { CloseCodes } from '../../../errors/close-codes.ts';
import { AUTH_ENDED_EVENT } from '../../../sockets/auth-lifecycle.ts';

describe('the protocol module the server and the client package share', function () {
  it('is where the server takes its error table, close codes and auth-ended event from: the same objects, not copies', function () {
    assert.equal(client.ERRORS, ERRORS);
    assert.equal(client.CloseCodes, CloseCodes);
    assert.equal(client.AUTH_ENDED_EVENT, AUTH_ENDED_EVENT);
  });

  it('gives a server error the name and code a client sees', function () {
    const error = new WardenError('PublishError', 'no');
    assert.equal(error.code, client.ERRORS.PublishError.code);
    const seen = client.WardenClientError.from(JSON.parse(JSON.stringify(error.toJSON().error)));
    assert.equal(seen.name, 'PublishError');
    assert.equal(seen.code, 'PUBLISH_FORBIDDEN');
  });

  it('treats exactly the close codes at or above 4500 as terminal', function () {
    assert.equal(client.isTerminalCloseCode(CloseCodes.ORIGIN_FORBIDDEN), true);
    assert.equal(client.isTerminalCloseCode(CloseCodes.GATEWAY_IDENTITY_REQUIRED), true);
    assert.equal(client.isTerminalCloseCode(CloseCodes.WORKER_DRAINING), false);
    assert.equal(client.isTerminalCloseCode(CloseCodes.UNAUTHENTICATED_TIMEOUT), false);
  });
});
