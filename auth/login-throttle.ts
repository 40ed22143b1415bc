import { WardenError } from '../errors/catalogue.ts';
import type { AttemptCount, AttemptCounter, Store } from '../store/types.ts';

export interface LoginThrottleOptions {
  readonly store: Store;
  /** LOGIN_FAILURE_LIMIT: failures per (username, client address) in `failureWindow`. */
  readonly perPair: number;
  /** LOGIN_ACCOUNT_FAILURE_LIMIT: failures per username from all addresses in `failureWindow`. */
  readonly perAccount: number;
  /** LOGIN_FAILURE_WINDOW, seconds. */
  readonly failureWindow: number;
  /** LOGIN_RATE_LIMIT / LOGIN_RATE_WINDOW: failures per client address, all usernames. */
  readonly perAddress: number;
  readonly addressWindow: number;
}

/** An attempt admitted by the throttle, counted as a failure until `succeeded()` takes it back. */
export interface LoginAttempt {
  /** Failures (and attempts in flight) of this client address, cluster-wide: its standing. */
  readonly addressCount: number;
  succeeded(): Promise<void>;
  /** Takes the attempt back: it was refused before any password was checked. */
  withdrawn(): Promise<void>;
}

/** Usernames compare as the store does for logins: case and Unicode form do not make a new key. */
function accountKey(username: string): string {
  return username.normalize('NFC').toLowerCase();
}

/**
 * Login throttling that an attacker cannot turn against the users it protects. Every attempt
 * is counted before the password is checked (so attempts in flight count too) and taken back
 * when it succeeds: only failures remain. Three counters, all in the store so that every worker
 * sees the same counts:
 * - per (username, address): a guesser at one account from one address is stopped after
 *   LOGIN_FAILURE_LIMIT, while the account's owner elsewhere is untouched;
 * - per address: one address guessing across many usernames;
 * - per username from every address: a much higher ceiling against a distributed guess. An
 *   address that logged in to that account successfully within the window is exempt, so a
 *   botnet reaching the ceiling does not lock the owner out of where they usually log in from.
 * A refused attempt checks no password and is not counted anywhere.
 *
 * @example
 *   const throttle = new LoginThrottle({ store, perPair: 5, perAccount: 100, failureWindow: 900, perAddress: 60, addressWindow: 60 });
 *   const attempt = await throttle.begin('alice', '203.0.113.7'); // RateLimitError when over
 *   if (passwordOk) await attempt.succeeded();
 */
export class LoginThrottle {
  private readonly pair: AttemptCounter;
  private readonly account: AttemptCounter;
  private readonly address: AttemptCounter;
  private readonly known: AttemptCounter;
  private readonly failureWindow: number;

  constructor(options: LoginThrottleOptions) {
    const window = options.failureWindow;
    this.failureWindow = window;
    this.pair = options.store.attemptCounter({ name: 'pair', limit: options.perPair, windowSeconds: window });
    this.account = options.store.attemptCounter({
      name: 'account',
      limit: options.perAccount,
      windowSeconds: window,
    });
    this.address = options.store.attemptCounter({
      name: 'address',
      limit: options.perAddress,
      windowSeconds: options.addressWindow,
    });
    this.known = options.store.attemptCounter({ name: 'known', limit: 1, windowSeconds: window });
  }

  /** Counts an attempt; throws RateLimitError (with retryAfter) when a limit is reached. */
  async begin(username: string, clientAddress: string): Promise<LoginAttempt> {
    const account = accountKey(username);
    const pairKey = `${account}|${clientAddress}`;
    const [pair, perAccount, perAddress] = await Promise.all([
      this.pair.hit(pairKey),
      this.account.hit(account),
      this.address.hit(clientAddress),
    ]);
    const undo = () =>
      Promise.all([this.pair.undo(pairKey), this.account.undo(account), this.address.undo(clientAddress)]);
    const over: AttemptCount[] = [pair, perAddress].filter((count) => count.over);
    if (perAccount.over && (await this.known.peek(pairKey)) === null) over.push(perAccount);
    if (over.length > 0) {
      await undo();
      const retryAfter = Math.max(1, Math.ceil(Math.max(...over.map((c) => c.retryAfterMs)) / 1000));
      const error = new WardenError('RateLimitError', `too many failed logins; retry in ${retryAfter} s`, {
        details: { retryAfter },
      });
      // Which limit, for the audit trail and the metrics only (not enumerable: never sent).
      const limit =
        over[0] === pair ? 'login-pair' : over[0] === perAddress ? 'login-address' : 'login-account';
      Object.defineProperty(error, 'limit', { value: limit, enumerable: false });
      throw error;
    }
    return {
      addressCount: perAddress.count,
      succeeded: async () => {
        await Promise.all([undo(), this.known.mark(pairKey, this.failureWindow)]);
      },
      withdrawn: async () => {
        await undo();
      },
    };
  }
}
