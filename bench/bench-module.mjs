// The kernels' benchmark/test module (wasm/dist/hooklab-bench.*, built beside the
// engine by wasm/build.sh; not part of the package): benchGemm, kernelSelfTest, kernel.
import createHookLabBenchModule from '../wasm/dist/hooklab-bench.mjs';

export function loadBenchModule() {
  return createHookLabBenchModule({ print: () => {}, printErr: (s) => process.stderr.write(`hooklab-bench(wasm): ${s}\n`) });
}
