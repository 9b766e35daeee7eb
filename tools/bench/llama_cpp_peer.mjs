// What the llama.cpp peers (llm_peer.mjs, llm_serving_peer.mjs) share: their `--flag value`
// arguments, loading node-llama-cpp from a modules folder, and llama.cpp's CPU library with its
// logging quiet. A peer that cannot load the library prints {"skipped": reason}, which the bench
// reports instead of failing.
import path from "node:path";
import { pathToFileURL } from "node:url";
import { readFileSync } from "node:fs";

/// The command line's `--name value` pairs as { name: value }.
export function args() {
  const a = {};
  const argv = process.argv.slice(2);
  for (let i = 0; i + 1 < argv.length; i += 2) a[argv[i].replace(/^--/, "")] = argv[i + 1];
  return a;
}

/// node-llama-cpp from `modules`/node_modules and its version, or null after printing the skip.
export async function loadNodeLlamaCpp(modules) {
  const root = path.join(path.resolve(modules), "node_modules/node-llama-cpp");
  try {
    const lib = await import(pathToFileURL(path.join(root, "dist/index.js")).href);
    const version = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")).version;
    return { lib, version };
  } catch (e) {
    console.log(JSON.stringify({ skipped: `node-llama-cpp not loadable from ${modules}: ${e.message}` }));
    return null;
  }
}

/// The prebuilt CPU library on `threads` threads (never a build from source: no compiler or
/// network is assumed) and the GGUF model at `file` loaded on it.
export async function cpuModel(lib, threads, file) {
  const llama = await lib.getLlama({ gpu: false, build: "never", logLevel: lib.LlamaLogLevel.error,
                                     maxThreads: threads });
  const model = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
  return { llama, model };
}

/// Runs `main`, turning a failure into a message naming `script` and exit status 1.
export function run(script, main) {
  main().catch((e) => {
    console.error(`${script}: ${e.stack ?? e}`);
    process.exit(1);
  });
}
