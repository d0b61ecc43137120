/**
 * SSRF guard: an upstream host is resolved and every address classified; anything but a public
 * unicast address is refused unless the route explicitly allows private targets.
 *
 * - IPv4 literals are also accepted in the forms URL parsers and inet_aton normalise
 *   (2130706433, 0x7f.1, 0177.0.0.1, 127.1), so "http://2130706433/" cannot slip past as a "name".
 * - IPv6 forms that carry an IPv4 address are unwrapped to it: ::ffff:a.b.c.d / ::ffff:7f00:1
 *   (mapped), ::ffff:0:a.b.c.d (SIIT), ::a.b.c.d (compat), 64:ff9b::/96 (NAT64), 2002::/16 (6to4).
 * - Cloud metadata (169.254.169.254, fd00:ec2::254) falls in link_local / unique_local: refused
 *   unless allowPrivate.
 * - IPv6 outside 2000::/3 global unicast (and Teredo, ORCHID, SRv6) is "reserved".
 * The check is made on the resolved addresses; fetch resolves again when connecting, so a DNS
 * answer that changes in between (rebinding) is not covered here.
 */
import { isIP } from "node:net";
import { lookup as dnsLookup } from "node:dns/promises";
import { GatewayError } from "../core/errors.ts";

export type IpClass =
  | "public" | "loopback" | "private" | "link_local" | "unspecified" | "multicast" | "reserved"
  | "cgnat" | "unique_local" | "broadcast" | "documentation";

export type Lookup = (host: string) => Promise<string[]>;

const V4_RANGES: [number, number, IpClass][] = (
  [
    ["0.0.0.0", 8, "unspecified"], ["10.0.0.0", 8, "private"], ["100.64.0.0", 10, "cgnat"],
    ["127.0.0.0", 8, "loopback"], ["169.254.0.0", 16, "link_local"], ["172.16.0.0", 12, "private"],
    ["192.0.0.0", 24, "reserved"], ["192.0.2.0", 24, "documentation"], ["192.88.99.0", 24, "reserved"],
    ["192.168.0.0", 16, "private"], ["198.18.0.0", 15, "reserved"], ["198.51.100.0", 24, "documentation"],
    ["203.0.113.0", 24, "documentation"], ["224.0.0.0", 4, "multicast"], ["255.255.255.255", 32, "broadcast"],
    ["240.0.0.0", 4, "reserved"],
  ] as const
).map(([base, bits, cls]) => [v4ToInt(base), 2 ** (32 - bits), cls]);

function v4ToInt(ip: string): number {
  return ip.split(".").reduce((n, p) => n * 256 + Number(p), 0);
}

const intToV4 = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");

/** WHATWG / inet_aton IPv4: 1–4 parts, each decimal, 0x-hex or 0-octal; the last fills the remaining bytes. */
export function parseIPv4Loose(host: string): string | null {
  const parts = host.split(".");
  if (parts.length > 1 && parts.at(-1) === "") parts.pop();
  if (parts.length === 0 || parts.length > 4) return null;
  const nums: number[] = [];
  for (const p of parts) {
    let n: number;
    if (/^0x[0-9a-f]*$/i.test(p)) n = p.length === 2 ? 0 : parseInt(p.slice(2), 16);
    else if (/^0[0-7]+$/.test(p)) n = parseInt(p.slice(1), 8);
    else if (/^(0|[1-9][0-9]*)$/.test(p)) n = Number(p);
    else return null;
    nums.push(n);
  }
  const last = nums.pop()!;
  if (nums.some((n) => n > 255) || last >= 256 ** (4 - nums.length)) return null;
  const value = nums.reduce((acc, n, i) => acc + n * 256 ** (3 - i), 0) + last;
  return intToV4(value);
}

function classifyV4(ip: string): IpClass {
  const n = v4ToInt(ip);
  for (const [start, size, cls] of V4_RANGES) if (n >= start && n < start + size) return cls;
  return "public";
}

/** Expand an IPv6 address (already validated) to 8 16-bit groups; handles "::" and a dotted IPv4 tail. */
function v6Groups(ip: string): number[] {
  let s = ip.toLowerCase();
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted) {
    const n = v4ToInt(dotted[1]!);
    s = s.slice(0, -dotted[1]!.length) + `${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head = "", tail] = s.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const fill: string[] = tail === undefined ? [] : Array<string>(8 - h.length - t.length).fill("0");
  return [...h, ...fill, ...t].map((g) => parseInt(g || "0", 16));
}

const zeros = (g: number[], from: number, to: number) => g.slice(from, to).every((x) => x === 0);
const embeddedV4 = (g: number[], i: number) => intToV4(((g[i]! << 16) | g[i + 1]!) >>> 0);

function classifyV6(ip: string): IpClass {
  const g = v6Groups(ip);
  const g0 = g[0]!;
  if (zeros(g, 0, 8)) return "unspecified";
  if (zeros(g, 0, 7) && g[7] === 1) return "loopback";
  if (zeros(g, 0, 5) && g[5] === 0xffff) return classifyV4(embeddedV4(g, 6)); // ::ffff:a.b.c.d
  if (zeros(g, 0, 4) && g[4] === 0xffff && g[5] === 0) return classifyV4(embeddedV4(g, 6)); // ::ffff:0:a.b.c.d
  if (zeros(g, 0, 6)) return classifyV4(embeddedV4(g, 6)); // deprecated ::a.b.c.d
  if (g0 === 0x64 && g[1] === 0xff9b && zeros(g, 2, 6)) return classifyV4(embeddedV4(g, 6)); // NAT64
  if (g0 === 0x64 && g[1] === 0xff9b && g[2] === 1) return "reserved"; // local-use NAT64
  if (g0 === 0x2002) return classifyV4(embeddedV4(g, 1)); // 6to4
  if ((g0 & 0xfe00) === 0xfc00) return "unique_local";
  if ((g0 & 0xffc0) === 0xfe80) return "link_local";
  if ((g0 & 0xffc0) === 0xfec0) return "private"; // deprecated site-local
  if ((g0 & 0xff00) === 0xff00) return "multicast";
  if (g0 === 0x2001 && g[1] === 0xdb8) return "documentation";
  if (g0 === 0x3fff && g[1]! < 0x1000) return "documentation"; // 3fff::/20
  if (g0 === 0x2001 && (g[1] === 0 || (g[1]! & 0xfff0) === 0x0020 || (g[1]! & 0xfff0) === 0x0010)) return "reserved"; // Teredo, ORCHID
  if ((g0 & 0xe000) !== 0x2000 || g0 === 0x5f00) return "reserved"; // outside 2000::/3
  return "public";
}

/** Classify an IP literal (optionally in brackets, with a zone id). Throws GatewayError("invalid_address") for non-IPs. */
export function classifyIp(ip: string): IpClass {
  const bare = ip.replace(/^\[(.*)\]$/, "$1").split("%")[0]!;
  if (isIP(bare) === 6) return classifyV6(bare);
  const v4 = parseIPv4Loose(bare);
  if (v4) return classifyV4(v4);
  throw new GatewayError("invalid_address", `Not an IP address: ${ip}`, 400);
}

const defaultLookup: Lookup = async (host) => (await dnsLookup(host, { all: true, verbatim: true })).map((a) => a.address);

/** The address a hostname spells as a literal (IPv6, in brackets or not; IPv4 in any inet_aton form), or null for a name. */
export function ipLiteral(hostname: string): string | null {
  const host = hostname.replace(/^\[(.*)\]$/, "$1");
  const bare = host.split("%")[0]!;
  if (isIP(bare) === 6) return host;
  return parseIPv4Loose(bare);
}

/**
 * Addresses that passed the check, by host and allowPrivate, for as long as Bun's own DNS cache keeps
 * an answer (30 s by default): a request checks the host without a lookup or an address parse each
 * time. Requests still connect to the checked address (pinTo in forward.ts), so a cached answer never
 * opens a rebinding window. Failures and refusals are not cached; a custom `lookup` bypasses it.
 */
const checked = new Map<string, { addresses: string[]; until: number }>();
const CHECKED_TTL_MS = 30_000;
const CHECKED_MAX = 1_000;

/** Resolve `hostname` and refuse it (403 ssrf_refused) unless every address is public or allowPrivate. Returns the addresses. */
export async function checkHost(hostname: string, opts: { allowPrivate: boolean; lookup?: Lookup }): Promise<string[]> {
  if (opts.lookup) return checkHostUncached(hostname, opts);
  const key = `${opts.allowPrivate ? "p" : "-"}${hostname}`;
  const now = Date.now();
  const hit = checked.get(key);
  if (hit && hit.until > now) return hit.addresses;
  const addresses = await checkHostUncached(hostname, opts);
  if (checked.size >= CHECKED_MAX) checked.clear();
  checked.set(key, { addresses, until: now + CHECKED_TTL_MS });
  return addresses;
}

async function checkHostUncached(hostname: string, opts: { allowPrivate: boolean; lookup?: Lookup }): Promise<string[]> {
  const host = hostname.replace(/^\[(.*)\]$/, "$1");
  const lit = ipLiteral(host);
  let addresses: string[];
  if (lit !== null) addresses = [lit];
  else {
    try {
      addresses = await (opts.lookup ?? defaultLookup)(host);
    } catch (e) {
      throw new GatewayError("upstream_unreachable", `Upstream host ${hostname} could not be resolved`, 502, { cause: e });
    }
    if (!addresses.length) throw new GatewayError("upstream_unreachable", `Upstream host ${hostname} has no addresses`, 502);
  }
  if (opts.allowPrivate) return addresses;
  for (const a of addresses) {
    let cls: IpClass;
    try {
      cls = classifyIp(a);
    } catch {
      cls = "reserved";
    }
    if (cls !== "public")
      throw new GatewayError(
        "ssrf_refused",
        `Upstream ${hostname} resolves to a ${cls.replace("_", "-")} address; set allow_private for internal upstreams`,
        403,
      );
  }
  return addresses;
}
