import { statfs } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { ConfigError } from "../../config.ts";

/**
 * SQLite's locking is only as good as the file system's: on NFS, SMB (Azure Files), sshfs, 9p
 * and the like, two processes can both believe they hold the write lock, and the database is
 * corrupted. So the server refuses to open one there. Two ways to tell, because Deno's sandbox
 * allows reading `/proc` only under `--allow-all`: `statfs(2)` of the directory (the tasks grant
 * `--allow-sys=statfs`), which names the kind of file system by its magic number, and the mount
 * table, which also names the kind of a FUSE file system, when it can be read.
 */

/** A mounted file system, from `/proc/self/mountinfo` or `/proc/mounts`. */
export interface Mount {
  mountPoint: string;
  fsType: string;
}

/** Where a path lives, when that is a network file system. */
export interface NetworkFileSystem {
  fsType: string;
  /** The mount point, when the mount table was read. */
  mountPoint?: string;
}

const NETWORK_TYPES = new Set([
  "nfs",
  "nfs4",
  "cifs",
  "smb3",
  "smbfs",
  "smb",
  "9p",
  "afs",
  "ceph",
  "coda",
  "ncpfs",
  "ncp",
  "lustre",
  "gpfs",
  "glusterfs",
  "beegfs",
  "davfs",
  "orangefs",
  "pvfs2",
]);

/** FUSE file systems (type `fuse.<name>`) that reach over the network. */
const NETWORK_FUSE = new Set([
  "sshfs",
  "glusterfs",
  "ceph-fuse",
  "cephfs",
  "s3fs",
  "gcsfuse",
  "rclone",
  "blobfuse",
  "blobfuse2",
  "juicefs",
  "goofys",
  "mountpoint-s3",
  "davfs2",
  "lizardfs",
  "mfs",
  "seaweedfs",
  "curlftpfs",
]);

/** The statfs(2) `f_type` magic numbers of network file systems (Linux, `linux/magic.h`). */
const NETWORK_MAGIC = new Map<number, string>([
  [0x6969, "nfs"],
  [0x517b, "smbfs"],
  [0xff534d42, "cifs"],
  [0xfe534d42, "smb3"],
  [0x01021997, "9p"],
  [0x5346414f, "afs"],
  [0x6b414653, "afs"],
  [0x00c36400, "ceph"],
  [0x73757245, "coda"],
  [0x564c, "ncpfs"],
  [0x0bd00bd0, "lustre"],
  [0x47504653, "gpfs"],
]);

const FUSE_MAGIC = 0x65735546;

/** Whether a mount table's file system type (`nfs4`, `fuse.sshfs` …) is a network one. */
export function isNetworkFsType(fsType: string): boolean {
  const type = fsType.toLowerCase();
  if (NETWORK_TYPES.has(type) || type.startsWith("nfs")) return true;
  const [base, sub] = type.split(".", 2);
  return (base === "fuse" || base === "fuseblk") && sub !== undefined && NETWORK_FUSE.has(sub);
}

/**
 * The network file system a statfs(2) magic number stands for; `"fuse"` for any FUSE file
 * system, which could be sshfs as well as a local one; null for the rest.
 */
export function networkFsByMagic(magic: number): string | null {
  const type = magic >>> 0;
  if (type === FUSE_MAGIC) return "fuse";
  return NETWORK_MAGIC.get(type) ?? null;
}

/** Undoes the octal escapes (`\040` for a space) the kernel writes in mount points. */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal) => String.fromCharCode(parseInt(octal, 8)));
}

/**
 * Parses `/proc/self/mountinfo` (`36 35 98:0 / /mnt rw - ext4 /dev/sda1 rw`) or `/proc/mounts`
 * (`server:/export /mnt nfs4 rw 0 0`) text, in mount order.
 */
export function parseMounts(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split("\n")) {
    const fields = line.trim().split(" ");
    if (fields.length < 3) continue;
    const separator = fields.indexOf("-", 6);
    if (/^\d+$/.test(fields[0]) && /^\d+$/.test(fields[1]) && separator > 0) {
      const fsType = fields[separator + 1];
      if (fsType) mounts.push({ mountPoint: unescapeMountField(fields[4]), fsType });
    } else {
      mounts.push({ mountPoint: unescapeMountField(fields[1]), fsType: fields[2] });
    }
  }
  return mounts;
}

/** The mount a resolved absolute path lives on: the longest mount point that contains it. */
export function mountOf(mounts: Mount[], path: string): Mount | null {
  let best: Mount | null = null;
  for (const mount of mounts) {
    const point = mount.mountPoint;
    const contains = point === "/" || path === point || path.startsWith(point + "/");
    // Later mounts on the same point hide earlier ones, so a tie goes to the later line.
    if (contains && (!best || point.length >= best.mountPoint.length)) best = mount;
  }
  return best;
}

/**
 * Pure: the network file system `path` (absolute, symlinks resolved) is on, according to a mount
 * table's text, or null when it is on a local one.
 *
 * @example
 * ```ts
 * networkFileSystemOf("srv:/export /mnt/data nfs4 rw 0 0\n", "/mnt/data/pensieve");
 * // → { fsType: "nfs4", mountPoint: "/mnt/data" }
 * ```
 */
export function networkFileSystemOf(mountsText: string, path: string): NetworkFileSystem | null {
  const mount = mountOf(parseMounts(mountsText), path);
  return mount && isNetworkFsType(mount.fsType)
    ? { fsType: mount.fsType, mountPoint: mount.mountPoint }
    : null;
}

async function readMountTable(): Promise<string | null> {
  try {
    return await Deno.readTextFile("/proc/self/mountinfo");
  } catch {
    // Not Linux, or (usually) Deno's sandbox, which opens /proc only under --allow-all.
    return null;
  }
}

async function magicOf(dir: string): Promise<number | null> {
  if (Deno.build.os !== "linux") return null; // other kernels number their file systems apart
  try {
    return Number((await statfs(dir)).type);
  } catch {
    return null; // no --allow-sys=statfs
  }
}

/**
 * Where the directory `dir` lives: `network` (with what), `local`, or `unknown` when neither
 * statfs nor the mount table could be consulted (not Linux, or not permitted).
 */
export async function detectFileSystem(
  dir: string,
): Promise<{ kind: "network"; fs: NetworkFileSystem } | { kind: "local" } | { kind: "unknown" }> {
  let path = resolve(dir);
  try {
    path = await Deno.realPath(path);
  } catch {
    // Not readable or not there: judge the path as written.
  }
  const magic = await magicOf(path);
  const byMagic = magic === null ? null : networkFsByMagic(magic);
  if (magic !== null && byMagic === null) return { kind: "local" };
  if (byMagic !== null && byMagic !== "fuse") return { kind: "network", fs: { fsType: byMagic } };
  // FUSE, or statfs not allowed: the mount table names the file system, when it can be read.
  const table = await readMountTable();
  if (table !== null) {
    const found = networkFileSystemOf(table, path);
    return found ? { kind: "network", fs: found } : { kind: "local" };
  }
  // A FUSE file system whose kind cannot be told is treated as a network one: sshfs is common.
  if (byMagic === "fuse") return { kind: "network", fs: { fsType: "fuse (kind unknown)" } };
  return { kind: "unknown" };
}

/**
 * Throws a ConfigError naming the path and the file system when the SQLite file's directory is on
 * a network file system, unless `allowNetworkFs` (PENSIEVE_SQLITE_ALLOW_NETWORK_FS) is set.
 * Creates the directory, as opening the store would. Returns whether the check could be made.
 */
export async function refuseNetworkFileSystem(
  dbPath: string,
  allowNetworkFs: boolean,
): Promise<"local" | "allowed" | "unchecked"> {
  if (dbPath === ":memory:" || dbPath.startsWith("file:")) return "unchecked";
  const dir = dirname(dbPath);
  await Deno.mkdir(dir, { recursive: true });
  const found = await detectFileSystem(dir);
  if (found.kind === "unknown") return "unchecked";
  if (found.kind === "local") return "local";
  if (allowNetworkFs) return "allowed";
  throw networkFileSystemError(dbPath, found.fs);
}

/** The one-line refusal: which file, on what, and the way out. */
export function networkFileSystemError(dbPath: string, fs: NetworkFileSystem): ConfigError {
  const where = fs.mountPoint ? ` mounted at ${fs.mountPoint}` : "";
  return new ConfigError(
    `PENSIEVE_DB: the SQLite file ${dbPath} is on a network file system (${fs.fsType}${where}), ` +
      "where SQLite's locking is unreliable and the database can be corrupted. Keep it on a " +
      "local disk (instances on more than one machine need the MongoDB store), or set " +
      "PENSIEVE_SQLITE_ALLOW_NETWORK_FS=1 if only one process on one machine ever opens it.",
  );
}
