/**
 * The metric names a PromQL expression reads, by Prometheus's own parser: POST /api/v1/parse_query
 * of a running Prometheus answers the expression's syntax tree (the tree its web UI's explain view
 * draws), and every vector selector in it names one metric. A regular expression over the text
 * would have to know which words are functions, keywords, label names and durations; the parser does.
 */
interface Matcher {
  type: string;
  name: string;
  value: string;
}

function selectorNames(node: unknown, into: Set<string>): void {
  if (Array.isArray(node)) {
    for (const child of node) selectorNames(child, into);
    return;
  }
  if (typeof node !== "object" || node === null) return;
  const record = node as Record<string, unknown>;
  // A range selector (rate(x[5m])) is one node of its own, carrying the name as a plain selector does.
  if (record.type === "vectorSelector" || record.type === "matrixSelector") {
    const byMatcher = ((record.matchers as Matcher[] | undefined) ?? []).find((m) => m.name === "__name__" && m.type === "=")?.value;
    const name = typeof record.name === "string" && record.name !== "" ? record.name : byMatcher;
    if (name === undefined) throw new Error(`a selector without a metric name: ${JSON.stringify(record)}`);
    into.add(name);
  }
  for (const value of Object.values(record)) selectorNames(value, into);
}

/** Every metric name `expr` selects; throws with Prometheus's message when it does not parse. */
export async function metricNamesOf(prometheusUrl: string, expr: string): Promise<string[]> {
  const response = await fetch(`${prometheusUrl}/api/v1/parse_query`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ query: expr }).toString(),
  });
  const answer = (await response.json()) as { status: string; data?: unknown; error?: string };
  if (answer.status !== "success") throw new Error(`Prometheus cannot parse ${expr}: ${answer.error ?? response.status}`);
  const names = new Set<string>();
  selectorNames(answer.data, names);
  return [...names].sort();
}

/** Every metric name Prometheus has stored a sample of between `since` and now. */
export async function storedMetricNames(prometheusUrl: string, since: Date): Promise<Set<string>> {
  const query = new URLSearchParams({ start: String(since.getTime() / 1000), end: String(Date.now() / 1000 + 60) });
  const answer = (await (await fetch(`${prometheusUrl}/api/v1/label/__name__/values?${query}`)).json()) as { status: string; data: string[] };
  if (answer.status !== "success") throw new Error(`label values: ${JSON.stringify(answer)}`);
  return new Set(answer.data);
}
