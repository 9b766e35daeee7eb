// llmos-bench llm-serving: a real pretrained language model (stories260K) behind a node's HTTP
// gateway, loaded by N in {1, 4, 16, 64} concurrent streaming clients (prompts of 16-128 tokens
// from real text, 128-256 tokens generated each, greedy), side by side in one run with the same
// node serving one sequence at a time (continuous_batching: false) and with llama.cpp running N
// parallel sequences of one context on the same weights (node-llama-cpp's prebuilt CPU build on
// a GGUF export). Reports total generated tokens/s, time to first token and inter-token latency
// p50/p99 per N, and their ratios.
#pragma once

#include <string>

namespace llmos::bench {

struct llm_serving_options {
  std::string json_path;   ///< --json FILE
  std::string models_dir;  ///< holds stories260K/
  std::string node_path;   ///< llmos-node
  std::string peer_script; ///< llm_serving_peer.mjs; "" = no llama.cpp peer
  std::string npm_prefix;  ///< node-llama-cpp's folder, installed there when missing
  std::string text_dir;    ///< real text for prompts (the fortunes data set)
};

int run_llm_serving(const llm_serving_options& opts);

} // namespace llmos::bench
