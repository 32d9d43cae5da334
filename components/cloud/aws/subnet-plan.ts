/**
 * Subnet arithmetic of the VPC, a pure function so it can be tested over its whole input range.
 * The VPC is cut into eight blocks: zone i's private subnet is block i (pods take VPC addresses
 * through vpc-cni, so private subnets get the room), and the last block is cut again into eight
 * public subnets (load balancers and NAT gateways need few addresses).
 */

export interface ZoneSubnets {
  zone: string;
  privateCidr: string;
  publicCidr: string;
}

function toInt(address: string): number {
  return address.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

function toAddress(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join(".");
}

function parseCidr(cidr: string): { base: number; prefix: number } {
  const [address, prefixText] = cidr.split("/");
  const prefix = Number(prefixText);
  const size = 2 ** (32 - prefix);
  // The network address: host bits cleared, whatever the user wrote.
  return { base: Math.floor(toInt(address) / size) * size, prefix };
}

/** The nth block of prefix `prefix + bits` inside `cidr`. */
export function subnetOf(cidr: string, bits: number, index: number): string {
  const { base, prefix } = parseCidr(cidr);
  if (index < 0 || index >= 2 ** bits) throw new Error(`subnet ${index} does not fit in ${cidr} split ${bits} bits`);
  const size = 2 ** (32 - prefix - bits);
  return `${toAddress(base + index * size)}/${prefix + bits}`;
}

/** Private and public subnets for up to six zones; none overlap and all lie inside the VPC. */
export function planSubnets(vpcCidr: string, zones: readonly string[]): ZoneSubnets[] {
  if (zones.length > 6) throw new Error(`at most 6 zones fit the subnet plan (got ${zones.length})`);
  const publicBlock = subnetOf(vpcCidr, 3, 7);
  return zones.map((zone, i) => ({ zone, privateCidr: subnetOf(vpcCidr, 3, i), publicCidr: subnetOf(publicBlock, 3, i) }));
}

/** Whether `inner` lies inside `outer`. */
export function cidrContains(outer: string, inner: string): boolean {
  const o = parseCidr(outer);
  const i = parseCidr(inner);
  return i.prefix >= o.prefix && Math.floor(i.base / 2 ** (32 - o.prefix)) === Math.floor(o.base / 2 ** (32 - o.prefix));
}
