/**
 * `npm run bench -- pdf`: the certificate PDF alone (certificates/pdf.ts),
 * without HTTP or a database: renders per second on one core and the size
 * of the file, for an ASCII name and for names that need the embedded
 * font's extended Latin glyphs. The server renders each certificate version
 * once and caches it (pdf-store.ts); this is the cost of that one render.
 */
import { parseArgs } from 'node:util';
import { renderCertificatePdf } from '../src/certificates/pdf.ts';
import { pdfCertificate } from '../test/certificates/pdf-fixture.ts';

const HELP = `npm run bench -- pdf [options]

  --count N   PDFs rendered per name (default 200)`;

const { values } = parseArgs({ options: { count: { type: 'string', default: '200' }, help: { type: 'boolean', default: false } } });
if (values.help) {
  console.log(HELP);
  process.exit(0);
}
const COUNT = Number(values.count);
if (!Number.isInteger(COUNT) || COUNT < 1) {
  console.error('--count must be a positive whole number');
  process.exit(2);
}

const NAMES = ['Budi Santoso', 'Łukasz Żółć-Wiśniewski', 'Nguyễn Thị Phượng'];
await renderCertificatePdf(pdfCertificate(NAMES[0] ?? '')); // warm-up: font files read, code compiled
console.log(`Certificate PDF, ${COUNT} renders per name, one core\n`);
for (const name of NAMES) {
  const c = pdfCertificate(name);
  let bytes = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < COUNT; i++) bytes = (await renderCertificatePdf(c)).length;
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  console.log(`${name.padEnd(26)} ${(COUNT / (ms / 1000)).toFixed(1).padStart(7)} PDFs/s  ${(ms / COUNT).toFixed(2).padStart(6)} ms each  ${(bytes / 1024).toFixed(1).padStart(6)} KiB`);
}
