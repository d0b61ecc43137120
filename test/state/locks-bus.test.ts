import { MemoryBus, MemoryLocks } from "../../src/state/index.ts";
import { busContract, locksContract } from "./contract.ts";

locksContract("memory", async () => {
  const l = new MemoryLocks();
  return [l, l];
});
busContract("memory", async () => {
  const b = new MemoryBus();
  return [b, b];
});
