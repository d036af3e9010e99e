// node:test's describe/it return promises that the runner itself awaits; nothing here is left floating.
 
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { invalid } from '../../src/domain/errors.ts';
import { makeNik } from '../../src/domain/nik.ts';
import { todayInJakarta, validateVaccinationInput } from '../../src/domain/vaccination-input.ts';
import type { ValidationResult } from '../../src/domain/vaccination-input.ts';

const TODAY = '2024-03-01';
const BUDI_NIK = '3174021705800001';
const SITI_NIK = '3273025708920003';

function body(overrides: Record<string, unknown> = {}, person: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    person: { nik: BUDI_NIK, name: 'Budi Santoso', birthDate: '1980-05-17', sex: 'M', phone: '0812-3456-7890', ...person },
    vaccine: 'CORONAVAC',
    doseNumber: 1,
    date: '2021-06-10',
    lot: 'A123',
    ...overrides,
  };
}

function issues(r: ValidationResult): [string, string][] {
  assert.equal(r.ok, false, 'expected issues');
  return r.ok ? [] : r.issues.map((i) => [i.path, i.code]);
}

function value(r: ValidationResult) {
  if (!r.ok) assert.fail(`unexpected issues: ${JSON.stringify(r.issues.map((i) => [i.path, i.code]))}`);
  return r.value;
}

describe('validateVaccinationInput: a valid entry', () => {
  it('normalises the DESIGN.md example', () => {
    const v = value(validateVaccinationInput(body(), { today: TODAY }));
    assert.deepEqual(v, {
      person: {
        identifier: { type: 'nik', value: BUDI_NIK },
        name: 'Budi Santoso',
        birthDate: '1980-05-17',
        sex: 'M',
        phone: { status: 'valid', e164: '+6281234567890', country: 'ID', foreign: false, operator: 'Telkomsel', placeholder: true },
      },
      vaccine: 'CORONAVAC',
      doseNumber: 1,
      date: '2021-06-10',
      lot: 'A123',
      facility: null,
    });
  });

  it('trims and collapses the name, trims the lot, accepts aliases, L/P, string dose numbers and a spaced NIK', () => {
    const v = value(
      validateVaccinationInput(
        body(
          { vaccine: ' sinovac ', doseNumber: '2', date: '2021-07-08', lot: '  B77  ', facility: 'P3174020101' },
          { nik: ' 3273 0257 0892 0003 ', name: '  Siti   Nurhaliza ', birthDate: '1992-08-17', sex: 'p', phone: '+62 857 4021 3377' },
        ),
        { today: TODAY },
      ),
    );
    assert.deepEqual(v.person.identifier, { type: 'nik', value: SITI_NIK });
    assert.equal(v.person.name, 'Siti Nurhaliza');
    assert.equal(v.person.sex, 'F');
    assert.equal(v.vaccine, 'CORONAVAC');
    assert.equal(v.doseNumber, 2);
    assert.equal(v.lot, 'B77');
    assert.equal(v.facility, 'P3174020101');
    assert.deepEqual(v.person.phone, { status: 'valid', e164: '+6285740213377', country: 'ID', foreign: false, operator: 'Indosat', placeholder: false });
  });

  it('accepts L for laki-laki', () => {
    assert.equal(value(validateVaccinationInput(body({}, { sex: 'L' }), { today: TODAY })).person.sex, 'M');
  });

  it('records a dose without a phone: missing, flagged by the caller', () => {
    for (const phone of [undefined, '', null]) {
      const v = value(validateVaccinationInput(body({}, { phone }), { today: TODAY }));
      assert.deepEqual(v.person.phone, { status: 'missing', e164: null });
    }
  });

  it('without a lot, lot is null', () => {
    const b = body();
    delete b.lot;
    assert.equal(value(validateVaccinationInput(b, { today: TODAY })).lot, null);
  });
});

describe('validateVaccinationInput: every issue at once', () => {
  it('reports every bad field in one answer', () => {
    const r = validateVaccinationInput(
      {
        person: { nik: '3174021705800000', name: '   ', birthDate: '1980-02-30', sex: 'X', phone: '021-5551234' },
        vaccine: 'Sputnik V',
        doseNumber: 9,
        date: '2030-01-01',
        lot: 'x'.repeat(51),
        colour: 'blue',
      },
      { today: TODAY },
    );
    assert.deepEqual(issues(r), [
      ['colour', 'unknown_field'],
      ['person.name', 'required'],
      ['person.birthDate', 'date_invalid'],
      ['person.sex', 'sex_invalid'],
      ['person.nik', 'nik_serial'],
      ['person.phone', 'phone_landline'],
      ['vaccine', 'vaccine_unknown'],
      ['doseNumber', 'dose_number_range'],
      ['date', 'date_in_future'],
      ['lot', 'lot_too_long'],
    ]);
    if (!r.ok) {
      for (const i of r.issues) assert.ok(i.message.en && i.message.id && i.message.en !== i.message.id, i.path);
      // The 422 built from them names every field.
      assert.match(invalid(r.issues).text.en, /10 fields are invalid/);
    }
  });

  it('rejects something that is not an object', () => {
    for (const b of [null, 'text', 42, [1, 2]]) assert.deepEqual(issues(validateVaccinationInput(b, { today: TODAY })), [['body', 'body_not_object']]);
  });

  it('requires every mandatory field', () => {
    assert.deepEqual(issues(validateVaccinationInput({}, { today: TODAY })), [
      ['person', 'required'],
      ['vaccine', 'required'],
      ['doseNumber', 'required'],
      ['date', 'required'],
    ]);
    assert.deepEqual(issues(validateVaccinationInput({ person: {}, vaccine: 'CORONAVAC', doseNumber: 1, date: '2021-06-10' }, { today: TODAY })), [
      ['person.name', 'required'],
      ['person.birthDate', 'required'],
      ['person.sex', 'required'],
      ['person.nik', 'required'],
    ]);
  });

  it('rejects unknown fields inside person, with their path', () => {
    assert.deepEqual(issues(validateVaccinationInput(body({}, { birthdate: '1980-05-17' }), { today: TODAY })), [['person.birthdate', 'unknown_field']]);
  });

  it('rejects wrong types without throwing', () => {
    const r = validateVaccinationInput(body({ vaccine: 7, lot: 5, date: 20210610 }, { name: ['Budi'], nik: 3174021705800001 }), { today: TODAY });
    assert.deepEqual(issues(r), [
      ['person.name', 'type'],
      ['person.nik', 'type'],
      ['vaccine', 'type'],
      ['date', 'type'],
      ['lot', 'type'],
    ]);
  });
});

describe('validateVaccinationInput: NIK against birth date and sex', () => {
  it('reports a NIK that disagrees with the birth date', () => {
    assert.deepEqual(issues(validateVaccinationInput(body({}, { birthDate: '1980-05-18' }), { today: TODAY })), [['person.nik', 'nik_birth_date_mismatch']]);
  });

  it('reports a woman\'s NIK for a man', () => {
    assert.deepEqual(
      issues(validateVaccinationInput(body({}, { nik: SITI_NIK, birthDate: '1992-08-17', sex: 'M' }), { today: TODAY })),
      [['person.nik', 'nik_sex_mismatch']],
    );
  });

  it('does not compare the NIK with a birth date that is itself invalid (one mistake, one issue)', () => {
    assert.deepEqual(issues(validateVaccinationInput(body({}, { birthDate: '17-05-1980' }), { today: TODAY })), [['person.birthDate', 'date_format']]);
  });

  it('a child born in 2005 with YY 05', () => {
    const nik = makeNik({ province: 35, regency: 78, district: 3, birthDate: '2005-01-09', sex: 'F', serial: 12 });
    const v = value(validateVaccinationInput(body({ date: '2022-01-10' }, { nik, birthDate: '2005-01-09', sex: 'F', name: 'Putri' }), { today: TODAY }));
    assert.equal(v.person.birthDate, '2005-01-09');
  });
});

describe('validateVaccinationInput: people without a NIK', () => {
  it('accepts a passport with an alpha-3 country, normalised to alpha-2 and upper case', () => {
    const v = value(
      validateVaccinationInput(
        body({}, { nik: undefined, identifier: { type: 'passport', value: 'k1234567', country: 'sgp' }, phone: '+65 9123 4567' }),
        { today: TODAY },
      ),
    );
    assert.deepEqual(v.person.identifier, { type: 'passport', value: 'K1234567', country: 'SG' });
    assert.equal(v.person.phone.status, 'valid');
    assert.ok(v.person.phone.status === 'valid' && v.person.phone.foreign);
  });

  it('rejects a bad passport number and an unknown country', () => {
    assert.deepEqual(
      issues(validateVaccinationInput(body({}, { nik: undefined, identifier: { type: 'passport', value: 'A1 2', country: 'XX' } }), { today: TODAY })),
      [
        ['person.identifier.value', 'passport_format'],
        ['person.identifier.country', 'country_unknown'],
      ],
    );
    assert.deepEqual(
      issues(validateVaccinationInput(body({}, { nik: undefined, identifier: { type: 'passport', value: 'A12345678901234567890' } }), { today: TODAY })),
      [
        ['person.identifier.value', 'passport_format'],
        ['person.identifier.country', 'required'],
      ],
    );
  });

  it('accepts a newborn under the mother\'s NIK: her digits, not the child\'s, are checked', () => {
    const baby = body({ vaccine: 'COMIRNATY', date: '2023-01-10' }, { nik: undefined, identifier: { type: 'mother-nik', value: SITI_NIK }, name: 'Bayi Ny. Siti', birthDate: '2022-11-02', sex: 'M' });
    const v = value(validateVaccinationInput(baby, { today: TODAY }));
    assert.deepEqual(v.person.identifier, { type: 'mother-nik', value: SITI_NIK });
  });

  it('a mother\'s NIK must be a woman\'s', () => {
    const r = validateVaccinationInput(body({ date: '2023-01-10' }, { nik: undefined, identifier: { type: 'mother-nik', value: BUDI_NIK }, birthDate: '2022-11-02' }), { today: TODAY });
    assert.deepEqual(issues(r), [['person.identifier.value', 'mother_nik_not_female']]);
  });

  it('a mother\'s NIK is still checked for structure', () => {
    const r = validateVaccinationInput(body({}, { nik: undefined, identifier: { type: 'mother-nik', value: '3273025708920000' } }), { today: TODAY });
    assert.deepEqual(issues(r), [['person.identifier.value', 'nik_serial']]);
  });

  it('accepts a NIK issued on the spot, and keeps the flag', () => {
    const v = value(validateVaccinationInput(body({}, { nik: undefined, identifier: { type: 'nik', value: BUDI_NIK, newlyIssued: true } }), { today: TODAY }));
    assert.deepEqual(v.person.identifier, { type: 'nik', value: BUDI_NIK, newlyIssued: true });
  });

  it('rejects an unknown identifier type and unknown identifier fields', () => {
    assert.deepEqual(issues(validateVaccinationInput(body({}, { nik: undefined, identifier: { type: 'kk', value: '123' } }), { today: TODAY })), [
      ['person.identifier.type', 'identifier_type'],
    ]);
    assert.deepEqual(
      issues(validateVaccinationInput(body({}, { nik: undefined, identifier: { type: 'nik', value: BUDI_NIK, country: 'ID' } }), { today: TODAY })),
      [['person.identifier.country', 'unknown_field']],
    );
  });

  it('rejects a NIK and a different identifier together', () => {
    const r = validateVaccinationInput(body({}, { identifier: { type: 'passport', value: 'K1234567', country: 'SG' } }), { today: TODAY });
    assert.deepEqual(issues(r), [['person.identifier', 'identifier_conflict']]);
    // the same NIK twice is fine
    value(validateVaccinationInput(body({}, { identifier: { type: 'nik', value: BUDI_NIK } }), { today: TODAY }));
  });
});

describe('validateVaccinationInput: dates', () => {
  it('rejects a vaccination after today in Indonesia', () => {
    assert.deepEqual(issues(validateVaccinationInput(body({ date: '2024-03-02' }), { today: TODAY })), [['date', 'date_in_future']]);
    value(validateVaccinationInput(body({ date: TODAY }), { today: TODAY }));
  });

  it('rejects a vaccination before the programme, before the vaccine was authorised, or before birth', () => {
    assert.deepEqual(issues(validateVaccinationInput(body({ date: '2020-12-31' }), { today: TODAY })), [['date', 'date_before_programme']]);
    assert.deepEqual(issues(validateVaccinationInput(body({ vaccine: 'INDOVAC', date: '2022-08-31' }), { today: TODAY })), [
      ['date', 'date_before_vaccine_available'],
    ]);
    value(validateVaccinationInput(body({ vaccine: 'INDOVAC', date: '2022-10-20' }), { today: TODAY }));
    const nik = makeNik({ province: 31, regency: 74, district: 2, birthDate: '2021-08-01', sex: 'M', serial: 3 });
    assert.deepEqual(issues(validateVaccinationInput(body({ date: '2021-07-01' }, { nik, birthDate: '2021-08-01' }), { today: TODAY })), [
      ['date', 'date_before_birth'],
    ]);
  });

  it('rejects birth dates in the future or before 1900, and impossible dates', () => {
    assert.deepEqual(issues(validateVaccinationInput(body({}, { birthDate: '2025-01-01' }), { today: TODAY })), [['person.birthDate', 'date_in_future']]);
    assert.deepEqual(issues(validateVaccinationInput(body({}, { birthDate: '1899-12-31' }), { today: TODAY })), [['person.birthDate', 'birth_date_too_early']]);
    assert.deepEqual(issues(validateVaccinationInput(body({ date: '2021-02-29' }), { today: TODAY })), [['date', 'date_invalid']]);
    assert.deepEqual(issues(validateVaccinationInput(body({ date: '10/06/2021' }), { today: TODAY })), [['date', 'date_format']]);
  });

  it('todayInJakarta is the date at UTC+7', () => {
    assert.equal(todayInJakarta(new Date('2024-02-29T16:59:59Z')), '2024-02-29');
    assert.equal(todayInJakarta(new Date('2024-02-29T17:00:00Z')), '2024-03-01');
    assert.equal(todayInJakarta(new Date('2021-12-31T23:00:00Z')), '2022-01-01');
  });
});

describe('validateVaccinationInput: phone policy', () => {
  it('rejects an unusable number by default', () => {
    assert.deepEqual(issues(validateVaccinationInput(body({}, { phone: '0812' }), { today: TODAY })), [['person.phone', 'phone_invalid']]);
  });

  it('with invalidPhone: flag (imports), records the dose and keeps the number as typed', () => {
    const v = value(validateVaccinationInput(body({}, { phone: '021-5551234' }), { today: TODAY, invalidPhone: 'flag' }));
    assert.equal(v.person.phone.status, 'invalid');
    assert.ok(v.person.phone.status === 'invalid');
    assert.equal(v.person.phone.raw, '021-5551234');
    assert.equal(v.person.phone.issue.code, 'phone_landline');
  });
});

describe('validateVaccinationInput: names', () => {
  it('rejects names over 200 characters and names without letters', () => {
    assert.deepEqual(issues(validateVaccinationInput(body({}, { name: 'A'.repeat(201) }), { today: TODAY })), [['person.name', 'name_too_long']]);
    value(validateVaccinationInput(body({}, { name: 'A'.repeat(200) }), { today: TODAY }));
    assert.deepEqual(issues(validateVaccinationInput(body({}, { name: '12345' }), { today: TODAY })), [['person.name', 'name_invalid']]);
  });

  it('keeps single names and apostrophes as written', () => {
    assert.equal(value(validateVaccinationInput(body({}, { name: 'Sukarni' }), { today: TODAY })).person.name, 'Sukarni');
    assert.equal(value(validateVaccinationInput(body({}, { name: "Ma'ruf Amin" }), { today: TODAY })).person.name, "Ma'ruf Amin");
  });
});
