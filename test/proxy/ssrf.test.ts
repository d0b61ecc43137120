import { describe, expect, test } from "bun:test";
import { checkHost, classifyIp, parseIPv4Loose, type IpClass } from "../../src/proxy/ssrf.ts";
import { GatewayError } from "../../src/core/errors.ts";

const table: [string, IpClass][] = [
  ["8.8.8.8", "public"], ["1.1.1.1", "public"], ["140.82.112.3", "public"],
  ["127.0.0.1", "loopback"], ["127.255.255.254", "loopback"], ["0.0.0.0", "unspecified"], ["0.1.2.3", "unspecified"],
  ["10.0.0.1", "private"], ["172.16.0.1", "private"], ["172.31.255.255", "private"], ["172.32.0.1", "public"],
  ["192.168.1.1", "private"], ["169.254.169.254", "link_local"], ["100.64.0.1", "cgnat"], ["100.100.100.200", "cgnat"],
  ["100.128.0.1", "public"], ["224.0.0.1", "multicast"], ["239.255.255.250", "multicast"], ["240.0.0.1", "reserved"],
  ["255.255.255.255", "broadcast"], ["192.0.2.5", "documentation"], ["198.18.0.1", "reserved"], ["192.0.0.170", "reserved"],
  // numeric IPv4 forms as URL parsers / inet_aton read them
  ["2130706433", "loopback"], ["0x7f000001", "loopback"], ["0177.0.0.1", "loopback"], ["127.1", "loopback"],
  ["0x7f.1", "loopback"], ["0xa9.0xfe.0xa9.0xfe", "link_local"], ["3232235777", "private"], ["127.0.0.1.", "loopback"],
  // IPv6
  ["::", "unspecified"], ["::1", "loopback"], ["[::1]", "loopback"], ["2606:4700:4700::1111", "public"],
  ["2001:4860:4860::8888", "public"], ["fe80::1", "link_local"], ["fe80::1%eth0", "link_local"], ["fc00::1", "unique_local"],
  ["fd00:ec2::254", "unique_local"], ["ff02::1", "multicast"], ["2001:db8::1", "documentation"], ["fec0::1", "private"],
  ["2001::1", "reserved"], ["100::1", "reserved"], ["4000::1", "reserved"],
  // IPv6 carrying IPv4
  ["::ffff:127.0.0.1", "loopback"], ["::ffff:7f00:1", "loopback"], ["::FFFF:7F00:0001", "loopback"],
  ["::ffff:169.254.169.254", "link_local"], ["::ffff:8.8.8.8", "public"], ["::ffff:0:10.0.0.1", "private"],
  ["::127.0.0.1", "loopback"], ["64:ff9b::127.0.0.1", "loopback"], ["64:ff9b::a9fe:a9fe", "link_local"],
  ["64:ff9b::808:808", "public"], ["2002:7f00:1::", "loopback"], ["2002:c0a8:101::1", "private"], ["2002:808:808::1", "public"],
];

describe("classifyIp", () => {
  test(`table of ${table.length} cases`, () => {
    expect(table.length).toBeGreaterThanOrEqual(30);
    const wrong = table.filter(([ip, cls]) => classifyIp(ip) !== cls).map(([ip, cls]) => `${ip}: ${classifyIp(ip)} ≠ ${cls}`);
    expect(wrong).toEqual([]);
  });

  test("agrees with how URL parsers normalise hosts", () => {
    for (const h of ["2130706433", "0x7f000001", "0177.0.0.1", "127.1", "0x7f.1"]) {
      expect(new URL(`http://${h}/`).hostname).toBe("127.0.0.1");
      expect(parseIPv4Loose(h)).toBe("127.0.0.1");
    }
    expect(new URL("http://[::ffff:127.0.0.1]/").hostname).toBe("[::ffff:7f00:1]");
    expect(classifyIp(new URL("http://[::ffff:127.0.0.1]/").hostname)).toBe("loopback");
  });

  test("non-IPs throw", () => {
    for (const s of ["example.com", "1.2.3.4.5", "256.1.1.1", "", "::g"]) expect(() => classifyIp(s)).toThrow(GatewayError);
  });
});

const code = async (p: Promise<unknown>) => {
  try {
    await p;
    return "ok";
  } catch (e) {
    return e instanceof GatewayError ? `${e.status} ${e.code}` : String(e);
  }
};

describe("checkHost", () => {
  const lookup = (map: Record<string, string[]>) => async (h: string) => {
    if (!(h in map)) throw new Error("ENOTFOUND");
    return map[h]!;
  };
  const dns = lookup({
    "public.test": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
    "mixed.test": ["93.184.216.34", "10.0.0.5"],
    "meta.test": ["169.254.169.254"],
    "meta6.test": ["fd00:ec2::254"],
    "empty.test": [],
  });

  test("a passed check is reused (no lookup or parse per request); refusals are not remembered", async () => {
    const first = await checkHost("localhost", { allowPrivate: true });
    expect(first.length).toBeGreaterThan(0);
    expect(await checkHost("localhost", { allowPrivate: true })).toBe(first); // the same answer, not a new lookup
    // the cache is per allowPrivate: the same name is still refused without it, every time
    for (let i = 0; i < 2; i++) await expect(checkHost("localhost", { allowPrivate: false })).rejects.toMatchObject({ code: "ssrf_refused" });
  });

  test("public names and literals pass and return the addresses", async () => {
    expect(await checkHost("public.test", { allowPrivate: false, lookup: dns })).toEqual(["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]);
    expect(await checkHost("8.8.8.8", { allowPrivate: false, lookup: dns })).toEqual(["8.8.8.8"]);
    expect(await checkHost("[2606:4700:4700::1111]", { allowPrivate: false, lookup: dns })).toEqual(["2606:4700:4700::1111"]);
  });

  test("any non-public address refuses the host", async () => {
    for (const h of ["mixed.test", "meta.test", "meta6.test", "127.0.0.1", "[::1]", "2130706433", "[::ffff:7f00:1]", "169.254.169.254"])
      expect(await code(checkHost(h, { allowPrivate: false, lookup: dns }))).toBe("403 ssrf_refused");
  });

  test("allowPrivate lets private and metadata addresses through", async () => {
    for (const h of ["mixed.test", "meta.test", "meta6.test", "127.0.0.1"])
      expect(await code(checkHost(h, { allowPrivate: true, lookup: dns }))).toBe("ok");
  });

  test("literal IPs are not looked up", async () => {
    let called = 0;
    const spy = async () => (called++, ["8.8.8.8"]);
    await checkHost("127.0.0.1", { allowPrivate: true, lookup: spy });
    await checkHost("[::1]", { allowPrivate: true, lookup: spy });
    await checkHost("0x7f.1", { allowPrivate: true, lookup: spy });
    expect(called).toBe(0);
  });

  test("resolution failures are 502 upstream_unreachable", async () => {
    expect(await code(checkHost("nope.test", { allowPrivate: false, lookup: dns }))).toBe("502 upstream_unreachable");
    expect(await code(checkHost("empty.test", { allowPrivate: false, lookup: dns }))).toBe("502 upstream_unreachable");
  });

  test("default lookup resolves localhost to loopback and refuses it", async () => {
    expect(await code(checkHost("localhost", { allowPrivate: false }))).toBe("403 ssrf_refused");
    expect((await checkHost("localhost", { allowPrivate: true })).length).toBeGreaterThan(0);
  });
});
