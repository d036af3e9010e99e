/**
 * Reading an import file row by row without holding it in memory: CSV (comma
 * or semicolon, UTF-8 with or without BOM) through csv-parse, XLSX through
 * yauzl (zip, random access) and saxes (streaming XML).
 *
 * Broken files fail here with a typed error naming what is wrong, before a
 * single row is recorded (imports read the whole file once to check it):
 * binary junk, a text encoding that is not UTF-8, an absurdly long line (a
 * missing closing quote swallows the rest of a file), a zip bomb. XLSX
 * guards: entry sizes are checked against limits and against their
 * compressed size before inflating, and yauzl stops an entry that inflates
 * to more than it declared, so a lying header cannot get past the limits.
 */
import { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { parse as csvParse } from 'csv-parse';
import { SaxesParser } from 'saxes';
import yauzl from 'yauzl';
import { AppError, type Text } from '../../domain/errors.ts';
import type { SheetRow } from './columns.ts';

/** Where the bytes of a file are: random access by range (end exclusive). */
export interface ByteSource {
  readonly size: number;
  read(start: number, end: number): AsyncIterable<Uint8Array>;
}

export type FileFormat = 'csv' | 'xlsx';

/** Limits: far above any real form backlog, far below what would hurt the server. */
export const LIMITS = {
  /** One CSV record (a real one is < 1 KiB). */
  maxRecordChars: 64 * 1024,
  /** Rows of one file (Excel itself stops at 1,048,576). */
  maxRows: 2_000_000,
  /** XLSX: entries in the zip. */
  maxZipEntries: 10_000,
  /** XLSX: the sheet's XML, inflated (a 1,000,000-row sheet is ~500 MB). */
  maxSheetBytes: 1536 * 1024 * 1024,
  /** XLSX: the shared strings, inflated; they are held in memory (compactly) while the sheet is read. */
  maxSharedStringsBytes: 256 * 1024 * 1024,
  /** XLSX: workbook.xml and its relations. */
  maxSmallXmlBytes: 16 * 1024 * 1024,
  /** XLSX: inflated/compressed beyond this is a zip bomb, not a spreadsheet (real sheets: 5–30). */
  maxRatio: 200,
};

const fail = (code: string, en: string, id: string, detail?: Record<string, unknown>): AppError =>
  new AppError('invalid', code, { en, id }, detail ? { detail } : {});

/** The text of a file error in both languages (stored with a failed import). */
export function reasonOfError(e: AppError): { code: string } & Text {
  return { code: e.code, en: e.text.en, id: e.text.id };
}

/** Tells CSV from XLSX by the first bytes (a zip starts with "PK\x03\x04"). */
export function sniffFormat(head: Uint8Array): FileFormat {
  return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04 ? 'xlsx' : 'csv';
}

/** The reader of one file: its rows (the first is the header) and how XLSX dates count. */
export interface SheetReader {
  date1904: boolean;
  /** The CSV delimiter found in the header line (known once rows() has read it); null for XLSX. */
  delimiter: ',' | ';' | null;
  rows(): AsyncGenerator<SheetRow>;
}

/** Opens a file of either format. */
export async function openSheet(source: ByteSource, format: FileFormat): Promise<SheetReader> {
  if (source.size === 0) throw fail('file_empty', 'The file is empty: upload a CSV or XLSX file with a header row and one row per dose.', 'Berkas kosong: unggah berkas CSV atau XLSX berisi baris judul kolom dan satu baris per dosis.');
  if (format === 'csv') {
    const reader: SheetReader = { date1904: false, delimiter: null, rows: () => csvRows(source, (d) => (reader.delimiter = d)) };
    return reader;
  }
  return openXlsx(source);
}

// ------------------------------------------------------------------- CSV

async function* decodedText(source: ByteSource): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  let offset = 0;
  let line = 1;
  let first = true;
  for await (const chunk of source.read(0, source.size)) {
    if (first) {
      first = false;
      if ((chunk[0] === 0xff && chunk[1] === 0xfe) || (chunk[0] === 0xfe && chunk[1] === 0xff)) {
        throw fail(
          'file_utf16',
          'The file is UTF-16 text ("Unicode Text" in Excel). Save it as "CSV UTF-8 (Comma delimited)" or as XLSX.',
          'Berkas berupa teks UTF-16 ("Unicode Text" di Excel). Simpan sebagai "CSV UTF-8 (Comma delimited)" atau XLSX.',
        );
      }
    }
    const nul = chunk.indexOf(0);
    if (nul >= 0) {
      throw fail(
        'file_binary',
        `This is not a text file (a zero byte at byte ${offset + nul + 1}): upload a CSV or XLSX file.`,
        `Ini bukan berkas teks (ada byte nol pada byte ke-${offset + nul + 1}): unggah berkas CSV atau XLSX.`,
      );
    }
    let text: string;
    try {
      text = decoder.decode(chunk, { stream: true });
    } catch {
      throw notUtf8(line);
    }
    offset += chunk.length;
    line += countNewlines(text);
    yield text;
  }
  try {
    const rest = decoder.decode();
    if (rest) yield rest;
  } catch {
    throw notUtf8(line);
  }
}

function countNewlines(s: string): number {
  let n = 0;
  for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) n++;
  return n;
}

function notUtf8(line: number): AppError {
  return fail(
    'file_not_utf8',
    `The file is not UTF-8 text (around line ${line}); it was probably saved as "CSV (Comma delimited)" in a Windows encoding. Save it as "CSV UTF-8 (Comma delimited)" or as XLSX.`,
    `Berkas bukan teks UTF-8 (sekitar baris ${line}); mungkin disimpan sebagai "CSV (Comma delimited)" dengan pengodean Windows. Simpan sebagai "CSV UTF-8 (Comma delimited)" atau XLSX.`,
    { line },
  );
}

/** Comma or semicolon: whichever the header line has more of, outside quotes. */
function delimiterOf(headerLine: string): ',' | ';' {
  let commas = 0;
  let semis = 0;
  let quoted = false;
  for (const ch of headerLine) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && ch === ',') commas++;
    else if (!quoted && ch === ';') semis++;
  }
  return semis > commas ? ';' : ',';
}

/** Splits off the first line (the header) to choose the delimiter, then parses everything. */
async function* csvRows(source: ByteSource, found: (d: ',' | ';') => void): AsyncGenerator<SheetRow> {
  const text = decodedText(source);
  let head = '';
  const buffered: string[] = [];
  // next() by hand: breaking out of for-await would close the generator.
  while (!head.includes('\n') && head.length <= LIMITS.maxRecordChars) {
    const n = await text.next();
    if (n.done) break;
    buffered.push(n.value);
    head += n.value;
  }
  const firstLine = head.split('\n', 1)[0] ?? '';
  if (firstLine.length > LIMITS.maxRecordChars) throw tooLong(1);
  const delimiter = delimiterOf(firstLine.replace(/^\uFEFF/, ''));
  found(delimiter);
  const parser = csvParse({
    delimiter,
    bom: true,
    info: true,
    relax_column_count: true,
    skip_empty_lines: true,
    max_record_size: LIMITS.maxRecordChars,
  });
  async function* all(): AsyncGenerator<string> {
    yield* buffered;
    yield* text;
  }
  const input = Readable.from(all(), { objectMode: false, encoding: 'utf8' });
  input.on('error', (e) => parser.destroy(e));
  input.pipe(parser);
  let prevEnd = 0;
  let prevEmpty = 0;
  let rows = 0;
  try {
    for await (const rec of parser as AsyncIterable<{ record: string[]; info: { lines: number; empty_lines: number } }>) {
      const line = prevEnd + 1 + (rec.info.empty_lines - prevEmpty);
      prevEnd = rec.info.lines;
      prevEmpty = rec.info.empty_lines;
      if (++rows > LIMITS.maxRows + 1) throw tooManyRows();
      yield { line, cells: rec.record };
    }
  } catch (e) {
    throw csvError(e);
  } finally {
    input.destroy();
  }
}

function tooLong(line: number): AppError {
  return fail(
    'line_too_long',
    `Line ${line} is longer than ${LIMITS.maxRecordChars / 1024} KiB: the file is not a table of vaccinations (or a value has an opening double quote without its closing one).`,
    `Baris ${line} lebih panjang dari ${LIMITS.maxRecordChars / 1024} KiB: berkas ini bukan tabel vaksinasi (atau ada tanda kutip ganda pembuka tanpa penutupnya).`,
    { line },
  );
}

function tooManyRows(): AppError {
  return fail(
    'too_many_rows',
    `The file has more than ${LIMITS.maxRows.toLocaleString('en')} rows; split it into smaller files.`,
    `Berkas berisi lebih dari ${LIMITS.maxRows.toLocaleString('id')} baris; bagi menjadi beberapa berkas.`,
  );
}

function csvError(e: unknown): unknown {
  if (e instanceof AppError) return e;
  const code = typeof e === 'object' && e !== null && 'code' in e ? String((e).code) : '';
  const line = typeof e === 'object' && e !== null && 'lines' in e ? Number((e).lines) : 0;
  if (code === 'CSV_MAX_RECORD_SIZE') return tooLong(line);
  if (code === 'CSV_QUOTE_NOT_CLOSED')
    return fail(
      'csv_quote_not_closed',
      `A double quote opened at or before line ${line} is never closed, so the rest of the file would be one value. Fix the quote and upload again.`,
      `Tanda kutip ganda yang dibuka pada atau sebelum baris ${line} tidak pernah ditutup, sehingga sisa berkas menjadi satu nilai. Perbaiki tanda kutip lalu unggah ulang.`,
      { line },
    );
  if (code.startsWith('CSV_') || code.startsWith('INVALID_'))
    return fail(
      'csv_malformed',
      `The CSV cannot be read at line ${line}: ${(e as Error).message}`,
      `CSV tidak dapat dibaca pada baris ${line}: ${(e as Error).message}`,
      { line },
    );
  return e;
}

// ------------------------------------------------------------------- XLSX

class SourceReader extends yauzl.RandomAccessReader {
  private readonly source: ByteSource;
  constructor(source: ByteSource) {
    super();
    this.source = source;
  }
  override _readStreamForRange(start: number, end: number): Readable {
    return Readable.from(this.source.read(start, end), { objectMode: false });
  }
}

const xlsxCorrupt = (what: string): AppError =>
  fail(
    'xlsx_corrupt',
    `The XLSX file cannot be read (${what}). Open it in Excel and save it again, or save it as "CSV UTF-8".`,
    `Berkas XLSX tidak dapat dibaca (${what}). Buka di Excel lalu simpan ulang, atau simpan sebagai "CSV UTF-8".`,
  );

const zipBomb = (name: string, detail: string): AppError =>
  fail(
    'xlsx_too_large_inflated',
    `The XLSX file's part ${name} would unpack to ${detail}: this is not a spreadsheet of vaccinations (a "zip bomb" or a damaged file).`,
    `Bagian ${name} dari berkas XLSX akan membesar menjadi ${detail} saat dibuka: ini bukan lembar kerja vaksinasi ("zip bomb" atau berkas rusak).`,
    { entry: name },
  );

function mib(n: number): string {
  return `${(n / 1024 / 1024).toFixed(0)} MiB`;
}

async function openXlsx(source: ByteSource): Promise<SheetReader> {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.fromRandomAccessReaderPromise(new SourceReader(source), source.size, {
      lazyEntries: true,
      autoClose: false,
      validateEntrySizes: true,
      strictFileNames: false,
    });
  } catch (e) {
    throw xlsxCorrupt((e as Error).message);
  }
  if (zip.entryCount > LIMITS.maxZipEntries) {
    zip.close();
    throw xlsxCorrupt(`${zip.entryCount} parts`);
  }
  const entries = new Map<string, yauzl.Entry>();
  try {
    for await (const entry of zip.eachEntry()) entries.set(entry.fileName.replace(/^\/+/, ''), entry);
  } catch (e) {
    zip.close();
    throw xlsxCorrupt((e as Error).message);
  }

  const open = async (name: string, limit: number): Promise<AsyncIterable<Buffer>> => {
    const entry = entries.get(name);
    if (!entry) throw xlsxCorrupt(`no ${name}`);
    if (entry.uncompressedSize > limit) throw zipBomb(name, mib(entry.uncompressedSize));
    if (entry.uncompressedSize > 1024 * 1024 && entry.uncompressedSize > LIMITS.maxRatio * Math.max(1, entry.compressedSize)) {
      throw zipBomb(name, `${mib(entry.uncompressedSize)} from ${entry.compressedSize} bytes`);
    }
    try {
      return await zip.openReadStreamPromise(entry);
    } catch (e) {
      throw xlsxCorrupt(`${name}: ${(e as Error).message}`);
    }
  };
  /** Inflated XML text, decoded across chunk boundaries. */
  async function* xmlText(name: string, limit: number): AsyncGenerator<string> {
    const stream = await open(name, limit);
    const decoder = new StringDecoder('utf8');
    try {
      for await (const chunk of stream) yield decoder.write(chunk);
      yield decoder.end();
    } catch (e) {
      if (e instanceof AppError) throw e;
      // yauzl: "too many bytes in the stream" when an entry inflates past its declared size.
      throw /too many bytes|expected \d+ bytes/i.test((e as Error).message) ? zipBomb(name, 'more than it declares') : xlsxCorrupt(`${name}: ${(e as Error).message}`);
    }
  }

  try {
    const small = async (name: string): Promise<string> => {
      let s = '';
      for await (const t of xmlText(name, LIMITS.maxSmallXmlBytes)) s += t;
      return s;
    };
    if (!entries.has('xl/workbook.xml')) throw xlsxCorrupt('no workbook: is this an Excel file?');
    const workbook = await small('xl/workbook.xml');
    const date1904 = usesDate1904(workbook);
    const sheetPath = await firstSheetPath(workbook, entries.has('xl/_rels/workbook.xml.rels') ? await small('xl/_rels/workbook.xml.rels') : '');
    if (!entries.has(sheetPath)) throw xlsxCorrupt(`no sheet ${sheetPath}`);
    const shared = entries.has('xl/sharedStrings.xml') ? await readSharedStrings(xmlText('xl/sharedStrings.xml', LIMITS.maxSharedStringsBytes)) : new SharedStrings();
    return {
      date1904,
      delimiter: null,
      rows: () => sheetRows(xmlText(sheetPath, LIMITS.maxSheetBytes), shared, () => zip.close()),
    };
  } catch (e) {
    zip.close();
    throw e;
  }
}

/**
 * The tags named `local` (with any namespace prefix) in an XML text, each as
 * its attributes. One pass, linear in the text: regular expressions such as
 * `<sheet\b[^>]*?\br:id=…` rescan the rest of the text from every `<sheet`
 * that is never closed, and a 643-byte XLSX whose workbook.xml is `<sheet `
 * 20,000 times held the event loop for 5 s (issue 15, item 12).
 */
function* tagsNamed(xml: string, local: string): Generator<Map<string, string>> {
  for (let i = 0; ; ) {
    const lt = xml.indexOf('<', i);
    if (lt < 0) return;
    const gt = xml.indexOf('>', lt);
    if (gt < 0) return;
    const tag = xml.slice(lt + 1, gt);
    const name = /^[\w:.-]*/.exec(tag)?.[0] ?? '';
    if (name === local || name.endsWith(`:${local}`)) yield attributesOf(tag.slice(name.length));
    i = gt + 1;
  }
}

/** `a="1" r:id='x'` → {a: 1, r:id: x}; stops at the first thing that is not an attribute (linear). */
function attributesOf(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const attr = /\s*([^\s=/]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/y;
  for (let m = attr.exec(text); m; m = attr.exec(text)) out.set(m[1]!, m[2] ?? m[3] ?? '');
  return out;
}

/** True when the workbook counts dates from 1904 (`<workbookPr date1904="1">`). */
function usesDate1904(workbook: string): boolean {
  for (const a of tagsNamed(workbook, 'workbookPr')) return ['1', 'true'].includes(a.get('date1904') ?? '');
  return false;
}

/** The first sheet of the workbook, by its relation; sheet1.xml when the workbook does not say. */
async function firstSheetPath(workbook: string, rels: string): Promise<string> {
  let id: string | undefined;
  for (const a of tagsNamed(workbook, 'sheet')) {
    id = a.get('r:id') ?? [...a.entries()].find(([k]) => k.endsWith(':id'))?.[1];
    if (id) break;
  }
  if (id && rels) {
    for (const a of tagsNamed(rels, 'Relationship')) {
      const target = a.get('Target');
      if (a.get('Id') === id && target) return target.startsWith('/') ? target.slice(1) : `xl/${target.replace(/^\.\//, '')}`;
    }
  }
  return 'xl/worksheets/sheet1.xml';
}

/** Shared strings kept compactly: one UTF-8 buffer and offsets, not millions of JS strings. */
class SharedStrings {
  private buf = Buffer.alloc(64 * 1024);
  private used = 0;
  private offsets = new Uint32Array(1024);
  private n = 0;
  add(s: string): void {
    const len = Buffer.byteLength(s);
    if (this.used + len > this.buf.length) {
      const next = Buffer.alloc(Math.max(this.buf.length * 2, this.used + len));
      this.buf.copy(next, 0, 0, this.used);
      this.buf = next;
    }
    this.buf.write(s, this.used);
    this.used += len;
    if (this.n + 1 >= this.offsets.length) {
      const next = new Uint32Array(this.offsets.length * 2);
      next.set(this.offsets);
      this.offsets = next;
    }
    this.offsets[++this.n] = this.used;
  }
  get(i: number): string | undefined {
    if (!Number.isInteger(i) || i < 0 || i >= this.n) return undefined;
    return this.buf.toString('utf8', this.offsets[i], this.offsets[i + 1]);
  }
}

function saxes(): SaxesParser {
  return new SaxesParser({ xmlns: false, position: false });
}

async function readSharedStrings(text: AsyncIterable<string>): Promise<SharedStrings> {
  const out = new SharedStrings();
  const p = saxes();
  let inSi = false;
  let inT = false;
  let phonetic = 0;
  let cur = '';
  let error: Error | undefined;
  p.on('opentag', (t) => {
    const name = localName(t.name);
    if (name === 'si') {
      inSi = true;
      cur = '';
    } else if (name === 'rPh') phonetic++;
    else if (name === 't' && inSi && phonetic === 0) inT = true;
  });
  p.on('closetag', (t) => {
    const name = localName(t.name);
    if (name === 'si') {
      out.add(cur);
      inSi = false;
    } else if (name === 'rPh') phonetic--;
    else if (name === 't') inT = false;
  });
  p.on('text', (s) => {
    if (inT) cur += s;
  });
  p.on('error', (e) => {
    error ??= e;
  });
  for await (const chunk of text) {
    p.write(chunk);
    if (error) throw xlsxCorrupt(`shared strings: ${error.message}`);
  }
  p.close();
  if (error) throw xlsxCorrupt(`shared strings: ${(error).message}`);
  return out;
}

function localName(name: string): string {
  const i = name.indexOf(':');
  return i < 0 ? name : name.slice(i + 1);
}

/** "AB12" → 27 (zero-based column). */
function columnIndex(ref: string): number {
  let n = 0;
  for (let i = 0; i < ref.length; i++) {
    const c = ref.charCodeAt(i);
    if (c < 65 || c > 90) break;
    n = n * 26 + (c - 64);
  }
  return n - 1;
}

async function* sheetRows(text: AsyncIterable<string>, shared: SharedStrings, close: () => void): AsyncGenerator<SheetRow> {
  const p = saxes();
  const ready: SheetRow[] = [];
  let error: Error | undefined;
  let rowNumber = 0;
  let cells: string[] = [];
  let numeric: boolean[] = [];
  let col = -1;
  let type = 'n';
  let value = '';
  let capture = false; // inside <v> or <is><t>
  let inIs = false;
  let rows = 0;
  p.on('opentag', (t) => {
    switch (localName(t.name)) {
      case 'row': {
        const r = Number(t.attributes.r);
        rowNumber = Number.isInteger(r) && r > 0 ? r : rowNumber + 1;
        cells = [];
        numeric = [];
        col = -1;
        break;
      }
      case 'c': {
        const ref = t.attributes.r;
        col = typeof ref === 'string' && ref ? columnIndex(ref) : col + 1;
        type = typeof t.attributes.t === 'string' ? t.attributes.t : 'n';
        value = '';
        break;
      }
      case 'v':
        capture = true;
        break;
      case 'is':
        inIs = true;
        break;
      case 't':
        if (inIs) capture = true;
        break;
      default:
        break;
    }
  });
  p.on('text', (s) => {
    if (capture) value += s;
  });
  p.on('closetag', (t) => {
    switch (localName(t.name)) {
      case 'v':
        capture = false;
        break;
      case 't':
        if (inIs) capture = false;
        break;
      case 'is':
        inIs = false;
        break;
      case 'c': {
        if (col < 0 || col > 16_383) break;
        let text = value;
        let isNumber = false;
        if (type === 's') text = shared.get(Number(value)) ?? '';
        else if (type === 'b') text = value === '1' ? 'TRUE' : 'FALSE';
        else if (type === 'e') text = '';
        else if (type === 'n') isNumber = value !== '';
        cells[col] = text;
        if (isNumber) numeric[col] = true;
        break;
      }
      case 'row': {
        for (let i = 0; i < cells.length; i++) cells[i] ??= '';
        ready.push({ line: rowNumber, cells, numeric });
        break;
      }
      default:
        break;
    }
  });
  p.on('error', (e) => {
    error ??= e;
  });
  try {
    for await (const chunk of text) {
      p.write(chunk);
      if (error) throw xlsxCorrupt(`sheet: ${error.message}`);
      for (const row of ready.splice(0)) {
        if (++rows > LIMITS.maxRows + 1) throw tooManyRows();
        yield row;
      }
    }
    p.close();
    if (error) throw xlsxCorrupt(`sheet: ${(error).message}`);
    for (const r of ready) yield r;
  } finally {
    close();
  }
}
