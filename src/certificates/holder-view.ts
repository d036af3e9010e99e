/**
 * What a certificate holder is shown, as types only: the server builds it
 * (holder.ts) and answers it (`GET /api/v1/public/links/{token}`, the
 * one-time-code lookup's `GET /api/v1/public/certificates`); the certificate
 * page and the portal (web/lib/certificates.tsx) draw it. Browser-safe: no
 * imports, no I/O.
 */

export type HolderIdentifierType = 'nik' | 'passport' | 'mother-nik';

/** One dose's certificate as the holder sees it. */
export interface HolderCertificate {
  id: string;
  uvci: string;
  /** The HC1 text the QR code carries. */
  qr: string;
  doseNumber: number;
  /** EU DCC dose number and series size, as signed. */
  dn: number;
  sd: number;
  role: 'primary' | 'booster';
  boosterNumber: number | null;
  vaccine: { code: string; name: string; manufacturer: string };
  /** Vaccination date (Indonesian local date). */
  date: string;
  facility: { code: string; name: string };
  issuedAt: string;
  expiresAt: string;
  status: 'valid';
}

/** The holder, identifier masked (domain/masking.ts `maskIdentifier`). */
export interface HolderPerson {
  name: string;
  birthDate: string;
  identifier: { type: HolderIdentifierType; masked: string; country: string | null };
}

/** What the holder's page is given, each certificate with the link of its PDF. */
export interface HolderAnswer {
  person: HolderPerson;
  /** Valid certificates, by dose number. */
  certificates: (HolderCertificate & { pdf: string })[];
  nextDose: { doseNumber: number; due: string; role: string } | null;
  /** The certificate the link was sent for, and its status now (it may have been replaced since). */
  linked: { certificateId: string; status: string } | null;
}
