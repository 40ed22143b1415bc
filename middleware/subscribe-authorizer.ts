import { WardenError } from '../errors/catalogue.ts';
import { channelProblem, permissionsOf } from '../auth/permissions.ts';
import { claimsOf } from '../sockets/socket-facade.ts';
import type { Authorizer } from './action.ts';
import { anonymousMatcher } from './anonymous.ts';

export interface SubscribeAuthorizerOptions {
  /** Most channels one socket may be subscribed to. */
  readonly maxChannels: number;
  /** Channels an unauthenticated socket may subscribe to (ANONYMOUS_SUBSCRIBE with ANONYMOUS=on). */
  readonly anonymous?: readonly string[];
}

/**
 * Authorizes SUBSCRIBE from the token's `subscribe` patterns, deny by default, and caps the
 * number of channels per socket. Refusals arrive on the client as `subscribeFail` with a
 * SubscribeError whose `reason` says why. With `anonymous` patterns an unauthenticated socket may
 * subscribe to exactly those channels (the channel cap applies to it too).
 *
 * @example
 *   const authorizeSubscribe = createSubscribeAuthorizer({ maxChannels: 1000 });
 */
export function createSubscribeAuthorizer(options: SubscribeAuthorizerOptions): Authorizer {
  if (!Number.isInteger(options.maxChannels) || options.maxChannels < 1) {
    throw new TypeError('createSubscribeAuthorizer: maxChannels must be a positive integer');
  }
  const anonymous = anonymousMatcher('createSubscribeAuthorizer', options.anonymous);
  return function authorizeSubscribe(action) {
    const channel = action.channel;
    const problem = channelProblem(channel);
    if (problem !== null)
      throw new WardenError('SubscribeError', problem, { details: { reason: 'invalid-channel' } });
    const socket = action.socket;
    const claims = socket ? claimsOf(socket) : null;
    if (socket === undefined || (claims === null && !anonymous(channel as string))) {
      throw new WardenError('SubscribeError', 'log in before subscribing', {
        details: { reason: 'unauthenticated' },
      });
    }
    if (claims !== null && !permissionsOf(claims).canSubscribe(channel as string)) {
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
