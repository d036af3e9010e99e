import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { QrImageError, decodeQrPng, pngToGray } from '../../src/certificates/qr-image.ts';

// Dosis draws no QR pictures itself (no QR encoder in the project): real pictures come from the EU corpus.
const SAMPLE = resolve(import.meta.dirname, '../conformance/eu-dcc/testdata/AT/2DCode/raw/1.json');

function sample(): { png: Buffer; text: string } {
  const c = JSON.parse(readFileSync(SAMPLE, 'utf8')) as { '2DCODE': string; PREFIX: string };
  return { png: Buffer.from(c['2DCODE'], 'base64'), text: c.PREFIX };
}

test('reads the HC1 text of a QR picture', async () => {
  const { png, text } = sample();
  assert.equal(await decodeQrPng(png), text);
  assert.ok(text.startsWith('HC1:'));
});

test('reads a QR code drawn on a transparent background', async () => {
  const { png, text } = sample();
  const image = PNG.sync.read(png);
  // Make every light pixel fully transparent black, as some renderers do.
  for (let i = 0; i < image.data.length; i += 4) {
    if (image.data[i]! > 128) image.data.set([0, 0, 0, 0], i);
  }
  assert.equal(await decodeQrPng(PNG.sync.write(image)), text);
});

test('rejects what is not a PNG, and a PNG without a QR code', async () => {
  await assert.rejects(decodeQrPng(new TextEncoder().encode('HC1:NOT A PICTURE')), QrImageError);
  const blank = new PNG({ width: 64, height: 64 });
  blank.data.fill(255);
  await assert.rejects(decodeQrPng(PNG.sync.write(blank)), /no QR code/);
});

/** What pngjs reads, as luminance over white (BT.601): the reference for the direct grayscale reader. */
function viaPngjs(png: Buffer): Uint8Array {
  const { width, height, data } = PNG.sync.read(png);
  const gray = new Uint8Array(width * height);
  for (let p = 0, i = 0; p < gray.length; p++, i += 4) {
    const luma = (data[i]! * 299 + data[i + 1]! * 587 + data[i + 2]! * 114) / 1000;
    gray[p] = (luma * data[i + 3]! + 255 * (255 - data[i + 3]!)) / 255;
  }
  return gray;
}

test('grayscale pictures read directly give the same luminance as pngjs, for every bit depth and row filter', () => {
  const { png } = sample();
  assert.equal(png[24], 1, 'the sample is a 1-bit grayscale picture (as most of the corpus)');
  assert.deepEqual(pngToGray(png).gray, viaPngjs(png));
  // 8-bit grayscale, once with each row filter (pngjs writes them on request), and an interlaced
  // or transparent picture, which the direct reader leaves to pngjs.
  const image = PNG.sync.read(png);
  for (const filterType of [0, 1, 2, 3, 4]) {
    const eight = PNG.sync.write(image, { colorType: 0, inputHasAlpha: true, bitDepth: 8, filterType });
    assert.equal(eight[25], 0);
    assert.deepEqual(pngToGray(eight).gray, viaPngjs(eight), `filter ${filterType}`);
  }
  // 2- and 4-bit samples: the 1-bit picture's IHDR and rows rewritten at the other depth.
  for (const depth of [2, 4]) {
    const other = regray(png, depth);
    assert.equal(other[24], depth);
    assert.deepEqual(pngToGray(other).gray, viaPngjs(other), `${depth}-bit`);
  }
});

test('a grayscale picture with a bad checksum is still refused as unreadable', () => {
  const { png } = sample();
  const bad = Buffer.from(png);
  bad[bad.length - 20] = bad[bad.length - 20]! ^ 0xff; // inside the last IDAT, before its CRC and IEND
  assert.throws(() => pngToGray(bad), QrImageError);
});

/** A 1-bit grayscale PNG re-encoded with `depth` bits per sample (0 → 0, 1 → the top value), every row filter 0. */
function regray(png: Buffer, depth: number): Buffer {
  const { width, height, data } = PNG.sync.read(png);
  const rowBytes = Math.ceil((width * depth) / 8);
  const raw = Buffer.alloc(height * (rowBytes + 1));
  const top = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      // Spread the samples over the range so that every value of the depth shows up.
      const v = data[(y * width + x) * 4]! > 128 ? top : (x + y) % top;
      const bit = x * depth;
      raw[y * (rowBytes + 1) + 1 + (bit >> 3)]! |= v << (8 - depth - (bit & 7));
    }
  }
  const chunk = (type: string, body: Buffer): Buffer => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(body.length, 0);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), body])));
    return Buffer.concat([head, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = depth;
  return Buffer.concat([png.subarray(0, 8), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}
