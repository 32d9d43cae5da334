// `npx tsx services/config/scripts/rehearse-image.ts`: plays services/config/Dockerfile without
// Docker. Each stage is a temporary directory standing for its /app; COPY, COPY --from, WORKDIR,
// ENV and RUN are carried out as written (RUN through sh, so npm ci really installs from the
// registry), then the final stage's CMD runs against real PostgreSQL, Redis and RabbitMQ from the
// harness: a write, a cached read, its event on the broker, and a SIGTERM that must exit 0.
// Needs the npm registry; that is why it is a script and not a test.
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import amqp from "amqplib";
import { freePort, waitFor } from "../../../scripts/local-servers/free-port";
import { startConfigServers } from "../test/integration/config-servers";

const repoRoot = join(__dirname, "..", "..", "..");

interface Stage {
  name: string;
  root: string;
  workdir: string;
  env: Record<string, string>;
  cmd: string[] | undefined;
}

/** `npm cache clean` would empty the cache other people on this machine share: skipped, it only shrinks an image layer. */
const SKIPPED = /npm cache clean[^&;]*(&&)?/;

function logicalLines(text: string): string[] {
  return text
    .replace(/\\\r?\n/g, " ")
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}

function inStage(stage: Stage, path: string): string {
  return join(stage.root, path.startsWith("/") ? path : join(stage.workdir, path));
}

/** Docker's COPY: a directory's contents go into the destination; a file goes into it when it ends in "/". */
function copy(from: string, to: string, destinationIsDirectory: boolean): void {
  if (!existsSync(from)) throw new Error(`COPY: ${from} does not exist`);
  const target = !statSync(from).isDirectory() && destinationIsDirectory ? join(to, basename(from)) : to;
  mkdirSync(statSync(from).isDirectory() ? target : dirname(target), { recursive: true });
  cpSync(from, target, { recursive: true, verbatimSymlinks: true });
}

function play(dockerfile: string, workspace: string): Stage {
  const stages: Stage[] = [];
  for (const line of logicalLines(readFileSync(dockerfile, "utf8"))) {
    const [keyword = "", ...rest] = line.split(/\s+/);
    const args = rest.join(" ");
    const stage = stages[stages.length - 1] as Stage;
    switch (keyword.toUpperCase()) {
      case "FROM": {
        const name = /\s+AS\s+(\S+)$/i.exec(args)?.[1] ?? `stage${stages.length}`;
        stages.push({ name, root: mkdtempSync(join(workspace, `${name}-`)), workdir: "/", env: {}, cmd: undefined });
        break;
      }
      case "WORKDIR":
        stage.workdir = args;
        mkdirSync(inStage(stage, "."), { recursive: true });
        break;
      case "ENV":
        for (const match of args.matchAll(/(\w+)=(\S+)/g)) stage.env[match[1] as string] = match[2] as string;
        break;
      case "COPY": {
        const from = /--from=(\S+)/.exec(args)?.[1];
        const paths = args.replace(/--\S+/g, "").trim().split(/\s+/);
        const destination = paths.pop() as string;
        for (const source of paths) {
          const origin = from ? inStage(stages.find((s) => s.name === from) as Stage, source) : join(repoRoot, source);
          copy(origin, inStage(stage, destination), destination.endsWith("/") || paths.length > 1);
        }
        break;
      }
      case "RUN": {
        const command = args.replace(SKIPPED, "").replace(/&&\s*$/, "").trim();
        console.log(`[${stage.name}] RUN ${command}`);
        const result = spawnSync("sh", ["-c", command], { cwd: inStage(stage, "."), env: { ...process.env, ...stage.env }, stdio: "inherit" });
        if (result.status !== 0) throw new Error(`[${stage.name}] RUN ${command} exited ${result.status}`);
        break;
      }
      case "CMD":
        stage.cmd = JSON.parse(args) as string[];
        break;
      default:
        // USER, EXPOSE, HEALTHCHECK, STOPSIGNAL describe the container, not its files.
        break;
    }
  }
  return stages[stages.length - 1] as Stage;
}

async function main(): Promise<void> {
  const workspace = mkdtempSync(join(tmpdir(), "config-image-"));
  const servers = await startConfigServers({ rabbit: true });
  try {
    const runtime = play(join(repoRoot, "services", "config", "Dockerfile"), workspace);
    if (!runtime.cmd) throw new Error("the final stage has no CMD");
    const modules = spawnSync("sh", ["-c", "ls node_modules | wc -l; du -sh node_modules | cut -f1"], { cwd: inStage(runtime, "."), encoding: "utf8" }).stdout.trim().split("\n");
    console.log(`runtime stage: ${modules[0]} top-level packages, ${modules[1]}`);
    for (const devOnly of ["typescript", "vitest", "esbuild", "@pulumi", "tsx", "argon2"]) {
      if (existsSync(join(inStage(runtime, "."), "node_modules", devOnly))) throw new Error(`runtime stage holds ${devOnly}`);
    }

    const a = servers.amqp as NonNullable<typeof servers.amqp>;
    const broker = await amqp.connect({ hostname: a.host, port: a.port, vhost: a.vhost, username: a.user, password: a.password });
    const channel = await broker.createChannel();
    await channel.assertExchange("events", "topic", { durable: true });
    const { queue } = await channel.assertQueue("", { exclusive: true });
    await channel.bindQueue(queue, "events", "config.changed");
    const events: string[] = [];
    await channel.consume(queue, (message) => message && events.push(message.content.toString()), { noAck: true });

    const port = await freePort();
    const [command, ...args] = runtime.cmd;
    const child = spawn(command === "node" ? process.execPath : (command as string), args, {
      cwd: inStage(runtime, "."),
      env: { PATH: process.env.PATH ?? "", ...runtime.env, ...(servers.env() as Record<string, string>), PORT: String(port), METRICS_PORT: String(await freePort()), SHUTDOWN_PROBE_PERIOD_MS: "200", LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitFor("the image's CMD to be ready", async () => {
        if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${output}`);
        return (await fetch(`${base}/health/ready`)).status === 200;
      }, 60_000);
      const token = await servers.jwks.sign({ sub: "rehearsal", roles: ["config:write"] });
      const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
      const put = async (url: string, body: unknown) => (await fetch(`${base}${url}`, { method: "PUT", headers, body: JSON.stringify(body) })).status;
      if ((await put("/namespaces/app", { schema: { type: "object", required: ["n"] } })) !== 201) throw new Error("namespace not created");
      if ((await put("/namespaces/app/environments/prod", { document: { n: 1 }, reason: "rehearsal" })) !== 201) throw new Error("entry not written");
      if ((await put("/namespaces/app/environments/prod", { document: {}, reason: "breaks the schema" })) !== 422) throw new Error("schema not enforced");
      const read = (await (await fetch(`${base}/namespaces/app/environments/prod`)).json()) as { version: number };
      if (read.version !== 1) throw new Error(`read version ${read.version}`);
      await waitFor("the change event", async () => events.length > 0, 20_000);
      console.log(`event on the broker: ${events[0]}`);
      child.kill("SIGTERM");
      const code = await exited;
      if (code !== 0) throw new Error(`exit code ${code} after SIGTERM: ${output}`);
      console.log("image rehearsal passed: CMD served, cached, published, and exited 0 on SIGTERM");
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      await broker.close();
    }
  } finally {
    await servers.stop();
    rmSync(workspace, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
