import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import type { TlsConfig } from "../config/stack-config";
import type { WorkloadFile } from "../runtime/workload";
import { PkiNaming, WorkloadNameOptions, workloadDnsNames } from "./dns-names";
import { caFile, TlsFilePaths } from "./tls-files";

export const PKI_ORGANIZATION = "fundament";

export type LeafUse = "server" | "client" | "server-and-client";

export interface LeafOptions {
  /** What the certificate may authenticate (default: server). */
  use?: LeafUse;
  /** Subject fields beyond the common name (the leaf's name): MongoDB tells members from clients by OU. */
  organizationalUnit?: string;
}

/** A leaf certificate of the platform CA and the files that carry it. */
export interface LeafCertificate {
  readonly name: string;
  /** Exactly the subject alternative names the certificate carries. */
  readonly dnsNames: readonly string[];
  readonly certPem: pulumi.Output<string>;
  /** Secret. */
  readonly keyPem: pulumi.Output<string>;
  /** The certificate followed by its key, the single PEM some servers and drivers want. Secret. */
  readonly bundlePem: pulumi.Output<string>;
  readonly caCertPem: pulumi.Output<string>;
  /** RFC 3339 end of validity; the first `pulumi up` after `renewsFrom` re-issues it. */
  readonly validUntil: pulumi.Output<string>;
  readonly renewsFrom: pulumi.Output<string>;
  /** CA and certificate as plain files, the key as a secret file readable by its owner only. */
  files(paths: TlsFilePaths): WorkloadFile[];
}

export interface PlatformPkiArgs {
  naming: PkiNaming;
  settings: TlsConfig;
}

const USES: Record<LeafUse, string[]> = {
  server: ["digital_signature", "key_encipherment", "server_auth"],
  client: ["digital_signature", "key_encipherment", "client_auth"],
  "server-and-client": ["digital_signature", "key_encipherment", "server_auth", "client_auth"],
};

// ECDSA P-256: every server here (OpenSSL-based PostgreSQL, PgBouncer, Redis, MongoDB; Erlang's
// ssl for RabbitMQ) and every client (Node, Go) accepts it, and it is cheap to handshake.
const KEY = { algorithm: "ECDSA", ecdsaCurve: "P256" } as const;

/**
 * The platform CA and the leaves it signs. One instance per stack; layers ask it for their
 * servers' certificates. Renewal is the tls provider's: a certificate inside its early-renewal
 * window plans as replaced on the next `pulumi up` (ready_for_renewal), its dependants receive the
 * new PEM and the runtime restarts them onto the new files. A renewed CA re-issues every leaf
 * (their caCertPem input changes, which replaces them).
 */
export class PlatformPki extends pulumi.ComponentResource {
  readonly caCertPem: pulumi.Output<string>;
  readonly naming: PkiNaming;
  private readonly caKeyPem: pulumi.Output<string>;
  private readonly settings: TlsConfig;
  private readonly issued = new Map<string, LeafCertificate>();

  constructor(name: string, args: PlatformPkiArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fundament:pki:PlatformPki", name, {}, opts);
    this.naming = args.naming;
    this.settings = args.settings;
    const caKey = new tls.PrivateKey(`${name}-ca-key`, KEY, { parent: this });
    const ca = new tls.SelfSignedCert(
      `${name}-ca`,
      {
        privateKeyPem: caKey.privateKeyPem,
        isCaCertificate: true,
        setSubjectKeyId: true,
        validityPeriodHours: args.settings.caValidityHours,
        earlyRenewalHours: args.settings.earlyRenewalHours,
        allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
        subject: { commonName: `${PKI_ORGANIZATION} platform CA`, organization: PKI_ORGANIZATION },
      },
      { parent: this },
    );
    this.caCertPem = ca.certPem;
    this.caKeyPem = pulumi.secret(caKey.privateKeyPem);
    this.registerOutputs({ caCertPem: this.caCertPem });
  }

  /** The names clients dial to reach `workload` on this stack's target. */
  dnsNames(workload: string, options: WorkloadNameOptions = {}): string[] {
    return workloadDnsNames(this.naming, workload, options);
  }

  /** The server certificate of a workload, for the names its clients dial on this target. */
  serverLeaf(workload: string, options: WorkloadNameOptions & LeafOptions = {}): LeafCertificate {
    return this.leaf(workload, this.dnsNames(workload, options), options);
  }

  /** A leaf signed by the platform CA for exactly `dnsNames` (none for a client-only certificate). */
  leaf(name: string, dnsNames: readonly string[], options: LeafOptions = {}): LeafCertificate {
    if (this.issued.has(name)) throw new Error(`pki: a leaf named ${name} was already issued`);
    const use = options.use ?? "server";
    if (use !== "client" && dnsNames.length === 0) throw new Error(`pki: leaf ${name} authenticates a server and needs at least one DNS name`);
    const opts = { parent: this };
    const key = new tls.PrivateKey(`${name}-tls-key`, KEY, opts);
    const request = new tls.CertRequest(
      `${name}-tls-csr`,
      {
        privateKeyPem: key.privateKeyPem,
        subject: { commonName: name, organization: PKI_ORGANIZATION, organizationalUnit: options.organizationalUnit },
        dnsNames: [...dnsNames],
      },
      opts,
    );
    const cert = new tls.LocallySignedCert(
      `${name}-tls-cert`,
      {
        certRequestPem: request.certRequestPem,
        caPrivateKeyPem: this.caKeyPem,
        caCertPem: this.caCertPem,
        validityPeriodHours: this.settings.validityHours,
        earlyRenewalHours: this.settings.earlyRenewalHours,
        setSubjectKeyId: true,
        allowedUses: USES[use],
      },
      opts,
    );
    const keyPem = pulumi.secret(key.privateKeyPem);
    const earlyMs = this.settings.earlyRenewalHours * 3_600_000;
    const caCertPem = this.caCertPem;
    const leaf: LeafCertificate = {
      name,
      dnsNames: [...dnsNames],
      certPem: cert.certPem,
      keyPem,
      bundlePem: pulumi.secret(pulumi.interpolate`${cert.certPem}${key.privateKeyPem}`),
      caCertPem,
      validUntil: cert.validityEndTime,
      renewsFrom: cert.validityEndTime.apply((end) => (end ? new Date(Date.parse(end) - earlyMs).toISOString() : end)),
      files: (paths: TlsFilePaths): WorkloadFile[] => [
        caFile(paths.ca, caCertPem),
        { path: paths.cert, content: cert.certPem, mode: 0o444 },
        { path: paths.key, content: keyPem, secret: true, mode: 0o400 },
      ],
    };
    this.issued.set(name, leaf);
    return leaf;
  }

  /** Every leaf issued so far, by name (stack outputs list their names and renewal dates). */
  leaves(): LeafCertificate[] {
    return [...this.issued.values()];
  }
}
