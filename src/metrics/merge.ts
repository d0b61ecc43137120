/**
 * One exposition for the whole binary from each worker's own (Prometheus text format 0.0.4): counters
 * and histograms are summed series by series, so a scrape reads the binary's totals whichever worker
 * answers it; gauges are per-process figures (cache bytes, in-flight requests, uptime) and keep one
 * series per worker under a `worker` label (bounded: one value per configured worker).
 */

interface Family {
  help: string;
  type: string;
  /** series key (name + rendered labels) → value, in first-seen order */
  series: Map<string, number>;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)$/;

/** The metric family a sample belongs to (histogram samples end in _bucket, _sum or _count). */
function familyOf(name: string, families: Map<string, Family>): string {
  if (families.has(name)) return name;
  for (const suffix of ["_bucket", "_sum", "_count"])
    if (name.endsWith(suffix) && families.get(name.slice(0, -suffix.length))?.type === "histogram") return name.slice(0, -suffix.length);
  return name;
}

function withWorker(labels: string | undefined, worker: string): string {
  const w = `worker="${worker}"`;
  if (!labels || labels === "{}") return `{${w}}`;
  return `{${labels.slice(1, -1)},${w}}`;
}

/** `expositions`: worker id → that worker's /metrics text. */
export function mergeExpositions(expositions: ReadonlyMap<string, string>): string {
  const families = new Map<string, Family>();
  for (const [worker, text] of expositions) {
    for (const line of text.split("\n")) {
      if (line.startsWith("# HELP ")) {
        const [, name = "", ...help] = line.slice(2).split(" ");
        if (!families.has(name)) families.set(name, { help: help.join(" "), type: "untyped", series: new Map() });
        continue;
      }
      if (line.startsWith("# TYPE ")) {
        const [, name = "", type = "untyped"] = line.slice(2).split(" ");
        const f = families.get(name);
        if (f) f.type = type;
        else families.set(name, { help: "", type, series: new Map() });
        continue;
      }
      const m = SAMPLE.exec(line);
      if (!m) continue;
      const [, name = "", labels, raw = ""] = m;
      const value = Number(raw);
      if (!Number.isFinite(value) && raw !== "+Inf" && raw !== "-Inf") continue;
      const fam = families.get(familyOf(name, families));
      if (!fam) continue;
      if (fam.type === "gauge" || fam.type === "untyped") fam.series.set(`${name}${withWorker(labels, worker)}`, value);
      else {
        const key = `${name}${labels ?? ""}`;
        fam.series.set(key, (fam.series.get(key) ?? 0) + value);
      }
    }
  }
  const out: string[] = [];
  for (const [name, f] of families) {
    out.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`);
    for (const [k, v] of f.series) out.push(`${k} ${v}`);
  }
  return `${out.join("\n")}\n`;
}
