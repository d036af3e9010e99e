/** Prometheus metrics in text format, counted in process; gauges that need the database are read at scrape time. */
export class Metrics {
  private readonly counters = new Map<string, number>();
  /** How late the event loop runs a timer: what every request waits before its next step (an import's CPU work runs in the same loop). */
  readonly eventLoop = new EventLoopDelay();

  inc(name: string, labels: Record<string, string> = {}, by = 1): void {
    const key = name + labelText(labels);
    this.counters.set(key, (this.counters.get(key) ?? 0) + by);
  }

  /** The exposition text, with extra gauges appended. */
  render(gauges: { name: string; help: string; labels?: Record<string, string>; value: number }[] = []): string {
    const lines: string[] = [];
    const seen = new Set<string>();
    for (const [key, value] of [...this.counters].sort()) {
      const name = key.split('{')[0] as string;
      if (!seen.has(name)) {
        lines.push(`# TYPE ${name} counter`);
        seen.add(name);
      }
      lines.push(`${key} ${value}`);
    }
    lines.push(...this.eventLoop.render());
    for (const g of gauges) {
      if (!seen.has(g.name)) {
        lines.push(`# HELP ${g.name} ${g.help}`, `# TYPE ${g.name} gauge`);
        seen.add(g.name);
      }
      lines.push(`${g.name}${labelText(g.labels ?? {})} ${g.value}`);
    }
    return lines.join('\n') + '\n';
  }
}

/**
 * The event loop's delay as a Prometheus histogram (cumulative buckets, so a
 * reader can subtract two scrapes and have the delays between them): a timer
 * asks to run every TICK_MS and records how late it ran — a synchronous
 * stretch of 80 ms shows as one sample of about 80 ms. `monitorEventLoopDelay`
 * measures the same but keeps percentiles since its start, not buckets.
 */
export class EventLoopDelay {
  static readonly TICK_MS = 20;
  static readonly BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
  private readonly counts = EventLoopDelay.BUCKETS_S.map(() => 0);
  private count = 0;
  private sum = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor() {
    let last = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      this.record(Math.max(0, now - last - EventLoopDelay.TICK_MS) / 1000);
      last = now;
    }, EventLoopDelay.TICK_MS).unref();
  }

  record(seconds: number): void {
    this.count++;
    this.sum += seconds;
    for (const [i, le] of EventLoopDelay.BUCKETS_S.entries()) if (seconds <= le) this.counts[i] = (this.counts[i] as number) + 1;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  render(): string[] {
    const name = 'dosis_event_loop_delay_seconds';
    return [
      `# HELP ${name} How late the event loop ran a ${EventLoopDelay.TICK_MS} ms timer (every request waits as long before its next step)`,
      `# TYPE ${name} histogram`,
      ...EventLoopDelay.BUCKETS_S.map((le, i) => `${name}_bucket{le="${le}"} ${this.counts[i]}`),
      `${name}_bucket{le="+Inf"} ${this.count}`,
      `${name}_sum ${this.sum}`,
      `${name}_count ${this.count}`,
    ];
  }
}

function labelText(labels: Record<string, string>): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  return '{' + entries.map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`).join(',') + '}';
}
