/**
 * What the MCP OAuth gateway needs, handed over by the composition root: the route table in force, the
 * store's MCP, audit and sealed key-value repositories, the OAuth connections, the authentication
 * throttle, shared state (rate counter, single flight), the request log, and a few functions of the
 * server (client address, hold-open) and its logger. Each module of the feature takes the part it uses.
 */
import type { Logger } from "../core/log.ts";
import type { OAuthService } from "../oauth/service.ts";
import type { RouteTable } from "../routes/table.ts";
import type { RequestLogger } from "../server/requestlog.ts";
import type { RateCounter, SingleFlight } from "../state/types.ts";
import type { AuditRepo, McpRepo, SealedKvRepo } from "../store/index.ts";
import type { AuthThrottle } from "../tokens/throttle.ts";

/** The parts of the route table the MCP feature reads (`config.mcp`, `config.github`, the upstreams, the public URL). */
export type McpTable = Pick<RouteTable, "config" | "publicUrl" | "mcpUpstreams">;

export interface McpDeps {
  /** the route table in force; read at the moment of use, never kept (a reload swaps it) */
  table: () => McpTable;
  /** clients, pending authorizations, consents, codes and tokens */
  mcp: McpRepo;
  audit: Pick<AuditRepo, "append">;
  /** the registrations hubgate made at discovered upstream authorization servers */
  sealedKv: Pick<SealedKvRepo, "get" | "put">;
  /** the upstream login (authorization, code exchange, grants) and the connections discovered at run time */
  oauth: Pick<OAuthService, "beginAuthorization" | "exchange" | "saveTokens" | "accessToken" | "hasConnection" | "registerConnection">;
  /** failed credential checks per client address */
  authThrottle: Pick<AuthThrottle, "guard" | "blocked" | "failed">;
  /** failed logins per user name */
  rateCounter: RateCounter;
  /** one discovery per upstream at a time */
  flights: Pick<SingleFlight, "run">;
  requestLog: Pick<RequestLogger, "write">;
  /** keep an event stream's connection open past the idle timeout */
  holdOpen: (request: Request, response: Response) => void;
  clientAddress: (request: Request) => string;
  log: Logger;
}
