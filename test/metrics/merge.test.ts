/** One /metrics for the whole binary: counters and histograms summed over workers, gauges per worker. */
import { expect, test } from "bun:test";
import { mergeExpositions } from "../../src/metrics/merge.ts";
import { Registry } from "../../src/metrics/registry.ts";

function worker(requests: number, latency: number[], inFlight: number): string {
  const r = new Registry();
  r.counter("hubgate_http_requests_total", "HTTP requests").inc({ method: "GET", route: "/x", status: "200" }, requests);
  const h = r.histogram("hubgate_http_request_duration_seconds", "Duration", [0.01, 0.1]);
  for (const v of latency) h.observe({ route: "/x" }, v);
  r.gauge("hubgate_in_flight", "In flight").set({}, inFlight);
  return r.render();
}

test("counters and histogram series are summed; gauges keep one series per worker", () => {
  const merged = mergeExpositions(new Map([["0", worker(3, [0.005, 0.05], 2)], ["1", worker(4, [0.5], 7)]]));
  const value = (series: string) => Number(merged.split("\n").find((l) => l.startsWith(`${series} `))?.split(" ")[1]);
  expect(value('hubgate_http_requests_total{method="GET",route="/x",status="200"}')).toBe(7);
  expect(value('hubgate_http_request_duration_seconds_count{route="/x"}')).toBe(3);
  expect(value('hubgate_http_request_duration_seconds_bucket{route="/x",le="0.01"}')).toBe(1);
  expect(value('hubgate_http_request_duration_seconds_bucket{route="/x",le="+Inf"}')).toBe(3);
  expect(value('hubgate_http_request_duration_seconds_sum{route="/x"}')).toBeCloseTo(0.555, 6);
  expect(value('hubgate_in_flight{worker="0"}')).toBe(2);
  expect(value('hubgate_in_flight{worker="1"}')).toBe(7);
  // one HELP and one TYPE per family
  expect(merged.match(/# TYPE hubgate_http_requests_total counter/g)).toHaveLength(1);
});
