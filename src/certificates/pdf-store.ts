/**
 * PDFs of certificates, rendered once per certificate version and cached:
 * in this process's memory (most recently used first, bounded), then in the
 * `certificate_pdfs` table shared by every process. Rendering costs tens of
 * milliseconds (DESIGN.md: ~22 PDFs/s with a PNG QR), serving a cached one
 * microseconds, so a request never renders a PDF that was rendered before.
 *
 * The version is a hash of everything the PDF shows: nothing needs to be
 * invalidated — a certificate whose facts changed simply has a new version.
 */

import { createHash } from 'node:crypto';
import type { Queryable } from '../db/client.ts';
import type { PdfCertificate } from './pdf.ts';

/**
 * The renderer (fontkit, pdfkit and the fonts: a tenth of a second of CPU to load) is loaded at
 * the first PDF a process is asked for, not at every start of `dosis serve` (or of a test).
 */
const renderer = (): Promise<typeof import('./pdf.ts')> => import('./pdf.ts');

/** Memory for cached PDFs per process (a PDF is ~10 KiB: thousands fit). */
const DEFAULT_MEMORY_BYTES = 64 * 1024 * 1024;

/**
 * Bump when pdf.ts's layout changes: cached PDFs of the old layout are then rendered again. Kept
 * here, beside the cache keyed by it, so that a PDF served from the cache never loads the renderer.
 */
export const PDF_LAYOUT_VERSION = 3;

/** The version of a certificate's PDF: a hash of the layout version and every fact shown. */
export function pdfVersion(c: PdfCertificate): string {
  return createHash('sha256')
    .update(JSON.stringify([PDF_LAYOUT_VERSION, c]))
    .digest('base64url')
    .slice(0, 22);
}

export class PdfStore {
  private readonly memory = new Map<string, Uint8Array>();
  private memoryBytes = 0;
  private readonly inFlight = new Map<string, Promise<Uint8Array>>();
  private readonly db: Queryable;
  private readonly maxBytes: number;
  /** How many PDFs this process rendered (the rest came from a cache). */
  renders = 0;

  constructor(db: Queryable, opts: { maxMemoryBytes?: number } = {}) {
    this.db = db;
    this.maxBytes = opts.maxMemoryBytes ?? DEFAULT_MEMORY_BYTES;
  }

  /** The PDF of a certificate and its version: from memory, else the table, else rendered and stored. */
  async get(personId: string, certificateId: string, c: PdfCertificate): Promise<{ pdf: Uint8Array; version: string }> {
    const version = pdfVersion(c);
    const key = `${certificateId}/${version}`;
    const cached = this.memory.get(key);
    if (cached) {
      // Map order is insertion order: re-inserting marks it most recently used.
      this.memory.delete(key);
      this.memory.set(key, cached);
      return { pdf: cached, version };
    }
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.load(personId, certificateId, version, c).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    const pdf = await pending;
    this.remember(key, pdf);
    return { pdf, version };
  }

  private async load(personId: string, certificateId: string, version: string, c: PdfCertificate): Promise<Uint8Array> {
    const r = await this.db.query<{ pdf: Uint8Array }>(
      'SELECT pdf FROM certificate_pdfs WHERE person_id = $1 AND certificate_id = $2 AND version = $3',
      [personId, certificateId, version],
    );
    const stored = r.rows[0];
    if (stored) return new Uint8Array(stored.pdf);
    const pdf = await (await renderer()).renderCertificatePdf(c);
    this.renders++;
    await this.db.query(
      `WITH gone AS (DELETE FROM certificate_pdfs WHERE person_id = $1 AND certificate_id = $2 AND version <> $3)
       INSERT INTO certificate_pdfs (person_id, certificate_id, version, pdf) VALUES ($1, $2, $3, $4)
       ON CONFLICT DO NOTHING`,
      [personId, certificateId, version, pdf],
    );
    return pdf;
  }

  private remember(key: string, pdf: Uint8Array): void {
    if (this.memory.has(key) || pdf.length > this.maxBytes) return;
    this.memory.set(key, pdf);
    this.memoryBytes += pdf.length;
    for (const [k, v] of this.memory) {
      if (this.memoryBytes <= this.maxBytes) break;
      this.memory.delete(k);
      this.memoryBytes -= v.length;
    }
  }
}
