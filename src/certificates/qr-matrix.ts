/**
 * The QR code of a certificate as a matrix of modules, and that matrix as an
 * SVG path. Browser-safe: the certificate page draws the QR in the browser
 * from the HC1 text, and the PDF draws the same matrix as vector squares, so
 * neither ever rasterises a picture per request (DESIGN.md: a PNG costs
 * ~50 ms).
 *
 * Error correction level Q (25 %), as the EU DCC guidelines recommend for
 * codes shown on phones and printed on paper. The HC1 text is all in the QR
 * alphanumeric set (Base45 was chosen for that), so the encoder packs it in
 * alphanumeric mode.
 */

import { create } from 'qrcode';

/** A square matrix of modules, row by row; 1 is dark. */
export interface QrMatrix {
  size: number;
  modules: Uint8Array;
  version: number;
}

/** The quiet zone around a QR code, in modules (ISO/IEC 18004: at least 4). */
export const QUIET_ZONE = 4;

/** The QR matrix of a text, at error correction level Q. */
export function qrMatrix(text: string): QrMatrix {
  const qr = create(text, { errorCorrectionLevel: 'Q' });
  return { size: qr.modules.size, modules: Uint8Array.from(qr.modules.data), version: qr.version };
}

/** Runs of dark modules per row: [x, y, length], the few rectangles a drawing needs. */
export function darkRuns(m: QrMatrix): [number, number, number][] {
  const runs: [number, number, number][] = [];
  for (let y = 0; y < m.size; y++) {
    let x = 0;
    while (x < m.size) {
      if (!m.modules[y * m.size + x]) {
        x++;
        continue;
      }
      const start = x;
      while (x < m.size && m.modules[y * m.size + x]) x++;
      runs.push([start, y, x - start]);
    }
  }
  return runs;
}

/** An SVG path drawing the dark modules, offset by the quiet zone (viewBox 0 0 size+8 size+8). */
export function qrSvgPath(m: QrMatrix): string {
  return darkRuns(m)
    .map(([x, y, n]) => `M${x + QUIET_ZONE} ${y + QUIET_ZONE}h${n}v1h-${n}z`)
    .join('');
}
