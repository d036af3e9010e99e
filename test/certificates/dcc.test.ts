import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../../src/domain/errors.ts';
import {
  buildVaccinationPayload,
  certificateType,
  dccName,
  isFullDate,
  isPartialDate,
  transliterate,
  type VaccinationInput,
} from '../../src/certificates/dcc.ts';
import { validateHcert } from '../../src/certificates/dcc-schema.ts';

test('transliterates to the ICAO 9303 form used by the EU DCC examples and corpus', () => {
  // Examples from the EU DCC schema and test corpus.
  assert.equal(transliterate("d'Červenková Panklová"), 'DCERVENKOVA<PANKLOVA');
  assert.equal(transliterate('Jiřina-Maria Alena'), 'JIRINA<MARIA<ALENA');
  assert.equal(transliterate('Musterfrau-Gößinger'), 'MUSTERFRAU<GOESSINGER');
  assert.equal(transliterate('Ota Yhteyttä Wickr'), 'OTA<YHTEYTTAE<WICKR');
  assert.equal(transliterate('Rogaliński-Król'), 'ROGALINSKI<KROL');
  assert.equal(transliterate('Þórður Ægir Øster Åsa'), 'THORDUR<AEGIR<OESTER<AASA');
});

test('transliterates Indonesian names', () => {
  assert.equal(transliterate('Sukarno'), 'SUKARNO');
  assert.equal(transliterate('Siti Nur’aini'), 'SITI<NURAINI');
  assert.equal(transliterate("Siti Nur'aini"), 'SITI<NURAINI');
  assert.equal(transliterate('Muh. Ali'), 'MUH<ALI');
  assert.equal(transliterate('  I Gusti  Ngurah   Rai '), 'I<GUSTI<NGURAH<RAI');
  assert.equal(transliterate('Ni Luh Putu Ayu - Dewi'), 'NI<LUH<PUTU<AYU<DEWI', 'separators collapse to one <');
});

test('keeps only A–Z and <, at most 80 characters', () => {
  assert.equal(transliterate('Agus 2'), 'AGUS', 'digits are not allowed in fnt by schema 1.3');
  assert.equal(transliterate('王小明'), '', 'other scripts have no transliteration here');
  const long = transliterate(`${'Abdurrahman '.repeat(10)}Wahid`);
  assert.ok(long.length <= 80);
  assert.match(long, /^[A-Z<]*[A-Z]$/, 'no trailing < after truncation');
  assert.match(transliterate('Zoë Ñúñez Çelik'), /^[A-Z<]+$/);
});

const input: VaccinationInput = {
  name: 'Budi Santoso',
  birthDate: '1980-05-17',
  vp: '1119305005',
  mp: 'CoronaVac',
  ma: 'Sinovac-Biotech',
  doseNumber: 1,
  seriesDoses: 2,
  date: '2021-06-10',
  uvci: 'URN:UVCI:01:ID:ABC#X',
  issuer: 'Kementerian Kesehatan Republik Indonesia',
};

test('builds a schema 1.3.0 vaccination payload with the whole name in fn/fnt', () => {
  const payload = buildVaccinationPayload(input);
  assert.deepEqual(payload, {
    ver: '1.3.0',
    nam: { fn: 'Budi Santoso', fnt: 'BUDI<SANTOSO' },
    dob: '1980-05-17',
    v: [
      {
        tg: '840539006',
        vp: '1119305005',
        mp: 'CoronaVac',
        ma: 'Sinovac-Biotech',
        dn: 1,
        sd: 2,
        dt: '2021-06-10',
        co: 'ID',
        is: 'Kementerian Kesehatan Republik Indonesia',
        ci: 'URN:UVCI:01:ID:ABC#X',
      },
    ],
  });
  assert.equal(validateHcert(payload).valid, true);
  assert.equal(certificateType(payload), 'v');
});

test('a mononym goes into fn/fnt with no gn/gnt', () => {
  const payload = buildVaccinationPayload({ ...input, name: ' Sukarno ' });
  assert.deepEqual(payload.nam, { fn: 'Sukarno', fnt: 'SUKARNO' });
  assert.equal('gn' in payload.nam, false);
});

test('accepts a partial birth date, a booster (dn > sd) and another disease', () => {
  const payload = buildVaccinationPayload({ ...input, birthDate: '1950', doseNumber: 3, seriesDoses: 2, tg: '840539006' });
  assert.equal(payload.dob, '1950');
  assert.equal(payload.v?.[0].dn, 3);
  assert.equal(validateHcert(payload).valid, true);
  assert.equal(buildVaccinationPayload({ ...input, birthDate: '1950-07' }).dob, '1950-07');
});

test('a name longer than 80 characters is cut at a word boundary, and fnt is the transliteration of that cut fn', () => {
  // The case: 80 characters each, cut mid-word at different places ("…Wiryawan K" vs "…WIRYAWA").
  const name = 'Raden Mas Haryo Tumenggung Muhammad Abdurrahman Kusumaningrat Suryaningrat Wiryawan Kartasasmita';
  const payload = buildVaccinationPayload({ ...input, name });
  assert.equal(payload.nam.fn, 'Raden Mas Haryo Tumenggung Muhammad Abdurrahman Kusumaningrat Suryaningrat');
  assert.equal(payload.nam.fnt, 'RADEN<MAS<HARYO<TUMENGGUNG<MUHAMMAD<ABDURRAHMAN<KUSUMANINGRAT<SURYANINGRAT');
  assert.ok(name.startsWith(`${payload.nam.fn} `), 'fn ends at a whole word of the name');
  assert.equal(payload.nam.fnt, transliterate(payload.nam.fn));
  assert.equal(payload.nam.gn, undefined);
  assert.equal(validateHcert(payload).valid, true);

  // A transliteration longer than the name (Ö → OE) decides the cut: fn and fnt still end at the same word.
  const german = `${'Böhömö '.repeat(11)}Schön`;
  const g = dccName(german);
  assert.ok(Array.from(g.fn!).length <= 80 && g.fnt!.length <= 80);
  assert.equal(g.fnt, transliterate(g.fn!));
  assert.equal(g.fnt.split('<').length, g.fn!.split(' ').length, 'as many words in fnt as in fn');

  // One word over 80 characters: cut inside it.
  const word = dccName('A'.repeat(90));
  assert.equal(word.fn, 'A'.repeat(80));
  assert.equal(word.fnt, 'A'.repeat(80));
});

test('mononyms and multi-part Indonesian names go whole into fn/fnt, without gn/gnt', () => {
  assert.deepEqual(dccName('Sukarno'), { fn: 'Sukarno', fnt: 'SUKARNO' });
  assert.deepEqual(dccName('Ni Luh Putu Ayu Dewi'), { fn: 'Ni Luh Putu Ayu Dewi', fnt: 'NI<LUH<PUTU<AYU<DEWI' });
  for (const name of ['Sukarno', 'Budi Santoso']) {
    const payload = buildVaccinationPayload({ ...input, name });
    assert.deepEqual(Object.keys(payload.nam).sort(), ['fn', 'fnt']);
    assert.equal(validateHcert(payload).valid, true);
  }
});

test('lists every invalid field at once', () => {
  const bad: VaccinationInput = {
    ...input,
    name: '  ',
    birthDate: '1980-02-30',
    date: '10/06/2021',
    doseNumber: 0,
    seriesDoses: 10,
    vp: '',
    issuer: 'x'.repeat(81),
  };
  assert.throws(
    () => buildVaccinationPayload(bad),
    (e: unknown) => {
      assert.ok(e instanceof AppError);
      assert.equal(e.kind, 'invalid');
      assert.deepEqual(
        e.fields.map((f) => f.path),
        ['name', 'birthDate', 'date', 'doseNumber', 'seriesDoses', 'vp', 'issuer'],
      );
      assert.ok(e.fields.every((f) => f.message.en !== '' && f.message.id !== ''));
      return true;
    },
  );
  assert.throws(() => buildVaccinationPayload({ ...input, doseNumber: 1.5 }), AppError);
  assert.throws(() => buildVaccinationPayload({ ...input, birthDate: '1899-12-31' }), AppError);
});

test('calendar dates', () => {
  assert.equal(isFullDate('2024-02-29'), true);
  assert.equal(isFullDate('2023-02-29'), false);
  assert.equal(isFullDate('2024-13-01'), false);
  assert.equal(isFullDate('2024-1-01'), false);
  assert.equal(isPartialDate('2099'), true);
  assert.equal(isPartialDate('2100'), false);
  assert.equal(isPartialDate('1990-00'), false);
  assert.equal(isPartialDate('1990-12-31'), true);
});
