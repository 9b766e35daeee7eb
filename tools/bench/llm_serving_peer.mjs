// The llama.cpp peer of `llmos-bench llm-serving`: the same GGUF weights and the same requests
// (prompt token ids, tokens to generate) run by llama.cpp's prebuilt CPU library through
// node-llama-cpp with N parallel sequences of one context, which llama.cpp decodes together in
// one batch per step (its own continuous batching). Each sequence works through its share of
// the requests one after another, as one llmos client does. Prints one JSON object: total
// generated tokens per second, the time to first token and the gaps between tokens of every
// request (ms), or {"skipped": reason}.
//
//   node llm_serving_peer.mjs --modules DIR --model FILE.gguf --threads N --clients N
//                             --requests FILE.json --bos 1 --eos 2 --context 512
//
// FILE.json: [{"prompt": [ids without BOS], "max_tokens": N, "client": C}, ...].
import { performance } from "node:perf_hooks";
import { readFileSync } from "node:fs";
import { args, cpuModel, loadNodeLlamaCpp, run } from "./llama_cpp_peer.mjs";

/// One request on one sequence: greedy from BOS + prompt until max_tokens or EOS.
async function serve(seq, bos, eos, req, out) {
  await seq.clearHistory();
  const start = performance.now();
  let last = start;
  let n = 0;
  for await (const t of seq.evaluate([bos, ...req.prompt], { temperature: 0 })) {
    const now = performance.now();
    if (n === 0) out.ttft.push(now - start);
    else out.itl.push(now - last);
    last = now;
    if (t === eos) break;
    if (++n >= req.max_tokens) break;
  }
  out.tokens += n;
}

async function main() {
  const a = args();
  const loaded = await loadNodeLlamaCpp(a.modules);
  if (!loaded) return;
  const { lib } = loaded;
  const threads = Number(a.threads ?? 1), clients = Number(a.clients ?? 1);
  const bos = Number(a.bos ?? 1), eos = Number(a.eos ?? 2);
  const requests = JSON.parse(readFileSync(a.requests, "utf8"));
  const { llama, model } = await cpuModel(lib, threads, a.model);
  // As in llm_peer.mjs: flash attention off and an F32 KV cache, llama.cpp's fastest here with
  // llmos's precision. The context holds every sequence's full window.
  const context = await model.createContext({
    contextSize: Number(a.context ?? 512) * clients, sequences: clients, threads,
    batchSize: 512, flashAttention: false,
    experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32" });
  const seqs = Array.from({ length: clients }, () => context.getSequence());
  const warm = { ttft: [], itl: [], tokens: 0 };
  await serve(seqs[0], bos, eos, { prompt: requests[0].prompt, max_tokens: 8 }, warm); // untimed
  const out = { ttft: [], itl: [], tokens: 0 };
  const start = performance.now();
  await Promise.all(seqs.map(async (seq, c) => {
    for (const req of requests.filter((r) => r.client === c)) await serve(seq, bos, eos, req, out);
  }));
  const secs = (performance.now() - start) / 1000;
  console.log(JSON.stringify({ tps: out.tokens / secs, tokens: out.tokens, seconds: secs,
                               ttft_ms: out.ttft, itl_ms: out.itl }));
  await context.dispose();
  await model.dispose();
  await llama.dispose();
}

run("llm_serving_peer.mjs", main);
