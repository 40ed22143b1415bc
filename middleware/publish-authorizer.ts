import { WardenError } from '../errors/catalogue.ts';
import { channelProblem, permissionsOf } from '../auth/permissions.ts';
import { claimsOf } from '../sockets/socket-facade.ts';
import type { Authorizer } from './action.ts';
import { anonymousMatcher } from './anonymous.ts';

export interface PublishAuthorizerOptions {
  /** Channels an unauthenticated socket may publish to (ANONYMOUS_PUBLISH with ANONYMOUS=on). */
  readonly anonymous?: readonly string[];
}

/**
 * Authorizes PUBLISH_IN from the token's `publish` patterns. Deny by default: an unauthenticated
 * socket, a non-literal or reserved channel name, or a channel outside the claims is refused
 * with a PublishError whose `reason` says which. With `anonymous` patterns an unauthenticated
 * socket may publish to exactly those channels.
 *
 * @example
 *   const authorizePublish = createPublishAuthorizer({ anonymous: config.anonymous?.publish ?? [] });
 *   authorizePublish(action); // throws WardenError('PublishError', ...)
 */
export function createPublishAuthorizer(options: PublishAuthorizerOptions = {}): Authorizer {
  const anonymous = anonymousMatcher('createPublishAuthorizer', options.anonymous);
  return function authorizePublish(action) {
    const channel = action.channel;
    const problem = channelProblem(channel);
    if (problem !== null)
      throw new WardenError('PublishError', problem, { details: { reason: 'invalid-channel' } });
    const claims = action.socket ? claimsOf(action.socket) : null;
    if (claims === null) {
      if (anonymous(channel as string)) return;
      const expired = action.authTokenExpiredError !== undefined;
      throw new WardenError(
        'PublishError',
        expired ? 'your auth token has expired; log in again' : 'log in before publishing',
        {
          details: { reason: expired ? 'token-expired' : 'unauthenticated' },
        },
      );
    }
    if (!permissionsOf(claims).canPublish(channel as string)) {
      throw new WardenError('PublishError', `publishing to "${channel}" is not allowed by your token`, {
        details: { reason: 'not-allowed' },
      });
    }
  };
}
