/**
 * The one function of `qrcode` the pages use (src/certificates/qr-matrix.ts),
 * mapped in web/tsconfig.json "paths": the browser typecheck must not load
 * @types/qrcode, which brings all of Node's types with it and would hide a
 * Node-only API used by mistake in code shared with the browser.
 */
export declare function create(
  text: string,
  options?: { errorCorrectionLevel?: 'L' | 'M' | 'Q' | 'H' },
): { version: number; modules: { size: number; data: Uint8Array } };
