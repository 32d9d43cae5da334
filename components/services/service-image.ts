import * as aws from "@pulumi/aws";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { join } from "node:path";
import { buildContextDigest, contentTag } from "./build-context-digest";

export type ImageRegistry = "local" | "ecr";

export interface ServiceImageArgs {
  /** Service folder under services/ (users, config). */
  service: string;
  /** Image name:tag from stack config. */
  image: string;
  /** local: built on the Docker engine and run from there (dev); ecr: pushed to a private ECR repository. */
  registry: ImageRegistry;
  /** Stack environment: ECR repository names are per account and region, so each environment has its own. */
  environment: string;
  /** The stack's Docker provider (fundament:docker.host): the image is built on the same engine that runs it. */
  dockerProvider?: docker.Provider;
}

const REPOSITORY_ROOT = join(__dirname, "..", "..");

/**
 * A service image built from services/<name>/Dockerfile (the build context is the repository
 * root, because the service depends on the kit workspace). In dev it stays on the engine and is
 * referenced by its image ID; in prod it is pushed to ECR under a tag derived from its build
 * context and referenced by digest, so a tag can never move under a Deployment.
 */
export class ServiceImage extends pulumi.ComponentResource {
  /** What a Workload runs: the local image ID (sha256:...), or repository@sha256 digest. */
  readonly reference: pulumi.Output<string>;
  readonly local: boolean;

  constructor(name: string, args: ServiceImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fundament:services:ServiceImage", name, {}, opts);
    const build = { context: REPOSITORY_ROOT, dockerfile: join(REPOSITORY_ROOT, "services", args.service, "Dockerfile"), platform: "linux/amd64" };
    this.local = args.registry === "local";
    const imageOpts = { parent: this, provider: args.dockerProvider };
    if (args.registry === "local") {
      const image = new docker.Image(`${name}-build`, { imageName: args.image, build, skipPush: true }, imageOpts);
      // imageName (name:tag) stays the same across rebuilds, so containers given it would keep
      // running the old code; for a local image repoDigest is the built image's ID (sha256:...),
      // new with every rebuild, and the Docker provider reads a container's image back in that form.
      this.reference = image.repoDigest;
    } else {
      const repository = new aws.ecr.Repository(
        `${name}-repository`,
        {
          // The name forces a replacement and is unique per account and region: two stacks in one
          // account would otherwise fight over one repository (the second create fails).
          name: `fundament/${args.environment}/${args.service}`,
          imageTagMutability: "IMMUTABLE",
          imageScanningConfiguration: { scanOnPush: true },
          encryptionConfigurations: [{ encryptionType: "KMS" }],
          forceDelete: false,
        },
        { parent: this },
      );
      new aws.ecr.LifecyclePolicy(
        `${name}-lifecycle`,
        {
          repository: repository.name,
          policy: JSON.stringify({
            rules: [{ rulePriority: 1, description: "keep the last 50 images", selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: 50 }, action: { type: "expire" } }],
          }),
        },
        { parent: this },
      );
      const token = aws.ecr.getAuthorizationTokenOutput({ registryId: repository.registryId }, { parent: this });
      // The repository is IMMUTABLE: a rebuilt image needs a tag of its own, so the tag carries the
      // digest of the build context (unchanged sources keep the tag, and the provider skips the build).
      const version = /:([^/:]+)$/.exec(args.image)?.[1] ?? "latest";
      const tag = contentTag(version, buildContextDigest(build.context, build.dockerfile));
      const image = new docker.Image(
        `${name}-build`,
        {
          imageName: pulumi.interpolate`${repository.repositoryUrl}:${tag}`,
          build,
          registry: { server: repository.repositoryUrl, username: token.userName, password: pulumi.secret(token.password) },
        },
        imageOpts,
      );
      this.reference = image.repoDigest;
    }
    this.registerOutputs({ reference: this.reference });
  }
}
