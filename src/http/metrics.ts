/** Prometheus metrics in text format, counted in process; gauges that need the database are read at scrape time. */
export class Metrics {
  private readonly counters = new Map<string, number>();

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

function labelText(labels: Record<string, string>): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  return '{' + entries.map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`).join(',') + '}';
}
