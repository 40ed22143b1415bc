import { WardenError } from '../errors/catalogue.ts';
import { channelProblem, permissionsOf } from '../auth/permissions.ts';
import { claimsOf } from '../sockets/socket-facade.ts';
import type { Authorizer } from './action.ts';

/**
 * Authorizes PUBLISH_IN from the token's `publish` patterns. Deny by default: an unauthenticated
 * socket, a non-literal or reserved channel name, or a channel outside the claims is refused
 * with a PublishError whose `reason` says which.
 *
 * @example
 *   const authorizePublish = createPublishAuthorizer();
 *   authorizePublish(action); // throws WardenError('PublishError', ...)
 */
export function createPublishAuthorizer(): Authorizer {
  return function authorizePublish(action) {
    const channel = action.channel;
    const problem = channelProblem(channel);
    if (problem !== null)
      throw new WardenError('PublishError', problem, { details: { reason: 'invalid-channel' } });
    const claims = action.socket ? claimsOf(action.socket) : null;
    if (claims === null) {
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
