/**
 * Deciding what a GraphQL request is, with the real `graphql` parser: the selected operation's type
 * (query → pooled and cached; mutation/subscription/unparsable → the caller's own token), and its
 * Scope for the owners allowlist. A query is scoped when every top-level field (aliases, fragments
 * spread at the top level and inline fragments included) is one whose owner is an argument
 * (repository(owner:), organization(login:), user(login:), repositoryOwner(login:)), `search` with a
 * query confined by repo:/org:/user: qualifiers, or one that exposes no owner's data (rateLimit, …);
 * and every owner argument anywhere in the document names an allowed owner. Arguments may be literals
 * or variables (their values, else their defaults). Mutations address objects by node ID, so they are
 * never scoped.
 */
import {
  Kind,
  parse,
  visit,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from "graphql";
import { refused, shown, type Scope } from "./owners.ts";
import { searchScope } from "./search.ts";

export interface GraphqlRequest {
  query?: unknown;
  operationName?: unknown;
  variables?: unknown;
}

export type GraphqlDecision = { kind: "query" | "mutation" | "subscription"; scope: Scope } | { kind: "invalid"; reason: string; scope: Scope };

/** fields whose owner is an argument: field → argument */
const OWNER_ARGS: ReadonlyMap<string, string> = new Map([
  ["repository", "owner"],
  ["organization", "login"],
  ["user", "login"],
  ["repositoryOwner", "login"],
]);
/** top-level fields that expose no owner's data (introspection describes the schema only) */
const GLOBAL_FIELDS = new Set(["rateLimit", "meta", "license", "licenses", "codeOfConduct", "codesOfConduct", "__typename", "__schema", "__type"]);

type Resolve = (v: ValueNode) => string | undefined;

export function classifyGraphql(body: GraphqlRequest): GraphqlDecision {
  if (typeof body.query !== "string") return invalid("the body has no query string");
  let doc: DocumentNode;
  try {
    doc = parse(body.query, { maxTokens: 20_000 });
  } catch (e) {
    return invalid(e instanceof Error ? e.message : "unparsable document");
  }
  const ops = doc.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  let op: OperationDefinitionNode | undefined;
  if (typeof body.operationName === "string" && body.operationName !== "") op = ops.find((o) => o.name?.value === body.operationName);
  else if (ops.length === 1) op = ops[0];
  if (!op) return invalid(ops.length > 1 ? "several operations and no matching operationName" : "no operation selected");
  if (op.operation !== "query")
    return { kind: op.operation, scope: refused(`a GraphQL ${op.operation} addresses objects by node ID, which cannot be proven to belong to an allowed owner; use the REST API under /repos/{owner}/{repo}/…`) };
  const vars = (typeof body.variables === "object" && body.variables !== null ? body.variables : {}) as Record<string, unknown>;
  const defaults = new Map(op.variableDefinitions?.map((d) => [d.variable.name.value, d.defaultValue]) ?? []);
  const resolve: Resolve = (v) => {
    if (v.kind === Kind.STRING) return v.value;
    if (v.kind !== Kind.VARIABLE) return undefined;
    const name = v.name.value;
    if (Object.hasOwn(vars, name)) return typeof vars[name] === "string" ? vars[name] : undefined;
    const d = defaults.get(name);
    return d?.kind === Kind.STRING ? d.value : undefined;
  };
  return { kind: "query", scope: queryScope(doc, op, resolve) };
}

function invalid(reason: string): GraphqlDecision {
  return { kind: "invalid", reason, scope: refused(`the GraphQL document cannot be checked (${reason})`) };
}

function queryScope(doc: DocumentNode, op: OperationDefinitionNode, resolve: Resolve): Scope {
  const fragments = new Map(doc.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((f) => [f.name.value, f]));
  const roots: FieldNode[] = [];
  const unknown = topLevelFields(op.selectionSet, fragments, new Set(), roots);
  if (unknown) return refused(`the GraphQL document spreads an unknown fragment ${shown(unknown)}`);
  const owners = new Set<string>();
  for (const f of roots) {
    const name = f.name.value;
    if (GLOBAL_FIELDS.has(name)) continue;
    if (name === "search") {
      const q = f.arguments?.find((a) => a.name.value === "query");
      const text = q ? resolve(q.value) : undefined;
      if (text === undefined) return refused("search(query:) must be a string literal or a string variable");
      const s = searchScope(text);
      if (s.kind !== "owners") return s;
      for (const o of s.owners) owners.add(o);
      continue;
    }
    const argName = OWNER_ARGS.get(name);
    if (!argName)
      return refused(`the GraphQL field ${shown(name)} is not scoped to an owner; at the top level a query may select repository, organization, user and repositoryOwner (owner as argument), search (with repo:/org:/user: qualifiers) and rateLimit`);
    if (!f.arguments?.some((a) => a.name.value === argName)) return refused(`${name} has no ${argName} argument`);
  }
  // owner arguments anywhere in the document, fragments included, must name allowed owners too
  let dynamic: string | null = null;
  visit(doc, {
    Field(node) {
      const argName = OWNER_ARGS.get(node.name.value);
      const arg = argName ? node.arguments?.find((a) => a.name.value === argName) : undefined;
      if (!arg) return;
      const v = resolve(arg.value);
      if (v === undefined) dynamic ??= `${node.name.value}(${argName}:)`;
      else owners.add(v);
    },
  });
  if (dynamic) return refused(`the ${dynamic} argument must be a string literal or a string variable`);
  return owners.size ? { kind: "owners", owners: [...owners] } : { kind: "global" };
}

/** The fields selected at the top level, through fragment spreads and inline fragments; returns an unknown fragment's name. */
function topLevelFields(sel: SelectionSetNode, fragments: ReadonlyMap<string, FragmentDefinitionNode>, seen: Set<string>, out: FieldNode[]): string | null {
  for (const s of sel.selections) {
    if (s.kind === Kind.FIELD) out.push(s);
    else if (s.kind === Kind.INLINE_FRAGMENT) {
      const u = topLevelFields(s.selectionSet, fragments, seen, out);
      if (u) return u;
    } else {
      const name = s.name.value;
      if (seen.has(name)) continue;
      seen.add(name);
      const f = fragments.get(name);
      if (!f) return name;
      const u = topLevelFields(f.selectionSet, fragments, seen, out);
      if (u) return u;
    }
  }
  return null;
}
