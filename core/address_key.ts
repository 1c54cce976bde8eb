/**
 * The key a per-address limit counts under. An IPv6 client usually holds a whole /64, so its
 * addresses count as one; IPv4 addresses count each on their own.
 */
export function addressKey(address: string): string {
  const ip = address.replace(/^\[|\]$/g, "").toLowerCase();
  if (!ip.includes(":") || /^::ffff:\d+\.\d+\.\d+\.\d+$/.test(ip)) {
    return ip.replace(/^::ffff:/, "");
  }
  const [head, tail = ""] = ip.split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = [
    ...left,
    ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"),
    ...right,
  ];
  return `${groups.slice(0, 4).map((g) => g.padStart(4, "0")).join(":")}::/64`;
}
