"""Sources of the resident compiler helpers (resident.py), kept as Python
strings because the image's runner layer carries only the package's .py
files.  The runner writes them, root's and read-only for everyone else, into
/run/ci/resident/ and starts them as the sandbox user.

Wire protocol, the same for both (the helper is user-identity code, so the
runner parses everything it says as hostile, see resident.py):

    runner -> helper   "\\n" NONCE "\\t" SOURCE "\\t" OUTDIR "\\n"
    helper -> runner   NONCE "\\t" RC "\\t" LEN "\\n" LEN bytes of diagnostics

NONCE is 32 lowercase hex digits, fresh per request; a line that is not
exactly three fields with such a nonce is ignored (junk a program wrote
into the helper's stdin costs nothing).  Once warm, the helper writes
"ready\n" once; until then the runner does not wait for it.  RC 0: the output is in OUTDIR;
else the diagnostics say why.  Diagnostics are cut at DIAG_MAX bytes.
"""

DIAG_MAX = 1 << 20

# A warm TypeScript transpiler: typescript loaded once, transpileModule per
# request (no type check, as the one-shot path: errors that stop the
# transpilation fail the run with their text).  The module is required by
# its absolute path (CI_TS_LIB): never from a directory the user can write.
TS_SERVER_JS = r"""
'use strict';
const fs = require('fs');
const ts = require(process.env.CI_TS_LIB);
const DIAG_MAX = %d;
const host = { getCanonicalFileName: f => f, getCurrentDirectory: () => '.',
               getNewLine: () => '\n' };
const opts = { module: ts.ModuleKind.CommonJS,
               target: ts.ScriptTarget.ES2020, esModuleInterop: true };
function compile(src, outdir) {
  const r = ts.transpileModule(fs.readFileSync(src, 'utf8'), {
    fileName: 'main.ts', reportDiagnostics: true, compilerOptions: opts });
  const d = r.diagnostics || [];
  if (d.length) return [1, ts.formatDiagnostics(d, host)];
  fs.writeFileSync(outdir + '/main.js', r.outputText, { mode: 0o644 });
  return [0, ''];
}
function reply(nonce, rc, text) {
  let b = Buffer.from(text, 'utf8');
  if (b.length > DIAG_MAX) b = b.subarray(0, DIAG_MAX);
  fs.writeSync(1, nonce + '\t' + rc + '\t' + b.length + '\n');
  if (b.length) fs.writeSync(1, b);
}
let pending = '';
process.stdin.on('data', chunk => {
  pending += chunk.toString('latin1');
  if (pending.length > (1 << 20)) pending = pending.slice(-4096);
  let i;
  while ((i = pending.indexOf('\n')) >= 0) {
    const line = pending.slice(0, i);
    pending = pending.slice(i + 1);
    const f = line.split('\t');
    if (f.length !== 3 || !/^[0-9a-f]{32}$/.test(f[0])) continue;
    let rc, text;
    try { [rc, text] = compile(Buffer.from(f[1], 'latin1').toString('utf8'),
                               Buffer.from(f[2], 'latin1').toString('utf8')); }
    catch (e) { rc = 2; text = 'transpiler: ' + String(e && e.message) + '\n'; }
    try { reply(f[0], rc, text); } catch (e) { process.exit(3); }
  }
});
process.stdin.on('end', () => process.exit(0));
// warm the emitter before the first request
ts.transpileModule('const a: number[] = [1]; console.log(a);',
                   { compilerOptions: opts });
fs.writeSync(1, 'ready\n');
""" % DIAG_MAX

# An in-process javac (javax.tools): one JVM, one compiler, warmed at start;
# each request is javac's own command line (-encoding UTF-8 -d OUTDIR SRC),
# so messages and exit codes are the CLI's.
JAVA_SERVER_SRC = r"""
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import javax.tools.*;

public class CiJavacServer {
    static final int DIAG_MAX = %d;

    public static void main(String[] args) throws Exception {
        JavaCompiler jc = ToolProvider.getSystemJavaCompiler();
        InputStream in = new BufferedInputStream(new FileInputStream(FileDescriptor.in));
        OutputStream out = new FileOutputStream(FileDescriptor.out);
        warm(jc);
        out.write("ready\n".getBytes(StandardCharsets.UTF_8));
        out.flush();
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        int c;
        while ((c = in.read()) >= 0) {
            if (c != '\n') {
                if (line.size() < (1 << 16)) line.write(c);
                continue;
            }
            String l = line.toString(StandardCharsets.UTF_8);
            line.reset();
            String[] f = l.split("\t", -1);
            if (f.length != 3 || !f[0].matches("[0-9a-f]{32}")) continue;
            ByteArrayOutputStream diag = new ByteArrayOutputStream();
            int rc;
            try {
                rc = jc.run(null, diag, diag, "-encoding", "UTF-8", "-d", f[2], f[1]);
            } catch (Throwable t) {
                rc = 2;
                diag.write(("javac: " + t + "\n").getBytes(StandardCharsets.UTF_8));
            }
            byte[] d = diag.toByteArray();
            int n = Math.min(d.length, DIAG_MAX);
            out.write((f[0] + "\t" + rc + "\t" + n + "\n").getBytes(StandardCharsets.UTF_8));
            out.write(d, 0, n);
            out.flush();
        }
    }

    // Compile a few small programs in memory so the first request finds
    // javac's classes loaded and its hot paths compiled.
    static void warm(JavaCompiler jc) {
        String src = "import java.util.*;\npublic class W { public static void main(String[] a) {"
            + " List<Integer> l = new ArrayList<>(); for (int i = 0; i < 10; i++) l.add(i);"
            + " System.out.println(l.stream().mapToInt(x -> x).sum()); } }\n";
        for (int i = 0; i < 3; i++) {
            try {
                JavaFileObject fo = new SimpleJavaFileObject(
                        java.net.URI.create("string:///W.java"), JavaFileObject.Kind.SOURCE) {
                    public CharSequence getCharContent(boolean e) { return src; }
                };
                StandardJavaFileManager fm = jc.getStandardFileManager(null, null, null);
                JavaFileManager mem = new ForwardingJavaFileManager<>(fm) {
                    public JavaFileObject getJavaFileForOutput(Location loc, String cls,
                            JavaFileObject.Kind k, FileObject sib) {
                        return new SimpleJavaFileObject(
                                java.net.URI.create("mem:///" + cls + ".class"), k) {
                            public OutputStream openOutputStream() {
                                return new ByteArrayOutputStream();
                            }
                        };
                    }
                };
                jc.getTask(null, mem, d -> { }, null, null, java.util.List.of(fo)).call();
            } catch (Throwable t) {
                return;
            }
        }
    }
}
""" % DIAG_MAX
