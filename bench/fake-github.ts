#!/usr/bin/env bun
/** The loopback GitHub look-alike of the tests as its own process, for benchmarks. Prints its URL. */
import { fakeGithub } from "../test/helpers/github-fake.ts";

const users: Record<string, { login: string; id: number }> = {};
for (let i = 1; i <= 8; i++) users[`bench-token-${i}`] = { login: `bot${i}`, id: i };
users["caller"] = { login: "caller", id: 99 };
const fake = fakeGithub(users, { limits: { core: 1_000_000_000, graphql: 1_000_000_000 } });
// the log would grow without bound under load; keep only counters
fake.log.push = () => 0;
console.log(fake.url);
