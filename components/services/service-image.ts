import * as aws from "@pulumi/aws";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { join } from "node:path";

export type ImageRegistry = "local" | "ecr";

export interface ServiceImageArgs {
  /** Service folder under services/ (users, config). */
  service: string;
  /** Image name:tag from stack config. */
  image: string;
  /** local: built on the Docker engine and run from there (dev); ecr: pushed to a private ECR repository. */
  registry: ImageRegistry;
}

const REPOSITORY_ROOT = join(__dirname, "..", "..");

/**
 * A service image built from services/<name>/Dockerfile (the build context is the repository
 * root, because the service depends on the kit workspace). In dev it stays on the engine; in
 * prod it is pushed to ECR and referenced by digest, so a tag can never move under a Deployment.
 */
export class ServiceImage extends pulumi.ComponentResource {
  /** What a Workload runs: the local name:tag, or repository@sha256 digest. */
  readonly reference: pulumi.Output<string>;
  readonly local: boolean;

  constructor(name: string, args: ServiceImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fundament:services:ServiceImage", name, {}, opts);
    const build = { context: REPOSITORY_ROOT, dockerfile: join(REPOSITORY_ROOT, "services", args.service, "Dockerfile"), platform: "linux/amd64" };
    this.local = args.registry === "local";
    if (args.registry === "local") {
      const image = new docker.Image(`${name}-build`, { imageName: args.image, build, skipPush: true }, { parent: this });
      this.reference = image.imageName;
    } else {
      const repository = new aws.ecr.Repository(
        `${name}-repository`,
        {
          name: `fundament/${args.service}`,
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
      const tag = args.image.split(":").pop() ?? "latest";
      const image = new docker.Image(
        `${name}-build`,
        {
          imageName: pulumi.interpolate`${repository.repositoryUrl}:${tag}`,
          build,
          registry: { server: repository.repositoryUrl, username: token.userName, password: pulumi.secret(token.password) },
        },
        { parent: this },
      );
      this.reference = image.repoDigest;
    }
    this.registerOutputs({ reference: this.reference });
  }
}
