/**
 * The pages' texts: every key in both languages (the type already demands it;
 * this checks the values), no empty text, the same placeholders in both, and
 * an Indonesian default that is really Indonesian.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DICTIONARY, parseLang, translate, type TextKey } from '../../web/lib/i18n.ts';

const placeholders = (s: string): string[] => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).sort();

test('every text exists in Indonesian and English, non-empty, with the same placeholders', () => {
  const keys = Object.keys(DICTIONARY.id) as TextKey[];
  assert.deepEqual(Object.keys(DICTIONARY.en).sort(), [...keys].sort());
  const problems: string[] = [];
  for (const key of keys) {
    const id = DICTIONARY.id[key];
    const en = DICTIONARY.en[key];
    if (!id.trim() || !en.trim()) problems.push(`${key}: empty`);
    if (JSON.stringify(placeholders(id)) !== JSON.stringify(placeholders(en))) problems.push(`${key}: placeholders differ`);
  }
  assert.deepEqual(problems, []);
  // Most texts differ between the languages (names and codes may not): a copy-paste would show here.
  const same = keys.filter((k) => DICTIONARY.id[k] === DICTIONARY.en[k]);
  assert.ok(same.length < 8, `texts identical in both languages: ${same.join(', ')}`);
});

test('translate fills placeholders; parseLang reads what browsers and links say', () => {
  assert.equal(translate('id', 'cert.doseHeading', { dose: 2 }), 'Dosis 2');
  assert.equal(translate('en', 'cert.doseHeading', { dose: 2 }), 'Dose 2');
  assert.equal(translate('en', 'trust.summary', { count: 1 }), '1 Dosis keys, updated {when}.');
  assert.deepEqual(['en', 'en-GB', 'id', 'id-ID', 'in', 'fr', '', null].map(parseLang), ['en', 'en', 'id', 'id', 'id', undefined, undefined, undefined]);
});
