/** The PostgreSQL helper itself: a real server, a round trip through Bun.SQL, SIGKILL and restart. */
import { afterAll, expect, test } from "bun:test";
import { SQL } from "bun";
import { startPostgres } from "./postgres.ts";

const pg = await startPostgres();
afterAll(() => pg.stop());

test("a real PostgreSQL on loopback: round trip; what was committed survives SIGKILL and restart", async () => {
  expect(pg.url).toBe(`postgres://postgres@127.0.0.1:${pg.port}/hubgate`);
  const sql = new SQL(pg.url);
  await sql`create table t (id int primary key, v text)`;
  await sql`insert into t values (1, ${"one"})`;
  expect(await sql`select v from t where id = ${1}`).toEqual([{ v: "one" }]);
  await sql.close();

  await pg.kill();
  await pg.restart();
  const again = new SQL(pg.url);
  expect(await again`select v from t`).toEqual([{ v: "one" }]);
  await again.close();
});
