import assert from "node:assert/strict";
import {
  detectFileSystem,
  isNetworkFsType,
  networkFileSystemError,
  networkFileSystemOf,
  networkFsByMagic,
  parseMounts,
  refuseNetworkFileSystem,
} from "../../db/sqlite/network_fs.ts";
import { CONFIG_VARIABLES, ConfigError, parseConfig } from "../../config.ts";

// /proc/mounts as a Linux host with an NFS share, Azure Files (SMB) and sshfs shows it.
const PROC_MOUNTS = `/dev/vda / ext4 rw,relatime 0 0
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
tmpfs /tmp tmpfs rw,nosuid,nodev 0 0
fileserver:/export/pensieve /mnt/pensieve nfs4 rw,relatime,vers=4.2,rsize=1048576 0 0
//acct.file.core.windows.net/share /mnt/azure cifs rw,relatime,vers=3.1.1,cache=strict 0 0
ada@host:/data /home/ada/remote fuse.sshfs rw,nosuid,nodev,relatime,user_id=1000 0 0
/dev/sdb1 /mnt/pensieve/local ext4 rw,relatime 0 0
overlay /var/lib/docker/overlay2/abc/merged overlay rw,relatime,lowerdir=/x 0 0
/dev/sdc1 /mnt/with\\040space ext4 rw,relatime 0 0
server:/vol /mnt/with\\040space/nfs nfs rw 0 0
`;

// /proc/self/mountinfo of a container: root on ext4, a volume on NFS, a rootless-podman
// fuse-overlayfs (local), and a WSL-style 9p share.
const MOUNTINFO = `27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
95 27 0:50 / /data rw,relatime shared:40 - nfs4 10.0.0.5:/export rw,vers=4.2
96 27 0:51 / /var/lib/containers rw,nodev - fuse.fuse-overlayfs fuse-overlayfs rw,user_id=0
97 27 0:52 / /srv/share rw master:3 propagate_from:2 - 9p drvfs rw,aname=drvfs
98 95 254:1 / /data/cache rw - ext4 /dev/vdb rw
`;

Deno.test("the mount table: the longest mount point holding the path decides", () => {
  assert.deepEqual(networkFileSystemOf(PROC_MOUNTS, "/mnt/pensieve/pensieve.db"), {
    fsType: "nfs4",
    mountPoint: "/mnt/pensieve",
  });
  assert.deepEqual(networkFileSystemOf(PROC_MOUNTS, "/mnt/pensieve"), {
    fsType: "nfs4",
    mountPoint: "/mnt/pensieve",
  });
  assert.equal(networkFileSystemOf(PROC_MOUNTS, "/mnt/pensieve/local/data"), null, "ext4 inside");
  assert.equal(networkFileSystemOf(PROC_MOUNTS, "/mnt/pensievex/data"), null, "only whole names");
  assert.equal(networkFileSystemOf(PROC_MOUNTS, "/app/data"), null);
  assert.equal(networkFileSystemOf(PROC_MOUNTS, "/tmp/x"), null);
  assert.deepEqual(networkFileSystemOf(PROC_MOUNTS, "/mnt/azure/pensieve"), {
    fsType: "cifs",
    mountPoint: "/mnt/azure",
  });
  assert.equal(networkFileSystemOf(PROC_MOUNTS, "/home/ada/remote/db")?.fsType, "fuse.sshfs");
  assert.equal(networkFileSystemOf(PROC_MOUNTS, "/mnt/with space/db"), null, "escaped space");
  assert.deepEqual(networkFileSystemOf(PROC_MOUNTS, "/mnt/with space/nfs/db"), {
    fsType: "nfs",
    mountPoint: "/mnt/with space/nfs",
  });
});

Deno.test("the mount table: mountinfo format, FUSE subtypes, and a later mount over a path", () => {
  assert.deepEqual(parseMounts(MOUNTINFO)[1], { mountPoint: "/data", fsType: "nfs4" });
  assert.deepEqual(networkFileSystemOf(MOUNTINFO, "/data/pensieve"), {
    fsType: "nfs4",
    mountPoint: "/data",
  });
  assert.equal(networkFileSystemOf(MOUNTINFO, "/data/cache/pensieve"), null);
  assert.equal(networkFileSystemOf(MOUNTINFO, "/var/lib/containers/x"), null, "local FUSE");
  assert.equal(networkFileSystemOf(MOUNTINFO, "/srv/share/db")?.fsType, "9p");
  const remounted = MOUNTINFO + "99 27 254:2 / /data rw - xfs /dev/vdc rw\n";
  assert.equal(networkFileSystemOf(remounted, "/data/pensieve"), null, "the later mount hides");
  assert.equal(networkFileSystemOf("", "/data"), null);
  assert.equal(networkFileSystemOf("garbage\n\n", "/data"), null);
});

Deno.test("network file system types and statfs magic numbers", () => {
  for (const type of ["nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "afs", "ceph", "glusterfs"]) {
    assert.ok(isNetworkFsType(type), type);
  }
  for (const type of ["fuse.sshfs", "fuse.glusterfs", "fuse.ceph-fuse", "fuse.s3fs"]) {
    assert.ok(isNetworkFsType(type), type);
  }
  for (const type of ["ext4", "xfs", "btrfs", "zfs", "tmpfs", "overlay", "fuse.fuse-overlayfs"]) {
    assert.ok(!isNetworkFsType(type), type);
  }
  assert.equal(networkFsByMagic(0x6969), "nfs");
  assert.equal(networkFsByMagic(0xff534d42), "cifs");
  assert.equal(networkFsByMagic(0xff534d42 | 0), "cifs", "a sign-extended f_type");
  assert.equal(networkFsByMagic(0xfe534d42), "smb3");
  assert.equal(networkFsByMagic(0x01021997), "9p");
  assert.equal(networkFsByMagic(0x65735546), "fuse");
  assert.equal(networkFsByMagic(0xef53), null, "ext4");
  assert.equal(networkFsByMagic(0x01021994), null, "tmpfs");
});

Deno.test("a temp folder on this machine is local, and the check passes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pensieve-fs-" });
  try {
    if (Deno.build.os === "linux") {
      assert.deepEqual(await detectFileSystem(dir), { kind: "local" });
      assert.equal(await refuseNetworkFileSystem(`${dir}/new/pensieve.db`, false), "local");
      assert.ok((await Deno.stat(`${dir}/new`)).isDirectory, "the folder was made");
    }
    assert.equal(await refuseNetworkFileSystem(":memory:", false), "unchecked");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the refusal names the path, the file system and the override", () => {
  const error = networkFileSystemError("/mnt/azure/pensieve.db", {
    fsType: "cifs",
    mountPoint: "/mnt/azure",
  });
  assert.ok(error instanceof ConfigError);
  assert.match(error.message, /\/mnt\/azure\/pensieve\.db/);
  assert.match(error.message, /cifs mounted at \/mnt\/azure/);
  assert.match(error.message, /PENSIEVE_SQLITE_ALLOW_NETWORK_FS=1/);
  assert.ok(!error.message.includes("\n"), "one line");
});

Deno.test("PENSIEVE_SQLITE_ALLOW_NETWORK_FS: off by default, a boolean, read by main.ts", () => {
  assert.equal(parseConfig({}).sqliteAllowNetworkFs, false);
  assert.equal(parseConfig({ PENSIEVE_SQLITE_ALLOW_NETWORK_FS: "1" }).sqliteAllowNetworkFs, true);
  assert.throws(
    () => parseConfig({ PENSIEVE_SQLITE_ALLOW_NETWORK_FS: "maybe" }),
    /PENSIEVE_SQLITE_ALLOW_NETWORK_FS must be true or false/,
  );
  assert.ok(CONFIG_VARIABLES.includes("PENSIEVE_SQLITE_ALLOW_NETWORK_FS"));
});
