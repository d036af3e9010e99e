import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { PNG } from 'pngjs';
import { QrImageError, decodeQrPng } from '../../src/certificates/qr-image.ts';

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
