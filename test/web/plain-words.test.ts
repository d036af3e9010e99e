/**
 * Issue 17 item 15: the pages speak plain Indonesian, as a puskesmas nurse
 * would, not translated words or jargon. Every file the server sends for the
 * pages (web/dist, as built) and every text of the server itself (src/) is
 * searched for the words people stumbled over; the words the console and the
 * portal share come from one file, web/lib/glossary.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { globSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureWebBuild } from '../../scripts/build-web.ts';
import { GLOSSARY } from '../../web/lib/glossary.ts';

const ROOT = join(import.meta.dirname, '../..');

/** What testers read as translated or as jargon (issue 17), and what is said instead. */
const JARGON = [
  'mengaku dosis sebelumnya', // → dosis sebelumnya belum tercatat
  'Pilih pekerjaan Anda',
  'Dasbor alur', // → Pantauan pencatatan dan SMS
  'Antrean perangkat', // → Belum terkirim
  'Antrean di Perangkat',
  'SMS antre', // → SMS menunggu dikirim
  'Diterima gateway', // → Sudah dikirim ke operator seluler
  'tulisan apa pun', // → format apa pun
  'Server menolak isian ini', // → Data ini belum bisa disimpan
  'Dieskalasi', // → Diteruskan ke dinas kesehatan
  'kunci pengiriman sendiri',
  'kasus rekonsiliasi',
];

function findJargon(files: string[]): string[] {
  const found: string[] = [];
  for (const f of files) {
    const text = readFileSync(join(ROOT, f), 'utf8').toLowerCase();
    for (const word of JARGON) if (text.includes(word.toLowerCase())) found.push(`${f}: "${word}"`);
  }
  return found;
}

test('no page the server sends uses the jargon of issue 17', async () => {
  await ensureWebBuild(() => {});
  const served = globSync('web/dist/**/*.{js,html,json,webmanifest}', { cwd: ROOT });
  assert.ok(served.some((f) => f.endsWith('.js')), 'web/dist has scripts');
  assert.deepEqual(findJargon(served), []);
});

test("no text of the server's own (SMS, errors, PDF) uses it either", () => {
  const sources = globSync('src/**/*.ts', { cwd: ROOT });
  assert.ok(sources.length > 50);
  assert.deepEqual(findJargon(sources), []);
});

test('the glossary: every word in both languages, none of them jargon, none empty', () => {
  const keys = Object.keys(GLOSSARY.id);
  assert.deepEqual(Object.keys(GLOSSARY.en).sort(), [...keys].sort());
  for (const lang of ['id', 'en'] as const) {
    for (const [k, v] of Object.entries(GLOSSARY[lang])) {
      assert.ok(v.trim(), `${lang} ${k} is empty`);
      for (const word of JARGON) assert.ok(!v.toLowerCase().includes(word.toLowerCase()), `${lang} ${k}: "${v}"`);
      assert.ok(!/gateway|antre|eskalasi/i.test(v), `${lang} ${k}: "${v}"`);
    }
  }
});

test('the console and the portal take the shared words from the glossary', () => {
  const importers = globSync('web/**/*.{ts,tsx}', { cwd: ROOT, exclude: (p) => p.includes('dist') })
    .filter((f) => /from '[./]*lib\/glossary\.ts'|from '\.\/glossary\.ts'/.test(readFileSync(join(ROOT, f), 'utf8')));
  assert.ok(importers.some((f) => f.startsWith('web/console/')), importers.join(', '));
  assert.ok(importers.some((f) => f.startsWith('web/portal/')), importers.join(', '));
});
