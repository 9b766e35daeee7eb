// The llama.cpp peer of `llmos-bench llm`: a GGUF file run by llama.cpp's prebuilt CPU library
// through node-llama-cpp, timed for decode and prefill. Prints one JSON object: the greedy
// tokens of the first decode run (the bench compares them with llmos's and with llama2.c's
// published text), the tokens/s of every decode and prefill run and the library's version, or
// {"skipped": reason} when node-llama-cpp cannot be loaded.
//
//   node llm_peer.mjs --modules DIR --model FILE.gguf --threads N --decode-tokens N
//                     --prompt 1,2,3 --runs N --prefill-runs N --bos 1 --eos 2 --context 512
//                     [--flash-attention auto|on|off] [--kv-type F32|F16]
//
// The context defaults to llama.cpp at its fastest on this model, with llmos's precision: flash
// attention off (node-llama-cpp's "auto" turns it on, which measured ~2.5x slower for a model
// this small on 2 cores) and an F32 KV cache (llmos keeps f32 keys and values; llama.cpp's
// default is F16).
import { performance } from "node:perf_hooks";
import { args, cpuModel, loadNodeLlamaCpp, run } from "./llama_cpp_peer.mjs";

/// Greedy from `bos` until `n` tokens or EOS; the time includes evaluating BOS, as llmos's does.
async function decode(seq, bos, eos, n) {
  await seq.clearHistory();
  const out = [];
  const start = performance.now();
  for await (const t of seq.evaluate([bos], { temperature: 0 })) {
    if (t === eos) break;
    out.push(t);
    if (out.length >= n) break;
  }
  return { tokens: out, secs: (performance.now() - start) / 1000 };
}

/// The prompt in batches and the first token chosen from its last logits (what llmos's
/// generate with max_tokens 1 does), nothing generated beyond it.
async function prefill(seq, prompt) {
  await seq.clearHistory();
  const items = prompt.map((t, i) =>
    i + 1 === prompt.length ? [t, { generateNext: { token: true, options: { temperature: 0 } } }] : t);
  const start = performance.now();
  const res = await seq.controlledEvaluate(items);
  const secs = (performance.now() - start) / 1000;
  if (res[prompt.length - 1]?.next?.token === undefined) throw new Error("prefill produced no token");
  return secs;
}

async function main() {
  const a = args();
  const loaded = await loadNodeLlamaCpp(a.modules);
  if (!loaded) return;
  const { lib, version } = loaded;
  const threads = Number(a.threads ?? 1);
  const bos = Number(a.bos ?? 1), eos = Number(a.eos ?? 2);
  const n = Number(a["decode-tokens"] ?? 256);
  const runs = Number(a.runs ?? 5), prefillRuns = Number(a["prefill-runs"] ?? 10);
  const prompt = a.prompt.split(",").map(Number);
  const { llama, model } = await cpuModel(lib, threads, a.model);
  const flash = { auto: "auto", on: true, off: false }[a["flash-attention"] ?? "off"];
  const kvType = a["kv-type"] ?? "F32";
  const context = await model.createContext({
    contextSize: Number(a.context ?? 512), sequences: 1, threads,
    batchSize: Math.max(512, prompt.length), flashAttention: flash,
    experimentalKvCacheKeyType: kvType, experimentalKvCacheValueType: kvType });
  const seq = context.getSequence();
  await decode(seq, bos, eos, 8); // untimed warm-up: buffers and thread pool settle
  let tokens = null;
  const decodeTps = [];
  for (let r = 0; r < runs; ++r) {
    const d = await decode(seq, bos, eos, n);
    tokens ??= d.tokens;
    decodeTps.push(d.tokens.length / d.secs);
  }
  await prefill(seq, prompt);
  const prefillTps = [];
  for (let r = 0; r < prefillRuns; ++r) prefillTps.push(prompt.length / (await prefill(seq, prompt)));
  console.log(JSON.stringify({ tokens, decode_runs: decodeTps, prefill_runs: prefillTps,
                               version, threads, flash_attention: String(flash), kv_type: kvType }));
  await context.dispose();
  await model.dispose();
  await llama.dispose();
}

run("llm_peer.mjs", main);
