import assert from "node:assert/strict";
import { signUp, startServer } from "../_helpers/server.ts";
import { chatgptBranched } from "./_fixtures.ts";

Deno.test("import jobs: progress readable from another instance while the file streams in", async () => {
  const one = await startServer();
  const two = await startServer({
    env: { PENSIEVE_DB: `sqlite:${one.dbPath}`, PENSIEVE_PUBLIC_URL: one.url },
  });
  try {
    const account = await signUp(one);
    const created = await one.call("/api/import/jobs", { method: "POST", token: account.token });
    assert.equal(created.status, 201);
    const { job } = await created.json();
    assert.equal(job.status, "waiting");
    assert.equal(created.headers.get("Location"), `/api/import/jobs/${job.id}`);

    // A file that arrives slowly: 12 conversations, one every 150 ms.
    const encoder = new TextEncoder();
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent === 12) {
          controller.enqueue(encoder.encode("]"));
          controller.close();
          return;
        }
        await new Promise((r) => setTimeout(r, 150));
        const c = chatgptBranched();
        c.id = c.conversation_id = `slow-${sent}`;
        controller.enqueue(encoder.encode((sent === 0 ? "[" : ",") + JSON.stringify(c)));
        sent++;
      },
    });
    const upload = one.call(`/api/import/jobs/${job.id}?name=slow.json`, {
      method: "PUT",
      token: account.token,
      body,
    });
    let seen: { status: string; summary: { conversations_created: number } } | null = null;
    for (let i = 0; i < 40; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const res = await two.call(`/api/import/jobs/${job.id}`, { token: account.token });
      const current = (await res.json()).job;
      if (current.status === "running" && current.summary.conversations_created > 0) {
        seen = current;
        break;
      }
    }
    assert.ok(seen, "progress was visible on the other instance while running");
    assert.ok(seen!.summary.conversations_created < 12);
    const done = await upload;
    const final = (await done.json()).job;
    assert.equal(done.status, 200);
    assert.equal(final.status, "done");
    assert.equal(final.summary.conversations_created, 12);

    const again = await one.call(`/api/import/jobs/${job.id}`, {
      method: "PUT",
      token: account.token,
      body: "[]",
    });
    assert.equal(again.status, 409);
    await again.body?.cancel();
    const other = await signUp(one);
    const foreign = await one.call(`/api/import/jobs/${job.id}`, { token: other.token });
    assert.equal(foreign.status, 404);
    await foreign.body?.cancel();

    // A bad file ends the job as failed, with the reason.
    const bad =
      (await (await one.call("/api/import/jobs", { method: "POST", token: account.token }))
        .json()).job;
    const failed = await one.call(`/api/import/jobs/${bad.id}`, {
      method: "PUT",
      token: account.token,
      body: "not json",
    });
    const failedJob = (await failed.json()).job;
    assert.equal(failed.status, 400);
    assert.equal(failedJob.status, "failed");
    assert.match(failedJob.error, /expected a list of conversations/);
  } finally {
    await two.close();
    await one.close();
  }
});
