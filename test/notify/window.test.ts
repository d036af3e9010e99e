/**
 * The window of sendsms requests in flight per route (health.ts SendWindow):
 * never more than its size at once, whatever the worker's concurrency; a
 * one-time code waiting for a place goes before the certificate SMS that
 * waited longer (the lanes' promise, codes first, kept at the gateway too).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SendWindow } from '../../src/notify/health.ts';

const tick = () => new Promise((r) => setImmediate(r));

describe('send window', () => {
  it('keeps at most its size in flight and hands a freed place to a waiting code first', async () => {
    const w = new SendWindow(2);
    const order: string[] = [];
    const held = [await w.acquire(), await w.acquire()];
    assert.equal(w.inFlight, 2);
    const take = (name: string, urgent: boolean) => w.acquire(urgent).then((release) => (order.push(name), release));
    const cert1 = take('certificate 1', false);
    const cert2 = take('certificate 2', false);
    const code = take('code', true);
    await tick();
    assert.deepEqual(order, [], 'nothing starts while the window is full');
    assert.equal(w.waiting, 3);
    held[0]!();
    held[0]!(); // a second release of the same place frees nothing more
    await tick();
    assert.deepEqual(order, ['code']);
    assert.equal(w.inFlight, 2);
    held[1]!();
    await tick();
    assert.deepEqual(order, ['code', 'certificate 1']);
    (await code)();
    await tick();
    assert.deepEqual(order, ['code', 'certificate 1', 'certificate 2']);
    (await cert1)();
    (await cert2)();
    assert.equal(w.inFlight, 0);
    assert.equal(w.waiting, 0);
  });

  it('with 128 sends at once runs no more than the size together', async () => {
    const w = new SendWindow(8);
    let now = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 128 }, async (_, i) => {
        const release = await w.acquire(i % 10 === 0);
        now++;
        most = Math.max(most, now);
        await tick();
        now--;
        release();
      }),
    );
    assert.equal(most, 8);
    assert.equal(w.inFlight, 0);
  });

  it('bounds nothing at size 0 (the sink)', async () => {
    const w = new SendWindow(0);
    const all = await Promise.all(Array.from({ length: 50 }, () => w.acquire()));
    assert.equal(w.waiting, 0);
    for (const release of all) release();
  });
});
