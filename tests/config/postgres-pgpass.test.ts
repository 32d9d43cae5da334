import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { renderPgpass } from "../../components/database/postgres/postgres-pgpass";

/** Splits a pgpass line the way libpq reads it: ':' separates fields unless escaped by '\'. */
function parseLine(line: string): string[] {
  const fields: string[] = [];
  let current = "";
  for (let i = 0; i < line.length; i += 1) {
    if (line[i] === "\\" && i + 1 < line.length) current += line[++i];
    else if (line[i] === ":") {
      fields.push(current);
      current = "";
    } else current += line[i];
  }
  return [...fields, current];
}

describe("renderPgpass", () => {
  it.each([
    [{ user: "fundament_backup", password: "abc123" }, "*:*:*:fundament_backup:abc123\n"],
    [{ host: "postgres", port: 5432, database: "postgres", user: "u", password: "a:b\\c" }, "postgres:5432:postgres:u:a\\:b\\\\c\n"],
  ])("%j renders as %j", (entry, line) => {
    expect(renderPgpass([entry])).toBe(line);
  });

  it("refuses a line break, which would start a new entry", () => {
    expect(() => renderPgpass([{ user: "u", password: "a\nb" }])).toThrow(/line break/);
  });

  it("property: libpq reads back exactly the user and password written, whatever they contain", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }).filter((s) => !/[\r\n]/.test(s)), fc.string({ minLength: 1 }).filter((s) => !/[\r\n]/.test(s)), (user, password) => {
        const [line] = renderPgpass([{ user, password }]).split("\n");
        expect(parseLine(line)).toEqual(["*", "*", "*", user, password]);
      }),
      { numRuns: 300 },
    );
  });
});
