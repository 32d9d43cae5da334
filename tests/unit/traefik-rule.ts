/**
 * Which router Traefik v3 picks for a request, for the matchers the gateway renders: Host,
 * PathPrefix, PathRegexp and QueryRegexp joined by &&, || and parentheses. As Traefik does, it
 * tries routers by priority, which defaults to the rule's length, longest first. Go's regexp and
 * JavaScript's agree on the anchored, class-and-literal patterns these rules hold.
 */

export interface RuleRequest {
  host: string;
  path: string;
  query?: Record<string, string>;
}

type Token = { kind: "matcher"; name: string; args: string[] } | { kind: "and" | "or" | "open" | "close" };

const OPERATORS: Array<[string, "and" | "or" | "open" | "close"]> = [
  ["&&", "and"],
  ["||", "or"],
  ["(", "open"],
  [")", "close"],
];

function tokenize(rule: string): Token[] {
  const tokens: Token[] = [];
  let at = 0;
  while (at < rule.length) {
    const rest = rule.slice(at);
    const space = /^\s+/.exec(rest);
    if (space) {
      at += space[0].length;
      continue;
    }
    const operator = OPERATORS.find(([text]) => rest.startsWith(text));
    if (operator) {
      tokens.push({ kind: operator[1] });
      at += operator[0].length;
    } else {
      const matcher = /^([A-Za-z]+)\(((?:\s*`[^`]*`\s*,?)*)\)/.exec(rest);
      if (!matcher) throw new Error(`rule ${JSON.stringify(rule)}: cannot read at ${JSON.stringify(rest)}`);
      const args = [...matcher[2]!.matchAll(/`([^`]*)`/g)].map((m) => m[1]!);
      tokens.push({ kind: "matcher", name: matcher[1]!, args });
      at += matcher[0].length;
    }
  }
  return tokens;
}

function matcher(name: string, args: string[], request: RuleRequest): boolean {
  switch (name) {
    case "Host":
      return request.host === args[0];
    case "PathPrefix":
      return request.path.startsWith(args[0]!);
    case "PathRegexp":
      return new RegExp(args[0]!).test(request.path);
    case "QueryRegexp": {
      const value = request.query?.[args[0]!];
      return value !== undefined && new RegExp(args[1]!).test(value);
    }
    default:
      throw new Error(`matcher ${name} is not modelled here`);
  }
}

/** Whether `rule` matches `request`; && binds tighter than ||. */
export function ruleMatches(rule: string, request: RuleRequest): boolean {
  const tokens = tokenize(rule);
  let at = 0;
  const primary = (): boolean => {
    const token = tokens[at++];
    if (token?.kind === "open") {
      const value = either();
      if (tokens[at++]?.kind !== "close") throw new Error(`rule ${JSON.stringify(rule)}: unbalanced parentheses`);
      return value;
    }
    if (token?.kind !== "matcher") throw new Error(`rule ${JSON.stringify(rule)}: a matcher was expected`);
    return matcher(token.name, token.args, request);
  };
  const both = (): boolean => {
    let value = primary();
    while (tokens[at]?.kind === "and") {
      at += 1;
      value = primary() && value;
    }
    return value;
  };
  const either = (): boolean => {
    let value = both();
    while (tokens[at]?.kind === "or") {
      at += 1;
      value = both() || value;
    }
    return value;
  };
  const value = either();
  if (at !== tokens.length) throw new Error(`rule ${JSON.stringify(rule)}: unread text after the expression`);
  return value;
}

/** The router Traefik would hand `request` to: the matching router of highest priority (rule length by default). */
export function routerFor(routers: Record<string, { rule: string; priority?: number }>, request: RuleRequest): string | undefined {
  const ordered = Object.entries(routers).sort(([, a], [, b]) => (b.priority ?? b.rule.length) - (a.priority ?? a.rule.length));
  return ordered.find(([, router]) => ruleMatches(router.rule, request))?.[0];
}
