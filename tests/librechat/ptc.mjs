// tests/librechat/ptc.mjs - drives LibreChat's programmatic tool calling
// tools (@librechat/agents 3.9.2: createProgrammaticToolCallingTool,
// createBashProgrammaticToolCallingTool) against a Code API server, with
// real LangChain tools defined here.
//
// Reads one plan (JSON) on stdin:
//   {"baseUrl", "apiKey", "lang": "py"|"bash", "code",
//    "tools": ["get-weather", ...]   (names of the tools below to offer),
//    "maxRoundTrips"?, "toolDelayMs"?,
//    "abortAfterCall"?: abort the run 300 ms after the host's tool ran that
//                       many times (the continuation is then in flight)}
// invokes the tool as the library's ToolNode does (a tool call carrying
// toolMap and toolDefs) and prints one JSON line:
//   {"ok": true, "content", "artifact", "calls": {name: n}, "ms"}  or
//   {"ok": false, "error", "calls", "ms"}
// A missing module is a set-up failure (exit 3), never a skip.
let agents, lcTools;
try {
  agents = await import('@librechat/agents');
  lcTools = await import('@langchain/core/tools');
} catch (e) {
  console.error('ptc.mjs: the client library is not installed ' +
    '(bash tests/librechat/install.sh): ' + e.message);
  process.exit(3);
}
const { createProgrammaticToolCallingTool, createBashProgrammaticToolCallingTool } = agents;
const { tool } = lcTools;

const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const plan = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const calls = {};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const obj = (props, req = Object.keys(props)) =>
  ({ type: 'object', properties: props, required: req });

// Real LangChain tools (the host's side of every call).
const defs = {
  'get-weather': {
    description: 'Weather of a city', parameters: obj({ city: { type: 'string' } }),
    fn: async ({ city }) => ({ city, temp: 21 }),
  },
  'fail.me': {
    description: 'Always fails', parameters: obj({}),
    fn: async () => { throw new Error('the tool broke'); },
  },
  'big-result': {
    description: 'A 1 MB string', parameters: obj({ n: { type: 'integer' } }),
    fn: async ({ n }) => 'x'.repeat(n ?? (1 << 20)),
  },
  'count': {
    description: 'Counts its calls', parameters: obj({}),
    fn: async () => calls.count ?? 0,
  },
};
const controller = new AbortController();
const toolMap = new Map();
const toolDefs = [];
for (const name of plan.tools) {
  const d = defs[name];
  const t = tool(async (input) => {
    calls[name] = (calls[name] ?? 0) + 1;
    if (plan.toolDelayMs) await sleep(plan.toolDelayMs);
    const total = Object.values(calls).reduce((a, b) => a + b, 0);
    if (plan.abortAfterCall === total) setTimeout(() => controller.abort(), 300);
    return d.fn(input);
  }, { name, description: d.description, schema: d.parameters });
  toolMap.set(name, t);
  toolDefs.push({ name, description: d.description, parameters: d.parameters });
}

const params = {
  baseUrl: plan.baseUrl,
  authHeaders: { 'X-API-Key': plan.apiKey },
  maxRoundTrips: plan.maxRoundTrips ?? 20,
};
const ptc = plan.lang === 'bash'
  ? createBashProgrammaticToolCallingTool(params)
  : createProgrammaticToolCallingTool(params);
const t0 = Date.now();
try {
  const msg = await ptc.invoke(
    { type: 'tool_call', id: 'call_ptc_1', name: ptc.name, args: { code: plan.code },
      toolMap, toolDefs },
    { signal: controller.signal });
  console.log(JSON.stringify({ ok: true, content: msg.content, artifact: msg.artifact,
    calls, ms: Date.now() - t0 }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: String(e?.message ?? e), calls,
    ms: Date.now() - t0 }));
}
// the library's cancellation request is best effort (2 s): let it go out
await sleep(plan.abortAfterCall ? 2500 : 0);
