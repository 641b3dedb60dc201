// Runs the envelope-xl functions the way xlwings Lite does, in Pyodide under Node, offline.
//
//   node run_in_pyodide.mjs REQUEST.json > RESULT.json
//
// REQUEST.json: {"pyodide": "<folder of the pyodide npm package>",
//                "wheels": ["<packaging wheel>", "<micropip wheel>"],
//                "install": ["<xlwings wheel>", "<envelope-xl wheel>"],
//                "main_py": "<the workbook's main.py>", "calls": [<payloads>]}
//
// Pyodide loads micropip from local wheels; micropip installs xlwings' pure-Python wheel,
// then envelope-xl's, resolving envelope-xl's dependencies as Lite does. Any download
// (fetch) is refused, so a dependency Lite would have to download fails the run. Then, as
// the xlwings Lite runtime does: XLWINGS_ON_SERVER=true before xlwings is imported, main.py
// becomes the module "main", its functions are registered through
// xlwings.server.custom_functions_meta(main), and each payload goes, as a JavaScript
// object, through xlwings.server.custom_functions_call(data.to_py(), module=main).
// RESULT.json: {"installed_before": [...], "installed_after": [...], "meta": {...},
//               "results": [...]}.

import { readFileSync } from "node:fs";
import { basename, resolve } from "node:path";

const request = JSON.parse(readFileSync(process.argv[2], "utf8"));
const { loadPyodide } = await import(resolve(request.pyodide, "pyodide.mjs"));

const refused = [];
globalThis.fetch = async (url) => {
  refused.push(String(url));
  throw new Error(`offline: refused to download ${url}`);
};

const pyodide = await loadPyodide({ indexURL: resolve(request.pyodide) + "/", stdout: () => {}, stderr: () => {} });
await pyodide.loadPackage(request.wheels.map((path) => resolve(path)), { checkIntegrity: false, messageCallback: () => {} });

pyodide.FS.mkdirTree("/wheels");
const urls = request.install.map((path) => {
  const target = `/wheels/${basename(path)}`;
  pyodide.FS.writeFile(target, readFileSync(path));
  return `emfs:${target}`;
});
pyodide.globals.set("wheel_urls", pyodide.toPy(urls));
pyodide.globals.set("main_py", request.main_py);

const out = { refused };
try {
  await pyodide.runPythonAsync(`
import json, os, sys, types
import micropip

await micropip.install(wheel_urls[0])
installed_before = sorted(micropip.list())
for url in wheel_urls[1:]:
    await micropip.install(url)
installed_after = sorted(micropip.list())

# The xlwings Lite runtime sets this before importing xlwings (so do xlwings Server's Wasm
# mode and Lite's development environment); the key only unlocks the import for this test.
os.environ["XLWINGS_ON_SERVER"] = "true"
os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")
import xlwings
import xlwings.server
from pyodide.ffi import to_js
import js

main = types.ModuleType("main")
exec(compile(main_py, "main.py", "exec"), main.__dict__)
sys.modules["main"] = main
meta = xlwings.server.custom_functions_meta(main)

async def custom_functions_call(data):
    return to_js(await xlwings.server.custom_functions_call(data.to_py(), module=main),
                 dict_converter=js.Object.fromEntries)

summary = json.dumps({"installed_before": installed_before, "installed_after": installed_after,
                      "xlwings": xlwings.__version__, "platform": sys.platform, "meta": meta})
`);
  Object.assign(out, JSON.parse(pyodide.globals.get("summary")));
  const call = pyodide.globals.get("custom_functions_call");
  out.results = [];
  for (const payload of request.calls) {
    out.results.push(await call(payload));
  }
} catch (error) {
  out.error = String(error);
}
process.stdout.write(JSON.stringify(out));
