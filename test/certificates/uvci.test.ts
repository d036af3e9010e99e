import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../../src/domain/errors.ts';
import { MAX_UVCI_LENGTH, checkUvci, makeUvci, uvciCheckCharacter } from '../../src/certificates/uvci.ts';

test('check character of the EU DCC schema FAQ example', () => {
  // eu-dcc-schema wiki FAQ "UVCI checksum" and its Luhn-Mod-N reference implementation.
  assert.equal(uvciCheckCharacter('URN:UVCI:01:NL:187/37512422923'), 'Z');
  assert.equal(checkUvci('URN:UVCI:01:NL:187/37512422923#Z'), true);
});

test('UVCIs of the EU test corpus whose issuers followed the documented algorithm check out', () => {
  for (const uvci of [
    'URN:UVCI:01:AT:10807843F94AEE0EE5093FBC254BD813#B',
    'URN:UVCI:01:AT:858CC18CFCF5965EF82F60E493349AA5#K',
    'URN:UVCI:01:AT:B5921A35D6A0D696421B3E2462178297#I',
    'URN:UVCI:01:AT:71EE2559DE38C6BF7304FB65A1A451EC#3',
  ]) {
    assert.equal(checkUvci(uvci), true, uvci);
  }
});

test('makeUvci builds URN:UVCI:01:ID:<opaque>#<check> that checks out', () => {
  const uvci = makeUvci('3171/0A1B2C3D');
  assert.match(uvci, /^URN:UVCI:01:ID:3171\/0A1B2C3D#[A-Z0-9/:]$/);
  assert.equal(checkUvci(uvci), true);
  assert.equal(uvci.slice(-1), uvciCheckCharacter(uvci.slice(0, -2)));
  assert.equal(makeUvci('abc123'), makeUvci('ABC123'), 'lowercase is uppercased');
});

test('every single-character change of a UVCI is detected', () => {
  const uvci = makeUvci('K7Q2/ZX91');
  const body = uvci.slice(0, -2);
  const charset = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/:';
  for (let i = 0; i < body.length; i++) {
    for (const c of charset) {
      if (c === body[i]) continue;
      const changed = `${body.slice(0, i)}${c}${body.slice(i + 1)}${uvci.slice(-2)}`;
      assert.equal(checkUvci(changed), false, changed);
    }
  }
});

test('checkUvci is case-insensitive (URNs are) and false without a check character', () => {
  assert.equal(checkUvci('urn:uvci:01:nl:187/37512422923#z'), true);
  assert.equal(checkUvci('URN:UVCI:01:NL:187/37512422923'), false);
  assert.equal(checkUvci('URN:UVCI:01:NL:187/37512422923#'), false);
  assert.equal(checkUvci('URN:UVCI:01:NL:187-37512422923#Z'), false, 'a character outside the charset');
  assert.equal(checkUvci(''), false);
});

test('makeUvci refuses other characters, empty parts and too long results', () => {
  for (const bad of ['', 'AB-12', 'AB:12', '/AB', 'AB//CD', 'AB/', 'ÄB']) {
    assert.throws(() => makeUvci(bad), (e: unknown) => e instanceof AppError && e.kind === 'invalid', bad);
  }
  const longest = 'A'.repeat(MAX_UVCI_LENGTH - 'URN:UVCI:01:ID:'.length - 2);
  assert.equal(makeUvci(longest).length, MAX_UVCI_LENGTH);
  assert.throws(() => makeUvci(`${longest}A`), (e: unknown) => e instanceof AppError && e.fields[0]?.code === 'uvci_too_long');
});
