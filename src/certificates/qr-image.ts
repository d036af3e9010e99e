/**
 * Reading the text of a QR code from a PNG picture (for the verifier's upload
 * and for the conformance test), with pngjs and ZBar compiled to WebAssembly.
 *
 * ZBar rather than a pure-JS reader: on the EU test corpus, jsQR misses 23 of
 * 405 pictures that ZBar reads.
 */

import { crc32, inflateSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { ZBarConfigType, ZBarScanner, ZBarSymbolType, scanGrayBuffer } from '@undecaf/zbar-wasm';

/** Why no QR text could be read. */
export class QrImageError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'QrImageError';
  }
}

/** Pictures larger than this are refused before decoding (a QR picture needs far fewer pixels). */
const MAX_PIXELS = 16_000_000;

let scanner: Promise<ZBarScanner> | undefined;

/** One scanner for QR codes only: skipping the 1-D symbologies makes scanning faster. */
function qrScanner(): Promise<ZBarScanner> {
  scanner ??= (async () => {
    const s = await ZBarScanner.create();
    s.setConfig(ZBarSymbolType.ZBAR_NONE, ZBarConfigType.ZBAR_CFG_ENABLE, 0);
    s.setConfig(ZBarSymbolType.ZBAR_QRCODE, ZBarConfigType.ZBAR_CFG_ENABLE, 1);
    return s;
  })();
  return scanner;
}

/** The text of the first QR code in a PNG picture. Rejects with QrImageError when the PNG is unreadable or holds no QR code. */
export async function decodeQrPng(png: Uint8Array): Promise<string> {
  const { width, height, gray } = pngToGray(png);
  const symbols = await scanGrayBuffer(gray.buffer, width, height, await qrScanner());
  const qr = symbols.find((s) => s.type === ZBarSymbolType.ZBAR_QRCODE);
  if (!qr) throw new QrImageError('no QR code found in the picture');
  return qr.decode('utf-8');
}

/** A PNG picture as 8-bit luminance, composited over white. Throws QrImageError when it is unreadable or too large. */
export function pngToGray(png: Uint8Array): { width: number; height: number; gray: Uint8Array<ArrayBuffer> } {
  const buf = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  const fast = directPng(buf);
  if (fast) return fast;
  let image: PNG;
  try {
    image = PNG.sync.read(buf);
  } catch (e) {
    throw new QrImageError(`not a readable PNG: ${(e as Error).message}`, { cause: e });
  }
  const { width, height, data } = image;
  if (width * height > MAX_PIXELS) throw new QrImageError(`picture too large: ${width}×${height}`);
  return { width, height, gray: toGray(data, width * height) };
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Samples per pixel of the PNG colour types read directly: gray, RGB, gray + alpha, RGBA (palettes go to pngjs). */
const CHANNELS: Readonly<Record<number, number>> = { 0: 1, 2: 3, 4: 2, 6: 4 };

/**
 * The common QR picture — not interlaced, no palette, no tRNS chunk, 8 bits
 * per sample (or a grayscale one of 1, 2 or 4 bits) — read straight to
 * luminance: pngjs expands every picture to RGBA through a function call per
 * pixel, which cost as much CPU as ZBar's scan on the EU corpus (mostly 1-bit
 * pictures: 3.0 s of its 6.1 s). The luminance is the very one pngjs + toGray
 * give. Anything else, and anything unexpected (a bad CRC, short data), is
 * undefined: pngjs reads it, or says why it cannot.
 */
function directPng(buf: Buffer): { width: number; height: number; gray: Uint8Array<ArrayBuffer> } | undefined {
  if (buf.length < 8 + 25 || !buf.subarray(0, 8).equals(PNG_SIGNATURE)) return undefined;
  let width = 0;
  let height = 0;
  let depth = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  let at = 8;
  let first = true;
  for (;;) {
    if (at + 12 > buf.length) return undefined;
    const length = buf.readUInt32BE(at);
    const type = buf.toString('latin1', at + 4, at + 8);
    const end = at + 12 + length;
    if (end > buf.length || crc32(buf.subarray(at + 4, at + 8 + length)) !== buf.readUInt32BE(at + 8 + length)) return undefined;
    const data = buf.subarray(at + 8, at + 8 + length);
    if (first !== (type === 'IHDR')) return undefined;
    first = false;
    if (type === 'IHDR') {
      if (length !== 13) return undefined;
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      depth = data[8]!;
      channels = CHANNELS[data[9]!] ?? 0;
      // Deflate, adaptive filtering, no interlace.
      if (channels === 0 || data[10] !== 0 || data[11] !== 0 || data[12] !== 0) return undefined;
      if (!(depth === 8 || (channels === 1 && (depth === 1 || depth === 2 || depth === 4)))) return undefined;
      if (width === 0 || height === 0 || width * height > MAX_PIXELS) return undefined;
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'tRNS') return undefined;
    else if (type === 'IEND') break;
    at = end;
  }
  if (idat.length === 0) return undefined;
  let raw: Buffer;
  try {
    raw = inflateSync(Buffer.concat(idat));
  } catch {
    return undefined;
  }
  const rowBytes = Math.ceil((width * channels * depth) / 8);
  if (raw.length < height * (rowBytes + 1)) return undefined;
  // Undo the row filters (PNG §9): "left" is the same sample of the pixel before (one byte back below 8 bits).
  const bpp = depth === 8 ? channels : 1;
  const rows = new Uint8Array(height * rowBytes);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (rowBytes + 1)]!;
    const src = y * (rowBytes + 1) + 1;
    const row = y * rowBytes;
    const up = row - rowBytes;
    // The first row's "up" bytes are zeros: filters 2 → 0, 3 → a/2 and 4 → 1 are the same there.
    const f = y > 0 ? filter : filter === 2 ? 0 : filter === 4 ? 1 : filter;
    switch (f) {
      case 0:
        rows.set(raw.subarray(src, src + rowBytes), row);
        break;
      case 1:
        for (let x = 0; x < rowBytes; x++) rows[row + x] = (raw[src + x]! + (x >= bpp ? rows[row + x - bpp]! : 0)) & 0xff;
        break;
      case 2:
        for (let x = 0; x < rowBytes; x++) rows[row + x] = (raw[src + x]! + rows[up + x]!) & 0xff;
        break;
      case 3:
        for (let x = 0; x < rowBytes; x++) rows[row + x] = (raw[src + x]! + (((x >= bpp ? rows[row + x - bpp]! : 0) + (y > 0 ? rows[up + x]! : 0)) >> 1)) & 0xff;
        break;
      case 4:
        for (let x = 0; x < rowBytes; x++) {
          const left = x >= bpp;
          const a = left ? rows[row + x - bpp]! : 0;
          const b = rows[up + x]!;
          const c = left ? rows[up + x - bpp]! : 0;
          const pa = Math.abs(b - c);
          const pb = Math.abs(a - c);
          const pc = Math.abs(a + b - 2 * c);
          rows[row + x] = (raw[src + x]! + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 0xff;
        }
        break;
      default:
        return undefined;
    }
  }
  const pixels = width * height;
  const gray = new Uint8Array(pixels);
  if (channels === 1 && depth === 8) gray.set(rows);
  else if (channels === 1) {
    // Each sample scaled to 8 bits as pngjs does (round(v × 255 / max)), through a table.
    const max = (1 << depth) - 1;
    const level = Uint8Array.from({ length: max + 1 }, (_, v) => Math.floor((v * 255) / max + 0.5));
    const perByte = 8 / depth;
    for (let y = 0; y < height; y++) {
      let out = y * width;
      const rowEnd = out + width;
      for (let i = y * rowBytes; out < rowEnd; i++) {
        const byte = rows[i]!;
        for (let k = 1; k <= perByte && out < rowEnd; k++) gray[out++] = level[(byte >> (8 - depth * k)) & max]!;
      }
    }
  } else {
    // toGray's arithmetic, on the samples as pngjs would expand them to RGBA.
    for (let p = 0, i = 0; p < pixels; p++, i += channels) {
      const r = rows[i]!;
      const g = channels >= 3 ? rows[i + 1]! : r;
      const b = channels >= 3 ? rows[i + 2]! : r;
      const alpha = channels === 2 ? rows[i + 1]! : channels === 4 ? rows[i + 3]! : 255;
      const luma = (r * 299 + g * 587 + b * 114) / 1000;
      gray[p] = (luma * alpha + 255 * (255 - alpha)) / 255;
    }
  }
  return { width, height, gray };
}

/**
 * RGBA → 8-bit luminance (ITU-R BT.601 weights), composited over white:
 * a QR code drawn on a transparent background has black "transparent" pixels,
 * which would otherwise read as one black square.
 */
function toGray(rgba: Uint8Array, pixels: number): Uint8Array<ArrayBuffer> {
  const gray = new Uint8Array(pixels);
  for (let p = 0, i = 0; p < pixels; p++, i += 4) {
    const luma = (rgba[i]! * 299 + rgba[i + 1]! * 587 + rgba[i + 2]! * 114) / 1000;
    const alpha = rgba[i + 3]!;
    gray[p] = (luma * alpha + 255 * (255 - alpha)) / 255;
  }
  return gray;
}
