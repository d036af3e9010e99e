/**
 * The printable certificate: one A4 page per dose, in Indonesian with English
 * beneath, its QR code large enough to scan from paper, the identifier
 * masked. Rendered with pdfkit; the QR code is drawn as vector squares from
 * the same matrix the web page uses (qr-matrix.ts), so it stays sharp at any
 * printer resolution and costs no picture encoding.
 *
 * Text is set in DejaVu Sans (npm `dejavu-fonts-ttf`, Bitstream Vera licence
 * with DejaVu's changes in the public domain), embedded as a subset of the
 * glyphs used: a PDF standard font such as Helvetica covers WinAnsi only, so
 * "Ł" printed as "?" and "ğ" as "g". DejaVu Sans covers Latin extended
 * (Polish, Turkish, Vietnamese, Indonesian, and every Latin-script language
 * it lists in its langcover.txt), Greek and Cyrillic. pdfkit writes a
 * ToUnicode map with the subset, so the text can be searched and copied.
 *
 * Pure apart from reading the two font files once: the caller (pdf-store.ts)
 * renders each certificate version once and caches it.
 */

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { create, type Font } from 'fontkit';
import PDFDocument from 'pdfkit';
import { doseOfSeries, doseRoleLabel, formatDateBilingual } from './display.ts';
import { QUIET_ZONE, darkRuns, qrMatrix } from './qr-matrix.ts';

/** Everything the page shows. Its hash is the cache key of the rendered PDF (pdf-store.ts). */
export interface PdfCertificate {
  name: string;
  birthDate: string;
  identifier: { type: 'nik' | 'passport' | 'mother-nik'; masked: string };
  vaccine: { name: string; manufacturer: string };
  doseNumber: number;
  dn: number;
  sd: number;
  role: 'primary' | 'booster';
  boosterNumber: number | null;
  date: string;
  facility: string;
  uvci: string;
  qr: string;
  issuer: string;
  issuedAt: string;
  expiresAt: string;
  /** Where anyone can check a certificate: `<PUBLIC_URL>/verify`. */
  verifyUrl: string;
}

const A4 = { width: 595.28, height: 841.89 };
const MARGIN = 48;
const BRAND = '#0b7a75';
const INK = '#1d2939';
const MUTED = '#667085';
const LINE = '#d0d5dd';
/** The printed QR code, quiet zone included: 264 pt ≈ 93 mm, ~1 mm per module for a version-17 code. */
const QR_SIZE = 264;

const SANS = 'DejaVuSans';
const SANS_BOLD = 'DejaVuSans-Bold';

/**
 * The fonts, read and parsed once per process (≈ 1.4 MB of TrueType); each PDF
 * embeds only the glyphs it uses. pdfkit (≥ 0.17) takes a parsed fontkit
 * font as well as the file's bytes: given the bytes it would parse the font
 * again for every PDF and lay every string out with a cold glyph cache, which
 * made each render cost ~88 ms here (bench/README.md, `pdf`).
 */
let parsed: { regular: Font; bold: Font } | undefined;
function fonts(): { regular: Font; bold: Font } {
  if (!parsed) {
    const require = createRequire(import.meta.url);
    const open = (file: string): Font => {
      const font = create(readFileSync(require.resolve(`dejavu-fonts-ttf/ttf/${file}`)));
      if (!('layout' in font)) throw new Error(`${file} is a font collection, not a font`);
      return font;
    };
    parsed = { regular: open('DejaVuSans.ttf'), bold: open('DejaVuSans-Bold.ttf') };
  }
  return parsed;
}

/**
 * Text as the font should get it: NFC, so that a name typed with combining
 * accents ("e" + U+0302 + U+0303) uses the precomposed letter the font draws
 * (Vietnamese "ễ"); control characters dropped.
 */
function printable(s: string): string {
  return s.normalize('NFC').replace(/\p{Cc}/gu, '');
}

/** Type sizes tried for the holder's name, largest first: it must fit in three lines (names reach 200 characters). */
const NAME_SIZES = [10.5, 9.5, 8.5, 7.5] as const;

const IDENTIFIER_LABEL: Record<PdfCertificate['identifier']['type'], [string, string]> = {
  nik: ['NIK', 'National identity number'],
  'mother-nik': ['NIK ibu', "Mother's identity number"],
  passport: ['Nomor paspor', 'Passport number'],
};

/** Renders the certificate as a one-page A4 PDF. */
export async function renderCertificatePdf(c: PdfCertificate): Promise<Uint8Array> {
  const doc = new PDFDocument({
    size: 'A4',
    margin: 0,
    // No default font: pdfkit would otherwise parse Helvetica's metrics for every PDF, and none of its text is Helvetica.
    font: '',
    compress: true,
    info: {
      // pdfkit writes a string with non-ASCII characters as UTF-16BE with a BOM, so the title keeps the name as written.
      Title: printable(`Sertifikat Vaksinasi COVID-19 — ${c.name} — Dosis ${c.doseNumber}`),
      Author: printable(c.issuer),
      Subject: 'EU Digital COVID Certificate',
      Creator: 'Dosis',
      Producer: 'Dosis',
      CreationDate: new Date(c.issuedAt),
    },
  });
  const files = fonts();
  // @types/pdfkit lists only file names and bytes as sources; pdfkit's code also takes a fontkit font (see fonts()).
  doc.registerFont(SANS, files.regular as unknown as PDFKit.Mixins.PDFFontSource);
  doc.registerFont(SANS_BOLD, files.bold as unknown as PDFKit.Mixins.PDFFontSource);
  const chunks: Buffer[] = [];
  doc.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise<void>((resolve, reject) => {
    doc.on('end', resolve);
    doc.on('error', reject);
  });

  // Band with the title.
  doc.rect(0, 0, A4.width, 112).fill(BRAND);
  // No letter spacing: readers of the text (copy, search, screen readers) took each spaced letter for a word.
  doc.fillColor('#ffffff').font(SANS).fontSize(8.5).text('SERTIFIKAT DIGITAL · EU DIGITAL COVID CERTIFICATE', MARGIN, 30);
  doc.font(SANS_BOLD).fontSize(20).text('Sertifikat Vaksinasi COVID-19', MARGIN, 46);
  doc.font(SANS).fontSize(13).fillColor('#d5efed').text('COVID-19 Vaccination Certificate', MARGIN, 74);
  // The dose beside the English subtitle, not the title: DejaVu Sans Bold is wider than Helvetica was.

  const dose = `${doseOfSeries(c.dn, c.sd, 'id')} · ${doseRoleLabel(c.role, c.boosterNumber ?? undefined, 'id')}`;
  const doseEn = `${doseOfSeries(c.dn, c.sd, 'en')} · ${doseRoleLabel(c.role, c.boosterNumber ?? undefined, 'en')}`;
  doc.font(SANS_BOLD).fontSize(11).fillColor('#ffffff').text(dose, MARGIN, 72, { width: A4.width - 2 * MARGIN, align: 'right' });
  doc.font(SANS).fontSize(9).fillColor('#d5efed').text(doseEn, MARGIN, 88, { width: A4.width - 2 * MARGIN, align: 'right' });

  // The QR code, centred.
  const qrTop = 136;
  const qrLeft = (A4.width - QR_SIZE) / 2;
  const matrix = qrMatrix(c.qr);
  const unit = QR_SIZE / (matrix.size + 2 * QUIET_ZONE);
  doc.rect(qrLeft, qrTop, QR_SIZE, QR_SIZE).fill('#ffffff');
  for (const [x, y, n] of darkRuns(matrix)) {
    doc.rect(qrLeft + (x + QUIET_ZONE) * unit, qrTop + (y + QUIET_ZONE) * unit, n * unit, unit);
  }
  doc.fill('#000000');
  doc
    .roundedRect(qrLeft - 6, qrTop - 6, QR_SIZE + 12, QR_SIZE + 12, 8)
    .lineWidth(1)
    .stroke(LINE);
  doc
    .font(SANS)
    .fontSize(8.5)
    .fillColor(MUTED)
    .text('Pindai kode QR ini untuk memeriksa keaslian sertifikat · Scan this QR code to check the certificate', MARGIN, qrTop + QR_SIZE + 14, {
      width: A4.width - 2 * MARGIN,
      align: 'center',
    });

  // The facts, two columns: label (Indonesian, English beneath) and value.
  const [idLabel, idLabelEn] = IDENTIFIER_LABEL[c.identifier.type];
  const rows: [string, string, string][] = [
    ['Nama', 'Name', c.name],
    ['Tanggal lahir', 'Date of birth', formatDateBilingual(c.birthDate)],
    [idLabel, idLabelEn, c.identifier.masked],
    ['Vaksin', 'Vaccine', c.vaccine.manufacturer ? `${c.vaccine.name} (${c.vaccine.manufacturer})` : c.vaccine.name],
    ['Dosis', 'Dose', `${dose}  ·  ${doseEn}`],
    ['Tanggal vaksinasi', 'Date of vaccination', formatDateBilingual(c.date)],
    ['Fasilitas kesehatan', 'Health facility', c.facility],
    ['Negara', 'Country', 'Indonesia'],
    ['Penerbit', 'Issuer', c.issuer],
    ['Berlaku hingga', 'Valid until', formatDateBilingual(c.expiresAt)],
    ['Nomor sertifikat', 'Certificate identifier (UVCI)', c.uvci],
  ];
  let y = qrTop + QR_SIZE + 44;
  const labelWidth = 150;
  const valueLeft = MARGIN + labelWidth + 12;
  const valueWidth = A4.width - MARGIN - valueLeft;
  for (const [i, [label, labelEn, value]] of rows.entries()) {
    doc.moveTo(MARGIN, y - 6).lineTo(A4.width - MARGIN, y - 6).lineWidth(0.5).stroke(LINE);
    doc.font(SANS_BOLD).fontSize(9).fillColor(INK).text(label, MARGIN, y, { width: labelWidth, lineBreak: false });
    doc.font(SANS).fontSize(7.5).fillColor(MUTED).text(labelEn, MARGIN, y + 11, { width: labelWidth, lineBreak: false });
    const text = printable(value);
    if (i === 0) {
      // The name is never cut (the EU DCC's fn may be, at 80 characters): it wraps, in smaller type when long.
      doc.font(SANS).fillColor(INK);
      let size: number = NAME_SIZES[0];
      for (const s of NAME_SIZES) {
        size = s;
        if (doc.fontSize(s).heightOfString(text, { width: valueWidth }) <= 3 * doc.currentLineHeight(true)) break;
      }
      doc.fontSize(size);
      const height = doc.heightOfString(text, { width: valueWidth });
      doc.text(text, valueLeft, y + 2, { width: valueWidth });
      y += Math.max(28, height + 12);
      continue;
    }
    doc.font(SANS).fontSize(10.5).fillColor(INK).text(text, valueLeft, y + 2, {
      width: valueWidth,
      height: 14,
      ellipsis: true,
      lineBreak: false,
    });
    y += 28;
  }

  // Footer.
  const footerTop = A4.height - 64;
  doc.moveTo(MARGIN, footerTop).lineTo(A4.width - MARGIN, footerTop).lineWidth(0.5).stroke(LINE);
  doc
    .font(SANS)
    .fontSize(8)
    .fillColor(MUTED)
    .text(
      `Sertifikat ini ditandatangani secara digital. Keasliannya dapat diperiksa oleh siapa pun di ${c.verifyUrl} atau dengan aplikasi pemeriksa EU DCC.`,
      MARGIN,
      footerTop + 10,
      { width: A4.width - 2 * MARGIN },
    )
    .text(`This certificate is digitally signed. Anyone can check it at ${c.verifyUrl} or with an EU DCC verifier app.`, {
      width: A4.width - 2 * MARGIN,
    });

  doc.end();
  await done;
  return new Uint8Array(Buffer.concat(chunks));
}
