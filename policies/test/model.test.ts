import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { imagePinProblem, parseImageReference } from "../model/image-reference";
import { isCredentialName, hasPasswordInUrl, containsPrivateKey, privateKeyFormat } from "../model/credential-names";
import { carriesPodSpec, kubernetesKind, podView, selectorMatches } from "../model/kubernetes-objects";
import { cloudCredentialContent, cloudCredentialFileName } from "../model/cloud-credentials";
import { knownTokenFormat } from "../model/token-formats";
import { stringLeaves } from "../model/property-values";
import { readKnown } from "../model/unknown-values";
import { effectivePolicyTypes } from "../rules/segmentation";
import { globMatches, findImageExemption } from "../exemptions";
import { credentialAssignments } from "../model/config-text-credentials";
import { commandLineCredentials, shellCommands, shellWords } from "../model/command-line-credentials";
import { actionMatches, isBroadResource } from "../model/iam-documents";
import { escalatingGrants, everyoneSubjects } from "../model/rbac-grants";
import { danglingReferences, type JudgedObject } from "../model/kubernetes-references";
import * as policyProxy from "@pulumi/policy/proxy";

describe("image references", () => {
  it.each([
    ["postgres", { repository: "postgres", shortName: "postgres", tag: undefined }],
    ["postgres:15.6-bookworm", { repository: "postgres", shortName: "postgres", tag: "15.6-bookworm" }],
    ["docker.io/library/redis:7", { repository: "redis", shortName: "redis", tag: "7" }],
    ["grafana/grafana:11.1.3", { repository: "grafana/grafana", shortName: "grafana", tag: "11.1.3" }],
    ["quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z", { repository: "quay.io/minio/minio", shortName: "minio", tag: "RELEASE.2025-09-07T16-13-09Z" }],
    ["registry.local:5000/fundament/users", { repository: "registry.local:5000/fundament/users", shortName: "users", tag: undefined }],
    ["localhost/app:1", { repository: "localhost/app", shortName: "app", tag: "1" }],
  ])("%s", (reference, expected) => {
    const parsed = parseImageReference(reference);
    expect({ repository: parsed.repository, shortName: parsed.shortName, tag: parsed.tag }).toEqual(expected);
  });

  const segment = fc.stringMatching(/^[a-z0-9]+([._-][a-z0-9]+)*$/).filter((text) => text.length <= 20);
  const tag = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}$/);

  it("keeps the repository and tag of any registry/namespace/name:tag reference", () => {
    fc.assert(
      fc.property(fc.option(fc.constantFrom("ghcr.io", "registry.local:5000", "quay.io")), fc.array(segment, { minLength: 1, maxLength: 3 }), fc.option(tag), (registry, path, version) => {
        const repository = [...(registry === null ? [] : [registry]), ...path].join("/");
        const parsed = parseImageReference(version === null ? repository : `${repository}:${version}`);
        const expected = registry === null && path.length === 2 && path[0] === "library" ? path[1] : repository;
        expect(parsed.repository).toBe(expected);
        expect(parsed.tag).toBe(version === null ? undefined : version);
        expect(parsed.shortName).toBe(path[path.length - 1]);
      }),
    );
  });

  it("calls a reference pinned exactly when it has a digest, an image id, or a tag other than latest", () => {
    fc.assert(
      fc.property(segment, fc.option(tag), fc.boolean(), (name, version, digest) => {
        const reference = `${name}${version === null ? "" : `:${version}`}${digest ? `@sha256:${"a".repeat(64)}` : ""}`;
        const pinned = digest || (version !== null && version !== "latest");
        expect(imagePinProblem(reference) === undefined).toBe(pinned);
      }),
    );
    expect(imagePinProblem(`sha256:${"b".repeat(64)}`)).toBeUndefined();
  });
});

describe("credential names and values", () => {
  it.each([
    ["POSTGRES_PASSWORD", true],
    ["MONGO_INITDB_ROOT_PASSWORD", true],
    ["RABBITMQ_DEFAULT_PASS", true],
    ["MINIO_ROOT_PASSWORD", true],
    ["GF_SECURITY_ADMIN_PASSWORD", true],
    ["STRIPE_API_KEY", true],
    ["session-secret", true],
    ["POSTGRES_PASSWORD_FILE", false],
    ["GF_SECURITY_ADMIN_PASSWORD__FILE", false],
    ["JWT_SECRET_TTL", false],
    ["password_encryption", false],
    ["MINIO_ROOT_USER", false],
    ["PGDATA", false],
    ["TOKEN_HEADER", false],
    ["REDIS_PASSWORD_REQUIRED", false],
    // camelCase keys of JSON and YAML configs are read word by word.
    ["clientSecret", true],
    ["githubToken", true],
    ["GITHUBTOKEN", true],
    ["RABBITMQ_ERLANG_COOKIE", true],
    ["secretName", false],
    ["existingSecret", false],
    ["secretKeyRef", false],
    // An ML platform's configs count tokens; a web app's name its cookies.
    ["max_tokens", false],
    ["maxNewTokens", false],
    ["tokenizer", false],
    ["TOKEN_LIMIT", false],
    ["SESSION_COOKIE_SECURE", false],
    ["PASSWORD_HASH_ROUNDS", false],
    ["ID_TOKEN_SIGNING_ALG", false],
    ["TOKEN_STORE", false],
    ["AWS_ACCESS_KEY_ID", false],
    ["VAULT_SECRET_ID", true],
    ["WANDB_API_KEY", true],
    ["SECRET_KEY_BASE", true],
  ])("%s is a credential name: %s", (name, expected) => {
    expect(isCredentialName(name)).toBe(expected);
  });

  it("finds passwords in URLs only in the userinfo part", () => {
    expect(hasPasswordInUrl("postgres://app:s3cret@db:5432/app")).toBe(true);
    expect(hasPasswordInUrl("amqp://guest:guest@rabbitmq")).toBe(true);
    expect(hasPasswordInUrl("postgres://app@db:5432/app")).toBe(false);
    expect(hasPasswordInUrl("http://host:8080/path")).toBe(false);
    expect(hasPasswordInUrl("redis://:s3cret@redis:6379/0")).toBe(true);
    expect(hasPasswordInUrl("http://jaeger:14268/api?user=a@b")).toBe(false);
  });

  it("recognises PEM private keys of every common kind and nothing else", () => {
    for (const kind of ["", "RSA ", "EC ", "OPENSSH ", "ENCRYPTED "]) expect(containsPrivateKey(`-----BEGIN ${kind}PRIVATE KEY-----\nabc`)).toBe(true);
    expect(containsPrivateKey("-----BEGIN CERTIFICATE-----\nabc")).toBe(false);
    expect(containsPrivateKey("-----BEGIN PUBLIC KEY-----\nabc")).toBe(false);
    for (const loose of ["---BEGIN RSA PRIVATE KEY---", "-----  BEGIN   EC PRIVATE  KEY -----", "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----", "-----begin dsa private key-----", "-----BEGIN PGP PRIVATE KEY BLOCK-----", "KEY=PuTTY-User-Key-File-2: ssh-rsa"]) {
      expect(containsPrivateKey(`${loose}\nabc`), loose).toBe(true);
    }
    for (const benign of ["---BEGIN PUBLIC KEY---", "-----BEGIN RSA PUBLIC KEY-----", "-----BEGIN OPENSSH CERTIFICATE-----", "keep the private key in a Secret", "BEGIN PRIVATE KEY"]) {
      expect(containsPrivateKey(`${benign}\nabc`), benign).toBe(false);
    }
  });

  it("finds private keys wrapped in base64 once (binaryData, *_B64 variables), at any line width and in either alphabet", () => {
    const key = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY-----\n";
    const encoded = Buffer.from(key).toString("base64");
    expect(privateKeyFormat(encoded)).toBe("base64-encoded PEM");
    expect(privateKeyFormat(`KEY_B64=${encoded}`)).toBe("base64-encoded PEM");
    expect(privateKeyFormat(encoded.replace(/(.{20})/g, "$1\n"))).toBe("base64-encoded PEM");
    expect(privateKeyFormat(Buffer.from("PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n").toString("base64url"))).toBe("base64-encoded PuTTY");
    expect(privateKeyFormat(Buffer.from("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n").toString("base64"))).toBeUndefined();
    expect(privateKeyFormat(`tls:\n  private_key: ${encoded}\n`)).toBe("base64-encoded PEM");
    expect(privateKeyFormat(`--key=${encoded.slice(0, 40)}`)).toBe("base64-encoded PEM");
    // Twice wrapped is out of reach; digests and tokens decode to no key.
    expect(privateKeyFormat(Buffer.from(encoded).toString("base64"))).toBeUndefined();
    expect(privateKeyFormat("sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")).toBeUndefined();
  });

  it("finds literal credential assignments in config files, not references to them", () => {
    expect(credentialAssignments("password: hunter2\npassword_file: /run/secrets/p\nrequirepass abc\nuser app on >pw ~* +@all\n")).toEqual([
      "password",
      "requirepass",
      "user (ACL password)",
    ]);
    expect(credentialAssignments("password: ${GRAFANA_DB_PASSWORD}\nDB_PASSWORD=$(cat /run/secrets/db)\nsecret: [secret]\n")).toEqual([]);
  });

  it("finds credentials anywhere on a line: JSON, query and connection strings, XML, URLs, Authorization headers", () => {
    expect(credentialAssignments('{"db":{"user":"app","password":"x1"}}')).toEqual(["password"]);
    expect(credentialAssignments('{"db":{"password":"x1"}}')).toEqual(["password"]);
    expect(credentialAssignments("jdbc:postgresql://db/app?user=app&password=x1")).toEqual(["password"]);
    expect(credentialAssignments("Server=db;User Id=app;Password=x1;")).toEqual(["Password"]);
    expect(credentialAssignments("Driver={PostgreSQL};Uid=app;PWD=x1")).toEqual(["PWD"]);
    expect(credentialAssignments("<config><apiKey>x1</apiKey></config>")).toEqual(["<apiKey>"]);
    expect(credentialAssignments("  url: redis://:x1@redis:6379/0 # cache")).toEqual(["the password of redis://…@redis:6379"]);
    expect(credentialAssignments('proxy_set_header Authorization "Bearer abcdefgh12345678";')).toEqual(["an Authorization header"]);
    expect(credentialAssignments("-Xmx1g -Dspring.datasource.password=x1")).toEqual(["-Dspring.datasource.password"]);
  });

  it("leaves references, templates, switches and settings alone wherever they sit", () => {
    for (const text of [
      '{"password":"${DB_PASSWORD}","token":"{{ .Values.token }}","secret":null,"requireToken":true}',
      "amqps://jobs:${BROKER_PASSWORD}@rabbitmq:5671/",
      "Authorization: Bearer $API_TOKEN",
      "Server=db;Pwd=$(cat /run/secrets/db);",
      "PWD=/srv/app",
      "max_tokens: 512, tokenizer: bert-base-uncased",
      "http://jaeger:14268/api?user=a@b",
      "<secretName>gateway-tls</secretName>",
    ]) {
      expect(credentialAssignments(text), text).toEqual([]);
    }
  });
});

describe("credentials on a command line", () => {
  it("splits a script into the words its shell sees, quotes removed, separators dropped", () => {
    expect(shellWords(`a 'b c' "d $(e f)";g&&h | i`)).toEqual(["a", "b c", "d $(e f)", "g", "h", "i"]);
    expect(shellWords(`x="" y`)).toEqual(["x=", "y"]);
  });
  it("splits a script into its simple commands at ; & | and newlines", () => {
    expect(shellCommands(`a 'b; c' && d\ne | f;`)).toEqual([["a", "b; c"], ["d"], ["e"], ["f"]]);
  });
  it.each([
    [["redis-server", "--requirepass", "x1"], ["--requirepass"]],
    [["app", "--db-password=x1", "--api-key", "x2"], ["--db-password", "--api-key"]],
    [["sh", "-c", "PGPASSWORD=x1 psql -h db"], ["PGPASSWORD="]],
    [["bash", "-ec", "mongosh 'mongodb://root:x1@mongo:27017/admin?tls=true'"], ["the password of mongodb://…@mongo:27017"]],
    [["env", "AWS_SECRET_ACCESS_KEY=x1", "aws", "s3", "ls"], ["AWS_SECRET_ACCESS_KEY="]],
    [["sh", "-c", "redis-cli -a x1 ping; ls -a /"], ["redis-cli -a"]],
    [["sh", "-c", "exec gosu mysql mysqladmin -uroot -px1 ping"], ["mysqladmin -p<password>"]],
    [["sshpass", "-p", "x1", "ssh", "backup@host"], ["sshpass -p"]],
    [["curl", "-fsS", "-H", "X-Vault-Token: x1", "https://vault:8200/v1/kv"], ["curl's X-Vault-Token header"]],
    [["curl", "--user", "admin:x1", "https://grafana:3000/api/health"], ["curl --user user:password"]],
    [["sh", "-c", "podman login --username ci -p x1 quay.io"], ["podman login -p"]],
    [["sh", "-c", "rabbitmqctl change_password app x1"], ["rabbitmqctl change_password's password"]],
    [["mc", "config", "host", "add", "s3", "https://minio:9000", "ak", "x1"], ["mc config host add's secret key"]],
    [["openssl", "rsa", "-in", "k.pem", "-passout", "pass:x1"], ["openssl -passout pass:"]],
    [["kubectl", "create", "secret", "generic", "db", "--from-literal=password=x1"], ["password="]],
  ])("%j hands over %j", (argv, found) => {
    expect(commandLineCredentials(argv)).toEqual(found);
  });
  it.each([
    [["app", "--password-file", "/run/secrets/pw", "--password-stdin", "--token-path=/x"]],
    [["app", "--password", "$(DB_PASSWORD)", "--secret", "${SECRET}", "--token", "`cat /x`"]],
    [["sh", "-c", 'PGPASSWORD="$(cat /run/secrets/pw)" psql "postgres://u@db/app"']],
    [["postgres", "-c", "password_encryption=scram-sha-256", "--require-token=false", "--password", "--verbose"]],
    [["psql", "--no-password", "postgres://users@pgbouncer:6432/users"]],
    [["sh", "-c", "ls -a /data && docker run -p 80:80 web | pg_isready -p 5432"]],
    [["mysql", "-u", "root", "-p", "app"]],
    [["sh", "-c", 'redis-cli -a "$REDIS_PASSWORD" ping; mongosh -u admin -p; rabbitmqctl add_user app; curl -u probe https://x']],
    [["curl", "-H", "Content-Type: application/json", "-H", "Authorization: Bearer $(cat /run/secrets/t)", "https://x"]],
    [["openssl", "pkcs12", "-passin", "env:P12_PASS", "-in", "b.p12"]],
  ])("%j hands over nothing", (argv) => {
    expect(commandLineCredentials(argv)).toEqual([]);
  });
  it("never returns a value it found", () => {
    const found = commandLineCredentials(["sh", "-c", "x --password hunter2-literal; PGPASSWORD=hunter2-literal y; z redis://:hunter2-literal@r:6379"]).join(" ");
    expect(found).not.toContain("hunter2");
  });
});

describe("IAM grants", () => {
  it.each([
    ["*", true],
    ["arn:aws:iam::111122223333:role/*", true],
    ["arn:aws:secretsmanager:*:*:secret:*", true],
    ["arn:aws:kms:eu-west-1:111122223333:key/*", true],
    ["arn:aws:s3:::*", true],
    ["arn:aws:s3:::*/*", true],
    ["arn:aws:s3:::media/*", false],
    ["arn:aws:iam::111122223333:role/fundament-*", false],
    ["arn:aws:ssm:eu-west-1:111122223333:parameter/fundament/*", false],
  ])("%s reaches every resource of its kind: %s", (resource, broad) => {
    expect(isBroadResource(resource)).toBe(broad);
  });
  it("matches actions case-insensitively, wildcards anywhere", () => {
    expect(actionMatches("iam:Put*", "iam:PutRolePolicy")).toBe(true);
    expect(actionMatches("IAM:*policy", "iam:AttachRolePolicy")).toBe(true);
    expect(actionMatches("iam:Get*", "iam:PutRolePolicy")).toBe(false);
    expect(actionMatches("ssm:GetParameter?", "ssm:GetParameters")).toBe(true);
  });
});

describe("tokens known by their issuer's format", () => {
  // Made-up characters in each issuer's published shape; the fixtures cover the others in place.
  it.each([
    ["a Google API key", `AIza${"Sy0-_aBcDeFgH".repeat(3).slice(0, 35)}`],
    ["a Google OAuth client secret", `GOCSPX-${"aB3dE5gH7jK9".repeat(3).slice(0, 28)}`],
    ["a Stripe secret key", `sk_live_${"51HxYz".repeat(5)}`],
    ["an OpenAI API key", `sk-${"Ab1Cd2Ef3G".repeat(2)}T3BlbkFJ${"Hi4Jk5Lm6N".repeat(2)}`],
    ["a PyPI token", `pypi-AgEIcHlwaS5vcmc${"CJDk2ZGU0Mzk".repeat(5)}`],
    ["a SendGrid API key", `SG.${"aB3dE5gH7jK9mN1pQ3sT5v".slice(0, 22)}.${"wX7yZ9aB1cD3eF5gH7iJ9kL1mN3oP5qR7sT9uV1wX3".padEnd(43, "Y")}`],
    ["a Grafana service account token", `glsa_${"aB3dE5gH".repeat(4)}_0a1b2c3d`],
    ["a Databricks token", `dapi${"0123456789abcdef".repeat(2)}`],
    ["an Azure shared access signature", `https://media.blob.core.windows.net/models?sv=2022-11-02&sp=r&sig=${"AbCdEf0123456789".repeat(3)}%3D`],
    ["a GitHub token", `export TOKEN="gho_${"Zx9".repeat(12)}"`],
  ])("finds %s", (what, value) => {
    expect(knownTokenFormat(value)).toBe(what);
  });

  it.each([
    ["a token's prefix inside a longer word", `xghp_${"Zx9".repeat(12)}`],
    ["a key id one character short", "AKIAZ7Q3EXAMPLEK4T2"],
    ["a key id running on into more letters", "AKIAZ7Q3EXAMPLEK4T2NX"],
    ["a prefix alone", "ghp_ glpat- xoxb- hf_ npm_ dckr_pat_ hvs. pul-"],
    ["a hex digest", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],
    ["base64 of text without a token", Buffer.from("[server]\nhttp_port = 3000\n").toString("base64")],
  ])("passes %s", (_what, value) => {
    expect(knownTokenFormat(value)).toBeUndefined();
  });

  it("names an entry's value by the entry (env name, Docker label), and nothing deeper", () => {
    const leaves = stringLeaves({ env: [{ name: "GH_PAT", value: "a" }], labels: [{ label: "team", value: "b" }], other: { name: "n", value: { nested: "c" } } }, readKnown);
    expect(leaves).toEqual([
      { path: "env[0].name", value: "GH_PAT" },
      { path: "env[0].value", value: "a", entryName: "GH_PAT" },
      { path: "labels[0].label", value: "team" },
      { path: "labels[0].value", value: "b", entryName: "team" },
      { path: "other.name", value: "n" },
      { path: "other.value.nested", value: "c" },
    ]);
  });

  it("never returns the token itself, only what it is", () => {
    const token = `glpat-${"Xy7Qw3Er9Ty1".repeat(2)}`;
    expect(knownTokenFormat(`token: ${token}`)).toBe("a GitLab token");
    expect(knownTokenFormat(Buffer.from(`token: ${token}`).toString("base64"))).toBe("a GitLab token (base64-encoded)");
  });
});

describe("label selectors", () => {
  const labels = { "app.kubernetes.io/name": "users", "fundament.io/zone-backend": "true" };
  it.each([
    [{}, true],
    [{ matchLabels: { "app.kubernetes.io/name": "users" } }, true],
    [{ matchLabels: { "app.kubernetes.io/name": "config" } }, false],
    [{ matchExpressions: [{ key: "fundament.io/zone-backend", operator: "Exists" }] }, true],
    [{ matchExpressions: [{ key: "fundament.io/zone-frontend", operator: "DoesNotExist" }] }, true],
    [{ matchExpressions: [{ key: "app.kubernetes.io/name", operator: "In", values: ["users", "config"] }] }, true],
    [{ matchExpressions: [{ key: "app.kubernetes.io/name", operator: "NotIn", values: ["users"] }] }, false],
    [{ matchExpressions: [{ key: "app.kubernetes.io/name", operator: "Bogus" }] }, false],
  ])("%j selects: %s", (selector, expected) => {
    expect(selectorMatches(selector, labels)).toBe(expected);
  });
});

describe("exemption patterns", () => {
  it("a pattern without wildcards matches only itself, and * matches anything", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), fc.string({ maxLength: 30 }), (pattern, text) => {
        const literal = pattern.replace(/[*?]/g, "");
        expect(globMatches(literal, text)).toBe(literal === text);
        expect(globMatches("*", text)).toBe(true);
        expect(globMatches(`${literal}*`, `${literal}${text}`)).toBe(true);
      }),
    );
  });

  it("matches image exemptions on repository, tag-qualified reference or the reference as written", () => {
    const exemptions = [{ image: "postgres:15.*", reason: "r" }];
    expect(findImageExemption(exemptions, "docker.io/library/postgres:15.6")).toBeDefined();
    expect(findImageExemption(exemptions, "postgres:16.1")).toBeUndefined();
    expect(findImageExemption([{ image: "quay.io/minio/*", reason: "r" }], "quay.io/minio/minio:RELEASE.1")).toBeDefined();
    expect(findImageExemption(exemptions, undefined)).toBeUndefined();
  });
});

describe("pod specs by kind and shape", () => {
  const template = { metadata: { labels: { app: "pods" } }, spec: { containers: [{ name: "a", image: "a:1" }] } };

  it("reads the kind from any group and version", () => {
    expect(kubernetesKind("kubernetes:apps/v1beta2:Deployment")).toBe("Deployment");
    expect(kubernetesKind("kubernetes:extensions/v1beta1:Deployment")).toBe("Deployment");
    expect(kubernetesKind("docker:index/container:Container")).toBeUndefined();
  });

  it("finds the pod spec of old API versions, custom resources and PodTemplates, not of patches or other providers", () => {
    const controller = { metadata: { labels: { app: "controller" } }, spec: { template } };
    expect(podView("kubernetes:extensions/v1beta1:Deployment", controller)?.containers.map((c) => c.label)).toEqual(['containers[0] "a"']);
    expect(podView("kubernetes:batch/v1beta1:CronJob", { spec: { jobTemplate: { spec: { template } } } })?.labels).toEqual({ app: "pods" });
    expect(podView("kubernetes:core/v1:PodTemplate", { template })?.labels).toEqual({ app: "pods" });
    expect(carriesPodSpec("kubernetes:argoproj.io/v1alpha1:Rollout", controller)).toBe(true);
    expect(carriesPodSpec("kubernetes:argoproj.io/v1alpha1:Workflow", { spec: { entrypoint: "main" } })).toBe(false);
    expect(carriesPodSpec("kubernetes:apps/v1:DeploymentPatch", controller)).toBe(false);
    expect(carriesPodSpec("custom:index:Deployment", controller)).toBe(false);
  });

  it("keeps a controller's own labels apart from its pods' labels", () => {
    const view = podView("kubernetes:apps/v1:Deployment", { metadata: { labels: { app: "controller", "fundament.io/role": "service" } }, spec: { template } });
    expect(view?.labels).toEqual({ app: "pods" });
    expect(view?.objectLabels).toEqual({ app: "controller", "fundament.io/role": "service" });
    expect(view?.role).toBe("service");
  });

  it("lists ephemeral containers after init and main containers", () => {
    const view = podView("kubernetes:core/v1:Pod", { spec: { initContainers: [{ name: "i" }], containers: [{ name: "m" }], ephemeralContainers: [{ name: "e" }] } });
    expect(view?.containers.map((c) => [c.label, c.init, c.ephemeral])).toEqual([
      ['initContainers[0] "i"', true, false],
      ['containers[0] "m"', false, false],
      ['ephemeralContainers[0] "e"', false, true],
    ]);
  });
});

describe("NetworkPolicy policyTypes as the API server defaults them", () => {
  it.each([
    [{}, ["Ingress"]],
    [{ policyTypes: [] }, ["Ingress"]],
    [{ egress: [] }, ["Ingress"]],
    [{ egress: [{}] }, ["Ingress", "Egress"]],
    [{ policyTypes: ["Egress"] }, ["Egress"]],
    [{ policyTypes: ["Ingress"], egress: [{ to: [] }] }, ["Ingress"]],
    [{ policyTypes: ["Ingress", "Egress"] }, ["Ingress", "Egress"]],
  ])("%j isolates %j", (spec, types) => {
    expect([...effectivePolicyTypes(spec)].sort()).toEqual([...types].sort());
  });
});

describe("cloud CLI credential files", () => {
  it.each([
    ["credentials", "AWS"],
    ["/home/app/.aws/credentials", "AWS"],
    ["/home/app/.aws/config", "AWS"],
    ["application_default_credentials.json", "GCP"],
    ["azureProfile.json", "Azure"],
    ["msal_token_cache.bin", "Azure"],
    ["/root/.oci/config", "OCI"],
    ["oci_api_key.pem", "OCI"],
  ])("%s is a %s credential file", (path, cloud) => {
    expect(cloudCredentialFileName(path)?.cloud).toBe(cloud);
  });

  it.each(["config", "/etc/app/config", "credentials.example", "/etc/grafana/grafana.ini", "aws-region"])("%s is not one", (path) => {
    expect(cloudCredentialFileName(path)).toBeUndefined();
  });

  it("knows the files by their content under any name", () => {
    expect(cloudCredentialContent("[prod]\naws_access_key_id=AKIA\naws_secret_access_key=x\n")?.cloud).toBe("AWS");
    expect(cloudCredentialContent('{"type": "service_account", "private_key": "x"}')?.cloud).toBe("GCP");
    expect(cloudCredentialContent("[DEFAULT]\nfingerprint=aa:bb\nkey_file=/k.pem\n")?.cloud).toBe("OCI");
    expect(cloudCredentialContent("region = eu-west-1\naws_access_key_id_file = /run/secrets/id\n")).toBeUndefined();
    expect(cloudCredentialContent('{"type": "service_account", "client_email": "a@b"}')).toBeUndefined();
  });
});

describe("RBAC grants", () => {
  const grants = (rule: Record<string, unknown>) => escalatingGrants({ rules: [rule] }, false);

  it("reports a grant by group, resource and verb, naming each granted verb and resource once", () => {
    expect(grants({ apiGroups: [""], resources: ["pods", "secrets", "configmaps"], verbs: ["get", "list", "create"] })).toEqual([
      "rules[0] grants get, list on secrets: it reads every credential in scope, service-account tokens included (list and watch return the values)",
    ]);
  });

  it("an apiGroups wildcard widens the group; verb and resource wildcards are k8s-no-wildcard-rbac's", () => {
    expect(grants({ apiGroups: ["*"], resources: ["secrets"], verbs: ["watch"] })).toHaveLength(1);
    expect(grants({ apiGroups: [""], resources: ["*"], verbs: ["get"] })).toEqual([]);
    expect(grants({ apiGroups: [""], resources: ["secrets"], verbs: ["*"] })).toEqual([]);
  });

  it("resourceNames narrows reading secrets and binding roles, not impersonation or exec", () => {
    expect(grants({ apiGroups: [""], resources: ["secrets"], verbs: ["get"], resourceNames: ["one"] })).toEqual([]);
    expect(grants({ apiGroups: ["rbac.authorization.k8s.io"], resources: ["roles"], verbs: ["bind"], resourceNames: ["reader"] })).toEqual([]);
    expect(grants({ apiGroups: [""], resources: ["serviceaccounts"], verbs: ["impersonate"], resourceNames: ["admin"] })).toHaveLength(1);
    expect(grants({ apiGroups: [""], resources: ["pods/exec"], verbs: ["create"], resourceNames: ["postgres-0"] })).toHaveLength(1);
  });

  it("tolerates rules of the wrong shape (a typo reaches the pack as-is)", () => {
    expect(escalatingGrants({ rules: "secrets" }, true)).toEqual([]);
    expect(escalatingGrants({ rules: [{ apiGroups: "", resources: "secrets", verbs: "get" }] }, true)).toEqual([]);
  });

  it("writing ConfigMaps escalates where EKS's aws-auth lives: cluster-wide, or a Role in kube-system on it", () => {
    const write = { apiGroups: [""], resources: ["configmaps"], verbs: ["get", "patch"] };
    const role = (namespace: string | undefined, rule: Record<string, unknown>) => ({ metadata: namespace === undefined ? {} : { namespace }, rules: [rule] });
    expect(escalatingGrants(role(undefined, write), true)).toEqual([
      "rules[0] grants patch on configmaps: it rewrites EKS's aws-auth ConfigMap in kube-system, which maps IAM roles to Kubernetes groups, system:masters included",
    ]);
    expect(escalatingGrants(role("kube-system", { ...write, resourceNames: ["aws-auth"] }), false)).toHaveLength(1);
    expect(escalatingGrants(role("kube-system", { ...write, resourceNames: ["coredns"] }), false)).toEqual([]);
    expect(escalatingGrants(role("fundament", write), false)).toEqual([]);
    expect(escalatingGrants(role(undefined, write), false)).toEqual([]);
    expect(escalatingGrants(role(undefined, { ...write, verbs: ["get", "list", "watch"] }), true)).toEqual([]);
  });

  it("subjects that stand for everyone, by kind and name", () => {
    expect(
      everyoneSubjects({
        subjects: [
          { kind: "ServiceAccount", name: "system:anonymous" },
          { kind: "Group", name: "system:authenticated" },
          { kind: "User", name: "system:anonymous" },
        ],
      }),
    ).toEqual([
      "subjects[1] is Group system:authenticated: the role is granted to every identity the cluster knows, every service account of every namespace included",
      "subjects[2] is User system:anonymous: the role is granted to every unauthenticated request",
    ]);
  });
});

// The engine's own preview proxy (internal to @pulumi/policy, so untyped there): reading a value
// that is not known yet throws its UnknownValueError.
const { unknownCheckingProxy, unknownStringValue } = policyProxy as unknown as { unknownCheckingProxy<T>(value: T): T; unknownStringValue: string };

describe("references between Kubernetes objects of one stack", () => {
  const NS = "platform";
  const deployment = (name: string, labels: Record<string, string>, account?: string): JudgedObject => ({
    type: "kubernetes:apps/v1:Deployment",
    name,
    props: { metadata: { name, namespace: NS }, spec: { template: { metadata: { labels }, spec: { containers: [], ...(account ? { serviceAccountName: account } : {}) } } } },
  });
  const service = (name: string, selector: Record<string, string>): JudgedObject => ({
    type: "kubernetes:core/v1:Service",
    name,
    props: { metadata: { name, namespace: NS }, spec: { selector } },
  });
  const messages = (objects: JudgedObject[]) => danglingReferences(objects).map((found) => `${found.resource.name}: ${found.message}`);

  it("a selector that matches no pod template, and a missing service account, are found", () => {
    expect(messages([deployment("api", { app: "api" }, "api-runner"), service("api", { app: "apl" })])).toEqual([
      'api: the pod template\'s serviceAccountName "api-runner" is not a ServiceAccount in namespace "platform": its pods are never created',
      'api: spec.selector (app=apl) matches no pod template in namespace "platform": the Service has no endpoints',
    ]);
  });

  it("during preview, a pod template whose labels are not known yet makes nothing in its namespace dangling", () => {
    const pending = { ...deployment("api", {}), props: unknownCheckingProxy({ metadata: { name: "api", namespace: NS }, spec: { template: { metadata: { labels: unknownStringValue }, spec: {} } } }) };
    expect(messages([pending, service("api", { app: "apl" })])).toEqual([]);
  });

  it("a Helm release or a custom resource in the namespace may make what a reference names after it", () => {
    const release: JudgedObject = { type: "kubernetes:helm.sh/v3:Release", name: "auth", props: { name: "keycloak", chart: "bitnami/keycloak", namespace: NS } };
    const cluster: JudgedObject = { type: "kubernetes:postgresql.cnpg.io/v1:Cluster", name: "main-db", props: { metadata: { name: "main", namespace: NS } } };
    expect(
      messages([
        release,
        cluster,
        deployment("api", { app: "api" }, "keycloak-admin"),
        service("keycloak", { "app.kubernetes.io/instance": "keycloak" }),
        service("db", { "cnpg.io/cluster": "main" }),
        service("typo", { app: "apl" }),
      ]),
    ).toEqual(['typo: spec.selector (app=apl) matches no pod template in namespace "platform": the Service has no endpoints']);
  });

  it("a named targetPort resolves against any selected pod's ports, and not while they are unknown in a preview", () => {
    const withPorts = (name: string, labels: Record<string, string>, ports: unknown): JudgedObject => ({
      type: "kubernetes:apps/v1:Deployment",
      name,
      props: { metadata: { name, namespace: NS }, spec: { template: { metadata: { labels }, spec: { containers: [{ name: "app", ports }] } } } },
    });
    const named = (targetPort: string): JudgedObject => ({ ...service("api", { app: "api" }), props: { metadata: { name: "api", namespace: NS }, spec: { selector: { app: "api" }, ports: [{ port: 80, targetPort }] } } });
    const api = withPorts("api", { app: "api" }, [{ name: "http", containerPort: 8080 }]);
    const canary = withPorts("api-canary", { app: "api", track: "canary" }, [{ name: "grpc", containerPort: 9090 }]);
    expect(messages([api, canary, named("http")])).toEqual([]);
    expect(messages([api, canary, named("grpc")])).toEqual([]);
    expect(messages([api, canary, named("htp")])).toEqual(['api: spec.ports[0].targetPort "htp" names no container port of the pods its selector matches: the Service has no endpoints on that port']);
    const pending = { ...api, props: unknownCheckingProxy({ metadata: { name: "api", namespace: NS }, spec: { template: { metadata: { labels: { app: "api" } }, spec: { containers: [{ name: "app", ports: unknownStringValue }] } } } }) };
    expect(messages([pending, named("htp")])).toEqual([]);
  });

  it("an autoscaler and a NetworkPolicy resolve against the controllers and pods, with Helm releases and preview unknowns excused", () => {
    const autoscaler = (name: string, kind: string, target: string): JudgedObject => ({
      type: "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
      name,
      props: { metadata: { name, namespace: NS }, spec: { scaleTargetRef: { apiVersion: "apps/v1", kind, name: target }, minReplicas: 2, maxReplicas: 4 } },
    });
    const policy = (name: string, podSelector: unknown): JudgedObject => ({ type: "kubernetes:networking.k8s.io/v1:NetworkPolicy", name, props: { metadata: { name, namespace: NS }, spec: { podSelector, policyTypes: ["Ingress"] } } });
    const release: JudgedObject = { type: "kubernetes:helm.sh/v3:Release", name: "ksm", props: { name: "kube-state-metrics", chart: "kube-state-metrics", namespace: NS } };
    const api = deployment("api", { app: "api", tier: "web" });
    expect(
      messages([
        api,
        release,
        autoscaler("api-hpa", "Deployment", "api"),
        autoscaler("rollout-hpa", "Rollout", "api-rollout"),
        autoscaler("ksm-hpa", "Deployment", "kube-state-metrics"),
        policy("all", {}),
        policy("api-in", { matchLabels: { app: "api" } }),
        policy("web-in", { matchExpressions: [{ key: "tier", operator: "In", values: ["web", "edge"] }] }),
        policy("ksm-in", { matchLabels: { "app.kubernetes.io/name": "kube-state-metrics" } }),
      ]),
    ).toEqual([]);
    const peers: JudgedObject = {
      type: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
      name: "api-peers",
      props: {
        metadata: { name: "api-peers", namespace: NS },
        spec: {
          podSelector: { matchLabels: { app: "api" } },
          ingress: [{ from: [{ podSelector: { matchLabels: { app: "api" } } }, { podSelector: { matchLabels: { app: "web" } }, namespaceSelector: {} }, { ipBlock: { cidr: "10.0.0.0/8" } }] }],
          egress: [{ to: [{ podSelector: { matchLabels: { app: "db" } } }] }],
        },
      },
    };
    expect(messages([api, peers])).toEqual(['api-peers: spec.egress[0].to[0].podSelector (app=db) matches no pod template in namespace "platform": the traffic it was written to allow stays blocked']);
    expect(messages([api, autoscaler("api-hpa", "StatefulSet", "api"), policy("apl-in", { matchLabels: { app: "apl" } })])).toEqual([
      'api-hpa: spec.scaleTargetRef names StatefulSet "api", which is not in namespace "platform": nothing is autoscaled',
      'apl-in: spec.podSelector (app=apl) matches no pod template in namespace "platform": the policy restricts nothing',
    ]);
    const pendingPolicy = { ...policy("pending", {}), props: unknownCheckingProxy({ metadata: { name: "pending", namespace: NS }, spec: { podSelector: { matchLabels: { app: unknownStringValue } } } }) };
    const pendingTarget = { ...autoscaler("pending-hpa", "Deployment", ""), props: unknownCheckingProxy({ metadata: { name: "pending-hpa", namespace: NS }, spec: { scaleTargetRef: { kind: "Deployment", name: unknownStringValue } } }) };
    expect(messages([api, pendingPolicy, pendingTarget])).toEqual([]);
  });

  it("a Helm release elsewhere does not excuse this namespace", () => {
    const release: JudgedObject = { type: "kubernetes:helm.sh/v3:Release", name: "auth", props: { name: "keycloak", chart: "keycloak", namespace: "kube-system" } };
    expect(messages([release, deployment("api", { app: "api" }), service("keycloak", { app: "keycloak" })])).toHaveLength(1);
  });
});
