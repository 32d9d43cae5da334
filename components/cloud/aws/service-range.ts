/**
 * The cluster's Service address range, chosen as EKS chooses it when none is given (outside the
 * VPC: 172.20.0.0/16 for a VPC in 10.0.0.0/8, else 10.100.0.0/16), but stated on the cluster so
 * the network policies that let pods reach the API server's Service address can name it.
 */
export function serviceRangeFor(vpcCidr: string): string {
  const first = Number(vpcCidr.split(".")[0]);
  return first === 10 ? "172.20.0.0/16" : "10.100.0.0/16";
}
