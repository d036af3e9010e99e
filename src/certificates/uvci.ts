/**
 * UVCI — the Unique Vaccination Certificate Identifier of the EU DCC (`ci` field).
 *
 * Format: eHealth Network "Guidelines on verifiable vaccination certificates",
 * annex 2, version 01, option 3 (opaque identifier):
 *   `URN:UVCI:01:ID:<opaque>#<check>`
 *
 * Checksum: Luhn mod N as defined by the eHN DCC schema FAQ ("UVCI checksum")
 * and its reference implementation (eu-dcc-schema examples/Luhn-Mod-N):
 * code points are the characters `A–Z 0–9 / :` in that order (N = 38), and
 * the check character is computed over the whole UVCI before `#`, *including*
 * the `URN:UVCI:` prefix (the FAQ's example `URN:UVCI:01:NL:187/37512422923`
 * gives `Z`). Checked against the EU test corpus, this reading matches 57 of its
 * 133 UVCIs with a check character; every other ordering or input (digits first,
 * prefix stripped, `#` in the charset) matches at most 7, i.e. chance.
 *
 * Many issuers got the checksum wrong, so a verifier never rejects a
 * certificate because of it: `checkUvci` is informational.
 */

import { invalid, issue } from '../domain/errors.ts';

const CODE_POINTS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/:';
const N = CODE_POINTS.length;

/** Dosis UVCIs: version 01, country ID. */
const PREFIX = 'URN:UVCI:01:ID:';

/**
 * The longest UVCI we issue. Schema 1.3 allows 80 characters, but schemas
 * 1.0–1.2 allowed 50, and verifiers still running those reject longer ones.
 */
export const MAX_UVCI_LENGTH = 50;

/** The Luhn mod N check character of `body` (uppercase A–Z, 0–9, `/`, `:`). Throws on other characters. */
export function uvciCheckCharacter(body: string): string {
  let factor = 2;
  let sum = 0;
  // From the right: the rightmost character is doubled, as the check character will follow it.
  for (let i = body.length - 1; i >= 0; i--) {
    const codePoint = CODE_POINTS.indexOf(body[i]!);
    if (codePoint < 0) throw new RangeError(`character ${JSON.stringify(body[i])} is not allowed in a UVCI`);
    let addend = factor * codePoint;
    factor = factor === 2 ? 1 : 2;
    addend = Math.floor(addend / N) + (addend % N);
    sum += addend;
  }
  return CODE_POINTS[(N - (sum % N)) % N]!;
}

/**
 * Build a Dosis UVCI `URN:UVCI:01:ID:<unique>#<check>` from an opaque unique
 * part (A–Z, 0–9, `/` as separator; lowercase is uppercased). Throws an
 * AppError `invalid` when the part is empty, has other characters, or the UVCI
 * would exceed MAX_UVCI_LENGTH.
 */
export function makeUvci(unique: string): string {
  const opaque = unique.toUpperCase();
  if (!/^[A-Z0-9]+(\/[A-Z0-9]+)*$/.test(opaque)) {
    throw invalid([
      issue(
        'uvci',
        'uvci_charset',
        'The unique part of a UVCI must be letters A–Z and digits, optionally separated by single "/"',
        'Bagian unik UVCI harus berupa huruf A–Z dan angka, boleh dipisah satu "/"',
      ),
    ]);
  }
  const body = PREFIX + opaque;
  if (body.length + 2 > MAX_UVCI_LENGTH) {
    throw invalid([
      issue(
        'uvci',
        'uvci_too_long',
        `A UVCI may have at most ${MAX_UVCI_LENGTH} characters`,
        `UVCI paling banyak ${MAX_UVCI_LENGTH} karakter`,
      ),
    ]);
  }
  return `${body}#${uvciCheckCharacter(body)}`;
}

/**
 * True when `uvci` ends in `#<check>` and the check character is right
 * (the URN is case-insensitive, so it is compared uppercased). Never use this
 * to reject a certificate: many issuers' check characters are wrong.
 */
export function checkUvci(uvci: string): boolean {
  const s = uvci.toUpperCase();
  const hash = s.length - 2;
  if (hash < 1 || s[hash] !== '#') return false;
  const body = s.slice(0, hash);
  if (!/^[A-Z0-9/:]+$/.test(body)) return false;
  return uvciCheckCharacter(body) === s[hash + 1];
}
