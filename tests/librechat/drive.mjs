// tests/librechat/drive.mjs - drives LibreChat's own client library
// (@librechat/agents, pinned in package.json) against a Code API server.
//
// Reads one plan (JSON) on stdin:
//   {"baseUrl": "http://127.0.0.1:PORT",
//    "auth": {"headers": {...}}                         key mode, or
//            {"jwt": {"privateKeyPem", "alg": "EdDSA", "claims": {...}}}
//    "session": {"session_id", "files": [FileRef...]}   optional: what the host
//                                                       primed (uploaded files)
//    "steps": [{"tool": "execute_code"|"bash_tool", "args": {...}}, ...]}
// and runs the steps one after the other through the library's ToolNode
// with the tools made by createCodeExecutionTool / createBashExecutionTool,
// exactly as an agent run does: the ToolNode injects `session_id` and
// `_injected_files` from its session map, and updates that map from each
// result (inherited echoes, deleted_files).  After each step one JSON line
// goes to stdout:
//   {"step": i, "content": <the tool message text the model reads>,
//    "artifact": <the artifact>, "status": <"success"|"error">,
//    "session": <the ToolNode's code session after the step>}
// A missing module is a set-up failure (exit 3), never a skip.
// `node drive.mjs --mint` reads {privateKeyPem, claims} and prints a token
// (for the server-side requests the test makes in JWT mode).
import { createPrivateKey, randomUUID, sign } from 'node:crypto';

let agents, messages;
try {
  agents = await import('@librechat/agents');
  messages = await import('@langchain/core/messages');
} catch (e) {
  console.error('drive.mjs: the client library is not installed ' +
    '(bash tests/librechat/install.sh): ' + e.message);
  process.exit(3);
}
const { ToolNode, createCodeExecutionTool, createBashExecutionTool, Constants } = agents;
const { AIMessage } = messages;

function b64url(v) {
  return Buffer.from(v).toString('base64url');
}

// A token as LibreChat's server mints it (packages/api/src/auth/codeapi.ts:
// header {alg, typ, kid}, claims iss/aud/sub/iat/nbf/exp/jti/tenant_id/role/
// principal_source/auth_context_hash), signed with the test's own key.
function mintJwt(jwt) {
  const now = Math.floor(Date.now() / 1000);
  const alg = jwt.alg ?? 'EdDSA';
  const header = { alg, typ: 'JWT', kid: jwt.kid ?? 'lc-codeapi-2026-05' };
  const claims = {
    iss: 'librechat', aud: 'codeapi', iat: now, nbf: now, exp: now + 300,
    jti: randomUUID(), role: 'USER', principal_source: 'librechat_jwt',
    auth_context_hash: 'test', ...jwt.claims,
  };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const sig = sign(alg === 'RS256' ? 'RSA-SHA256' : null, Buffer.from(input),
    createPrivateKey(jwt.privateKeyPem));
  return `${input}.${b64url(sig)}`;
}

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

if (process.argv[2] === '--mint') { // {privateKeyPem, claims} -> a token
  console.log(mintJwt(await readStdin()));
  process.exit(0);
}

const plan = await readStdin();
const authHeaders = plan.auth?.jwt
  ? async () => ({ Authorization: `Bearer ${mintJwt(plan.auth.jwt)}` })
  : (plan.auth?.headers ?? {});
// as LibreChat's host makes them: its user id rides in the tool params
const params = { baseUrl: plan.baseUrl, authHeaders, user_id: plan.userId };
const tools = [createCodeExecutionTool(params), createBashExecutionTool(params)];
const sessions = new Map();
if (plan.session) {
  sessions.set(Constants.EXECUTE_CODE, { ...plan.session, lastUpdated: Date.now() });
}
const node = new ToolNode({ tools, sessions });

for (let i = 0; i < plan.steps.length; i++) {
  const step = plan.steps[i];
  const call = { id: `call_${i}_${randomUUID().slice(0, 8)}`, name: step.tool, args: step.args };
  const out = await node.invoke({ messages: [new AIMessage({ content: '', tool_calls: [call] })] },
    { configurable: { thread_id: 'ci-thread', user_id: plan.userId ?? 'ci-user' } });
  const msgs = Array.isArray(out) ? out : out.messages;
  const msg = msgs[msgs.length - 1];
  const content = typeof msg.content === 'string' ? msg.content : JSON.stringify(msg.content);
  console.log(JSON.stringify({
    step: i, content, artifact: msg.artifact ?? null, status: msg.status ?? null,
    session: sessions.get(Constants.EXECUTE_CODE) ?? null,
  }));
}
