#!/usr/bin/env bun
/** hubgate command line: serve, check, rekey, version, help. */
import { parseArgs } from "node:util";
import { VERSION } from "./version.ts";
import { commands, usage } from "./cli/commands.ts";

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === "--help" || cmd === "-h" || cmd === "help") {
    process.stdout.write(usage());
    return 0;
  }
  if (cmd === "version" || cmd === "--version" || cmd === "-v") {
    process.stdout.write(`hubgate ${VERSION} (bun ${Bun.version})\n`);
    return 0;
  }
  const command = commands[cmd];
  if (!command) {
    process.stderr.write(`hubgate: unknown command "${cmd}"\n\n${usage()}`);
    return 2;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: command.options, allowPositionals: command.positionals ?? false, strict: true });
  } catch (e) {
    process.stderr.write(`hubgate ${cmd}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  return command.run(parsed.values, parsed.positionals);
}

const code = await main(process.argv.slice(2));
if (code !== -1) process.exit(code); // -1: a long-running command (serve) keeps the process alive
