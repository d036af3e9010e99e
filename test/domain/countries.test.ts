// node:test's describe/it return promises that the runner itself awaits; nothing here is left floating.
 
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { countryAlpha2, countryAlpha3, countryCodes } from '../../src/domain/countries.ts';

const EU_COUNTRIES = fileURLToPath(new URL('../conformance/eu-dcc/valuesets/country-2-codes.json', import.meta.url));

describe('countries', () => {
  it('normalises alpha-2 and alpha-3 to alpha-2', () => {
    assert.equal(countryAlpha2('sg'), 'SG');
    assert.equal(countryAlpha2('SGP'), 'SG');
    assert.equal(countryAlpha2(' idn '), 'ID');
    assert.equal(countryAlpha2('DEU'), 'DE');
    assert.equal(countryAlpha2('TLS'), 'TL');
    assert.equal(countryAlpha3('MY'), 'MYS');
    assert.equal(countryAlpha3('GB'), 'GBR');
  });

  it('rejects what is not a code', () => {
    for (const c of ['', 'X', 'XX', 'UK', 'EU', 'ABCD', 'Indonesia', 'D']) assert.equal(countryAlpha2(c), undefined, c);
  });

  it('has one alpha-3 for each alpha-2', () => {
    const a3 = countryCodes().map((c) => countryAlpha3(c));
    assert.equal(new Set(a3).size, a3.length);
    for (const c of a3) assert.match(c ?? '', /^[A-Z]{3}$/);
  });

  it('matches the EU DCC country value set', () => {
    const eu = Object.keys((JSON.parse(readFileSync(EU_COUNTRIES, 'utf8')) as { valueSetValues: object }).valueSetValues).sort();
    assert.deepEqual(countryCodes(), eu);
  });
});
