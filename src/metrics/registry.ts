/**
 * A small Prometheus registry: counters, gauges and histograms with label sets, rendered in the
 * text exposition format (version 0.0.4). Label values are expected to come from bounded sets
 * (route templates, identity ids, outcomes) — never raw paths.
 */
type Labels = Record<string, string>;

const NEEDS_ESCAPE = /[\\\n"]/;
const escape = (v: string) => (NEEDS_ESCAPE.test(v) ? v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"') : v);

function seriesKey(labels: Labels): string {
  const names = Object.keys(labels);
  if (names.length > 1) names.sort();
  let out = "";
  for (const k of names) out += `${out ? "," : ""}${k}="${escape(String(labels[k]))}"`;
  return out;
}

/**
 * The series key of a label set (sorted names, escaped values). This runs several times per request,
 * so rendered keys are memoised in a trie walked name → value → name → value: Map lookups on the
 * short strings callers already hold, no string built per call (building one cost a fifth of the
 * cache-hit path's samples). Label sets come from bounded sets; past MEMO_MAX nodes keys are rendered
 * each time instead of remembered.
 */
interface Node {
  next: Map<string, Node>;
  key?: string;
}
const root: Node = { next: new Map() };
let nodes = 0;
const MEMO_MAX = 20_000;

function key(labels: Labels): string {
  let node = root;
  for (const k in labels) {
    const byName = child(node, k);
    if (!byName) return seriesKey(labels);
    const byValue = child(byName, labels[k]!);
    if (!byValue) return seriesKey(labels);
    node = byValue;
  }
  return (node.key ??= seriesKey(labels));
}

function child(node: Node, s: string): Node | null {
  let c = node.next.get(s);
  if (c === undefined) {
    if (nodes >= MEMO_MAX) return null;
    node.next.set(s, (c = { next: new Map() }));
    nodes++;
  }
  return c;
}

abstract class Metric {
  constructor(readonly name: string, readonly help: string, readonly type: "counter" | "gauge" | "histogram") {}
  abstract lines(): string[];
  render(): string {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`, ...this.lines()].join("\n");
  }
}

export class Counter extends Metric {
  private readonly values = new Map<string, number>();
  constructor(name: string, help: string) {
    super(name, help, "counter");
  }
  inc(labels: Labels = {}, by = 1): void {
    const k = key(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  get(labels: Labels = {}): number {
    return this.values.get(key(labels)) ?? 0;
  }
  lines(): string[] {
    return [...this.values].map(([k, v]) => `${this.name}${k ? `{${k}}` : ""} ${v}`);
  }
}

export class Gauge extends Metric {
  private readonly values = new Map<string, number | (() => number)>();
  constructor(name: string, help: string) {
    super(name, help, "gauge");
  }
  set(labels: Labels, v: number | (() => number)): void {
    this.values.set(key(labels), v);
  }
  lines(): string[] {
    return [...this.values].map(([k, v]) => `${this.name}${k ? `{${k}}` : ""} ${typeof v === "function" ? v() : v}`);
  }
}

export class Histogram extends Metric {
  private readonly series = new Map<string, { counts: number[]; sum: number; count: number }>();
  constructor(name: string, help: string, readonly buckets: number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]) {
    super(name, help, "histogram");
  }
  observe(labels: Labels, v: number): void {
    const k = key(labels);
    let s = this.series.get(k);
    if (!s) this.series.set(k, (s = { counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    const buckets = this.buckets;
    for (let i = 0; i < buckets.length; i++) if (v <= buckets[i]!) s.counts[i]!++;
    s.sum += v;
    s.count++;
  }
  lines(): string[] {
    const out: string[] = [];
    for (const [k, s] of this.series) {
      const sep = k ? `${k},` : "";
      this.buckets.forEach((b, i) => out.push(`${this.name}_bucket{${sep}le="${b}"} ${s.counts[i]}`));
      out.push(`${this.name}_bucket{${sep}le="+Inf"} ${s.count}`);
      out.push(`${this.name}_sum${k ? `{${k}}` : ""} ${s.sum}`);
      out.push(`${this.name}_count${k ? `{${k}}` : ""} ${s.count}`);
    }
    return out;
  }
}

export class Registry {
  private readonly metrics = new Map<string, Metric>();
  private register<M extends Metric>(m: M): M {
    const existing = this.metrics.get(m.name);
    if (existing) return existing as M;
    this.metrics.set(m.name, m);
    return m;
  }
  counter(name: string, help: string): Counter {
    return this.register(new Counter(name, help));
  }
  gauge(name: string, help: string): Gauge {
    return this.register(new Gauge(name, help));
  }
  histogram(name: string, help: string, buckets?: number[]): Histogram {
    return this.register(new Histogram(name, help, buckets));
  }
  render(): string {
    return [...this.metrics.values()].map((m) => m.render()).join("\n") + "\n";
  }
}
