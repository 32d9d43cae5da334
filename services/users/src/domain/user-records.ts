import type { Pool, PoolClient } from "@fundament/kit";

export interface UserRecord {
  id: string;
  email: string;
  displayName: string | null;
  passwordHash: string;
  roles: string[];
  disabledAt: Date | null;
  createdAt: Date;
}

interface UserRow {
  id: string;
  email: string;
  display_name: string | null;
  password_hash: string;
  roles: string[];
  disabled_at: Date | null;
  created_at: Date;
}

const COLUMNS = "id, email, display_name, password_hash, roles, disabled_at, created_at";

function fromRow(row: UserRow): UserRecord {
  return {
    id: row.id,
    email: row.email,
    displayName: row.display_name,
    passwordHash: row.password_hash,
    roles: row.roles,
    disabledAt: row.disabled_at,
    createdAt: row.created_at,
  };
}

type Queryable = Pool | PoolClient;

/** One spelling per address, so the unique constraint is the only duplicate check needed. */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** The SQL of the users table; each method is one statement. */
export const userRecords = {
  async byEmail(db: Queryable, email: string): Promise<UserRecord | undefined> {
    const result = await db.query<UserRow>(`select ${COLUMNS} from users where email = $1`, [normaliseEmail(email)]);
    return result.rows[0] && fromRow(result.rows[0]);
  },

  async byId(db: Queryable, id: string): Promise<UserRecord | undefined> {
    const result = await db.query<UserRow>(`select ${COLUMNS} from users where id = $1`, [id]);
    return result.rows[0] && fromRow(result.rows[0]);
  },

  /** The accounts among `ids` that exist (ids must be uuids), in no particular order. */
  async byIds(db: Queryable, ids: string[]): Promise<UserRecord[]> {
    const result = await db.query<UserRow>(`select ${COLUMNS} from users where id = any($1::uuid[])`, [ids]);
    return result.rows.map(fromRow);
  },

  /** Undefined when the email is taken. */
  async insert(db: Queryable, user: { email: string; displayName: string | null; passwordHash: string; roles: string[] }): Promise<UserRecord | undefined> {
    const result = await db.query<UserRow>(
      `insert into users (email, display_name, password_hash, roles) values ($1, $2, $3, $4)
       on conflict (email) do nothing returning ${COLUMNS}`,
      [normaliseEmail(user.email), user.displayName, user.passwordHash, user.roles],
    );
    return result.rows[0] && fromRow(result.rows[0]);
  },

  async replaceHash(db: Queryable, id: string, previousHash: string, passwordHash: string): Promise<void> {
    // Only if unchanged since it was read: a concurrent password change wins over a rehash.
    await db.query("update users set password_hash = $3, updated_at = now() where id = $1 and password_hash = $2", [id, previousHash, passwordHash]);
  },

  async list(db: Queryable, page: { limit: number; offset: number; email?: string }): Promise<{ users: UserRecord[]; total: number }> {
    const filter = page.email === undefined ? "" : "where email like '%' || $3 || '%'";
    const params: unknown[] = [page.limit, page.offset];
    if (page.email !== undefined) params.push(normaliseEmail(page.email).replace(/[\\%_]/g, (c) => `\\${c}`));
    const result = await db.query<UserRow & { total: string }>(
      `select ${COLUMNS}, count(*) over () as total from users ${filter} order by created_at, id limit $1 offset $2`,
      params,
    );
    const total = result.rows[0] ? Number(result.rows[0].total) : 0;
    return { users: result.rows.map(fromRow), total };
  },

  /** Undefined when no such user; an already disabled user is returned unchanged. */
  async disable(db: Queryable, id: string, by: string): Promise<{ user: UserRecord; changed: boolean } | undefined> {
    const result = await db.query<UserRow>(
      `update users set disabled_at = now(), disabled_by = $2, updated_at = now() where id = $1 and disabled_at is null returning ${COLUMNS}`,
      [id, by],
    );
    if (result.rows[0]) return { user: fromRow(result.rows[0]), changed: true };
    const existing = await userRecords.byId(db, id);
    return existing && { user: existing, changed: false };
  },

  async setRoles(db: Queryable, id: string, roles: string[]): Promise<UserRecord | undefined> {
    const result = await db.query<UserRow>(`update users set roles = $2, updated_at = now() where id = $1 returning ${COLUMNS}`, [id, roles]);
    return result.rows[0] && fromRow(result.rows[0]);
  },

  async anyAdmin(db: Queryable): Promise<boolean> {
    const result = await db.query("select 1 from users where 'admin' = any (roles) limit 1");
    return (result.rowCount ?? 0) > 0;
  },
};
