// llmos-bench llm: decode and prefill speed of a real pretrained language model (stories260K,
// llama2.c's published model), the same weights and thread count for everyone, side by side in
// one run: llmos through its model actor (what a client of a node gets), the batch decoder the
// actor runs, called directly on one thread (the actor's overhead is the difference), the
// engine's one-request generate (LibTorch prefill, fused-kernel decode), llama.cpp
// (node-llama-cpp's prebuilt CPU library on a GGUF F32 export of the same weights) and PyTorch
// (Debian's Python torch running the llama forward with a KV cache). Every path's greedy output
// is checked against llama2.c's published text, so a fast wrong answer never counts.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace llmos::bench {

struct llm_options {
  std::string json_path;     ///< --json FILE
  std::string models_dir;    ///< holds stories260K/ (stories260K.bin, tok512.bin, expected text)
  std::string python_script; ///< llm_peer.py; "" = no PyTorch peer
  std::string node_script;   ///< llm_peer.mjs; "" = no llama.cpp peer
  std::string npm_prefix;    ///< node-llama-cpp's folder, installed there when missing
  uint32_t threads = 1;      ///< for every path (llama.cpp is fastest with 1 on this model)
  int decode_tokens = 256;   ///< tokens per decode run, greedy from BOS
  int prompt_tokens = 256;   ///< prefill prompt length, BOS included
  int rounds = 3;            ///< rounds over all paths, interleaved (a peer process per round)
  int runs = 5;              ///< decode runs per path and round (the median of all counts)
  int prefill_runs = 10;     ///< prefill runs per path and round (the median of all counts)
};

int run_llm(const llm_options& opts);

/// node-llama-cpp in `prefix`, installed there when missing (npm's log in `log_dir`); "" when
/// ready, else why not.
std::string ensure_node_llama_cpp(const std::filesystem::path& prefix,
                                  const std::filesystem::path& log_dir);

} // namespace llmos::bench
