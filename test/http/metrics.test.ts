/** The event loop's delay in /metrics (dosis_event_loop_delay_seconds): a histogram that sees a blocked loop. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { EventLoopDelay, Metrics } from '../../src/http/metrics.ts';

/** The histogram's lines as numbers by name and bucket. */
const parse = (lines: string[]): Map<string, number> =>
  new Map(lines.filter((l) => !l.startsWith('#')).map((l) => [l.slice(0, l.lastIndexOf(' ')), Number(l.slice(l.lastIndexOf(' ') + 1))]));

describe('event loop delay metric', () => {
  it('counts each sample in every bucket at or above it, cumulatively', () => {
    const h = new EventLoopDelay();
    h.stop();
    for (const s of [0.001, 0.02, 0.3, 2]) h.record(s);
    const m = parse(h.render());
    assert.equal(m.get('dosis_event_loop_delay_seconds_bucket{le="0.005"}'), 1);
    assert.equal(m.get('dosis_event_loop_delay_seconds_bucket{le="0.025"}'), 2);
    assert.equal(m.get('dosis_event_loop_delay_seconds_bucket{le="0.25"}'), 2);
    assert.equal(m.get('dosis_event_loop_delay_seconds_bucket{le="0.5"}'), 3);
    assert.equal(m.get('dosis_event_loop_delay_seconds_bucket{le="1"}'), 3);
    assert.equal(m.get('dosis_event_loop_delay_seconds_bucket{le="+Inf"}'), 4);
    assert.equal(m.get('dosis_event_loop_delay_seconds_count'), 4);
    assert.ok(Math.abs((m.get('dosis_event_loop_delay_seconds_sum') ?? 0) - 2.321) < 1e-9);
  });

  it('sees a loop held for 150 ms as a sample later than 100 ms, in the exposition text', async () => {
    const metrics = new Metrics();
    try {
      await sleep(3 * EventLoopDelay.TICK_MS);
      const until = performance.now() + 150;
      while (performance.now() < until) {
        // holding the event loop, as a long synchronous stretch does
      }
      await sleep(3 * EventLoopDelay.TICK_MS);
      const m = parse(metrics.render().split('\n').filter((l) => l.startsWith('dosis_event_loop_delay_seconds')));
      const all = m.get('dosis_event_loop_delay_seconds_bucket{le="+Inf"}') ?? 0;
      const upTo100 = m.get('dosis_event_loop_delay_seconds_bucket{le="0.1"}') ?? 0;
      assert.ok(all > 0, 'samples taken');
      assert.ok(all - upTo100 >= 1, `one sample later than 100 ms: ${[...m].join(', ')}`);
    } finally {
      metrics.eventLoop.stop();
    }
  });
});
