import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { linkTokenFor } from '../../src/access/links.ts';

test('linkTokenFor is the first 128 bits of HMAC-SHA-256 of the certificate id, for keys shorter and longer than a block', () => {
  for (const size of [16, 32, 64, 65, 100]) {
    const secret = randomBytes(size);
    for (let i = 0; i < 20; i++) {
      const id = randomUUID();
      const expected = createHmac('sha256', secret).update(id).digest().subarray(0, 16).toString('base64url');
      assert.equal(linkTokenFor(secret, id), expected, `key of ${size} bytes`);
    }
  }
});
