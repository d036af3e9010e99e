// node:test's describe/it return promises that the runner itself awaits; nothing here is left floating.
 
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isPlaceholderPhone, normalizePhone, operatorOf } from '../../src/domain/phone.ts';
import type { PhoneResult } from '../../src/domain/phone.ts';

function e164(r: PhoneResult): string | null {
  assert.equal(r.ok, true, r.ok ? '' : `${r.issue.code}: ${r.issue.message.en}`);
  return r.ok ? r.e164 : null;
}

function code(r: PhoneResult): string {
  assert.equal(r.ok, false, 'expected a rejection');
  return r.ok ? '' : r.issue.code;
}

describe('normalizePhone: the ways one Indonesian mobile is written', () => {
  const expected = '+6281234567890';
  for (const written of [
    '+6281234567890',
    '6281234567890',
    '081234567890',
    '81234567890', // a spreadsheet dropped the 0
    '+62 081234567890', // wrong: trunk 0 kept after the country code
    '+62081234567890',
    '62081234567890',
    '0812-3456-7890',
    '0812 3456 7890',
    '0812.3456.7890',
    '(0812) 3456-7890',
    '+62 (812) 3456 7890',
    '+62 (0) 812 3456 7890',
    '006281234567890', // 00 → +
    '  0812 3456 7890  ',
    '0812\u00a03456\u00a07890', // non-breaking spaces from a word processor
  ]) {
    it(`"${written}" → ${expected}`, () => {
      assert.equal(e164(normalizePhone(written)), expected);
    });
  }
});

describe('normalizePhone: Indonesian mobiles', () => {
  it('accepts 9 to 12 digits after the country code', () => {
    assert.equal(e164(normalizePhone('0812345678')), '+62812345678'); // NSN 9 digits (old 0811/0812 numbers)
    assert.equal(e164(normalizePhone('0812345678901')), '+62812345678901'); // NSN 12
  });

  it('rejects too short, too long, and 084…/080… prefixes as phone_invalid', () => {
    assert.equal(code(normalizePhone('08123456')), 'phone_invalid');
    assert.equal(code(normalizePhone('08123456789012')), 'phone_invalid');
    assert.equal(code(normalizePhone('0841234567890')), 'phone_invalid');
  });

  it('names the operator from the prefix', () => {
    const cases: [string, string | undefined][] = [
      ['081234567890', 'Telkomsel'],
      ['082212345678', 'Telkomsel'],
      ['085212345678', 'Telkomsel'],
      ['081512345678', 'Indosat'],
      ['085712345678', 'Indosat'],
      ['081712345678', 'XL'],
      ['087812345678', 'XL'],
      ['085912345678', 'XL'],
      ['083812345678', 'Axis'],
      ['089612345678', 'Tri'],
      ['088112345678', 'Smartfren'],
      ['088912345678', 'Smartfren'],
      ['082812345678', undefined], // a valid mobile range not in the table
    ];
    for (const [n, op] of cases) {
      const r = normalizePhone(n);
      assert.ok(r.ok && r.e164 !== null, n);
      if (r.ok && r.e164 !== null) {
        assert.equal(r.operator, op, n);
        assert.equal(r.country, 'ID');
        assert.equal(r.foreign, false);
      }
    }
    assert.equal(operatorOf('+6281312345678'), 'Telkomsel');
    assert.equal(operatorOf('089912345678'), 'Tri');
  });
});

describe('normalizePhone: numbers that cannot receive SMS', () => {
  it('rejects Indonesian landlines with phone_landline', () => {
    for (const n of ['021-5551234', '(021) 555 1234', '+62 21 5551234', '622155512345', '0227654321', '0361 234567']) {
      const r = normalizePhone(n);
      assert.equal(code(r), 'phone_landline', n);
      if (!r.ok) {
        assert.match(r.issue.message.en, /landline/);
        assert.match(r.issue.message.id, /SMS/);
      }
    }
  });

  it('rejects toll-free numbers as not mobile', () => {
    assert.equal(code(normalizePhone('0800-1-234567')), 'phone_not_mobile');
  });

  it('rejects impossible numbers and junk with phone_invalid', () => {
    for (const n of ['12345', '+999 123 4567', 'abc', '0812-3456-789x', '0812/3456/7890', '+62', '+']) {
      assert.equal(code(normalizePhone(n)), 'phone_invalid', n);
    }
  });

  it('refuses to guess a number written without 0, 8, 62 or +', () => {
    // A Singapore mobile without its +, or a Jakarta number without its 0: ambiguous, so refused.
    assert.equal(code(normalizePhone('6591234567')), 'phone_invalid');
    assert.equal(code(normalizePhone('21 5551234')), 'phone_invalid');
  });

  it('refuses a non-text value', () => {
    assert.equal(code(normalizePhone({ n: 1 })), 'phone_invalid');
    assert.equal(code(normalizePhone(true)), 'phone_invalid');
  });

  it('uses the caller\'s path', () => {
    const r = normalizePhone('021-5551234', 'person.phone');
    assert.ok(!r.ok && r.issue.path === 'person.phone');
  });
});

describe('normalizePhone: foreign numbers', () => {
  it('accepts a foreign mobile as E.164 (a traveller)', () => {
    const r = normalizePhone('+65 9123 4567');
    assert.deepEqual(r, { ok: true, e164: '+6591234567', country: 'SG', foreign: true });
    assert.equal(e164(normalizePhone('0065 9123 4567')), '+6591234567');
    assert.equal(e164(normalizePhone('+61 412 345 678')), '+61412345678');
    assert.equal(e164(normalizePhone('+60 12-345 6789')), '+60123456789');
  });

  it('accepts North American numbers, where fixed and mobile cannot be told apart', () => {
    assert.equal(e164(normalizePhone('+1 415 555 2671')), '+14155552671');
  });

  it('rejects a foreign landline', () => {
    assert.equal(code(normalizePhone('+65 6123 4567')), 'phone_landline');
  });
});

describe('normalizePhone: missing', () => {
  it('treats empty, blank, a dash and absent as missing, not as an error', () => {
    for (const v of [undefined, null, '', '   ', '-', '--']) {
      assert.deepEqual(normalizePhone(v), { ok: true, e164: null, missing: true }, String(v));
    }
  });
});

describe('isPlaceholderPhone', () => {
  it('flags numbers typed to fill the field', () => {
    for (const n of [
      '+628888888888', // one repeated digit
      '+6281200000000', // 0812-0000-0000
      '+628110000000',
      '+6281111111111', // 0811-1111-1111
      '+628123456789', // 08123456789
      '+6281234567890', // 081234567890
      '+62812345678',
      '+6285712345678', // 0857-1234-5678
      '+6281398765432', // 0813-9876-5432
      '+6599999999',
    ]) {
      assert.equal(isPlaceholderPhone(n), true, n);
    }
  });

  it('does not flag ordinary numbers', () => {
    for (const n of ['+6281317459826', '+6285640213377', '+6287812093451', '+6591234567', '+6281290001234', '+6281122334455']) {
      assert.equal(isPlaceholderPhone(n), false, n);
    }
  });
});
