// The kernels' benchmark/test module (wasm/dist/hooklab-bench.*, built beside the
// engine by wasm/build.sh; not part of the package): benchGemm, kernelSelfTest, kernel.
// Node only.
import { readFile } from 'node:fs/promises';

import createHookLabBenchModule from '../wasm/dist/hooklab-bench.mjs';

export async function loadBenchModule() {
  const mod = await WebAssembly.compile(await readFile(new URL('../wasm/dist/hooklab-bench.wasm', import.meta.url)));
  return createHookLabBenchModule({
    instantiateWasm(imports, done) {
      WebAssembly.instantiate(mod, imports).then((inst) => done(inst, mod));
      return {};
    },
    print: () => {},
    printErr: (s) => process.stderr.write(`hooklab-bench(wasm): ${s}\n`),
  });
}
