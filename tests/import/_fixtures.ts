/** Export files written for the tests: ChatGPT's and Claude's shapes, with their odd corners. */

const T0 = 1_700_000_000; // epoch seconds

function node(
  id: string,
  parent: string | null,
  children: string[],
  message: Record<string, unknown> | null,
) {
  return { id, parent, children, message };
}

function msg(
  id: string,
  role: string,
  content: Record<string, unknown>,
  extra: Record<string, unknown> = {},
) {
  return {
    id,
    author: { role, name: null, metadata: {} },
    create_time: T0 + Number(id.replace(/\D/g, "") || 0),
    content,
    weight: 1,
    metadata: {},
    ...extra,
  };
}

const text = (...parts: unknown[]) => ({ content_type: "text", parts });

/** A ChatGPT conversation with a regenerated answer: current_node picks the second branch. */
export function chatgptBranched() {
  return {
    id: "cg-branch",
    conversation_id: "cg-branch",
    title: "Branches",
    create_time: T0,
    update_time: T0 + 100,
    current_node: "n5",
    mapping: {
      root: node("root", null, ["n1"], null),
      n1: node(
        "n1",
        "root",
        ["n2"],
        msg("n1", "system", text("You are ChatGPT"), {
          weight: 0,
          metadata: { is_visually_hidden_from_conversation: true },
        }),
      ),
      n2: node("n2", "n1", ["n3", "n4"], msg("n2", "user", text("Name a colour"))),
      n3: node("n3", "n2", [], msg("n3", "assistant", text("Red (first try)"))),
      n4: node(
        "n4",
        "n2",
        ["n5"],
        msg("n4", "assistant", text("Blue (regenerated)"), {
          metadata: { model_slug: "gpt-4o" },
        }),
      ),
      n5: node("n5", "n4", [], msg("n5", "user", text("Why blue?"))),
    },
  };
}

/** Null title and times, code and its output, a tool message, an image, an attachment. */
export function chatgptOddParts() {
  return {
    id: "cg-odd",
    title: null,
    create_time: null,
    update_time: null,
    current_node: "m6",
    mapping: {
      m1: node(
        "m1",
        null,
        ["m2"],
        msg("m1", "user", {
          content_type: "multimodal_text",
          parts: [
            { content_type: "image_asset_pointer", asset_pointer: "file-service://file-abc" },
            "What is in this picture?",
          ],
        }, { metadata: { attachments: [{ name: "photo.png", mime_type: "image/png" }] } }),
      ),
      m2: node(
        "m2",
        "m1",
        ["m3"],
        msg("m2", "assistant", {
          content_type: "code",
          language: "python",
          text: "print(1 + 1)",
        }),
      ),
      m3: node("m3", "m2", ["m4"], {
        ...msg("m3", "tool", { content_type: "execution_output", text: "2" }),
        author: { role: "tool", name: "python" },
      }),
      m4: node("m4", "m3", ["m5"], msg("m4", "assistant", text(""))),
      m5: node("m5", "m4", ["m6"], null),
      m6: node("m6", "m5", [], msg("m6", "assistant", text("It prints 2."))),
    },
  };
}

/** No current_node and no children links (newer exports): the newest leaf is the thread. */
export function chatgptNoCurrentNode() {
  return {
    conversation_id: "cg-leaf",
    title: "Leaf",
    create_time: T0,
    update_time: T0 + 9,
    mapping: {
      a: { id: "a", parent: null, message: msg("a1", "user", text("hello")) },
      b: { id: "b", parent: "a", message: msg("b2", "assistant", text("old answer")) },
      c: { id: "c", parent: "a", message: msg("c9", "assistant", text("newest answer")) },
    },
  };
}

/** A conversation that cannot be read: no mapping. */
export function chatgptBroken() {
  return { id: "cg-broken", title: "Broken", current_node: "x" };
}

/** A Claude conversation with branches, thinking, tool use and an attachment. */
export function claudeConversation() {
  const at = (s: number) => new Date((T0 + s) * 1000).toISOString();
  return {
    uuid: "cl-1",
    name: "",
    created_at: at(0),
    updated_at: at(50),
    chat_messages: [
      {
        uuid: "u1",
        sender: "human",
        text: "Summarise the file",
        content: [{ type: "text", text: "Summarise the file" }],
        attachments: [{ file_name: "notes.txt", extracted_content: "line one\nline two" }],
        files: [],
        created_at: at(1),
        parent_message_uuid: "00000000-0000-4000-8000-000000000000",
      },
      {
        uuid: "a1",
        sender: "assistant",
        text: "",
        content: [
          { type: "thinking", thinking: "The user wants a summary." },
          { type: "tool_use", name: "search", input: { q: "notes" } },
          { type: "tool_result", name: "search", content: [{ type: "text", text: "found" }] },
          { type: "text", text: "Old branch answer" },
        ],
        created_at: at(2),
        parent_message_uuid: "u1",
      },
      {
        uuid: "a2",
        sender: "assistant",
        text: "fallback text",
        content: [
          { type: "thinking", thinking: "Try again, shorter." },
          { type: "text", text: "Two lines about notes." },
        ],
        created_at: at(3),
        parent_message_uuid: "u1",
      },
    ],
  };
}

export function json(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}
