import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allVaccines } from '../../src/domain/vaccines.ts';
import { CVX_SYSTEM, KFA_SYSTEM, vaccineCodes, vaccineForCoding } from '../../src/domain/vaccine-codes.ts';

test('every catalogue vaccine has a CVX code; only the documented ones are approximate', () => {
  const approximate = allVaccines()
    .filter((v) => vaccineCodes(v.code).cvx.approximate)
    .map((v) => v.code);
  assert.deepEqual(approximate.sort(), ['AWCORNA', 'COVOVAX', 'INAVAC', 'INDOVAC']);
  for (const v of allVaccines()) assert.match(vaccineCodes(v.code).cvx.code, /^(2\d\d|5\d\d)$/, v.code);
});

test('a CVX code names a product for imports only when it names exactly one', () => {
  assert.equal(vaccineForCoding(CVX_SYSTEM, '511'), 'CORONAVAC');
  assert.equal(vaccineForCoding(CVX_SYSTEM, '510'), 'BBIBP-CORV');
  assert.equal(vaccineForCoding(CVX_SYSTEM, '211'), undefined, 'Nuvaxovid and Covovax share 211');
  assert.equal(vaccineForCoding(CVX_SYSTEM, '213'), undefined, 'unspecified');
  assert.equal(vaccineForCoding(KFA_SYSTEM, '93000000'), undefined);
  assert.equal(vaccineForCoding('http://snomed.info/sct', '511'), undefined);
});

test('IndoVac, AWcorna and Inavac cards carry CVX 213 (unspecified formulation): CVX has no code of theirs', () => {
  for (const code of ['INDOVAC', 'AWCORNA', 'INAVAC'] as const) {
    assert.deepEqual(vaccineCodes(code).cvx, { code: '213', display: 'SARS-COV-2 (COVID-19) vaccine, UNSPECIFIED FORMULATION', approximate: true }, code);
  }
});
