// The load of `llmos-bench llm-serving`: requests cut from real text, driven through the HTTP
// gateway by streaming clients (time to first token, inter-token times, tokens/s over the whole)
// and, the same requests, through the llama.cpp peer running parallel sequences.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "llm_serving_bench.hpp"

namespace llmos::dataset {
class llama_tokenizer;
} // namespace llmos::dataset

namespace llmos::model {
struct llama_weights;
} // namespace llmos::model

namespace llmos::bench::llm_load {

/// One request of the workload: the prompt (text for llmos, its token ids for llama.cpp) and
/// the tokens to generate; `client` works through its requests one after another.
struct request {
  std::string text;
  std::vector<int32_t> ids;
  int max_tokens = 0;
  int client = 0;
};

/// What one load level measured.
struct load {
  double tps = 0;
  uint64_t tokens = 0;
  std::vector<double> ttft_ms, itl_ms;
  uint64_t errors = 0;
  std::string skipped;
};

/// Real text to cut prompts from: the fortunes data set's English files, else the model's
/// published story.
std::string prompt_source(const std::string& text_dir, const std::string& fallback);

/// `count` requests: prompts of 16-128 tokens from windows of `source`, 128-256 tokens each.
std::vector<request> workload(const dataset::llama_tokenizer& tok, const std::string& source,
                              int count, int clients);

/// `clients` threads, each streaming its requests one after another; tokens/s over the whole.
load drive(uint16_t port, const std::string& model, const std::vector<request>& reqs, int clients);

/// The same requests through llama.cpp with `clients` parallel sequences.
load drive_llamacpp(const llm_serving_options& o, const std::string& gguf,
                    const model::llama_weights& w, const std::vector<request>& reqs, int clients,
                    const std::filesystem::path& dir);

} // namespace llmos::bench::llm_load
