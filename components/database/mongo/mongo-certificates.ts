// A CA private to one MongoDB instance, its server certificate and the exporter's client
// certificate. percona/mongodb_exporter reads no password file and its image has no shell to read
// one, so it authenticates by certificate (MONGODB-X509): the only credential is a key in a file.
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";

export const MONGO_CERT_ORGANIZATION = "fundament";
export const MONGO_SERVER_UNIT = "fundament-mongo-servers";
/** Differs from the server's OU, so mongod never mistakes the exporter for a replica set member. */
export const MONGO_CLIENT_UNIT = "fundament-mongo-clients";

/**
 * The exporter's user name in $external: its certificate subject in RFC 2253 order (most specific
 * first), which is how mongod names an X.509 client. Go's x509 (the tls provider) writes O, OU, CN
 * in that order, and RFC 2253 reverses it.
 */
export function mongoExporterSubject(commonName: string): string {
  return `CN=${commonName},OU=${MONGO_CLIENT_UNIT},O=${MONGO_CERT_ORGANIZATION}`;
}

export interface MongoCertificates {
  caCertPem: pulumi.Output<string>;
  /** Server certificate followed by its key, the single PEM mongod's certificateKeyFile wants. Secret. */
  serverPem: pulumi.Output<string>;
  /** Exporter certificate followed by its key (the driver's tlsCertificateKeyFile). Secret. */
  exporterPem: pulumi.Output<string>;
  exporterSubject: string;
}

const VALID_HOURS = 2 * 365 * 24;
// `pulumi up` inside the last 30 days re-issues the certificate instead of letting it lapse.
const EARLY_RENEWAL_HOURS = 30 * 24;

export function mongoCertificates(name: string, dnsNames: string[], parent: pulumi.Resource): MongoCertificates {
  const opts = { parent };
  const caKey = new tls.PrivateKey(`${name}-ca-key`, { algorithm: "RSA", rsaBits: 3072 }, opts);
  const ca = new tls.SelfSignedCert(
    `${name}-ca`,
    {
      privateKeyPem: caKey.privateKeyPem,
      isCaCertificate: true,
      validityPeriodHours: 10 * 365 * 24,
      allowedUses: ["cert_signing", "crl_signing"],
      subject: { commonName: `${name} MongoDB CA`, organization: MONGO_CERT_ORGANIZATION },
    },
    opts,
  );

  const issue = (suffix: string, subject: tls.types.input.CertRequestSubject, uses: string[], sans: string[]) => {
    const key = new tls.PrivateKey(`${name}-${suffix}-key`, { algorithm: "RSA", rsaBits: 2048 }, opts);
    const request = new tls.CertRequest(`${name}-${suffix}-csr`, { privateKeyPem: key.privateKeyPem, subject, dnsNames: sans }, opts);
    const cert = new tls.LocallySignedCert(
      `${name}-${suffix}-cert`,
      {
        certRequestPem: request.certRequestPem,
        caPrivateKeyPem: caKey.privateKeyPem,
        caCertPem: ca.certPem,
        validityPeriodHours: VALID_HOURS,
        earlyRenewalHours: EARLY_RENEWAL_HOURS,
        allowedUses: uses,
      },
      opts,
    );
    return pulumi.secret(pulumi.interpolate`${cert.certPem}${key.privateKeyPem}`);
  };

  const exporterCommonName = `${name}-exporter`;
  return {
    caCertPem: ca.certPem,
    serverPem: issue(
      "server",
      { commonName: name, organization: MONGO_CERT_ORGANIZATION, organizationalUnit: MONGO_SERVER_UNIT },
      ["digital_signature", "key_encipherment", "server_auth", "client_auth"],
      dnsNames,
    ),
    exporterPem: issue(
      "exporter",
      { commonName: exporterCommonName, organization: MONGO_CERT_ORGANIZATION, organizationalUnit: MONGO_CLIENT_UNIT },
      ["digital_signature", "key_encipherment", "client_auth"],
      [],
    ),
    exporterSubject: mongoExporterSubject(exporterCommonName),
  };
}
