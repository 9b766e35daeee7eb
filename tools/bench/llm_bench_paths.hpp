// The paths `llmos-bench llm` compares, each able to run one round of generation: the model
// actor as a client of a node reaches it, the batch decoder it runs called directly, and the
// peers (llama.cpp through node-llama-cpp, PyTorch through Python) run as processes; with the
// table row every path fills. Only llm_bench.cpp uses these.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>
#include <nlohmann/json.hpp>

#include "device/device_actor.hpp"
#include "device/device_core.hpp"
#include "llm_bench.hpp"
#include "model/model_actor.hpp"
#include "model/model_fwd.hpp"

namespace llmos::bench {

using token_ids = std::vector<int32_t>;

/// One row of the table: every timed run's tokens/s over all rounds and the greedy tokens from
/// BOS of its first decode run.
struct llm_row {
  std::string name;
  std::string key;     ///< in the JSON keys: "llmos", "llmos_engine", "llamacpp", "python"
  std::string skipped; ///< why there are no numbers ("" = measured)
  std::vector<double> decode, prefill;
  token_ids tokens;
  void skip(const std::string& why) {
    if (skipped.empty())
      skipped = why;
  }
};

/// llmos as a client of a node uses it: a model actor on a CPU device actor, the weights loaded
/// from a checkpoint, generate requests sent from another actor and answered with the tokens.
class model_actor_client {
public:
  model_actor_client(caf::actor_system& sys, device_core core, const model::model_spec& spec);
  ~model_actor_client();

  caf::error load(const std::string& checkpoint);

  caf::expected<token_ids> generate(const token_ids& prompt, uint32_t max_new);

private:
  device_actor dev_;
  model_actor model_;
  caf::scoped_actor self_;
};

/// What the model actor runs for a language model (continuous batching), here called directly on
/// this thread: a decoder per request, as the actor makes one per busy period, then steps until
/// the sequence ends.
caf::expected<token_ids> decoder_generate(model::engine& e, const token_ids& prompt,
                                          uint32_t max_new);

/// The whole of the file at `p` ("" when it cannot be read).
std::string read_text(const std::filesystem::path& p);

/// One round of a peer process; its last stdout line is JSON {"tokens", "decode_runs",
/// "prefill_runs", ...} or {"skipped": why}. Its stderr goes to `err_file`, shown on failure.
void peer_round(const std::string& cmd, const std::filesystem::path& err_file, llm_row& row,
                nlohmann::json& info);

/// The llama.cpp peer's command (the weights exported to GGUF F32 in `dir`), or "" with the row
/// marked skipped.
std::string llamacpp_command(const llm_options& o, const model::llama_weights& w,
                             const token_ids& prompt_with_bos, const std::filesystem::path& dir,
                             llm_row& row);

/// The PyTorch peer's command, or "" with the row marked skipped.
std::string python_command(const llm_options& o, const model::llama_weights& w,
                           const std::string& checkpoint, const token_ids& prompt_with_bos,
                           llm_row& row);

} // namespace llmos::bench
