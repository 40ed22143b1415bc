/**
 * warden-client: connect to a Warden server from a browser or from Node, log in, and follow the
 * authentication as the server renews and ends it.
 *
 * @example
 *   import { createWardenClient } from 'warden-client';
 *   const warden = createWardenClient({ url: 'https://rt.example.com' });
 *   warden.on('authEnded', ({ reason }) => console.log('logged out:', reason));
 *   warden.on('message', ({ channel, data }) => console.log(channel, data));
 *   await warden.login('alice', password);
 *   await warden.subscribe('chat.lobby');
 *   await warden.publish('chat.lobby', { text: 'hello' }); // rejects with a PublishError if refused
 */
import { WardenClient, type WardenClientOptions } from './client.ts';

/**
 * Creates a client and connects it (unless `lazy`). In a page, `url` defaults to the page's
 * origin and the `token` mode keeps the token in localStorage `socketcluster.authToken`; in Node
 * the token is kept in memory unless `storage` says otherwise.
 *
 * @example
 *   const warden = createWardenClient({ url: 'http://localhost:8000', mode: 'token' });
 *   await warden.login('alice', password);
 *   warden.state; // 'authenticated'
 */
export function createWardenClient(options: WardenClientOptions = {}): WardenClient {
  return new WardenClient(options);
}

export {
  RECONNECT_OPTIONS,
  WardenClient,
  WardenClientError,
  type Claims,
  type ClientMode,
  type ClientState,
  type ConnectionState,
  type WardenClientOptions,
  type WardenEventName,
  type WardenEvents,
} from './client.ts';
export { localTokenStorage, memoryTokenStorage, type TokenStorage } from './storage.ts';
export {
  AUTH_ENDED_EVENT,
  AUTH_ENDED_REASONS,
  AUTH_TOKEN_NAME,
  CloseCodes,
  ERRORS,
  HELLO_EVENT,
  isTerminalCloseCode,
  type AuthEndedPayload,
  type AuthEndedReason,
  type CloseCode,
  type WardenErrorCode,
  type WardenErrorName,
} from './protocol.ts';
