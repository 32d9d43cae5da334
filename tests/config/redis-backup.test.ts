// The Redis backup job's rendered script against a real redis-server with the rendered redis.conf
// and ACL file, and the documented restore (scripts/redis-restore.sh) into a fresh server.
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import Redis from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REDIS_BACKUP_USER, REDIS_HEALTH_USER, redisPasswordHash, renderRedisAcl } from "../../components/database/redis/redis-acl";
import { renderRedisBackupScript } from "../../components/database/backups/redis-backup-script";
import { renderRedisConf } from "../../components/database/redis/redis-conf";
import { RedisServer, startRedis } from "../../scripts/local-servers/redis-server";
import { chownTo, ownedTempDir, runAs, serviceUser } from "../../scripts/local-servers/server-process";
import { testPki } from "../../scripts/local-servers/shared-test-pki";

const RESTORE_SCRIPT = resolve(__dirname, "../../scripts/redis-restore.sh");
const APP_PASSWORD = "AppPassword0123456789abcdefghijklmnopqrst";
const BACKUP_PASSWORD = "BackupPassword0123456789abcdefghijklmnop";
const user = serviceUser("redis");

/** A directory the redis service user owns (it reads the ACL file and writes backups there). */
function redisDir(): { path: string; remove: () => void } {
  const dir = ownedTempDir("redis-backup", user);
  chmodSync(dir.path, 0o755);
  return dir;
}

const work = redisDir();
/** The restore script as the redis user runs it: a copy it owns, beside its files. */
const restoreScript = join(work.path, basename(RESTORE_SCRIPT));
copyFileSync(RESTORE_SCRIPT, restoreScript);
chownTo(restoreScript, user);
const restore = (args: string[]) => runAs(user, "sh", [restoreScript, ...args]);
const aclPath = join(work.path, "users.acl");
writeFileSync(
  aclPath,
  renderRedisAcl([
    { name: "users", role: "application", passwordSha256: redisPasswordHash(APP_PASSWORD) },
    { name: REDIS_HEALTH_USER, role: "healthcheck", passwordSha256: redisPasswordHash("HealthPassword0123456789abcdefghijklmnopq") },
    { name: REDIS_BACKUP_USER, role: "backup", passwordSha256: redisPasswordHash(BACKUP_PASSWORD) },
  ]),
  { mode: 0o644 },
);
const tls = testPki().filesFor(work.path, user);
const conf = renderRedisConf({ memoryLimitMiB: 256, evictionPolicy: "noeviction", aclFilePath: aclPath, dataDir: work.path, tls });

const app = (server: RedisServer, username = "users", password = APP_PASSWORD): Redis =>
  new Redis({ host: server.host, port: server.port, tls: { ca: testPki().caPem, servername: testPki().serverName }, username, password, enableReadyCheck: false, maxRetriesPerRequest: 0, retryStrategy: () => null });

/** Every key with its type, value and whether it expires: what a restore must bring back. */
async function contents(client: Redis): Promise<Record<string, unknown>> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await client.scan(cursor, "COUNT", 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== "0");
  keys.sort();
  const entries: [string, unknown][] = [];
  for (const key of keys) {
    const type = await client.type(key);
    const value =
      type === "string" ? await client.get(key)
      : type === "hash" ? await client.hgetall(key)
      : type === "list" ? await client.lrange(key, 0, -1)
      : type === "set" ? (await client.smembers(key)).sort()
      : type === "zset" ? await client.zrange(key, 0, -1, "WITHSCORES")
      : type === "stream" ? (await client.xrange(key, "-", "+")).length
      : type;
    entries.push([key, { type, value, expires: (await client.pttl(key)) > 0 }]);
  }
  return Object.fromEntries(entries);
}

describe("Redis backup job and restore", () => {
  let source: RedisServer;
  let before: Record<string, unknown>;
  let backupDir: string;
  let scriptPath: string;

  const runBackup = (password = BACKUP_PASSWORD) => {
    writeFileSync(join(work.path, "backup-password"), password, { mode: 0o400 });
    chownTo(join(work.path, "backup-password"), user);
    // The name the server's leaf carries, as the job dials Redis by its workload name.
    return runAs(user, "sh", [scriptPath], { env: { REDIS_HOST: testPki().serverName, REDIS_PORT: String(source.port) } });
  };
  const completeBackups = () => (existsSync(backupDir) ? readdirSync(backupDir).filter((n) => /^\d{8}T\d{6}Z/.test(n)).sort() : []);

  beforeAll(async () => {
    source = await startRedis(conf);
    backupDir = join(work.path, "backups");
    scriptPath = join(work.path, "redis-backup.sh");
    writeFileSync(scriptPath, renderRedisBackupScript({ backupDir, retention: 2, passwordFile: join(work.path, "backup-password"), caFile: tls.caFile }));
    const client = app(source);
    const pipeline = client.pipeline();
    for (let i = 0; i < 5000; i++) pipeline.set(`session:${i}`, `value-${i}`);
    pipeline.hset("user:1", { name: "Ada", plan: "pro" });
    pipeline.rpush("queue:jobs", "a", "b", "c");
    pipeline.sadd("tags", "x", "y", "z");
    pipeline.zadd("scores", 1, "one", 2.5, "two");
    pipeline.xadd("events", "*", "kind", "created");
    pipeline.set("expiring", "soon", "EX", 3600);
    await pipeline.exec();
    before = await contents(client);
    client.disconnect();
  });
  afterAll(async () => {
    await source?.destroy();
    work.remove();
  });

  it("the backup user can copy the dataset and nothing else", async () => {
    const backup = app(source, REDIS_BACKUP_USER, BACKUP_PASSWORD);
    try {
      await expect(backup.get("session:1")).rejects.toThrow(/NOPERM/);
      await expect(backup.set("x", "y")).rejects.toThrow(/NOPERM/);
      await expect(backup.call("FLUSHALL")).rejects.toThrow(/NOPERM/);
    } finally {
      backup.disconnect();
    }
  });

  it("writes a checked snapshot into a timestamped directory, and fails cleanly with a wrong password", () => {
    const result = runBackup();
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/copied the snapshot of localhost \(5006 keys read back\)/);
    const [stamp] = completeBackups();
    expect(readdirSync(join(backupDir, stamp)).sort()).toEqual(["check.log", "dump.rdb"]);

    const failed = runBackup("not-the-password");
    expect(failed.status).not.toBe(0);
    expect(failed.stderr).toMatch(/FAILED: redis-cli --rdb/);
    expect(completeBackups()).toEqual([stamp]);
    expect(readdirSync(backupDir).filter((n) => n.startsWith(".partial"))).toEqual([]);
  });

  it("a lone dump.rdb in the data directory is ignored by the rendered config (appendonly yes): why the restore script exists", async () => {
    const [stamp] = completeBackups();
    const fresh = await startRedis(conf);
    try {
      await fresh.kill();
      rmSync(join(fresh.dir, "appendonlydir"), { recursive: true, force: true });
      copyFileSync(join(backupDir, stamp, "dump.rdb"), join(fresh.dir, "dump.rdb"));
      chownTo(join(fresh.dir, "dump.rdb"), user);
      await fresh.start();
      const client = app(fresh);
      expect(await client.dbsize()).toBe(0);
      client.disconnect();
    } finally {
      await fresh.destroy();
    }
  });

  it("restores into a fresh server with the rendered config: every key, type, value and expiry as backed up, and it keeps new writes", async () => {
    const [stamp] = completeBackups();
    const fresh = await startRedis(conf);
    try {
      await fresh.stop();
      const dryRun = restore([join(backupDir, stamp, "dump.rdb"), fresh.dir]);
      expect(dryRun.status).toBe(2);
      const restored = restore(["--yes", join(backupDir, stamp, "dump.rdb"), fresh.dir]);
      expect(restored.status, restored.stderr).toBe(0);
      await fresh.start();
      let client = app(fresh);
      expect(await contents(client)).toEqual(before);
      await client.set("after-restore", "kept");
      client.disconnect();
      // The restored data and the new write live in the AOF now: a kill -9 and restart keeps both.
      await fresh.kill();
      await fresh.start();
      client = app(fresh);
      expect(await client.get("after-restore")).toBe("kept");
      expect(await client.dbsize()).toBe(Object.keys(before).length + 1);
      client.disconnect();
    } finally {
      await fresh.destroy();
    }
  });

  it.skipIf(spawnSync("shellcheck", ["--version"]).status !== 0)("shellcheck finds nothing in the rendered backup script and the restore scripts (POSIX sh)", () => {
    const result = spawnSync("shellcheck", ["-s", "sh", scriptPath, RESTORE_SCRIPT, resolve(__dirname, "../../scripts/postgres-restore.sh")], { encoding: "utf8" });
    expect(result.stdout).toBe("");
    expect(result.status).toBe(0);
  });

  it("the restore refuses a file that is not an RDB and changes nothing", () => {
    const junk = join(work.path, "junk.rdb");
    writeFileSync(junk, "not an rdb");
    const target = redisDir();
    try {
      writeFileSync(join(target.path, "keep"), "x");
      const result = restore(["--yes", junk, target.path]);
      expect(result.status).toBe(1);
      expect(result.stderr).toContain("does not check");
      expect(readdirSync(target.path)).toEqual(["keep"]);
    } finally {
      target.remove();
    }
  });
});
