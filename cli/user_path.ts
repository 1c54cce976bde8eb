import { resolve } from "node:path";

/**
 * A path as the user typed it: `deno task` runs commands in the project folder, so a relative
 * path is taken from the folder the command was started in (INIT_CWD), not the project's.
 */
export function userPath(path: string): string {
  return resolve(Deno.env.get("INIT_CWD") ?? Deno.cwd(), path);
}
