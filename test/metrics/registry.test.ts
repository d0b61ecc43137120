import { describe, expect, test } from "bun:test";
import { Registry } from "../../src/metrics/registry.ts";

describe("metrics registry", () => {
  test("label sets name one series whatever the key order; values are escaped", () => {
    const r = new Registry();
    const c = r.counter("t_requests_total", "test");
    c.inc({ method: "GET", route: "/a" });
    c.inc({ route: "/a", method: "GET" }, 2);
    c.inc({ method: "GET", route: 'q"\\\n' });
    expect(c.get({ route: "/a", method: "GET" })).toBe(3);
    const text = r.render();
    expect(text).toContain('t_requests_total{method="GET",route="/a"} 3');
    expect(text).toContain('t_requests_total{method="GET",route="q\\"\\\\\\n"} 1');
  });

  test("the same values under different names are different series", () => {
    const r = new Registry();
    const c = r.counter("t_swap_total", "test");
    c.inc({ a: "x", b: "y" });
    c.inc({ b: "x", a: "y" });
    expect(c.get({ a: "x", b: "y" })).toBe(1);
    expect(c.get({ a: "y", b: "x" })).toBe(1);
  });

  test("histogram buckets, sum and count", () => {
    const r = new Registry();
    const h = r.histogram("t_seconds", "test", [0.1, 1]);
    h.observe({ route: "/x" }, 0.05);
    h.observe({ route: "/x" }, 0.5);
    h.observe({ route: "/x" }, 5);
    const text = r.render();
    expect(text).toContain('t_seconds_bucket{route="/x",le="0.1"} 1');
    expect(text).toContain('t_seconds_bucket{route="/x",le="1"} 2');
    expect(text).toContain('t_seconds_bucket{route="/x",le="+Inf"} 3');
    expect(text).toContain('t_seconds_sum{route="/x"} 5.55');
    expect(text).toContain('t_seconds_count{route="/x"} 3');
  });
});
