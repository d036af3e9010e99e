/**
 * Reading QR codes from camera frames and pictures, in the browser, with ZBar
 * compiled to WebAssembly (@undecaf/zbar-wasm, the decoder the server's
 * tests use too; on the EU test corpus it reads every picture). The
 * WebAssembly file is part of the build and served by Dosis itself.
 */
import { ZBarConfigType, ZBarScanner, ZBarSymbolType, scanImageData } from '@undecaf/zbar-wasm';

let scanner: Promise<ZBarScanner> | undefined;

/** One scanner for QR codes only: skipping the 1-D symbologies is faster and avoids false reads. */
function qrScanner(): Promise<ZBarScanner> {
  scanner ??= (async () => {
    const s = await ZBarScanner.create();
    s.setConfig(ZBarSymbolType.ZBAR_NONE, ZBarConfigType.ZBAR_CFG_ENABLE, 0);
    s.setConfig(ZBarSymbolType.ZBAR_QRCODE, ZBarConfigType.ZBAR_CFG_ENABLE, 1);
    return s;
  })();
  return scanner;
}

/** The text of the first QR code in an image, or undefined. */
export async function readQr(image: ImageData): Promise<string | undefined> {
  const symbols = await scanImageData(image, await qrScanner());
  const qr = symbols.find((s) => s.type === ZBarSymbolType.ZBAR_QRCODE);
  return qr?.decode('utf-8');
}

/** Pictures are scanned at most this wide (phone photos are 4000 px: slow, and no easier to read). */
const MAX_SIDE = 1600;

/** The text of the QR code in a picture file, trying it at full size (up to MAX_SIDE) and smaller. Throws when the file is not a picture. */
export async function readQrFromFile(file: Blob): Promise<string | undefined> {
  const bitmap = await createImageBitmap(file);
  try {
    const largest = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
    for (const scale of [largest, largest / 2]) {
      const width = Math.max(1, Math.round(bitmap.width * scale));
      const height = Math.max(1, Math.round(bitmap.height * scale));
      const canvas = document.createElement('canvas');
      canvas.width = width;
      canvas.height = height;
      const ctx = canvas.getContext('2d', { willReadFrequently: true });
      if (!ctx) return undefined;
      // White first: a transparent PNG would otherwise read as black on black.
      ctx.fillStyle = '#fff';
      ctx.fillRect(0, 0, width, height);
      ctx.drawImage(bitmap, 0, 0, width, height);
      const text = await readQr(ctx.getImageData(0, 0, width, height));
      if (text) return text;
    }
    return undefined;
  } finally {
    bitmap.close();
  }
}
