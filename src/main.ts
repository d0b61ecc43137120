#!/usr/bin/env bun
/** hubgate command line: `hubgate help` lists the commands (src/cli/commands.ts); src/cli/spec.ts holds the conventions. */
import { commands, usage } from "./cli/commands.ts";
import { runCommandLine } from "./cli/spec.ts";

const [first, ...rest] = process.argv.slice(2);
// the version flags of other tools, as aliases of `hubgate version`
const argv = first === "--version" || first === "-v" ? ["version", ...rest] : process.argv.slice(2);
const code = await runCommandLine(commands, argv, usage);
if (code !== -1) process.exit(code); // -1: a long-running command (serve) keeps the process alive
