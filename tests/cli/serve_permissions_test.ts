import assert from "node:assert/strict";
import { CONFIG_VARIABLES, parseConfig } from "../../config.ts";
import {
  mongoNetEntries,
  nameserversOf,
  type ServeHost,
  servePermissions,
} from "../../cli/serve_permissions.ts";

const HOST: ServeHost = {
  appDir: "/app",
  nameservers: ["127.0.0.11"],
  extraNet: [],
  secretFiles: [],
};

/** The flags as a map from name to its comma-separated list. */
function grants(flags: string[]): Record<string, string[]> {
  return Object.fromEntries(flags.map((flag) => {
    const [name, list] = flag.split("=", 2);
    return [name, list.split(",")];
  }));
}

Deno.test("SQLite in the container: listen address, DNS, metadata documents; data dir only", () => {
  const config = parseConfig({ PENSIEVE_DB: "sqlite:/app/data/pensieve.db" });
  const g = grants(servePermissions(config, HOST));
  assert.deepEqual(g["--allow-net"], ["0.0.0.0:8000", "127.0.0.11:53", "0.0.0.0/0:443"]);
  assert.deepEqual(g["--allow-env"], [...CONFIG_VARIABLES, "NAPI_RS_*"]);
  assert.ok(g["--allow-env"].includes("PENSIEVE_JWT_SECRET"));
  assert.ok(!g["--allow-env"].some((v) => v.startsWith("MONGODB")));
  assert.deepEqual(g["--allow-sys"], ["cpus", "networkInterfaces", "hostname", "statfs"]);
  assert.deepEqual(g["--allow-ffi"], ["/app/node_modules"]);
  assert.deepEqual(g["--allow-read"], ["/app", "/app/data"]);
  assert.deepEqual(g["--allow-write"], ["/app/data"]);
});

Deno.test("SQLite outside the data dir, relative paths, IPv6 listen, extras and secret files", () => {
  const config = parseConfig({
    HOST: "::",
    PORT: "9000",
    PENSIEVE_DB: "sqlite:/var/lib/pensieve/pensieve.db",
    PENSIEVE_DATA_DIR: "./state",
  });
  const g = grants(servePermissions(config, {
    appDir: "/srv/app",
    nameservers: ["fd00::53", "10.0.0.2"],
    extraNet: ["proxy.internal:3128"],
    secretFiles: ["/run/secrets/jwt"],
  }));
  assert.deepEqual(g["--allow-net"], [
    "[::]:9000",
    "[fd00::53]:53",
    "10.0.0.2:53",
    "0.0.0.0/0:443",
    "proxy.internal:3128",
  ]);
  assert.deepEqual(g["--allow-read"], [
    "/srv/app",
    "/srv/app/state",
    "/run/secrets/jwt",
    "/var/lib/pensieve",
  ]);
  assert.deepEqual(g["--allow-write"], ["/srv/app/state", "/var/lib/pensieve"]);
});

Deno.test("MongoDB: the cluster's hosts, the driver's variables and osRelease", () => {
  const config = parseConfig({
    PENSIEVE_DB:
      "mongodb+srv://ada:p%40ss@pensieve.global.mongocluster.cosmos.azure.com/?tls=true&retrywrites=false",
  });
  const g = grants(servePermissions(config, HOST));
  assert.deepEqual(g["--allow-net"], [
    "0.0.0.0:8000",
    "127.0.0.11:53",
    "0.0.0.0/0:443",
    "*.global.mongocluster.cosmos.azure.com",
  ]);
  assert.ok(g["--allow-env"].includes("MONGODB_*"));
  assert.ok(g["--allow-env"].includes("AWS_EXECUTION_ENV"));
  assert.ok(g["--allow-sys"].includes("osRelease"));
  assert.deepEqual(g["--allow-write"], ["/app/data"]);
});

Deno.test("MongoDB URLs: seeds with ports, replica set domains, IPv6, credentials with @", () => {
  assert.deepEqual(mongoNetEntries("mongodb://mongo:27017/pensieve"), ["mongo:27017"]);
  assert.deepEqual(mongoNetEntries("mongodb://mongo/pensieve"), ["mongo:27017"]);
  assert.deepEqual(mongoNetEntries("mongodb://u:p@w@[::1]:27018,10.0.0.4/db"), [
    "[::1]:27018",
    "10.0.0.4:27017",
  ]);
  assert.deepEqual(
    mongoNetEntries(
      "mongodb://acct:key==@acct.mongo.cosmos.azure.com:10255/?ssl=true&replicaSet=globaldb",
    ),
    ["acct.mongo.cosmos.azure.com:10255", "*.mongo.cosmos.azure.com"],
  );
  assert.deepEqual(
    mongoNetEntries("mongodb://a.db.example.com:27017,b.db.example.com:27017/?replicaSet=rs0"),
    ["a.db.example.com:27017", "*.db.example.com", "b.db.example.com:27017"],
  );
  assert.deepEqual(mongoNetEntries("mongodb+srv://cluster0.abcd.mongodb.net"), [
    "*.abcd.mongodb.net",
  ]);
  assert.deepEqual(mongoNetEntries("mongodb+srv://mongo.local/db"), ["*.mongo.local"]);
});

Deno.test("name servers from resolv.conf", () => {
  assert.deepEqual(
    nameserversOf(
      "# generated\nsearch example.internal\nnameserver 127.0.0.11\n  nameserver fe80::1%eth0\noptions ndots:0\n",
    ),
    ["127.0.0.11", "fe80::1"],
  );
  assert.deepEqual(nameserversOf(""), []);
});

Deno.test("Deno accepts the flags, and they grant what they say and no more", async () => {
  const config = parseConfig({
    PENSIEVE_DB: "mongodb+srv://u:p@c1.mongocluster.cosmos.azure.com/?tls=true",
  });
  const flags = servePermissions(config, { ...HOST, appDir: Deno.cwd() });
  const probe = `
    const q = (d) => Deno.permissions.querySync(d).state;
    console.log(JSON.stringify({
      listen: q({ name: "net", host: "0.0.0.0:8000" }),
      db: q({ name: "net", host: "fc-1-000.c1.mongocluster.cosmos.azure.com:10260" }),
      dns: q({ name: "net", host: "127.0.0.11:53" }),
      metadataDocument: q({ name: "net", host: "93.184.215.14:443" }),
      elsewhere: q({ name: "net", host: "example.com:443" }),
      otherPort: q({ name: "net", host: "93.184.215.14:80" }),
      jwtSecret: q({ name: "env", variable: "PENSIEVE_JWT_SECRET" }),
      home: q({ name: "env", variable: "HOME" }),
      appDir: q({ name: "read", path: Deno.cwd() + "/main.ts" }),
      etc: q({ name: "read", path: "/etc/passwd" }),
      writeApp: q({ name: "write", path: Deno.cwd() + "/main.ts" }),
      run: q({ name: "run" }),
    }));`;
  const file = await Deno.makeTempFile({ suffix: ".js" });
  try {
    await Deno.writeTextFile(file, probe);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", ...flags, file],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), {
      listen: "granted",
      db: "granted",
      dns: "granted",
      metadataDocument: "granted",
      elsewhere: "prompt",
      otherPort: "prompt",
      jwtSecret: "granted",
      home: "prompt",
      appDir: "granted",
      etc: "prompt",
      writeApp: "prompt",
      run: "prompt",
    });
  } finally {
    await Deno.remove(file);
  }
});

function denoEnvironment(): Record<string, string> {
  const names = ["HOME", "PATH", "DENO_DIR", "XDG_CACHE_HOME"];
  return Object.fromEntries(
    names.flatMap((name) => {
      const value = Deno.env.get(name);
      return value === undefined ? [] : [[name, value]];
    }),
  );
}

Deno.test("the task's helper: a MongoDB URL (from a secret file where config reads one)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pensieve-serve-flags-" });
  try {
    const secret = `${dir}/database-url`;
    await Deno.writeTextFile(secret, "mongodb+srv://u:p@c1.abcd.mongodb.net/pensieve\n");
    const run = (env: Record<string, string>) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "--no-prompt", "--allow-env", "--allow-read", "cli/serve_permissions.ts"],
        cwd: new URL("../../", import.meta.url).pathname,
        // Only what Deno needs to find its cache, so no PENSIEVE_* of this shell leaks in.
        env: { ...denoEnvironment(), PENSIEVE_DATA_DIR: dir, ...env },
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      }).output();
    // The URL comes from PENSIEVE_DB_FILE where config.ts reads one, else from PENSIEVE_DB.
    const fromFile = CONFIG_VARIABLES.includes("PENSIEVE_DB_FILE");
    const out = await run({
      ...(fromFile
        ? { PENSIEVE_DB_FILE: secret }
        : { PENSIEVE_DB: (await Deno.readTextFile(secret)).trim() }),
      PENSIEVE_ALLOW_NET: "proxy:3128",
    });
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const g = grants(new TextDecoder().decode(out.stdout).trim().split(" "));
    assert.ok(g["--allow-net"].includes("*.abcd.mongodb.net"));
    assert.ok(g["--allow-net"].includes("proxy:3128"));
    if (fromFile) {
      assert.ok(g["--allow-read"].includes(secret));
      assert.ok(g["--allow-env"].includes("PENSIEVE_DB_FILE"));
    }

    // A bad setting: only the environment is granted, so main.ts reports it in its own words.
    const bad = await run({ PORT: "not a port" });
    assert.equal(bad.code, 0);
    assert.equal(
      new TextDecoder().decode(bad.stdout).trim(),
      `--allow-env=${CONFIG_VARIABLES.join(",")}`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
