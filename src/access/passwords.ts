/**
 * Staff passwords, hashed with scrypt (memory-hard: each guess costs 32 MiB
 * and ~0.1 s, so a stolen table cannot be searched at GPU speed). The
 * parameters are stored with each hash — `scrypt$N$r$p$salt$hash` — so the
 * cost can be raised later: old hashes keep verifying with their own
 * parameters, and `needsRehash` says when to re-hash at the next sign-in.
 */
import { randomBytes, randomInt, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { AppError } from '../domain/errors.ts';

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/**
 * Today's cost: N = 2^15, r = 8, p = 1 — 32 MiB and ~0.1 s per hash. OWASP's
 * first choice is N = 2^17; 2^15 keeps sign-in quick (and the memory of a burst
 * of sign-ins small) on a district's small server. Raise it here when the
 * servers allow: stored hashes keep their own parameters.
 */
export const SCRYPT_PARAMS: ScryptParams = { N: 2 ** 15, r: 8, p: 1 };
const KEY_LENGTH = 32;

function derive(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  // scrypt needs 128·N·r bytes; Node's default cap (32 MiB) is exactly that at N = 2^15, so raise it with room.
  const options: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r + 1024 * 1024 };
  return new Promise((resolve, reject) => scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, options, (err, key) => (err ? reject(err) : resolve(key))));
}

/** The stored form of a hash: `scrypt$N$r$p$salt$key` (parse reads it back). */
function stored(params: ScryptParams, salt: Buffer, key: Buffer): string {
  return `scrypt$${params.N}$${params.r}$${params.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** A new hash of `password` with today's parameters and a random salt. */
export async function hashPassword(password: string, params: ScryptParams = SCRYPT_PARAMS): Promise<string> {
  const salt = randomBytes(16);
  return stored(params, salt, await derive(password, salt, params));
}

function parse(stored: string): { params: ScryptParams; salt: Buffer; key: Buffer } | null {
  const m = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([\w-]+)\$([\w-]+)$/.exec(stored);
  if (!m) return null;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // A hash with absurd parameters would make one sign-in eat the server: refuse it.
  if (N < 2 || N > 2 ** 20 || (N & (N - 1)) !== 0 || r < 1 || r > 32 || p < 1 || p > 16) return null;
  return { params: { N, r, p }, salt: Buffer.from(m[4] as string, 'base64url'), key: Buffer.from(m[5] as string, 'base64url') };
}

/** True when `password` matches `stored`; compared in constant time. A malformed hash never matches. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const h = parse(stored);
  if (!h) return false;
  const key = await derive(password, h.salt, h.params);
  return key.length === h.key.length && timingSafeEqual(key, h.key);
}

/** True when `stored` was made with weaker parameters than today's. */
export function needsRehash(stored: string): boolean {
  const h = parse(stored);
  return !h || h.params.N < SCRYPT_PARAMS.N || h.params.r < SCRYPT_PARAMS.r || h.params.p < SCRYPT_PARAMS.p;
}

/**
 * A hash nobody's password matches, checked when the username is unknown so
 * that a wrong username costs the same time as a wrong password: the same
 * scrypt work, with today's parameters, against a key that is no one's.
 * verifyPassword's cost depends only on the parameters, not on where the key
 * came from, so the key is random bytes and costs nothing to make (it used to
 * be a real hash of a random password: 0.1 CPU-s and 32 MiB at every start,
 * made ahead of the first unknown username so that one did not pay for it
 * twice). No password one can find derives a random 256-bit key, and
 * checkCredentials ignores the answer for this hash anyway.
 */
export function dummyHash(): string {
  return stored(SCRYPT_PARAMS, randomBytes(16), randomBytes(KEY_LENGTH));
}

/** A random password that is easy to read out and type: 4 groups of 4 letters and digits, no 0/O/1/l/I. */
export function generatePassword(): string {
  const alphabet = 'abcdefghjkmnpqrstuvwxyz23456789';
  let s = '';
  for (let i = 0; i < 16; i++) s += alphabet[randomInt(alphabet.length)];
  return s.match(/.{4}/g)!.join('-');
}

/**
 * At most HASH_CONCURRENCY password hashes run at once in this process, and at
 * most HASH_QUEUE wait for a turn; beyond that a sign-in is answered 429 with
 * Retry-After at once, without hashing or counting (issue 15, item 3). One
 * scrypt hash holds a thread of libuv's pool (4 threads, shared with file and
 * zlib work) for 0.1–0.7 s: without a bound, forty bogus sign-ins from forty
 * addresses made a real one wait 28 s. With it, a real sign-in waits at most
 * for the queue ahead of it (~8 hashes), or is told to try again shortly.
 */
export const HASH_CONCURRENCY = 2;
export const HASH_QUEUE = 8;
/** Seconds a sign-in turned away by a full queue is asked to wait. */
export const HASH_RETRY_AFTER_SECONDS = 5;

export class HashGate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  /** The most hashes that were ever in flight at once (tests, metrics). */
  peak = 0;
  readonly concurrency: number;
  readonly queue: number;

  constructor(concurrency = HASH_CONCURRENCY, queue = HASH_QUEUE) {
    this.concurrency = concurrency;
    this.queue = queue;
  }

  /** Runs `fn` when a slot is free; throws a 429 AppError at once when the queue is full. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.queue)
        throw new AppError(
          'rate_limited',
          'sign_in_busy',
          { en: 'Too many sign-ins at once; try again in a few seconds.', id: 'Terlalu banyak yang masuk bersamaan; coba lagi beberapa detik lagi.' },
          { retryAfter: HASH_RETRY_AFTER_SECONDS },
        );
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else this.running++;
    this.peak = Math.max(this.peak, this.running);
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next(); // the slot passes on: `running` stays the same
      else this.running--;
    }
  }
}

/** The gate of this process's sign-ins. */
export const signInGate = new HashGate();
