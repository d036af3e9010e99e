/**
 * The printable certificate: one A4 page per dose, in Indonesian with English
 * beneath, its QR code large enough to scan from paper, the identifier
 * masked. Rendered with pdfkit; the QR code is drawn as vector squares from
 * the same matrix the web page uses (qr-matrix.ts), so it stays sharp at any
 * printer resolution and costs no picture encoding.
 *
 * Pure apart from pdfkit reading its built-in font metrics once: the caller
 * (pdf-store.ts) renders each certificate version once and caches it.
 */

import PDFDocument from 'pdfkit';
import { doseOfSeries, doseRoleLabel, formatDate } from './display.ts';
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

/** Bump when the layout changes: cached PDFs of the old layout are then rendered again. */
export const PDF_LAYOUT_VERSION = 1;

const A4 = { width: 595.28, height: 841.89 };
const MARGIN = 48;
const BRAND = '#0b7a75';
const INK = '#1d2939';
const MUTED = '#667085';
const LINE = '#d0d5dd';
/** The printed QR code, quiet zone included: 264 pt ≈ 93 mm, ~1 mm per module for a version-17 code. */
const QR_SIZE = 264;

/**
 * Helvetica (a PDF standard font, nothing embedded) covers WinAnsi only:
 * accents are kept where Latin-1 has them, other letters lose their
 * diacritics, and anything left is replaced — better than glyphs a printer
 * would garble.
 */
function printable(s: string): string {
  return s
    .normalize('NFC')
    .replace(/[^\u0020-\u007e\u00a0-\u00ff]/g, (c) => c.normalize('NFKD').replace(/[^\u0020-\u007e]/g, '') || '?');
}

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
    compress: true,
    info: {
      Title: printable(`Sertifikat Vaksinasi COVID-19 — ${c.name} — Dosis ${c.doseNumber}`),
      Author: printable(c.issuer),
      Subject: 'EU Digital COVID Certificate',
      Creator: 'Dosis',
      Producer: 'Dosis',
      CreationDate: new Date(c.issuedAt),
    },
  });
  const chunks: Buffer[] = [];
  doc.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise<void>((resolve, reject) => {
    doc.on('end', resolve);
    doc.on('error', reject);
  });

  // Band with the title.
  doc.rect(0, 0, A4.width, 112).fill(BRAND);
  doc.fillColor('#ffffff').font('Helvetica').fontSize(8.5).text('SERTIFIKAT DIGITAL · EU DIGITAL COVID CERTIFICATE', MARGIN, 30, { characterSpacing: 1 });
  doc.font('Helvetica-Bold').fontSize(22).text('Sertifikat Vaksinasi COVID-19', MARGIN, 46);
  doc.font('Helvetica').fontSize(13).fillColor('#d5efed').text('COVID-19 Vaccination Certificate', MARGIN, 74);

  const dose = `${doseOfSeries(c.dn, c.sd, 'id')} · ${doseRoleLabel(c.role, c.boosterNumber ?? undefined, 'id')}`;
  const doseEn = `${doseOfSeries(c.dn, c.sd, 'en')} · ${doseRoleLabel(c.role, c.boosterNumber ?? undefined, 'en')}`;
  doc.font('Helvetica-Bold').fontSize(11).fillColor('#ffffff').text(dose, MARGIN, 50, { width: A4.width - 2 * MARGIN, align: 'right' });
  doc.font('Helvetica').fontSize(9).fillColor('#d5efed').text(doseEn, MARGIN, 66, { width: A4.width - 2 * MARGIN, align: 'right' });

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
    .font('Helvetica')
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
    ['Tanggal lahir', 'Date of birth', `${formatDate(c.birthDate, 'id')}  ·  ${formatDate(c.birthDate, 'en')}`],
    [idLabel, idLabelEn, c.identifier.masked],
    ['Vaksin', 'Vaccine', c.vaccine.manufacturer ? `${c.vaccine.name} (${c.vaccine.manufacturer})` : c.vaccine.name],
    ['Dosis', 'Dose', `${dose}  ·  ${doseEn}`],
    ['Tanggal vaksinasi', 'Date of vaccination', `${formatDate(c.date, 'id')}  ·  ${formatDate(c.date, 'en')}`],
    ['Fasilitas kesehatan', 'Health facility', c.facility],
    ['Negara', 'Country', 'Indonesia'],
    ['Penerbit', 'Issuer', c.issuer],
    ['Berlaku hingga', 'Valid until', `${formatDate(c.expiresAt, 'id')}  ·  ${formatDate(c.expiresAt, 'en')}`],
    ['Nomor sertifikat', 'Certificate identifier (UVCI)', c.uvci],
  ];
  let y = qrTop + QR_SIZE + 44;
  const labelWidth = 150;
  const valueLeft = MARGIN + labelWidth + 12;
  const valueWidth = A4.width - MARGIN - valueLeft;
  for (const [label, labelEn, value] of rows) {
    doc.moveTo(MARGIN, y - 6).lineTo(A4.width - MARGIN, y - 6).lineWidth(0.5).stroke(LINE);
    doc.font('Helvetica-Bold').fontSize(9).fillColor(INK).text(label, MARGIN, y, { width: labelWidth, lineBreak: false });
    doc.font('Helvetica').fontSize(7.5).fillColor(MUTED).text(labelEn, MARGIN, y + 11, { width: labelWidth, lineBreak: false });
    doc.font('Helvetica').fontSize(10.5).fillColor(INK).text(printable(value), valueLeft, y + 2, {
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
    .font('Helvetica')
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
