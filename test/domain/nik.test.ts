// node:test's describe/it return promises that the runner itself awaits; nothing here is left floating.
 
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkNik,
  isProvinceCode,
  makeNik,
  nikBirthDate,
  nikRegionCode,
  parseNik,
  provinceCodes,
  provinceName,
} from '../../src/domain/nik.ts';

const codes = (issues: { code: string }[]) => issues.map((i) => i.code);

// Real structures: 31.74.02 Setiabudi (Jakarta Selatan), 32.73.02 Coblong (Bandung),
// 35.78.03 Rungkut (Surabaya), 51.71.01 Denpasar Selatan.
const BUDI = '3174021705800001'; // man, 17 May 1980, serial 0001
const SITI = '3273025708920003'; // woman, 17 Aug 1992 (17 + 40 = 57)

describe('parseNik', () => {
  it('splits a man\'s NIK into its parts', () => {
    assert.deepEqual(parseNik(BUDI), {
      nik: BUDI,
      provinceCode: '31',
      regencyCode: '3174',
      districtCode: '317402',
      dd: 17,
      day: 17,
      month: 5,
      yy: 80,
      sex: 'M',
      serial: '0001',
    });
  });

  it('reads day + 40 as a woman born on day − 40', () => {
    const p = parseNik(SITI);
    assert.equal(p?.sex, 'F');
    assert.equal(p?.dd, 57);
    assert.equal(p?.day, 17);
    assert.equal(p?.month, 8);
    assert.equal(p?.yy, 92);
  });

  it('is null for anything but 16 ASCII digits', () => {
    for (const bad of ['', '317402170580000', '31740217058000011', '3174021705800O01', '3174 0217 0580 0001', '３１７４０２１７０５８００００１', '٣١٧٤٠٢١٧٠٥٨٠٠٠٠١']) {
      assert.equal(parseNik(bad), null, bad);
    }
  });
});

describe('nikRegionCode', () => {
  it('is the 6-digit PPKKCC district of first registration', () => {
    assert.equal(nikRegionCode(BUDI), '317402');
    assert.equal(nikRegionCode(SITI), '327302');
    assert.equal(nikRegionCode('12345'), null);
  });
});

describe('provinces from idn-area-data', () => {
  it('has the 38 provinces, including the Papua provinces of 2022 (93–96)', () => {
    const all = provinceCodes();
    assert.equal(all.length, 38);
    for (const c of ['11', '31', '32', '36', '51', '91', '92', '93', '94', '95', '96']) assert.ok(isProvinceCode(c), c);
    assert.equal(provinceName('93'), 'PAPUA SELATAN');
    assert.equal(provinceName('96'), 'PAPUA BARAT DAYA');
    assert.equal(provinceName('31'), 'DKI JAKARTA');
  });

  it('does not know codes that are no province', () => {
    for (const c of ['00', '10', '20', '22', '30', '37', '54', '90', '97', '99']) assert.equal(isProvinceCode(c), false, c);
  });
});

describe('checkNik', () => {
  it('accepts a real man\'s NIK agreeing with birth date and sex', () => {
    assert.deepEqual(checkNik(BUDI, { birthDate: '1980-05-17', sex: 'M' }), []);
  });

  it('accepts a real woman\'s NIK agreeing with birth date and sex', () => {
    assert.deepEqual(checkNik(SITI, { birthDate: '1992-08-17', sex: 'F' }), []);
  });

  it('accepts a NIK alone, without birth date or sex', () => {
    assert.deepEqual(checkNik(SITI), []);
  });

  it('uses the caller\'s path', () => {
    const [i] = checkNik('123', {}, 'person.nik');
    assert.equal(i?.path, 'person.nik');
    assert.equal(checkNik('123')[0]?.path, 'nik');
  });

  it('rejects a wrong length or non-digits with nik_format only', () => {
    for (const bad of ['317402170580001', '31740217058000012', '31740217058O0001', '']) {
      assert.deepEqual(codes(checkNik(bad)), ['nik_format'], bad);
    }
  });

  it('explains a NIK that a spreadsheet turned into a number', () => {
    const [i] = checkNik('3.17402E+15');
    assert.equal(i?.code, 'nik_format');
    assert.match(i?.message.en ?? '', /spreadsheet/);
    assert.match(i?.message.id ?? '', /spreadsheet/);
  });

  it('rejects an unknown province with its own code', () => {
    const nik = '9974021705800001';
    assert.deepEqual(codes(checkNik(nik, { birthDate: '1980-05-17', sex: 'M' })), ['nik_province']);
    assert.deepEqual(codes(checkNik('0074021705800001')), ['nik_province']);
  });

  it('accepts NIKs of provinces created later (Papua Selatan 93, Papua Barat Daya 96) and old Papua codes (91)', () => {
    assert.deepEqual(checkNik('9301011203850002', { birthDate: '1985-03-12', sex: 'M' }), []);
    assert.deepEqual(checkNik('9601015203850002', { birthDate: '1985-03-12', sex: 'F' }), []);
    // Merauke before the 2022 split was 91.01; the package has no 91.01 any more: still accepted.
    assert.deepEqual(checkNik('9101011203850002', { birthDate: '1985-03-12', sex: 'M' }), []);
  });

  it('does not reject a district that moved (Ciamis 32.07.2x went to Pangandaran in 2012)', () => {
    assert.deepEqual(checkNik('3207251203850002', { birthDate: '1985-03-12', sex: 'M' }), []);
  });

  it('rejects impossible dates: day 00, 32–40, 72+, month 00 or 13, 31 April, 30 February', () => {
    for (const ddmmyy of ['000580', '320580', '400580', '720580', '170080', '171380', '310480', '300280', '700280']) {
      const nik = `317402${ddmmyy}0001`;
      assert.deepEqual(codes(checkNik(nik)), ['nik_birth_date_invalid'], ddmmyy);
    }
  });

  it('accepts 29 February when some century makes it real (00: 2000 is a leap year)', () => {
    assert.deepEqual(checkNik('3174022902000001'), []);
    assert.deepEqual(checkNik('3174022902000001', { birthDate: '2000-02-29', sex: 'M' }), []);
    assert.deepEqual(codes(checkNik('3174022902010001')), ['nik_birth_date_invalid']); // 1901, 2001: no 29 Feb
    assert.deepEqual(checkNik('3174026902960001', { birthDate: '1996-02-29', sex: 'F' }), []);
  });

  it('reports a birth date that disagrees, with the digits expected', () => {
    const [i, ...rest] = checkNik(BUDI, { birthDate: '1980-05-18', sex: 'M' });
    assert.equal(rest.length, 0);
    assert.equal(i?.code, 'nik_birth_date_mismatch');
    assert.match(i?.message.en ?? '', /180580/);
    assert.match(i?.message.en ?? '', /580580/);
    assert.match(i?.message.id ?? '', /tanggal lahir/);
  });

  it('compares day, month and the last two digits of the year', () => {
    assert.deepEqual(codes(checkNik(BUDI, { birthDate: '1980-06-17' })), ['nik_birth_date_mismatch']);
    assert.deepEqual(codes(checkNik(BUDI, { birthDate: '1981-05-17' })), ['nik_birth_date_mismatch']);
    // The century is not in the NIK: 1980 and 2080 agree alike on "80"; 1880 is ruled out elsewhere.
    assert.deepEqual(checkNik(BUDI, { birthDate: '1980-05-17' }), []);
  });

  it('reads year 05 as 2005 or 1905, whichever the stated birth date says', () => {
    const child = makeNik({ province: 32, regency: 73, district: 2, birthDate: '2005-01-09', sex: 'M', serial: 7 });
    assert.equal(child, '3273020901050007');
    assert.deepEqual(checkNik(child, { birthDate: '2005-01-09', sex: 'M' }), []);
    assert.deepEqual(checkNik(child, { birthDate: '1905-01-09', sex: 'M' }), []);
    assert.deepEqual(codes(checkNik(child, { birthDate: '2006-01-09', sex: 'M' })), ['nik_birth_date_mismatch']);
  });

  it('reports a woman\'s NIK given for a man, and a man\'s for a woman', () => {
    const [a] = checkNik(SITI, { birthDate: '1992-08-17', sex: 'M' });
    assert.equal(a?.code, 'nik_sex_mismatch');
    assert.match(a?.message.en ?? '', /woman's/);
    const [b] = checkNik(BUDI, { birthDate: '1980-05-17', sex: 'F' });
    assert.equal(b?.code, 'nik_sex_mismatch');
    assert.match(b?.message.en ?? '', /man's/);
    assert.match(b?.message.id ?? '', /laki-laki/);
  });

  it('does not call a woman\'s +40 day a birth-date mismatch when only the sex is wrong', () => {
    assert.deepEqual(codes(checkNik(SITI, { birthDate: '1992-08-17', sex: 'M' })), ['nik_sex_mismatch']);
  });

  it('rejects serial 0000', () => {
    assert.deepEqual(codes(checkNik('3174021705800000', { birthDate: '1980-05-17', sex: 'M' })), ['nik_serial']);
  });

  it('collects every problem at once, each with its own code', () => {
    const found = codes(checkNik('9974025705800000', { birthDate: '1981-05-17', sex: 'M' }));
    assert.deepEqual(found, ['nik_province', 'nik_birth_date_mismatch', 'nik_sex_mismatch', 'nik_serial']);
  });

  it('gives every message in English and Indonesian', () => {
    const all = checkNik('9974029905800000', { birthDate: '1981-05-17', sex: 'F' });
    assert.ok(all.length >= 3);
    for (const i of all) {
      assert.ok(i.message.en.length > 10 && i.message.id.length > 10, i.code);
      assert.notEqual(i.message.en, i.message.id);
    }
  });
});

describe('nikBirthDate', () => {
  it('takes the century from the stated birth date when it agrees', () => {
    assert.equal(nikBirthDate('3273020901050007', { birthDate: '1905-01-09', today: '2024-01-01' }), '1905-01-09');
    assert.equal(nikBirthDate('3273020901050007', { birthDate: '2005-01-09', today: '2024-01-01' }), '2005-01-09');
  });

  it('otherwise takes the latest date not after today', () => {
    assert.equal(nikBirthDate('3273020901050007', { today: '2024-01-01' }), '2005-01-09');
    assert.equal(nikBirthDate('3273020901050007', { today: '2004-12-31' }), '1905-01-09');
    assert.equal(nikBirthDate(SITI, { today: '2024-01-01' }), '1992-08-17');
  });

  it('is null for an impossible date', () => {
    assert.equal(nikBirthDate('3174023505800001', { today: '2024-01-01' }), null);
  });
});

describe('makeNik (fixtures only)', () => {
  it('builds a NIK that checkNik accepts, women with day + 40', () => {
    const nik = makeNik({ province: '51', regency: '71', district: '01', birthDate: '1975-12-03', sex: 'F', serial: 42 });
    assert.equal(nik, '5171014312750042');
    assert.deepEqual(checkNik(nik, { birthDate: '1975-12-03', sex: 'F' }), []);
  });

  it('refuses parts that cannot make a valid NIK', () => {
    assert.throws(() => makeNik({ province: 99, regency: 1, district: 1, birthDate: '1980-01-01', sex: 'M', serial: 1 }), RangeError);
    assert.throws(() => makeNik({ province: 31, regency: 0, district: 1, birthDate: '1980-01-01', sex: 'M', serial: 1 }), RangeError);
    assert.throws(() => makeNik({ province: 31, regency: 71, district: 1, birthDate: '1980-02-30', sex: 'M', serial: 1 }), RangeError);
    assert.throws(() => makeNik({ province: 31, regency: 71, district: 1, birthDate: '1980-01-01', sex: 'M', serial: 0 }), RangeError);
    assert.throws(() => makeNik({ province: 31, regency: 71, district: 1, birthDate: '1980-01-01', sex: 'M', serial: 10000 }), RangeError);
  });
});
