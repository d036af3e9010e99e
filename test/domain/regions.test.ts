// node:test's describe/it return promises that the runner itself awaits; nothing here is left floating.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatRegionCode, parseRegionCode } from '../../src/domain/regions.ts';

describe('region codes (issue 17 item 17)', () => {
  it('takes the dotted writing and the digits alike, and stores the digits', () => {
    for (const [typed, stored] of [
      ['12', '12'],
      ['12.71', '1271'],
      ['1271', '1271'],
      ['12.71.01', '127101'],
      [' 12.71.01 ', '127101'],
      ['127101', '127101'],
      ['12.71.01.1001', '1271011001'],
      ['1271011001', '1271011001'],
    ]) {
      assert.equal(parseRegionCode(typed), stored, typed);
    }
  });

  it('refuses what is not a region code', () => {
    for (const bad of ['1', '127', '12.7', '12.71.1', '12..71', '12.71.', '12-71', '12 71', '12.71.01.100', 'abcd', '', 1271, null]) {
      assert.equal(parseRegionCode(bad), null, String(bad));
    }
  });

  it('as a filter, any prefix of 2–10 digits or a dotted code', () => {
    assert.equal(parseRegionCode('127', { prefix: true }), '127');
    assert.equal(parseRegionCode('12.71', { prefix: true }), '1271');
    assert.equal(parseRegionCode('12.7', { prefix: true }), null);
    assert.equal(parseRegionCode('1', { prefix: true }), null);
  });

  it('shows the dotted writing', () => {
    assert.equal(formatRegionCode('12'), '12');
    assert.equal(formatRegionCode('1271'), '12.71');
    assert.equal(formatRegionCode('127101'), '12.71.01');
    assert.equal(formatRegionCode('1271011001'), '12.71.01.1001');
    assert.equal(formatRegionCode('127'), '127', 'a prefix that is no code stays as it is');
  });
});
