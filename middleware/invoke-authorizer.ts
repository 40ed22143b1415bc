import { WardenError } from '../errors/catalogue.ts';
import { permissionsOf } from '../auth/permissions.ts';
import { literalNameProblem } from '../auth/patterns.ts';
import { claimsOf } from '../sockets/socket-facade.ts';
import type { Authorizer } from './action.ts';
import { anonymousMatcher } from './anonymous.ts';

export interface InvokeAuthorizerOptions {
  /** Procedures this server answers; anything else is refused as unknown. */
  readonly procedures: ReadonlySet<string>;
  /** Procedures any socket may invoke, authenticated or not (login). */
  readonly public: ReadonlySet<string>;
  /** Procedures any authenticated socket may invoke whatever its claims (logout). */
  readonly authenticated: ReadonlySet<string>;
  /** Procedures an unauthenticated socket may invoke too (ANONYMOUS_INVOKE with ANONYMOUS=on). */
  readonly anonymous?: readonly string[];
}

/**
 * Authorizes INVOKE and TRANSMIT from the token's `invoke` patterns. An unauthenticated socket
 * may only invoke the public procedures (and the known ones matching `anonymous`); an unknown procedure is refused at once (otherwise the
 * client would wait for its ack timeout).
 *
 * @example
 *   const authorizeInvoke = createInvokeAuthorizer({
 *     procedures: new Set(['login', 'logout', 'whoami']),
 *     public: new Set(['login']),
 *     authenticated: new Set(['logout']),
 *   });
 */
export function createInvokeAuthorizer(options: InvokeAuthorizerOptions): Authorizer {
  for (const name of [...options.public, ...options.authenticated]) {
    if (!options.procedures.has(name))
      throw new TypeError(`createInvokeAuthorizer: "${name}" is not a known procedure`);
  }
  const anonymous = anonymousMatcher('createInvokeAuthorizer', options.anonymous);
  return function authorizeInvoke(action) {
    const name = action.type === 'invoke' ? action.procedure : action.receiver;
    const problem = literalNameProblem(name);
    if (problem !== null)
      throw new WardenError('InvokeError', `procedure name ${problem}`, {
        details: { reason: 'invalid-name' },
      });
    const procedure = name as string;
    if (options.public.has(procedure)) return;
    const claims = action.socket ? claimsOf(action.socket) : null;
    if (claims === null) {
      if (options.procedures.has(procedure) && anonymous(procedure)) return;
      throw new WardenError('InvokeError', `log in before invoking "${procedure}"`, {
        details: { reason: 'unauthenticated' },
      });
    }
    if (!options.procedures.has(procedure)) {
      throw new WardenError('InvokeError', `unknown procedure "${procedure}"`, {
        details: { reason: 'unknown-procedure' },
      });
    }
    if (options.authenticated.has(procedure)) return;
    if (!permissionsOf(claims).canInvoke(procedure)) {
      throw new WardenError('InvokeError', `invoking "${procedure}" is not allowed by your token`, {
        details: { reason: 'not-allowed' },
      });
    }
  };
}
