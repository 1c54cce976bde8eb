const url = Deno.env.get("PENSIEVE_TEST_MONGODB_URL");

if (!url) {
  Deno.test({
    name: "mongodb: store contract skipped: PENSIEVE_TEST_MONGODB_URL is not set",
    ignore: true,
    fn() {},
  });
} else {
  Deno.test("mongodb: store contract", () => {
    throw new Error(
      "PENSIEVE_TEST_MONGODB_URL is set, but the MongoDB adapter does not exist yet (issue 7).",
    );
  });
}
