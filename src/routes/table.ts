/**
 * The compiled route table: an immutable snapshot built from one validated config and its resolved
 * secrets. Requests take the current table once, at their start, and use that snapshot to the end;
 * a reload swaps in a new table atomically, so in-flight requests finish on the table they began with.
 */
import type { Config } from "../config/schema.ts";
import type { SecretValues } from "../config/secrets.ts";
import type { EndpointRoute } from "../endpoints/compile.ts";
import type { McpUpstreamRoute } from "../mcp/compile.ts";
import type { ConfigToken } from "../tokens/compile.ts";
import type { GithubRoute } from "../github/compile.ts";
import type { ConnectionRoute } from "../oauth/compile.ts";
import type { ConfigIssue } from "../config/validate.ts";

/** The gateway's own routes, listed for /stats and the docs. */
export interface OwnRoute {
  method: string;
  path: string;
  feature: string;
}

export interface RouteTable {
  /** 1 for the table built at startup, +1 for every successful reload */
  readonly version: number;
  readonly builtAt: number;
  /** SHA-256 of the config text */
  readonly configHash: string;
  /** config file path, or "embedded" */
  readonly source: string;
  readonly config: Readonly<Config>;
  readonly secrets: SecretValues;
  readonly publicUrl: URL;
  readonly own: readonly OwnRoute[];
  /** key: `<project>/<slug>` */
  readonly endpoints: ReadonlyMap<string, EndpointRoute>;
  /** what the config asks for but could not be used, and why (an upstream OpenAPI document, a tool): served without it */
  readonly warnings: readonly ConfigIssue[];
  readonly projects: ReadonlySet<string>;
  /** API tokens declared in config, by hash */
  readonly apiTokens: ReadonlyMap<string, ConfigToken>;
  readonly github: GithubRoute;
  /** OAuth connections by name, presets merged, secrets resolved */
  readonly connections: ReadonlyMap<string, ConnectionRoute>;
  /** key: upstream name; "" is the default upstream served at /mcp */
  readonly mcpUpstreams: ReadonlyMap<string, McpUpstreamRoute>;
}

/** Holds the current table; `swap` is a single reference assignment, hence atomic for readers. */
export class RouteTableHolder {
  private table: RouteTable;
  constructor(initial: RouteTable) {
    this.table = Object.freeze(initial);
  }
  current(): RouteTable {
    return this.table;
  }
  swap(next: RouteTable): RouteTable {
    const prev = this.table;
    this.table = Object.freeze(next);
    return prev;
  }
}
