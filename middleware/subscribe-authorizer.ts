import { WardenError } from '../errors/catalogue.ts';
import { channelProblem, permissionsOf } from '../auth/permissions.ts';
import { claimsOf } from '../sockets/socket-facade.ts';
import type { Authorizer } from './action.ts';

export interface SubscribeAuthorizerOptions {
  /** Most channels one socket may be subscribed to. */
  readonly maxChannels: number;
}

/**
 * Authorizes SUBSCRIBE from the token's `subscribe` patterns, deny by default, and caps the
 * number of channels per socket. Refusals arrive on the client as `subscribeFail` with a
 * SubscribeError whose `reason` says why.
 *
 * @example
 *   const authorizeSubscribe = createSubscribeAuthorizer({ maxChannels: 1000 });
 */
export function createSubscribeAuthorizer(options: SubscribeAuthorizerOptions): Authorizer {
  if (!Number.isInteger(options.maxChannels) || options.maxChannels < 1) {
    throw new TypeError('createSubscribeAuthorizer: maxChannels must be a positive integer');
  }
  return function authorizeSubscribe(action) {
    const channel = action.channel;
    const problem = channelProblem(channel);
    if (problem !== null)
      throw new WardenError('SubscribeError', problem, { details: { reason: 'invalid-channel' } });
    const socket = action.socket;
    const claims = socket ? claimsOf(socket) : null;
    if (socket === undefined || claims === null) {
      throw new WardenError('SubscribeError', 'log in before subscribing', {
        details: { reason: 'unauthenticated' },
      });
    }
    if (!permissionsOf(claims).canSubscribe(channel as string)) {
      throw new WardenError('SubscribeError', `subscribing to "${channel}" is not allowed by your token`, {
        details: { reason: 'not-allowed' },
      });
    }
    if (!socket.isSubscribed(channel as string) && socket.subscriptions().length >= options.maxChannels) {
      throw new WardenError(
        'SubscribeError',
        `a socket may subscribe to at most ${options.maxChannels} channels`,
        {
          details: { reason: 'channel-limit' },
        },
      );
    }
  };
}
