import { describe, expect, it } from "vitest";
import { connectionFields, createPgPool, postgresTls } from "../src/postgres";

const CA = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n";

describe("the kit's PostgreSQL connections verify the server", () => {
  it("always use TLS with the CA given and the certificate checked", () => {
    expect(postgresTls(CA)).toEqual({ ca: CA, rejectUnauthorized: true });
    const pool = createPgPool({ url: "postgres://users@pgbouncer:6432/users?sslmode=verify-full", password: "pw", ca: CA, applicationName: "t" });
    expect((pool as unknown as { options: { ssl: unknown; host: string } }).options).toMatchObject({ host: "pgbouncer", ssl: { ca: CA, rejectUnauthorized: true } });
    void pool.end();
  });

  it("refuse a URL asking for a weaker sslmode, and a CA that is not a certificate", () => {
    for (const mode of ["disable", "prefer", "require", "verify-ca", "no-verify"]) {
      expect(() => connectionFields(`postgres://users@pgbouncer:6432/users?sslmode=${mode}`)).toThrow(`postgres: pgbouncer:6432: sslmode=${mode} is not supported; connections always use verify-full`);
    }
    expect(() => postgresTls("")).toThrow("postgres: the CA must be a PEM certificate (DATABASE_CA_FILE)");
  });
});
