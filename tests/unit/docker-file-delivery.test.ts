import { beforeAll, describe, expect, it } from "vitest";
import { fileVolumeDirectories } from "../../components/runtime/docker-file-volumes";
import { RecordedResource } from "../../scripts/mock-engine";
import { runStack, StackView } from "./stack-run";

const CONTAINER = "docker:index/container:Container";
const VOLUME = "docker:index/volume:Volume";

interface Upload {
  file: string;
  permissions: string;
  owner?: string;
  group?: string;
}
interface VolumeMount {
  volumeName: string;
  containerPath: string;
  readOnly: boolean;
}

let dev: StackView;
beforeAll(async () => {
  dev = await runStack("dev");
});

function inputs(container: RecordedResource): Record<string, unknown> {
  return dev.revealed(container);
}

function labelOf(container: RecordedResource, key: string): string | undefined {
  return (inputs(container).labels as { label: string; value: string }[]).find((l) => l.label === key)?.value;
}

function byDockerName(name: string): RecordedResource {
  const found = dev.all(CONTAINER).find((c) => inputs(c).name === name);
  if (!found) throw new Error(`no container named ${name}`);
  return found;
}

function under(path: string, directory: string): boolean {
  return path.startsWith(`${directory}/`);
}

describe("files for read-only containers on Docker", () => {
  it("uploads into no read-only container (the engine refuses PUT /archive at / into a read-only root)", () => {
    // The provider extracts every upload at "/", and the engine checks that path, not the file's:
    // any upload into a container created with readOnly fails with "container rootfs is marked read-only".
    const refused = dev
      .all(CONTAINER)
      .filter((c) => inputs(c).readOnly === true && ((inputs(c).uploads as Upload[] | undefined) ?? []).length > 0)
      .map((c) => c.name);
    expect(refused).toEqual([]);
  });

  it("keeps the read-only roots: every container that was read-only still is, and gets its files read-only", () => {
    const readOnly = dev.all(CONTAINER).filter((c) => inputs(c).readOnly === true && inputs(c).start !== false);
    expect(readOnly.map((c) => c.name)).toEqual(expect.arrayContaining(["redis", "mongo", "rabbitmq", "minio", "pgbouncer", "users", "config", "users-migrate", "minio-buckets"]));
    for (const server of readOnly.filter((c) => labelOf(c, "fundament.files-from") !== undefined)) {
      const mounts = inputs(server).volumes as VolumeMount[];
      const carrier = byDockerName(labelOf(server, "fundament.files-from") ?? "");
      for (const carried of inputs(carrier).volumes as VolumeMount[]) {
        expect(mounts, server.name).toContainEqual({ ...carried, readOnly: true });
      }
    }
  });

  it("fills each server's file volumes from a never-started carrier with the same image, user and no network", () => {
    const carriers = dev.all(CONTAINER).filter((c) => labelOf(c, "fundament.files-for") !== undefined);
    expect(carriers.length).toBeGreaterThanOrEqual(15);
    for (const carrier of carriers) {
      const server = byDockerName(labelOf(carrier, "fundament.files-for") ?? "");
      const carrierInputs = inputs(carrier);
      const serverInputs = inputs(server);
      expect(carrierInputs.start, carrier.name).toBe(false);
      expect(carrierInputs.mustRun, carrier.name).toBe(false);
      expect(carrierInputs.networkMode, carrier.name).toBe("none");
      expect(carrierInputs.readOnly, carrier.name).toBe(false);
      expect(carrierInputs.image, carrier.name).toBe(serverInputs.image);
      expect(carrierInputs.entrypoints, carrier.name).toEqual(serverInputs.entrypoints);
      expect(carrierInputs.envs, carrier.name).toEqual(serverInputs.envs);
      const volumes = carrierInputs.volumes as VolumeMount[];
      expect(volumes.every((v) => !v.readOnly), carrier.name).toBe(true);
      for (const upload of carrierInputs.uploads as Upload[]) {
        // Each file lands on one of the carrier's volumes, so the server sees it at the same path.
        expect(volumes.some((v) => under(upload.file, v.containerPath)), `${carrier.name} ${upload.file}`).toBe(true);
        const uid = (serverInputs.user as string | undefined)?.split(":")[0];
        if (uid !== undefined) expect(upload.owner, `${carrier.name} ${upload.file}`).toBe(uid);
      }
    }
  });

  it("gives the server the secret modes its process needs, owned by its user", () => {
    const carrier = inputs(dev.one(CONTAINER, "mongo-files"));
    const keyFile = (carrier.uploads as Upload[]).find((u) => u.file === "/run/secrets/mongo/keyfile");
    // mongod refuses a keyFile readable by others; it runs as 999.
    expect(keyFile).toMatchObject({ permissions: "0400", owner: "999", group: "999" });
    const cookie = (inputs(dev.one(CONTAINER, "rabbitmq-files")).uploads as Upload[]).find((u) => u.file.endsWith("erlang-cookie"));
    expect(cookie).toMatchObject({ permissions: "0600", owner: "999" });
  });

  it("restarts a server when one of its files changes: the carrier's id is one of the server's labels", () => {
    for (const server of dev.all(CONTAINER).filter((c) => labelOf(c, "fundament.files-from") !== undefined)) {
      const carrier = dev.all(CONTAINER).find((c) => inputs(c).name === labelOf(server, "fundament.files-from"));
      // The mock engine's ids are "<resource name>-id"; the provider's are the container ids.
      expect(labelOf(server, "fundament.files-revision"), server.name).toBe(`${carrier?.name}-id`);
    }
  });

  it("names each file volume after its workload, directory and image, so a new image starts from fresh volumes", () => {
    const volumes = dev.all(VOLUME).filter((v) => (inputs(v).labels as { label: string }[]).some((l) => l.label === "fundament.files"));
    expect(volumes.length).toBeGreaterThanOrEqual(15);
    for (const volume of volumes) expect(inputs(volume).name, volume.name).toMatch(/^dev-[a-z0-9-]+-files-[A-Za-z0-9_.-]+-[0-9a-f]{12}$/);
  });

  it("replaces every container by deleting the old one first: their names are fixed", () => {
    for (const container of dev.all(CONTAINER)) expect(container.options.deleteBeforeReplace, container.name).toBe(true);
  });
});

describe("fileVolumeDirectories", () => {
  it("mounts the fewest directories that hold every file", () => {
    expect(fileVolumeDirectories("mongo", ["/etc/mongo/mongod.conf", "/etc/mongo/tls/ca.pem", "/run/secrets/mongo/keyfile", "/run/secrets/mongo/root-password"])).toEqual([
      { path: "/etc/mongo", slug: "etc-mongo" },
      { path: "/run/secrets/mongo", slug: "run-secrets-mongo" },
    ]);
    expect(fileVolumeDirectories("svc", ["/run/secrets/a", "/run/secrets/nested/b"]).map((d) => d.path)).toEqual(["/run/secrets"]);
  });

  it("refuses a top-level directory, which a volume would freeze a copy of, naming the workload and the way out", () => {
    expect(() => fileVolumeDirectories("web", ["/etc/web.conf"])).toThrow(/workload web: files in \/etc .* e\.g\. \/etc\/web/);
  });

  it("refuses files that overlap the workload's storage", () => {
    expect(() => fileVolumeDirectories("db", ["/data/db/conf/x.conf"], ["/data/db"])).toThrow(/workload db: files in \/data\/db\/conf overlap its storage at \/data\/db/);
  });
});
