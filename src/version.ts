/** Set at build time by scripts/build.ts (--define); "dev" when running from source. */
declare const HUBGATE_VERSION: string | undefined;
export const VERSION: string = typeof HUBGATE_VERSION === "string" ? HUBGATE_VERSION : "0.1.0-dev";
