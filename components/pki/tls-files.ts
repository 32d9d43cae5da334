import * as pulumi from "@pulumi/pulumi";
import type { WorkloadFile } from "../runtime/workload";

/** Where a workload finds its TLS material; each server's layer picks a directory its image reads. */
export interface TlsFilePaths {
  /** The platform CA certificate: what a client verifies the server against. */
  ca: string;
  /** The leaf certificate (public). */
  cert: string;
  /** The leaf's private key: a secret file. */
  key: string;
}

export const CA_FILE_NAME = "ca.crt";

/** The usual three files in one directory: ca.crt, tls.crt, tls.key. */
export function tlsFilePaths(directory: string): TlsFilePaths {
  return { ca: `${directory}/${CA_FILE_NAME}`, cert: `${directory}/tls.crt`, key: `${directory}/tls.key` };
}

/** The CA certificate as a file: every client of a TLS server gets one. */
export function caFile(path: string, caCertPem: pulumi.Input<string>): WorkloadFile {
  return { path, content: caCertPem, mode: 0o444 };
}
