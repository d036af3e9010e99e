// node:test's describe/it return promises that the runner itself awaits; nothing here is left floating.
 
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../../src/domain/errors.ts';
import { doseRole, evaluateDose, isValidDoseNumber, MAX_DOSE_NUMBER, nextDoseDue } from '../../src/domain/doses.ts';
import type { DoseEvaluation, ExistingDose } from '../../src/domain/doses.ts';
import { vaccineByCode } from '../../src/domain/vaccines.ts';

const CV = vaccineByCode('CORONAVAC');
const AZ = vaccineByCode('VAXZEVRIA');
const PF = vaccineByCode('COMIRNATY');
const JJ = vaccineByCode('JCOVDEN');
const ZF = vaccineByCode('ZIFIVAX');

const dose = (doseNumber: number, date: string, vaccine = 'CORONAVAC', status: ExistingDose['status'] = 'recorded'): ExistingDose => ({
  doseNumber,
  date,
  vaccine,
  status,
});

function warningCodes(r: DoseEvaluation): string[] {
  assert.ok(r.outcome === 'recorded' || r.outcome === 'claims_prior_dose', `outcome ${r.outcome}`);
  return r.warnings.map((w) => w.code);
}

describe('dose numbers', () => {
  it('accepts 1 to 5 and nothing else', () => {
    assert.equal(MAX_DOSE_NUMBER, 5);
    for (const n of [1, 2, 3, 4, 5]) assert.equal(isValidDoseNumber(n), true, String(n));
    for (const n of [0, -1, 6, 9, 1.5, Number.NaN, '1', null]) assert.equal(isValidDoseNumber(n), false, String(n));
  });

  it('doseRole throws an invalid AppError for 0 or 9', () => {
    for (const n of [0, 9]) {
      assert.throws(
        () => doseRole(CV, n, '2021-06-01'),
        (e: unknown) => e instanceof AppError && e.code === 'dose_number_range' && e.status === 422 && e.fields[0]?.path === 'doseNumber',
      );
    }
  });
});

describe('doseRole: EU DCC dn/sd', () => {
  it('primary doses of a 2-dose series are 1/2 and 2/2', () => {
    assert.deepEqual(doseRole(CV, 1, '2021-06-01'), { role: 'primary', dn: 1, sd: 2, seriesDoses: 2 });
    assert.deepEqual(doseRole(CV, 2, '2021-07-01'), { role: 'primary', dn: 2, sd: 2, seriesDoses: 2 });
  });

  it('boosters after a 2-dose series are 3/3 and 4/4', () => {
    assert.deepEqual(doseRole(PF, 3, '2022-03-01', CV), { role: 'booster', boosterNumber: 1, dn: 3, sd: 3, seriesDoses: 2 });
    assert.deepEqual(doseRole(PF, 4, '2023-03-01', CV), { role: 'booster', boosterNumber: 2, dn: 4, sd: 4, seriesDoses: 2 });
  });

  it('after a single-dose Janssen series: 1/1, then boosters 2/1 and 3/1 — even with another product', () => {
    assert.deepEqual(doseRole(JJ, 1, '2021-10-01'), { role: 'primary', dn: 1, sd: 1, seriesDoses: 1 });
    assert.deepEqual(doseRole(PF, 2, '2022-03-01', JJ), { role: 'booster', boosterNumber: 1, dn: 2, sd: 1, seriesDoses: 1 });
    assert.deepEqual(doseRole(JJ, 3, '2023-03-01'), { role: 'booster', boosterNumber: 2, dn: 3, sd: 1, seriesDoses: 1 });
  });

  it('without the primary product, a Comirnaty dose 2 would read 2/2 — why `primary` matters', () => {
    assert.equal(doseRole(PF, 2, '2022-03-01').role, 'primary');
  });

  it('Zifivax: three primary doses, then 4/4 and 5/5', () => {
    assert.equal(doseRole(ZF, 3, '2022-01-01').role, 'primary');
    assert.deepEqual(doseRole(ZF, 3, '2022-01-01'), { role: 'primary', dn: 3, sd: 3, seriesDoses: 3 });
    assert.deepEqual(doseRole(ZF, 4, '2022-06-01'), { role: 'booster', boosterNumber: 1, dn: 4, sd: 4, seriesDoses: 3 });
    assert.deepEqual(doseRole(ZF, 5, '2023-06-01'), { role: 'booster', boosterNumber: 2, dn: 5, sd: 5, seriesDoses: 3 });
  });
});

describe('evaluateDose', () => {
  it('records a first dose', () => {
    const r = evaluateDose([], { doseNumber: 1, date: '2021-06-10', vaccine: 'CORONAVAC' });
    assert.deepEqual(r, { outcome: 'recorded', role: { role: 'primary', dn: 1, sd: 2, seriesDoses: 2 }, warnings: [], resolvesClaims: [] });
  });

  it('records a second dose after the first, on schedule', () => {
    const r = evaluateDose([dose(1, '2021-06-10')], { doseNumber: 2, date: '2021-07-08', vaccine: 'CORONAVAC' });
    assert.equal(r.outcome, 'recorded');
    assert.deepEqual(warningCodes(r), []);
  });

  it('records a second dose whose first is not on record, as claiming a prior dose — never refuses it', () => {
    const r = evaluateDose([], { doseNumber: 2, date: '2021-07-08', vaccine: 'CORONAVAC' });
    assert.equal(r.outcome, 'claims_prior_dose');
    assert.ok(r.outcome === 'claims_prior_dose');
    assert.deepEqual(r.missing, [1]);
    assert.equal(r.role.dn, 2);
  });

  it('lists every missing earlier dose', () => {
    const r = evaluateDose([dose(2, '2021-07-08')], { doseNumber: 4, date: '2023-03-01', vaccine: 'COMIRNATY' });
    assert.ok(r.outcome === 'claims_prior_dose');
    assert.deepEqual(r.missing, [1, 3]);
  });

  it('ignores void doses', () => {
    const r = evaluateDose([dose(1, '2021-06-10', 'CORONAVAC', 'void')], { doseNumber: 2, date: '2021-07-08', vaccine: 'CORONAVAC' });
    assert.ok(r.outcome === 'claims_prior_dose');
    assert.deepEqual(r.missing, [1]);
  });

  it('the earlier dose arriving later resolves the claim', () => {
    const existing = [dose(2, '2021-07-08', 'CORONAVAC', 'claims_prior_dose')];
    const r = evaluateDose(existing, { doseNumber: 1, date: '2021-06-10', vaccine: 'CORONAVAC' });
    assert.ok(r.outcome === 'recorded');
    assert.deepEqual(r.resolvesClaims, [2]);
  });

  it('does not resolve a claim that still misses a dose', () => {
    const existing = [dose(3, '2022-03-01', 'COMIRNATY', 'claims_prior_dose')];
    const r = evaluateDose(existing, { doseNumber: 1, date: '2021-06-10', vaccine: 'CORONAVAC' });
    assert.ok(r.outcome === 'recorded');
    assert.deepEqual(r.resolvesClaims, []);
  });

  it('a repeated entry (same number, date, vaccine) is a duplicate, answered with what is on record', () => {
    const on = dose(1, '2021-06-10');
    assert.deepEqual(evaluateDose([on], { doseNumber: 1, date: '2021-06-10', vaccine: 'CORONAVAC' }), { outcome: 'duplicate', existing: on });
    // by alias too: an import row saying "Sinovac"
    assert.equal(evaluateDose([on], { doseNumber: 1, date: '2021-06-10', vaccine: 'Sinovac' }).outcome, 'duplicate');
    // a duplicate of a dose recorded as claiming a prior dose is still a duplicate
    const claim = dose(2, '2021-07-08', 'CORONAVAC', 'claims_prior_dose');
    assert.equal(evaluateDose([claim], { doseNumber: 2, date: '2021-07-08', vaccine: 'CORONAVAC' }).outcome, 'duplicate');
  });

  it('the same dose number on another date is a conflict', () => {
    const on = dose(1, '2021-06-10');
    const r = evaluateDose([on], { doseNumber: 1, date: '2021-06-11', vaccine: 'CORONAVAC' });
    assert.ok(r.outcome === 'conflict');
    assert.equal(r.reason, 'dose_number_taken');
    assert.equal(r.existing, on);
    assert.match(r.message.en, /2021-06-10/);
    assert.match(r.message.id, /sudah tercatat/);
  });

  it('the same dose number and date with another vaccine is a conflict', () => {
    const r = evaluateDose([dose(1, '2021-06-10')], { doseNumber: 1, date: '2021-06-10', vaccine: 'VAXZEVRIA' });
    assert.ok(r.outcome === 'conflict');
    assert.equal(r.reason, 'vaccine_differs');
  });

  it('two doses on one day is a conflict', () => {
    const r = evaluateDose([dose(1, '2021-06-10')], { doseNumber: 2, date: '2021-06-10', vaccine: 'CORONAVAC' });
    assert.ok(r.outcome === 'conflict');
    assert.equal(r.reason, 'same_day_as_other_dose');
  });

  it('dates out of order are a conflict', () => {
    const r = evaluateDose([dose(1, '2021-06-10')], { doseNumber: 2, date: '2021-05-10', vaccine: 'CORONAVAC' });
    assert.ok(r.outcome === 'conflict');
    assert.equal(r.reason, 'out_of_order');
    const r2 = evaluateDose([dose(2, '2021-07-08', 'CORONAVAC', 'claims_prior_dose')], { doseNumber: 1, date: '2021-08-01', vaccine: 'CORONAVAC' });
    assert.ok(r2.outcome === 'conflict');
    assert.equal(r2.reason, 'out_of_order');
  });
});

describe('evaluateDose: interval warnings by the dated schedule', () => {
  it('CoronaVac in February 2021: 14 days is enough', () => {
    const r = evaluateDose([dose(1, '2021-02-01')], { doseNumber: 2, date: '2021-02-15', vaccine: 'CORONAVAC' });
    assert.deepEqual(warningCodes(r), []);
  });

  it('CoronaVac: 13 days warns, and the dose is still recorded', () => {
    const r = evaluateDose([dose(1, '2021-02-01')], { doseNumber: 2, date: '2021-02-14', vaccine: 'CORONAVAC' });
    assert.equal(r.outcome, 'recorded');
    assert.deepEqual(warningCodes(r), ['interval_too_short']);
  });

  it('CoronaVac from March 2021: 14 days warns (28 needed)', () => {
    const r = evaluateDose([dose(1, '2021-04-01')], { doseNumber: 2, date: '2021-04-15', vaccine: 'CORONAVAC' });
    assert.deepEqual(warningCodes(r), ['interval_too_short']);
    assert.ok(r.outcome === 'recorded');
    assert.match(r.warnings[0]?.message.en ?? '', /28 days/);
  });

  it('a series started under the 14-day rule is judged leniently across the change', () => {
    const r = evaluateDose([dose(1, '2021-02-20')], { doseNumber: 2, date: '2021-03-06', vaccine: 'CORONAVAC' });
    assert.deepEqual(warningCodes(r), []);
  });

  it('AstraZeneca: 8 weeks warns in 2021 (12 weeks), not from 27 January 2022', () => {
    const early = evaluateDose([dose(1, '2021-06-01', 'VAXZEVRIA')], { doseNumber: 2, date: '2021-07-27', vaccine: 'VAXZEVRIA' });
    assert.deepEqual(warningCodes(early), ['interval_too_short']);
    const later = evaluateDose([dose(1, '2022-02-01', 'VAXZEVRIA')], { doseNumber: 2, date: '2022-03-29', vaccine: 'VAXZEVRIA' });
    assert.deepEqual(warningCodes(later), []);
  });

  it('a different product inside the primary series is a warning', () => {
    const r = evaluateDose([dose(1, '2021-06-01')], { doseNumber: 2, date: '2021-07-01', vaccine: 'VAXZEVRIA' });
    assert.deepEqual(warningCodes(r), ['heterologous_primary']);
  });
});

describe('evaluateDose: boosters', () => {
  const primary = [dose(1, '2021-06-01'), dose(2, '2021-07-01')];

  it('booster 1 six months after the series in February 2022: 3/3, no warning', () => {
    const r = evaluateDose(primary, { doseNumber: 3, date: '2022-02-01', vaccine: 'COMIRNATY' });
    assert.ok(r.outcome === 'recorded');
    assert.deepEqual(r.role, { role: 'booster', boosterNumber: 1, dn: 3, sd: 3, seriesDoses: 2 });
    assert.deepEqual(r.warnings, []);
  });

  it('booster 1 four months after the series: warns under the 6-month rule, not under the 3-month rule', () => {
    const series = [dose(1, '2021-09-01'), dose(2, '2021-10-01')];
    const before = evaluateDose(series, { doseNumber: 3, date: '2022-02-10', vaccine: 'COMIRNATY' });
    assert.deepEqual(warningCodes(before), ['booster_interval_too_short']);
    const after = evaluateDose(series, { doseNumber: 3, date: '2022-02-25', vaccine: 'COMIRNATY' });
    assert.deepEqual(warningCodes(after), []);
  });

  it('a booster before any booster rule is a warning', () => {
    const r = evaluateDose([dose(1, '2021-01-20'), dose(2, '2021-02-03')], { doseNumber: 3, date: '2021-06-01', vaccine: 'SPIKEVAX' });
    assert.deepEqual(warningCodes(r), ['booster_before_programme']);
  });

  it('health workers\' third dose of August 2021 is within a rule', () => {
    const r = evaluateDose([dose(1, '2021-01-20'), dose(2, '2021-02-03')], { doseNumber: 3, date: '2021-08-10', vaccine: 'SPIKEVAX' });
    assert.deepEqual(warningCodes(r), []);
  });

  it('booster 2 in 2023, six months after booster 1: 4/4', () => {
    const r = evaluateDose([...primary, dose(3, '2022-03-01', 'COMIRNATY')], { doseNumber: 4, date: '2023-02-01', vaccine: 'COMIRNATY' });
    assert.ok(r.outcome === 'recorded');
    assert.equal(r.role.dn, 4);
    assert.equal(r.role.sd, 4);
    assert.deepEqual(r.warnings, []);
  });

  it('booster 2 five months after booster 1 warns', () => {
    const r = evaluateDose([...primary, dose(3, '2022-09-01', 'COMIRNATY')], { doseNumber: 4, date: '2023-02-01', vaccine: 'COMIRNATY' });
    assert.deepEqual(warningCodes(r), ['booster_interval_too_short']);
  });

  it('booster 2 before July 2022 is before the programme', () => {
    const r = evaluateDose([...primary, dose(3, '2022-01-28', 'COMIRNATY')], { doseNumber: 4, date: '2022-07-28', vaccine: 'COMIRNATY' });
    assert.deepEqual(warningCodes(r), ['booster_before_programme']);
  });

  it('Janssen then Comirnaty: the booster is 2/1', () => {
    const r = evaluateDose([dose(1, '2021-10-01', 'JCOVDEN')], { doseNumber: 2, date: '2022-03-01', vaccine: 'COMIRNATY' });
    assert.ok(r.outcome === 'recorded');
    assert.deepEqual(r.role, { role: 'booster', boosterNumber: 1, dn: 2, sd: 1, seriesDoses: 1 });
    assert.deepEqual(r.warnings, []);
  });

  it('a fifth dose after a 2-dose series is beyond the programme: a warning, still recorded', () => {
    const r = evaluateDose(
      [...primary, dose(3, '2022-03-01', 'COMIRNATY'), dose(4, '2023-03-01', 'COMIRNATY')],
      { doseNumber: 5, date: '2024-01-01', vaccine: 'COMIRNATY' },
    );
    assert.equal(r.outcome, 'recorded');
    assert.deepEqual(warningCodes(r), ['beyond_programme']);
  });
});

describe('nextDoseDue', () => {
  it('CoronaVac dose 2 is due 28 days after dose 1 (from March 2021)', () => {
    assert.deepEqual(nextDoseDue({ doseNumber: 1, date: '2021-06-10', vaccine: CV }), { doseNumber: 2, due: '2021-07-08', role: 'primary' });
  });

  it('AstraZeneca dose 2 is due 12 weeks after in 2021', () => {
    assert.deepEqual(nextDoseDue({ doseNumber: 1, date: '2021-06-01', vaccine: AZ }), { doseNumber: 2, due: '2021-08-24', role: 'primary' });
  });

  it('booster 1 after a series completed in mid-2021 is due when the programme opened to everyone', () => {
    assert.deepEqual(nextDoseDue({ doseNumber: 2, date: '2021-06-01', vaccine: CV }), { doseNumber: 3, due: '2022-01-27', role: 'booster' });
  });

  it('booster 1 after a series completed in December 2021 is due 3 months later (rule of 25 Feb 2022)', () => {
    assert.deepEqual(nextDoseDue({ doseNumber: 2, date: '2021-12-01', vaccine: CV }), { doseNumber: 3, due: '2022-03-01', role: 'booster' });
  });

  it('booster 2 is due 6 months after booster 1, not before 24 January 2023', () => {
    assert.deepEqual(nextDoseDue({ doseNumber: 3, date: '2022-03-01', vaccine: PF, primary: CV }), { doseNumber: 4, due: '2023-01-24', role: 'booster' });
    assert.deepEqual(nextDoseDue({ doseNumber: 3, date: '2022-12-31', vaccine: PF, primary: CV }), { doseNumber: 4, due: '2023-06-30', role: 'booster' });
  });

  it('nothing is due after booster 2', () => {
    assert.equal(nextDoseDue({ doseNumber: 4, date: '2023-03-01', vaccine: PF, primary: CV }), null);
    assert.equal(nextDoseDue({ doseNumber: 3, date: '2023-03-01', vaccine: JJ }), null);
  });
});
