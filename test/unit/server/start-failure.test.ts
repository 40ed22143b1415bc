import assert from 'node:assert/strict';
import { ConfigError } from '../../../config/index.ts';
import { cannotStartMessage, type ListenSetting } from '../../../server/start-failure.ts';

const worker: ListenSetting = { variable: 'PORT', port: 8000, hostVariable: 'HOST', host: '0.0.0.0' };

/** An error shaped as Node's listen/bind errors are (code, syscall, address, port). */
function listenError(code: string, syscall: string, port: number, address?: string): Error {
  return Object.assign(new Error(`${syscall} ${code}`), { code, syscall, port, address });
}

describe('server/start-failure: one line for a role that cannot start', function () {
  it('names the variable and the port of a port in use, for a lone listen and a node:cluster bind', function () {
    for (const syscall of ['listen', 'bind'])
      assert.equal(
        cannotStartMessage(listenError('EADDRINUSE', syscall, 8000, '127.0.0.1'), [worker]),
        'PORT 8000 is in use on 127.0.0.1; set PORT to a free port',
      );
  });

  it('adds the setting note, and falls back to the configured host', function () {
    const broker = {
      variable: 'SCC_BROKER_SERVER_PORT',
      port: 8889,
      hostVariable: 'SCC_BIND_HOST',
      host: '127.0.0.1',
      note: '(two brokers)',
    };
    assert.equal(
      cannotStartMessage(listenError('EADDRINUSE', 'listen', 8889), [worker, broker]),
      'SCC_BROKER_SERVER_PORT 8889 is in use on 127.0.0.1; set SCC_BROKER_SERVER_PORT to a free port (two brokers)',
    );
  });

  it('explains a privileged port and an address this host does not have', function () {
    assert.match(
      cannotStartMessage(listenError('EACCES', 'listen', 8000), [worker]) ?? '',
      /^PORT 8000 on 0\.0\.0\.0 needs privileges/,
    );
    assert.equal(
      cannotStartMessage(listenError('EADDRNOTAVAIL', 'listen', 8000, '10.9.9.9'), [worker]),
      'HOST 10.9.9.9 is not an address of this host; set HOST to one of its addresses (or 0.0.0.0)',
    );
  });

  it('passes a ConfigError through and leaves every other error to the caller', function () {
    assert.equal(
      cannotStartMessage(new ConfigError('PORT', 'must be a whole number'), []),
      'PORT: must be a whole number',
    );
    assert.equal(cannotStartMessage(listenError('ECONNREFUSED', 'connect', 3306), [worker]), null);
    assert.equal(cannotStartMessage(new Error('boom'), [worker]), null);
    assert.equal(cannotStartMessage('text', [worker]), null);
  });
});
