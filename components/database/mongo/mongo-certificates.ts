// MongoDB's server certificate and the exporter's client certificate, both from the platform CA.
// percona/mongodb_exporter reads no password file and its image has no shell to read one, so it
// authenticates by certificate (MONGODB-X509): the only credential is a key in a file.
import * as pulumi from "@pulumi/pulumi";
import { PKI_ORGANIZATION, PlatformPki } from "../../pki/platform-pki";

export const MONGO_CERT_ORGANIZATION = PKI_ORGANIZATION;
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

/**
 * Both from the platform CA. The server's certificate also authenticates it as a client (the
 * replica set's own connections); "localhost" is for the probes mongosh runs inside its container.
 */
export function mongoCertificates(name: string, pki: PlatformPki): MongoCertificates {
  const server = pki.serverLeaf(name, { extra: ["localhost"], use: "server-and-client", organizationalUnit: MONGO_SERVER_UNIT });
  const exporterCommonName = `${name}-exporter`;
  const exporter = pki.leaf(exporterCommonName, [], { use: "client", organizationalUnit: MONGO_CLIENT_UNIT });
  return {
    caCertPem: pki.caCertPem,
    serverPem: server.bundlePem,
    exporterPem: exporter.bundlePem,
    exporterSubject: mongoExporterSubject(exporterCommonName),
  };
}
