// node:test's describe/it return promises that the runner itself awaits; nothing here is left floating.
 
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  allVaccines,
  BOOSTER_RULES,
  EU_VACCINE_PRODUCTS,
  boosterRuleOn,
  findVaccine,
  listVaccines,
  scheduleOn,
  vaccineByCode,
} from '../../src/domain/vaccines.ts';

const VALUESETS = fileURLToPath(new URL('../conformance/eu-dcc/valuesets/', import.meta.url));

describe('findVaccine', () => {
  it('finds by our code, case- and space-insensitively', () => {
    assert.equal(findVaccine('CORONAVAC')?.code, 'CORONAVAC');
    assert.equal(findVaccine('coronavac')?.code, 'CORONAVAC');
    assert.equal(findVaccine(' Corona Vac ')?.code, 'CORONAVAC');
    assert.equal(findVaccine('bbibp-corv')?.code, 'BBIBP-CORV');
    assert.equal(findVaccine('BBIBP CorV')?.code, 'BBIBP-CORV');
  });

  it('finds by the names people write', () => {
    const cases: [string, string][] = [
      ['Sinovac', 'CORONAVAC'],
      ['AstraZeneca', 'VAXZEVRIA'],
      ['Astra Zeneca', 'VAXZEVRIA'],
      ['Pfizer', 'COMIRNATY'],
      ['pfizer-biontech', 'COMIRNATY'],
      ['Moderna', 'SPIKEVAX'],
      ['Sinopharm', 'BBIBP-CORV'],
      ['Novavax', 'NUVAXOVID'],
      ['Covovax', 'COVOVAX'],
      ['Janssen', 'JCOVDEN'],
      ['J&J', 'JCOVDEN'],
      ['Johnson & Johnson', 'JCOVDEN'],
      ['CanSino', 'CONVIDECIA'],
      ['ZF2001', 'ZIFIVAX'],
      ['Indovac', 'INDOVAC'],
      ['AWcorna', 'AWCORNA'],
      ['Inavac', 'INAVAC'],
      ['Vaxzevria', 'VAXZEVRIA'],
      ['EU/1/20/1528', 'COMIRNATY'], // the EU product code
    ];
    for (const [name, code] of cases) assert.equal(findVaccine(name)?.code, code, name);
  });

  it('does not guess at unknown names', () => {
    for (const n of ['Sputnik V', 'Covaxin', '', 'vaccine', 'Pfizer Moderna']) assert.equal(findVaccine(n), undefined, n);
  });
});

describe('catalogue', () => {
  it('holds the products used in Indonesia, with unique upper-case codes', () => {
    const codes = allVaccines().map((v) => v.code);
    for (const c of ['CORONAVAC', 'VAXZEVRIA', 'COMIRNATY', 'SPIKEVAX', 'BBIBP-CORV', 'NUVAXOVID', 'JCOVDEN', 'CONVIDECIA', 'ZIFIVAX', 'INDOVAC', 'AWCORNA', 'INAVAC']) {
      assert.ok(codes.includes(c as never), c);
    }
    assert.equal(new Set(codes).size, codes.length);
    for (const c of codes) assert.match(c, /^[A-Z0-9-]+$/);
  });

  it('has schedules sorted by date, starting at availability', () => {
    for (const v of allVaccines()) {
      assert.equal(v.schedules[0]?.from, v.availableFrom, v.code);
      const froms = v.schedules.map((s) => s.from);
      assert.deepEqual(froms, [...froms].sort(), v.code);
      for (const s of v.schedules) {
        assert.ok(s.dosesInPrimarySeries >= 1 && s.dosesInPrimarySeries <= 3, v.code);
        assert.equal(s.minIntervalDays === 0, s.dosesInPrimarySeries === 1, v.code);
      }
    }
  });

  it('vaccineByCode throws for an unknown code', () => {
    assert.equal(vaccineByCode('SPIKEVAX').name, 'Spikevax');
    assert.throws(() => vaccineByCode('SPUTNIK'), RangeError);
  });
});

describe('EU DCC codes', () => {
  it('uses the codes of the EU encoding table', () => {
    const eu = (c: string) => vaccineByCode(c).eu;
    assert.deepEqual(eu('COMIRNATY'), { vp: '1119349007', mp: 'EU/1/20/1528', ma: 'ORG-100030215', inValueSet: true });
    assert.deepEqual(eu('SPIKEVAX'), { vp: '1119349007', mp: 'EU/1/20/1507', ma: 'ORG-100031184', inValueSet: true });
    assert.deepEqual(eu('VAXZEVRIA'), { vp: '29061000087103', mp: 'EU/1/21/1529', ma: 'ORG-100001699', inValueSet: true });
    assert.deepEqual(eu('JCOVDEN'), { vp: '29061000087103', mp: 'EU/1/20/1525', ma: 'ORG-100001417', inValueSet: true });
    assert.deepEqual(eu('CORONAVAC'), { vp: '1157024006', mp: 'CoronaVac', ma: 'Sinovac-Biotech', inValueSet: true });
    assert.deepEqual(eu('BBIBP-CORV'), { vp: '1157024006', mp: 'BBIBP-CorV', ma: 'ORG-100020693', inValueSet: true });
    assert.deepEqual(eu('NUVAXOVID'), { vp: '1162643001', mp: 'EU/1/21/1618', ma: 'ORG-100032020', inValueSet: true });
    assert.deepEqual(eu('COVOVAX'), { vp: '1162643001', mp: 'Covovax', ma: 'ORG-100001981', inValueSet: true });
    assert.deepEqual(eu('CONVIDECIA'), { vp: '29061000087103', mp: 'Convidecia', ma: 'ORG-100013793', inValueSet: true });
  });

  it('marks the products only Indonesia authorised as outside the EU value set', () => {
    for (const c of ['ZIFIVAX', 'INDOVAC', 'AWCORNA', 'INAVAC']) assert.equal(vaccineByCode(c).eu.inValueSet, false, c);
    // The verifier's list ("vaccine not in the EU list") and the catalogue's flag say the same.
    for (const v of allVaccines()) assert.equal(EU_VACCINE_PRODUCTS.has(v.eu.mp), v.eu.inValueSet, v.code);
  });

  it('agrees with the EU value sets in test/conformance', () => {
    const read = (f: string) =>
      (JSON.parse(readFileSync(VALUESETS + f, 'utf8')) as { valueSetValues: Record<string, unknown> }).valueSetValues;
    const mp = read('vaccine-medicinal-product.json');
    assert.deepEqual([...EU_VACCINE_PRODUCTS].sort(), Object.keys(mp).sort(), 'EU_VACCINE_PRODUCTS is the value set');
    const ma = read('vaccine-mah-manf.json');
    const vp = read('vaccine-prophylaxis.json');
    const table = readFileSync(`${VALUESETS}vaccine-encoding-table.tsv`, 'utf8');
    for (const v of allVaccines()) {
      assert.ok(v.eu.vp in vp, `${v.code} vp ${v.eu.vp}`);
      assert.equal(v.eu.mp in mp, v.eu.inValueSet, `${v.code} mp ${v.eu.mp}`);
      if (v.eu.inValueSet) {
        assert.ok(v.eu.ma in ma, `${v.code} ma ${v.eu.ma}`);
        // The table's row for this product lists the same mp, ma and allows this vp.
        const row = table.split('\n').find((l) => l.replace(/"/g, '').split('\t')[1] === v.eu.mp);
        assert.ok(row, `${v.code}: no table row`);
        const cells = row.replace(/"/g, '').split('\t');
        assert.equal(cells[2], v.eu.ma, v.code);
        assert.ok(cells[3]?.split(' or ').includes(v.eu.vp), `${v.code} vp ${v.eu.vp} not allowed by "${cells[3]}"`);
      }
    }
  });
});

describe('scheduleOn: dated schedules', () => {
  it('CoronaVac: 14 days at first, 28 days from March 2021', () => {
    const cv = vaccineByCode('CORONAVAC');
    assert.equal(scheduleOn(cv, '2021-01-13').minIntervalDays, 14);
    assert.equal(scheduleOn(cv, '2021-02-28').minIntervalDays, 14);
    assert.equal(scheduleOn(cv, '2021-03-01').minIntervalDays, 28);
    assert.equal(scheduleOn(cv, '2023-06-01').minIntervalDays, 28);
    assert.equal(scheduleOn(cv, '2021-03-01').dosesInPrimarySeries, 2);
  });

  it('AstraZeneca: 12 weeks, then 8 weeks allowed from 27 January 2022', () => {
    const az = vaccineByCode('VAXZEVRIA');
    assert.equal(scheduleOn(az, '2021-06-01').minIntervalDays, 84);
    assert.equal(scheduleOn(az, '2022-01-26').minIntervalDays, 84);
    assert.equal(scheduleOn(az, '2022-01-27').minIntervalDays, 56);
  });

  it('single-dose and three-dose series', () => {
    assert.equal(scheduleOn(vaccineByCode('JCOVDEN'), '2022-01-01').dosesInPrimarySeries, 1);
    assert.equal(scheduleOn(vaccineByCode('CONVIDECIA'), '2022-01-01').dosesInPrimarySeries, 1);
    assert.equal(scheduleOn(vaccineByCode('ZIFIVAX'), '2022-01-01').dosesInPrimarySeries, 3);
  });

  it('before the first entry, the first entry applies', () => {
    assert.equal(scheduleOn(vaccineByCode('INAVAC'), '2021-01-01').minIntervalDays, 28);
  });
});

describe('boosterRuleOn: dated booster rules', () => {
  it('booster 1: none before the programme, 6 months from January 2022, 3 months from 25 February 2022', () => {
    assert.equal(boosterRuleOn(1, '2021-06-01'), undefined);
    assert.equal(boosterRuleOn(1, '2022-01-27')?.minIntervalMonths, 6);
    assert.equal(boosterRuleOn(1, '2022-02-24')?.minIntervalMonths, 6);
    assert.equal(boosterRuleOn(1, '2022-02-25')?.minIntervalMonths, 3);
    assert.equal(boosterRuleOn(1, '2024-01-01')?.minIntervalMonths, 3);
  });

  it('booster 2: health workers from 29 July 2022, everyone 18+ from 24 January 2023, 6 months', () => {
    assert.equal(boosterRuleOn(2, '2022-07-28'), undefined);
    assert.equal(boosterRuleOn(2, '2022-07-29')?.group, 'health workers');
    assert.equal(boosterRuleOn(2, '2023-01-24')?.forEveryone, true);
    assert.equal(boosterRuleOn(2, '2023-01-24')?.minIntervalMonths, 6);
  });

  it('rules are sorted and every one cites a source', () => {
    for (const b of [1, 2]) {
      const froms = BOOSTER_RULES.filter((r) => r.booster === b).map((r) => r.from);
      assert.deepEqual(froms, [...froms].sort());
    }
    for (const r of BOOSTER_RULES) assert.ok(r.source.length > 5);
  });
});

describe('listVaccines', () => {
  it('lists every product with the schedule in force on the day asked', () => {
    const list = listVaccines('2021-02-01');
    assert.equal(list.length, allVaccines().length);
    const cv = list.find((v) => v.code === 'CORONAVAC');
    assert.equal(cv?.minIntervalDays, 14);
    assert.equal(listVaccines('2024-01-01').find((v) => v.code === 'CORONAVAC')?.minIntervalDays, 28);
    for (const v of list) {
      assert.ok(v.code && v.name && v.manufacturer, v.code);
      assert.ok(v.dosesInPrimarySeries >= 1);
    }
  });

  it('returns copies that callers cannot use to change the catalogue', () => {
    const [first] = listVaccines('2024-01-01');
    assert.ok(first);
    first.aliases.push('nonsense');
    first.eu.mp = 'changed';
    assert.equal(findVaccine('nonsense'), undefined);
    assert.notEqual(vaccineByCode(first.code).eu.mp, 'changed');
  });
});
