/**
 * Deciding what a GraphQL request is, with the real `graphql` parser: the selected operation's type
 * (query → pooled and cached; mutation/subscription/unparsable → the caller's own token), and the
 * owners it names in repository(owner:) / organization(login:) / user(login:) / repositoryOwner(login:)
 * arguments, for the owners allowlist. Owners passed in variables are resolved from `variables`.
 */
import { Kind, parse, visit, type DocumentNode, type OperationDefinitionNode, type ValueNode } from "graphql";

export interface GraphqlRequest {
  query?: unknown;
  operationName?: unknown;
  variables?: unknown;
}

export type GraphqlDecision =
  | { kind: "query"; owners: string[]; dynamicOwner: boolean }
  | { kind: "mutation" | "subscription"; owners: string[]; dynamicOwner: boolean }
  | { kind: "invalid"; reason: string };

const OWNER_ARGS: Record<string, string> = { repository: "owner", organization: "login", user: "login", repositoryOwner: "login" };

export function classifyGraphql(body: GraphqlRequest): GraphqlDecision {
  if (typeof body.query !== "string") return { kind: "invalid", reason: "the body has no query string" };
  let doc: DocumentNode;
  try {
    doc = parse(body.query, { maxTokens: 20_000 });
  } catch (e) {
    return { kind: "invalid", reason: e instanceof Error ? e.message : "unparsable document" };
  }
  const ops = doc.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  let op: OperationDefinitionNode | undefined;
  if (typeof body.operationName === "string" && body.operationName !== "") op = ops.find((o) => o.name?.value === body.operationName);
  else if (ops.length === 1) op = ops[0];
  if (!op) return { kind: "invalid", reason: ops.length > 1 ? "several operations and no matching operationName" : "no operation selected" };
  const vars = (typeof body.variables === "object" && body.variables !== null ? body.variables : {}) as Record<string, unknown>;
  const owners = new Set<string>();
  let dynamicOwner = false;
  // scan the whole document: fragments used by the operation can name owners too
  visit(doc, {
    Field(node) {
      const argName = OWNER_ARGS[node.name.value];
      if (!argName) return;
      const arg = node.arguments?.find((a) => a.name.value === argName);
      if (!arg) return;
      const v = valueOf(arg.value, vars);
      if (v === undefined) dynamicOwner = true;
      else owners.add(v);
    },
  });
  return { kind: op.operation === "query" ? "query" : op.operation, owners: [...owners], dynamicOwner };
}

function valueOf(v: ValueNode, vars: Record<string, unknown>): string | undefined {
  if (v.kind === Kind.STRING) return v.value;
  if (v.kind === Kind.VARIABLE) {
    const x = vars[v.name.value];
    return typeof x === "string" ? x : undefined;
  }
  return undefined;
}
