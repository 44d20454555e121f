/**
 * ULIDs for ids the services mint (order ids, charge and tracking ids): 10 characters of millisecond timestamp
 * and 16 of randomness, Crockford base32, upper case — what the `ulid` package's `ulid()` returns, in a few
 * lines instead of the package's 2 KB of decoding, monotonic factories and UUID conversion that no bundle uses.
 */
import { randomBytes } from 'node:crypto';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** The largest timestamp a ULID holds: 2^48 - 1 ms (year 10889). */
const TIME_MAX = 2 ** 48 - 1;

/**
 * A new ULID for the time `now` (ms since the epoch).
 *
 * @throws RangeError when `now` is not a whole number of milliseconds in 0..2^48-1.
 */
export function ulid(now: number = Date.now()): string {
  if (!Number.isInteger(now) || now < 0 || now > TIME_MAX) {
    throw new RangeError(`ulid: time must be a whole number of ms in 0..${TIME_MAX}, received ${now}`);
  }
  let time = '';
  let rest = now;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD.charAt(rest % 32) + time;
    rest = Math.floor(rest / 32);
  }
  let random = '';
  // 256 is a multiple of 32, so the low 5 bits of a random byte are uniform.
  for (const byte of randomBytes(16)) random += CROCKFORD.charAt(byte & 31);
  return time + random;
}
