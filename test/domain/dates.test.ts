// node:test's describe/it return promises that the runner itself awaits; nothing here is left floating.
 
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { addDays, addMonths, daysBetween, isIsoDate, parseIsoDate, todayInJakarta } from '../../src/domain/dates.ts';

describe('dates', () => {
  it('accepts only real YYYY-MM-DD dates', () => {
    for (const d of ['2021-01-13', '2000-02-29', '2024-02-29', '1900-01-01']) assert.equal(isIsoDate(d), true, d);
    for (const d of ['2021-02-29', '1900-02-29', '2021-13-01', '2021-00-10', '2021-04-31', '2021-1-13', '13-01-2021', '2021-01-13T00:00:00Z', '', 20210113, null]) {
      assert.equal(isIsoDate(d), false, String(d));
    }
    assert.deepEqual(parseIsoDate('2021-06-10'), { year: 2021, month: 6, day: 10 });
  });

  it('adds days across months and leap days', () => {
    assert.equal(addDays('2021-01-31', 14), '2021-02-14');
    assert.equal(addDays('2024-02-28', 1), '2024-02-29');
    assert.equal(addDays('2021-03-01', -1), '2021-02-28');
    assert.equal(daysBetween('2021-02-01', '2021-03-01'), 28);
    assert.equal(daysBetween('2021-03-01', '2021-02-01'), -28);
  });

  it('adds calendar months, clamping to the end of a shorter month', () => {
    assert.equal(addMonths('2021-07-01', 6), '2022-01-01');
    assert.equal(addMonths('2021-08-31', 6), '2022-02-28');
    assert.equal(addMonths('2023-08-31', 6), '2024-02-29');
    assert.equal(addMonths('2021-11-30', 3), '2022-02-28');
    assert.equal(addMonths('2022-03-15', -3), '2021-12-15');
  });

  it('todayInJakarta does not depend on the machine\'s time zone', () => {
    assert.equal(todayInJakarta(new Date('2021-06-09T17:00:00.000Z')), '2021-06-10');
    assert.equal(todayInJakarta(new Date('2021-06-10T16:59:59.999Z')), '2021-06-10');
  });

  it('throws on a bad date in arithmetic (a programming error)', () => {
    assert.throws(() => addDays('2021-02-30', 1), RangeError);
  });
});
