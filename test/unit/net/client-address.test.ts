import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { createClientAddressResolver } from '../../../net/client-address.ts';

function request(peer: string | undefined, forwardedFor?: string | string[]): IncomingMessage {
  return {
    socket: { remoteAddress: peer },
    headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
  } as unknown as IncomingMessage;
}

describe('client address', function () {
  it('is the TCP peer when no proxy is trusted, whatever X-Forwarded-For says', function () {
    const resolve = createClientAddressResolver({ trustProxy: [] });
    assert.equal(resolve(request('198.51.100.9', '203.0.113.7')), '198.51.100.9');
    assert.equal(resolve(request('::ffff:198.51.100.9')), '198.51.100.9');
    assert.equal(resolve(request(undefined)), 'unknown');
  });

  it('reads X-Forwarded-For only from a trusted peer', function () {
    const resolve = createClientAddressResolver({ trustProxy: ['10.0.0.0/8'] });
    assert.equal(resolve(request('10.1.2.3', '203.0.113.7')), '203.0.113.7');
    assert.equal(resolve(request('198.51.100.9', '203.0.113.7')), '198.51.100.9');
    assert.equal(resolve(request('10.1.2.3')), '10.1.2.3');
  });

  it('takes the right-most address that is not a trusted proxy; spoofed entries to its left do not count', function () {
    const resolve = createClientAddressResolver({ trustProxy: ['10.0.0.0/8', '192.0.2.1'] });
    // The client sent "1.1.1.1" itself; the edge proxy 192.0.2.1 appended the real peer.
    assert.equal(resolve(request('10.0.0.5', '1.1.1.1, 203.0.113.7, 192.0.2.1')), '203.0.113.7');
    assert.equal(resolve(request('10.0.0.5', ['1.1.1.1', '203.0.113.7'])), '203.0.113.7');
    // Every hop trusted: the left-most is the best there is.
    assert.equal(resolve(request('10.0.0.5', '10.9.9.9, 192.0.2.1')), '10.9.9.9');
  });

  it('stops at a malformed entry and keeps the proxy that handed it over', function () {
    const resolve = createClientAddressResolver({ trustProxy: ['127.0.0.1', '10.0.0.0/8'] });
    assert.equal(resolve(request('127.0.0.1', '203.0.113.7, garbage')), '127.0.0.1');
    assert.equal(resolve(request('127.0.0.1', '203.0.113.7, unknown, 10.0.0.2')), '10.0.0.2');
    assert.equal(resolve(request('127.0.0.1', '')), '127.0.0.1');
  });

  it('understands IPv6, ports and IPv4-mapped addresses', function () {
    const resolve = createClientAddressResolver({ trustProxy: ['::1', 'fd00::/8', '127.0.0.1'] });
    assert.equal(resolve(request('::1', '[2001:db8::7]:443')), '2001:db8::7');
    assert.equal(resolve(request('::ffff:127.0.0.1', '203.0.113.7:5123')), '203.0.113.7');
    assert.equal(resolve(request('fd00::1', '2001:DB8::8')), '2001:db8::8');
  });
});
