import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { ConcurrencyLimiter } from './limiter.ts';

/**
 * Password hashing with scrypt (memory-hard; OWASP's recommended floor is N=2^17, r=8, p=1, which
 * takes ~650 ms and 128 MiB here). Hashes are stored with their parameters,
 * `$scrypt$ln=17,r=8,p=1$<salt>$<hash>`, so the cost can be raised later without breaking old ones.
 * Hashing runs in libuv's thread pool, never on the event loop, behind a concurrency cap so that a
 * login flood queues (and is refused past the queue) instead of starving the server.
 *
 * @example
 *   const hasher = new PasswordHasher({ cost: 17 });
 *   const stored = await hasher.hash('correct horse');
 *   await hasher.verify('correct horse', stored); // true
 */
export interface PasswordHasherOptions {
  /** log2 of scrypt's N. */
  readonly cost: number;
  readonly concurrency?: number;
  readonly maxQueue?: number;
}

interface Params {
  ln: number;
  r: number;
  p: number;
}

const KEY_LENGTH = 32;
const SALT_LENGTH = 16;
const FORMAT = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/;

function derive(password: string, salt: Buffer, params: Params): Promise<Buffer> {
  const options: ScryptOptions = {
    N: 2 ** params.ln,
    r: params.r,
    p: params.p,
    // scrypt needs 128 * N * r * p bytes; allow twice that.
    maxmem: 256 * 2 ** params.ln * params.r * params.p,
  };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, KEY_LENGTH, options, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

function parse(stored: string): { params: Params; salt: Buffer; hash: Buffer } | null {
  const match = FORMAT.exec(stored);
  if (match === null) return null;
  const [, ln, r, p, salt, hash] = match;
  const params = { ln: Number(ln), r: Number(r), p: Number(p) };
  if (params.ln < 10 || params.ln > 22 || params.r < 1 || params.p < 1) return null;
  return { params, salt: Buffer.from(salt ?? '', 'base64url'), hash: Buffer.from(hash ?? '', 'base64url') };
}

export class PasswordHasher {
  private readonly params: Params;
  private readonly limiter: ConcurrencyLimiter;
  private dummy: Promise<string> | null = null;

  constructor(options: PasswordHasherOptions) {
    this.params = { ln: options.cost, r: 8, p: 1 };
    this.limiter = new ConcurrencyLimiter(options.concurrency ?? 2, options.maxQueue ?? 64);
  }

  async hash(password: string): Promise<string> {
    const salt = randomBytes(SALT_LENGTH);
    const key = await this.limiter.run(() => derive(password, salt, this.params));
    const { ln, r, p } = this.params;
    return `$scrypt$ln=${ln},r=${r},p=${p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
  }

  /** Constant-time check of `password` against a stored hash; false for a malformed hash. */
  async verify(password: string, stored: string): Promise<boolean> {
    const parsed = parse(stored);
    if (parsed === null) return false;
    const key = await this.limiter.run(() => derive(password, parsed.salt, parsed.params));
    return key.length === parsed.hash.length && timingSafeEqual(key, parsed.hash);
  }

  /**
   * Spends the same work as a real check and returns false: used for unknown users so that the
   * response time does not reveal which usernames exist.
   */
  async verifyDummy(password: string): Promise<false> {
    await this.verify(password, await this.dummyHash());
    return false;
  }

  /**
   * Computes the dummy hash ahead of the first login: computed lazily, the first unknown-user
   * login of each worker would cost two hashes and stand out by its timing.
   */
  async warmUp(): Promise<void> {
    await this.dummyHash();
  }

  private dummyHash(): Promise<string> {
    this.dummy ??= this.hash(randomBytes(16).toString('hex'));
    return this.dummy;
  }

  /** True when a stored hash uses weaker parameters than this hasher (rehash on next login). */
  needsRehash(stored: string): boolean {
    const parsed = parse(stored);
    return parsed === null || parsed.params.ln < this.params.ln;
  }
}
