#!/usr/bin/env node
// A minimal MCP server over stdio (JSON-RPC, one message a line) with one tool, `ping`, installed in
// the job-run image under the name a run's --local-tools asks for. It answers with its own name, so a
// test sees that the agent's MCP call reached it.
const readline = require("readline");
const name = require("path").basename(process.argv[1]);
const send = (message) => process.stdout.write(JSON.stringify(message) + "\n");
readline.createInterface({ input: process.stdin }).on("line", (line) => {
  let request;
  try {
    request = JSON.parse(line);
  } catch {
    return;
  }
  if (request.id === undefined) return; // a notification
  const results = {
    initialize: {
      protocolVersion: request.params?.protocolVersion ?? "2024-11-05",
      capabilities: { tools: {} },
      serverInfo: { name, version: "1.0.0" },
    },
    "tools/list": {
      tools: [{ name: "ping", description: "Answers pong", inputSchema: { type: "object", properties: {} } }],
    },
    "tools/call": { content: [{ type: "text", text: `pong from ${name}` }] },
  };
  if (request.method in results) send({ jsonrpc: "2.0", id: request.id, result: results[request.method] });
  else send({ jsonrpc: "2.0", id: request.id, error: { code: -32601, message: "no such method" } });
});
