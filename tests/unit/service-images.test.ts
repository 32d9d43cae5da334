/**
 * How the services' images reach their containers, read against the Docker provider's behaviour:
 * - a local image's imageName (name:tag) does not change when it is rebuilt, so a container given
 *   it keeps running the old code; its repoDigest (the image ID for a local build) does;
 * - ECR repositories are IMMUTABLE, so every rebuilt image needs a new tag: the tag carries the
 *   digest of the build context, which changes exactly when a file the image is built from does;
 * - with fundament:docker.host, every Docker resource, image builds included, uses that engine.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildContextDigest, buildContextFiles, contentTag } from "../../components/services/build-context-digest";
import { readStackConfig } from "../../scripts/mock-engine";
import { runStack, StackView } from "./stack-run";

const ROOT = join(__dirname, "..", "..");
const IMAGE = "docker:index/image:Image";
const CONTAINER = "docker:index/container:Container";

let dev: StackView;
let prod: StackView;
let remote: StackView;
beforeAll(async () => {
  dev = await runStack("dev");
  prod = await runStack("prod");
  remote = await runStack("dev", { ...readStackConfig("dev"), "fundament:docker": JSON.stringify({ host: "ssh://builder@127.0.0.1" }) });
});

describe("dev: a rebuilt service image rolls its containers", () => {
  it.each(["users", "config"])("%s and its migration job run the image's ID, not its name:tag", (service) => {
    const image = dev.revealed(dev.one(IMAGE, `${service}-image-build`));
    for (const name of [service, `${service}-migrate`]) {
      const container = dev.revealed(dev.one(CONTAINER, name));
      expect(container.image, name).not.toBe(image.imageName);
      // The Docker provider's repoDigest of a skipPush build is the local image ID; it reads a
      // container's image back as that ID when it was given one, so there is no perpetual diff.
      expect(container.image, name).toMatch(/^sha256:[0-9a-f]{64}$/);
    }
  });
});

describe("prod: image tags follow the build context", () => {
  it.each(["users", "config"])("%s is pushed under <version>-<context digest> and deployed by digest", (service) => {
    const image = prod.revealed(prod.one(IMAGE, `${service}-image-build`));
    const digest = buildContextDigest(ROOT, join(ROOT, "services", service, "Dockerfile"));
    expect(image.imageName).toMatch(new RegExp(`/fundament/prod/${service}:${contentTag("0.1.0", digest)}$`));
    const deployment = prod.revealed(prod.one("kubernetes:apps/v1:Deployment", service)) as { spec: { template: { spec: { containers: { image: string }[] } } } };
    expect(deployment.spec.template.spec.containers[0]?.image).toMatch(new RegExp(`/fundament/prod/${service}@sha256:[0-9a-f]{64}$`));
  });
});

describe("prod: image repositories", () => {
  it("are named per environment, so two stacks in one AWS account do not claim the same repository", () => {
    const names = prod.all("aws:ecr/repository:Repository").map((repository) => prod.revealed(repository).name);
    expect(names.sort()).toEqual(["fundament/prod/config", "fundament/prod/gpu-jobs", "fundament/prod/users"]);
  });
});

describe("buildContextDigest", () => {
  let context: string;
  const dockerfile = (): string => join(context, "services", "app", "Dockerfile");
  const write = (path: string, text: string): void => {
    mkdirSync(join(context, path, ".."), { recursive: true });
    writeFileSync(join(context, path), text);
  };

  beforeAll(() => {
    context = mkdtempSync(join(tmpdir(), "build-context-"));
    write("package.json", "{}\n");
    write("services/app/Dockerfile", "FROM scratch\nCOPY services/app/src src\n");
    write("services/app/Dockerfile.dockerignore", "**\n!package.json\n!services/app/src/**\n**/*.test.ts\n");
    write("services/app/src/server.ts", "export const a = 1;\n");
    write("services/app/src/server.test.ts", "test\n");
    write("services/app/README.md", "docs\n");
    write("node_modules/left-pad/index.js", "x\n");
  });
  afterAll(() => rmSync(context, { recursive: true, force: true }));

  it("counts the Dockerfile and the files its ignore-file lets through, nothing else", () => {
    expect(buildContextFiles(context, dockerfile())).toEqual(["package.json", "services/app/src/server.ts"]);
  });

  it("keeps the digest while nothing in the context changes, and changes it when a built file or the Dockerfile does", () => {
    const before = buildContextDigest(context, dockerfile());
    expect(buildContextDigest(context, dockerfile())).toBe(before);

    write("services/app/src/server.test.ts", "changed test\n");
    write("services/app/README.md", "changed docs\n");
    write("node_modules/left-pad/index.js", "changed\n");
    expect(buildContextDigest(context, dockerfile()), "files outside the context").toBe(before);

    write("services/app/src/server.ts", "export const a = 2;\n");
    const afterSource = buildContextDigest(context, dockerfile());
    expect(afterSource).not.toBe(before);

    write("services/app/src/routes.ts", "export {};\n");
    const afterNewFile = buildContextDigest(context, dockerfile());
    expect(afterNewFile).not.toBe(afterSource);

    write("services/app/Dockerfile", "FROM scratch\nCOPY services/app/src /app/src\n");
    expect(buildContextDigest(context, dockerfile())).not.toBe(afterNewFile);
  });

  it("falls back to the context's .dockerignore", () => {
    const copy = mkdtempSync(join(tmpdir(), "build-context-"));
    try {
      cpSync(context, copy, { recursive: true });
      rmSync(join(copy, "services", "app", "Dockerfile.dockerignore"));
      writeFileSync(join(copy, ".dockerignore"), "**/node_modules\nservices/app/README.md\n");
      expect(buildContextFiles(copy, join(copy, "services", "app", "Dockerfile"))).toEqual([".dockerignore", "package.json", "services/app/Dockerfile", "services/app/src/routes.ts", "services/app/src/server.test.ts", "services/app/src/server.ts"]);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  it("the real users image context holds its sources and no tests or installed modules", () => {
    const files = buildContextFiles(ROOT, join(ROOT, "services", "users", "Dockerfile"));
    expect(files).toEqual(expect.arrayContaining(["package-lock.json", "services/users/package.json"]));
    expect(files.some((file) => file.startsWith("services/users/src/"))).toBe(true);
    expect(files.filter((file) => file.includes("node_modules") || file.includes("/test/"))).toEqual([]);
  });

  it("makes a valid tag", () => {
    expect(contentTag("0.1.0", "ab".repeat(32))).toBe(`0.1.0-${"ab".repeat(8)}`);
    expect(contentTag("weird/tag", "cd".repeat(32))).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/);
  });
});

describe("fundament:docker.host", () => {
  it("puts every Docker resource, image builds included, on the one configured engine", () => {
    const providers = remote.all("pulumi:providers:docker");
    expect(providers).toHaveLength(1);
    const docker = remote.resources.filter((r) => r.type.startsWith("docker:"));
    expect(docker.map((r) => r.type)).toEqual(expect.arrayContaining([IMAGE, CONTAINER, "docker:index/network:Network"]));
    for (const resource of docker) expect(resource.provider?.split("::").slice(0, -1).join("::"), `${resource.type} ${resource.name}`).toBe(providers[0]?.urn);
  });
});
