/** How Pensieve names itself to MCP clients, and the version its metrics report. */
export const SERVER_INFO = { name: "pensieve", title: "Pensieve", version: "0.3.0" };
