import { zip } from '/work/h-trust-limits/test/fixtures/import-files.ts';
import { writeFileSync } from 'node:fs';
const n = Number(process.argv[2] ?? 20000);
const wb = Buffer.from('<workbook>' + '<sheet '.repeat(n));
const file = zip([
  { name: '[Content_Types].xml', data: Buffer.from('<Types/>') },
  { name: 'xl/workbook.xml', data: wb },
  { name: 'xl/worksheets/sheet1.xml', data: Buffer.from('<worksheet><sheetData></sheetData></worksheet>') },
]);
console.log(wb.length, file.length);
writeFileSync('/tmp/bomb.xlsx', file);
