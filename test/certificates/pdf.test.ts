/**
 * The certificate PDF prints every name as written: its text, read back with
 * poppler's pdftotext (Debian `poppler-utils`), and its title metadata
 * (pdfinfo) equal the name, for names in Polish, Turkish, Vietnamese and
 * Indonesian; a name longer than a line is printed whole.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderCertificatePdf, type PdfCertificate } from '../../src/certificates/pdf.ts';
import { pdfCertificate } from './pdf-fixture.ts';
import { MAX_NAME_LENGTH } from '../../src/domain/vaccination-input.ts';

const dir = mkdtempSync(join(tmpdir(), 'dosis-pdf-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

async function readBack(name: string, file: string, more: Partial<PdfCertificate> = {}): Promise<{ text: string; title: string }> {
  const path = join(dir, file);
  writeFileSync(path, await renderCertificatePdf(pdfCertificate(name, more)));
  const text = execFileSync('pdftotext', ['-enc', 'UTF-8', path, '-'], { encoding: 'utf8' }).normalize('NFC');
  const info = execFileSync('pdfinfo', ['-enc', 'UTF-8', path], { encoding: 'utf8' });
  const title = /^Title:\s+(.*)$/m.exec(info)?.[1] ?? '';
  return { text, title: title.normalize('NFC') };
}

const NAMES: [string, string][] = [
  ['Polish', 'Łucja Żółkiewska-Wiśniewska'],
  ['Turkish', 'Şükrü Çağlayan Gündoğdu İğdır'],
  ['Vietnamese', 'Nguyễn Thị Phượng Đặng Ngọc Ánh'],
  ['Indonesian', 'Désirée Siti Nur’aini Simatupang'],
];

for (const [language, name] of NAMES) {
  test(`a ${language} name is printed as written and read back equal: ${name}`, async () => {
    const { text, title } = await readBack(name, `${language}.pdf`);
    const lines = text.split('\n').map((l) => l.trim());
    assert.ok(lines.includes(name), `a line equal to the name; got:\n${text.slice(0, 800)}`);
    assert.equal(title, `Sertifikat Vaksinasi COVID-19 — ${name} — Dosis 1`);
  });
}

test('a name typed with combining accents prints as the same letters (NFC)', async () => {
  const decomposed = 'Nguyễn Thị Phượng'.normalize('NFD');
  const { text } = await readBack(decomposed, 'nfd.pdf');
  assert.ok(text.split('\n').map((l) => l.trim()).includes('Nguyễn Thị Phượng'));
});

test('the longest name Dosis accepts is printed whole (wrapped, never cut) above the footer', async () => {
  const words = ['Raden', 'Mas', 'Haryo', 'Wiryawan', 'Kusumaningrat', 'Łukasz', 'Gündoğdu', 'Nguyễn'];
  let name = '';
  for (let i = 0; ; i++) {
    const next = name === '' ? (words[0] ?? '') : `${name} ${words[i % words.length] ?? ''}`;
    if (next.length > MAX_NAME_LENGTH) break;
    name = next;
  }
  assert.ok(name.length > MAX_NAME_LENGTH - 15);
  const { text } = await readBack(name, 'long.pdf');
  const flat = text.replace(/\s+/g, ' ');
  assert.ok(flat.includes(name), 'the whole name, its lines joined');
  // The rows below the name are still there, before the footer.
  assert.ok(flat.indexOf(name) < flat.indexOf('URN:UVCI:01:ID:6Q3F8Z2K1M4N7P9R5T0V#K'));
  assert.ok(flat.indexOf('URN:UVCI:01:ID:6Q3F8Z2K1M4N7P9R5T0V#K') < flat.indexOf('Sertifikat ini ditandatangani'));
  const pages = execFileSync('pdfinfo', [join(dir, 'long.pdf')], { encoding: 'utf8' });
  assert.match(pages, /^Pages:\s+1$/m);
});

test('the fonts are embedded as subsets', async () => {
  const path = join(dir, 'fonts.pdf');
  writeFileSync(path, await renderCertificatePdf(pdfCertificate('Budi Santoso')));
  const fonts = execFileSync('pdffonts', [path], { encoding: 'utf8' }).split('\n').slice(2).filter(Boolean);
  assert.ok(fonts.length >= 1);
  for (const line of fonts) assert.match(line, /^[A-Z]{6}\+DejaVuSans\S*\s.*\byes\s+yes\s+yes\b/, line);
});

test('an IndoVac certificate names the vaccine', async () => {
  const { text } = await readBack('Budi Santoso', 'indovac.pdf', { vaccine: { name: 'IndoVac', manufacturer: 'PT Bio Farma' } });
  assert.match(text, /IndoVac \(PT Bio Farma\)/);
});

test('the title reads as words, the metadata title has its dashes, and each date is written once (issue 17 item 14)', async () => {
  const { text, title } = await readBack('Budi Santoso', 'words.pdf', { birthDate: '1980-04-17', date: '2021-05-10' });
  const lines = text.split('\n').map((l) => l.trim());
  assert.ok(lines.includes('Sertifikat Vaksinasi COVID-19'), `the title as one line of words; got:\n${text.slice(0, 400)}`);
  assert.ok(lines.includes('SERTIFIKAT DIGITAL · EU DIGITAL COVID CERTIFICATE'), `the kicker as words, not spaced letters; got:\n${text.slice(0, 400)}`);
  assert.equal(title, 'Sertifikat Vaksinasi COVID-19 — Budi Santoso — Dosis 1');
  assert.doesNotMatch(title, /\?/);
  // April is the same word in both languages: the date once; May differs: the month's two names, the rest once.
  assert.ok(lines.includes('17 April 1980'), 'birth date once');
  assert.equal(text.split('17 April 1980').length - 1, 1, 'the birth date is not repeated');
  assert.ok(lines.includes('10 Mei / May 2021'), 'vaccination date: the month in both languages, day and year once');
});
