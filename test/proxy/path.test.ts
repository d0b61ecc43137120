import { describe, expect, test } from "bun:test";
import { joinUpstream } from "../../src/proxy/path.ts";
import { GatewayError } from "../../src/core/errors.ts";

const ok: [string, string, string, string][] = [
  ["https://api.example.com/v1", "/users/1", "", "https://api.example.com/v1/users/1"],
  ["https://api.example.com/v1/", "/users/1", "", "https://api.example.com/v1/users/1"],
  ["https://api.example.com/v1//", "//users//1", "", "https://api.example.com/v1/users/1"],
  ["https://api.example.com/v1", "", "", "https://api.example.com/v1"],
  ["https://api.example.com/v1/", "", "", "https://api.example.com/v1/"],
  ["https://api.example.com/v1", "/", "", "https://api.example.com/v1/"],
  ["https://api.example.com/v1", "/users/", "", "https://api.example.com/v1/users/"],
  ["https://api.example.com", "/users", "?a=b&c=d", "https://api.example.com/users?a=b&c=d"],
  ["https://api.example.com", "", "?a=b", "https://api.example.com/?a=b"],
  ["https://api.example.com/v1?key=k", "/x", "?a=1", "https://api.example.com/v1/x?key=k&a=1"],
  ["https://api.example.com/v1#frag", "/x", "", "https://api.example.com/v1/x"],
  ["http://127.0.0.1:8080/base", "/a%20b/c%3Fd", "", "http://127.0.0.1:8080/base/a%20b/c%3Fd"],
  ["https://api.example.com/v1", "/..foo/bar..", "", "https://api.example.com/v1/..foo/bar.."],
  ["https://api.example.com/v1", "/a.b/.well-known", "", "https://api.example.com/v1/a.b/.well-known"],
  ["https://api.example.com/v1", "/a;b/...;x/.x;y", "", "https://api.example.com/v1/a;b/...;x/.x;y"],
];

const bad = ["/..", "/../admin", "/a/../../b", "/.", "/./a", "/%2e%2e/x", "/%2E%2E", "/.%2e/x", "/%2e./x", "/%2E.",
  "/a%2fb", "/a%2F..%2Fb", "/a%5cb", "/a\\b", "/..\\x", "/%252e%252e/../x", "/%zz", "/a%00b", "/a%0d%0ab", "/a?b", "/a#b",
  // dot segments with path parameters: Tomcat, Jetty and Spring drop ";…" and then resolve the dot segment
  "/..;/secret", "/.;/x", "/a/..;jsessionid=1/b", "/%2e%2e;/x", "/%2E.;x/y", "/.%2e;/x", "/..%3b/x", "/.%3Bx/y"];

describe("joinUpstream", () => {
  test.each(ok)("%s + %s %s", (base, rest, search, want) => {
    expect(joinUpstream(base, rest, search).href).toBe(want);
  });

  test.each(bad)("refuses %s", (rest) => {
    let err: unknown;
    try {
      joinUpstream("https://api.example.com/v1", rest, "");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).code).toBe("invalid_path");
    expect((err as GatewayError).status).toBe(400);
  });

  test("results always stay under the base path", () => {
    const pieces = ["a", ".", "..", "%2e", "%2E%2e", "%2f", "%5C", "", "b.", ".c", "%252e"];
    for (const x of pieces)
      for (const y of pieces) {
        try {
          const u = joinUpstream("https://h.example/api/v2/", `/${x}/${y}`, "");
          expect(u.host).toBe("h.example");
          expect(u.pathname === "/api/v2" || u.pathname.startsWith("/api/v2/")).toBe(true);
        } catch (e) {
          expect((e as GatewayError).code).toBe("invalid_path");
        }
      }
  });
});
