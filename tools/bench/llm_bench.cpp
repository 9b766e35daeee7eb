#include "llm_bench.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <nlohmann/json.hpp>

#include "dataset/tokenize/llama_tokenizer.hpp"
#include "device/device_core.hpp"
#include "llm_adapters_bench.hpp"
#include "llm_bench_paths.hpp"
#include "llm_preemption_bench.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/messages/register.hpp"
#include "model/formats/llama2c_file.hpp"
#include "model/train/engine.hpp"

namespace llmos::bench {

namespace {

namespace fs = std::filesystem;
using model::engine;

/// Continues `prompt` (the callee prepends BOS) greedily by up to `max_new` tokens.
using generate_fn = std::function<caf::expected<token_ids>(const token_ids&, uint32_t)>;

double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  return xs.empty() ? 0.0 : xs[xs.size() / 2];
}

/// One round of an in-process path. Decode: greedy generations of decode_tokens from BOS,
/// tokens / wall time (BOS's forward included, as on every path). Prefill: the prompt (plus
/// BOS) and the one token chosen from its last logits.
void measure_round(const generate_fn& gen, const token_ids& prompt, const llm_options& o,
                   llm_row& row) {
  using clock = std::chrono::steady_clock;
  auto failed = [&](const caf::error& err) { row.skip("failed: " + describe(err)); };
  if (auto warm = gen({}, 8); !warm) // untimed: allocator, thread pool and caches settle
    return failed(warm.error());
  for (int r = 0; r < o.runs; ++r) {
    const auto start = clock::now();
    auto out = gen({}, static_cast<uint32_t>(o.decode_tokens));
    const std::chrono::duration<double> secs = clock::now() - start;
    if (!out)
      return failed(out.error());
    row.decode.push_back(static_cast<double>(out->size()) / secs.count());
    if (row.tokens.empty())
      row.tokens = std::move(*out);
  }
  (void)gen(prompt, 1);
  for (int r = 0; r < o.prefill_runs; ++r) {
    const auto start = clock::now();
    auto out = gen(prompt, 1);
    const std::chrono::duration<double> secs = clock::now() - start;
    if (!out)
      return failed(out.error());
    row.prefill.push_back(static_cast<double>(prompt.size() + 1) / secs.count());
  }
}

/// Tokens two paths agree on from the start.
std::size_t common_prefix(const token_ids& a, const token_ids& b) {
  std::size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n])
    ++n;
  return n;
}

std::string ratio(double x, double base) {
  if (x <= 0 || base <= 0)
    return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2fx", x / base);
  return buf;
}

/// What the steps of run_llm hand on to each other, filled in the order they run.
struct llm_run {
  fs::path model_dir;
  std::string checkpoint; ///< llama2.c's file, also read by the PyTorch peer
  fs::path expected_file; ///< llama2.c's published greedy text
  fs::path dir;           ///< scratch: our checkpoint, the GGUF export, the peers' logs
  model::llama_weights weights;
  std::optional<dataset::llama_tokenizer> tok;
  std::unique_ptr<engine> eng;
  model::sampling_params greedy;
  token_ids prompt, prompt_with_bos;
  std::vector<llm_row> rows; ///< in the table's order, as the accessors below name them
  std::unique_ptr<model_actor_client> client;
  std::string llamacpp_cmd, python_cmd;
  nlohmann::json llamacpp_info, python_info;

  llm_row& actor_row() { return rows[0]; }
  llm_row& decoder_row() { return rows[1]; }
  llm_row& engine_row() { return rows[2]; }
  llm_row& llamacpp_row() { return rows[3]; }
  llm_row& python_row() { return rows[4]; }
};

/// stories260K's weights, tokenizer and our engine on them; false with the reason printed.
bool load_model(const llm_options& o, llm_run& run) {
  run.model_dir = fs::path{o.models_dir} / "stories260K";
  run.checkpoint = (run.model_dir / "stories260K.bin").string();
  run.expected_file = run.model_dir / "expected-greedy-200.txt";
  if (!fs::exists(run.checkpoint) || !fs::exists(run.model_dir / "tok512.bin") ||
      !fs::exists(run.expected_file)) {
    std::cerr << "llmos-bench llm: stories260K is not in " << run.model_dir.string()
              << ": run tools/setup/setup.sh with the shared models in ../shared/models (or set "
                 "LLMOS_MODELS_DIR to a folder holding stories260K/)\n";
    return false;
  }
  auto weights = model::read_llama2c(run.checkpoint, (run.model_dir / "tok512.bin").string());
  if (!weights) {
    std::cerr << "llmos-bench llm: " << describe(weights.error()) << "\n";
    return false;
  }
  auto tok = dataset::llama_tokenizer::create(weights->vocab);
  auto eng = engine::from_llama(*weights, "stories260K");
  if (!tok || !eng) {
    std::cerr << "llmos-bench llm: " << describe(!tok ? tok.error() : eng.error()) << "\n";
    return false;
  }
  run.weights = std::move(*weights);
  run.tok = std::move(*tok);
  run.eng = std::move(*eng);
  return true;
}

void print_header(const llm_options& o, const model::llama_config& c) {
  std::printf("llmos-bench llm: stories260K (dim %lld, %lld layers, %lld heads / %lld kv, vocab "
              "%lld), %u thread%s, greedy\n  decode: %d tokens from BOS; prefill: a %d-token "
              "prompt (BOS included) and 1 token; medians of %d rounds x %d decode / %d prefill "
              "runs, the paths interleaved round by round\n",
              static_cast<long long>(c.dim), static_cast<long long>(c.n_layers),
              static_cast<long long>(c.n_heads), static_cast<long long>(c.n_kv_heads),
              static_cast<long long>(c.vocab_size), o.threads, o.threads == 1 ? "" : "s",
              o.decode_tokens, o.prompt_tokens, o.rounds, o.runs, o.prefill_runs);
}

/// The prefill prompt: the model's own greedy text from BOS (cycled if it ends early), so
/// every path reads the same, natural tokens. False with the reason printed.
bool make_prompt(const llm_options& o, llm_run& run) {
  engine::use_threads(o.threads);
  run.greedy.temperature = 0.0;
  auto text = run.eng->generate({}, o.decode_tokens, run.greedy, 1, nullptr);
  if (!text || text->empty()) {
    std::cerr << "llmos-bench llm: generate failed: "
              << (text ? "no tokens" : describe(text.error())) << "\n";
    return false;
  }
  for (std::size_t i = 0; static_cast<int>(run.prompt.size()) + 1 < o.prompt_tokens; ++i)
    run.prompt.push_back((*text)[i % text->size()]);
  run.prompt_with_bos = run.prompt;
  run.prompt_with_bos.insert(run.prompt_with_bos.begin(), run.weights.vocab.bos);
  return true;
}

std::vector<llm_row> named_rows() {
  std::vector<llm_row> rows(5);
  const char* names[][2] = {{"llmos (model actor)", "llmos"},
                            {"llmos batch_decoder (raw)", "llmos_decoder"},
                            {"llmos engine.generate (raw)", "llmos_engine"},
                            {"llama.cpp", "llamacpp"},
                            {"PyTorch (python)", "python"}};
  for (std::size_t i = 0; i < rows.size(); ++i) {
    rows[i].name = names[i][0];
    rows[i].key = names[i][1];
  }
  return rows;
}

/// The model actor on a CPU device actor of `sys`, loaded with our engine's checkpoint; on
/// failure the actor row is marked skipped.
void start_model_actor(const llm_options& o, caf::actor_system& sys, llm_run& run) {
  const auto ckpt = (run.dir / "stories260K.ckpt").string();
  auto core = device_core::create("bench-cpu", "cpu", 0, o.threads);
  if (auto err = run.eng->save(ckpt)) {
    run.actor_row().skip("failed: " + describe(err));
  } else if (!core) {
    run.actor_row().skip("failed: " + describe(core.error()));
  } else {
    run.client = std::make_unique<model_actor_client>(sys, std::move(*core), run.eng->spec());
    if (auto err = run.client->load(ckpt))
      run.actor_row().skip("failed: " + describe(err));
  }
}

void prepare_peers(const llm_options& o, llm_run& run) {
  run.llamacpp_cmd =
      llamacpp_command(o, run.weights, run.prompt_with_bos, run.dir, run.llamacpp_row());
  run.python_cmd =
      python_command(o, run.weights, run.checkpoint, run.prompt_with_bos, run.python_row());
}

/// One round of every path not skipped, in the table's order.
void measure_paths(const llm_options& o, llm_run& run) {
  auto* raw = run.eng.get();
  if (run.actor_row().skipped.empty())
    measure_round([&](const token_ids& p, uint32_t n) { return run.client->generate(p, n); },
                  run.prompt, o, run.actor_row());
  engine::use_threads(o.threads); // the device's thread may have resized the shared pool
  if (run.decoder_row().skipped.empty())
    measure_round([&](const token_ids& p, uint32_t n) { return decoder_generate(*raw, p, n); },
                  run.prompt, o, run.decoder_row());
  if (run.engine_row().skipped.empty()) {
    measure_round(
        [&](const token_ids& p, uint32_t n) { return raw->generate(p, n, run.greedy, 1, nullptr); },
        run.prompt, o, run.engine_row());
  }
  if (run.llamacpp_row().skipped.empty())
    peer_round(run.llamacpp_cmd, run.dir / "llamacpp.err", run.llamacpp_row(), run.llamacpp_info);
  if (run.python_row().skipped.empty())
    peer_round(run.python_cmd, run.dir / "python.err", run.python_row(), run.python_info);
}

/// The peers' rows named with the versions they reported.
void name_peers(llm_run& run) {
  if (run.llamacpp_info.contains("version"))
    run.llamacpp_row().name +=
        " (node-llama-cpp " + run.llamacpp_info["version"].get<std::string>() + ")";
  if (run.python_info.contains("torch"))
    run.python_row().name = "PyTorch " + run.python_info["torch"].get<std::string>() + " (python)";
}

/// What every row of the table is checked and compared against.
struct table_refs {
  std::string expected; ///< llama2.c's published text for the first 200 greedy tokens
  double base_decode = 0, base_prefill = 0; ///< llama.cpp's medians, the ratios' denominators
};

/// Correctness: llama2.c's published text for the first 200 tokens.
bool golden(const llm_run& run, const table_refs& refs, const llm_row& r) {
  if (r.tokens.size() < 200)
    return false;
  auto t = run.tok->decode(token_ids(r.tokens.begin(), r.tokens.begin() + 200));
  return t && *t + "\n" == refs.expected;
}

/// A row's line of the table and its JSON keys; agreement is counted against the model actor.
void report_row(llm_run& run, const table_refs& refs, const llm_row& r, nlohmann::json& out) {
  const double decode = median(r.decode), prefill = median(r.prefill);
  out["decode_tps_" + r.key] = decode;
  out["prefill_tps_" + r.key] = prefill;
  if (!r.skipped.empty()) {
    std::printf("%-36s skipped: %s\n", r.name.c_str(), r.skipped.c_str());
    out["skipped_" + r.key] = r.skipped;
    return;
  }
  const bool ok = golden(run, refs, r);
  const auto agree = common_prefix(r.tokens, run.actor_row().tokens);
  out[r.key == "llmos" ? std::string{"golden_match"} : "golden_match_" + r.key] = ok ? 1 : 0;
  out["agree_tokens_" + r.key] = agree;
  out["decode_tps_" + r.key + "_best"] = *std::max_element(r.decode.begin(), r.decode.end());
  out["prefill_tps_" + r.key + "_best"] = *std::max_element(r.prefill.begin(), r.prefill.end());
  std::printf("%-36s %12.1f %13.1f %11s %12s   %s, %zu/%zu\n", r.name.c_str(), decode, prefill,
              ratio(decode, refs.base_decode).c_str(), ratio(prefill, refs.base_prefill).c_str(),
              ok ? "match" : "DIFFERS", agree, r.tokens.size());
}

/// The table of every path against llama.cpp, and its figures as JSON.
nlohmann::json report_table(llm_run& run) {
  table_refs refs;
  refs.expected = read_text(run.expected_file);
  refs.base_decode = median(run.llamacpp_row().decode);
  refs.base_prefill = median(run.llamacpp_row().prefill);
  std::printf("\n%-36s %12s %13s %11s %12s  %s\n", "path", "decode tok/s", "prefill tok/s",
              "decode/l.cpp", "prefill/l.cpp", "greedy 200 = llama2.c, tokens = llmos");
  nlohmann::json out;
  out["golden_match"] = 0;
  for (const auto& r : run.rows)
    report_row(run, refs, r, out);
  return out;
}

/// The settings in the JSON, and what the model actor costs over its batch decoder.
void report_settings_and_overhead(const llm_options& o, llm_run& run, nlohmann::json& out) {
  out["threads"] = o.threads;
  out["decode_tokens"] = o.decode_tokens;
  out["prompt_tokens"] = o.prompt_tokens;
  if (run.actor_row().skipped.empty() && run.decoder_row().skipped.empty())
    std::printf("\nthe model actor (device jobs of up to 2 ms of steps) costs %.1f%% of the decode "
                "speed and %.1f%% of the prefill speed of its batch_decoder called directly\n",
                100.0 * (1.0 - median(run.actor_row().decode) / median(run.decoder_row().decode)),
                100.0 *
                    (1.0 - median(run.actor_row().prefill) / median(run.decoder_row().prefill)));
}

} // namespace

int run_llm(const llm_options& o) {
  llm_run run;
  if (!load_model(o, run))
    return 1;
  print_header(o, run.weights.config);
  run.dir = fs::temp_directory_path() / ("llmos-llm-bench-" + std::to_string(::getpid()));
  fs::create_directories(run.dir);
  if (!make_prompt(o, run))
    return 1;
  run.rows = named_rows();
  // The system lives to the end, its threads beside every measurement, as the client needs it.
  caf::actor_system_config cfg;
  register_messages(cfg);
  caf::actor_system sys{cfg};
  start_model_actor(o, sys, run);
  prepare_peers(o, run);
  // Rounds interleave the paths, so that a slow spell of a shared machine hits all of them.
  for (int round = 0; round < o.rounds; ++round) {
    std::cout << "  round " << round + 1 << "/" << o.rounds << " ..." << std::endl;
    measure_paths(o, run);
  }
  run.client.reset();
  name_peers(run);
  auto out = report_table(run);
  report_settings_and_overhead(o, run, out);
  if (!adapters_round(run.weights, *run.eng, 16, o.decode_tokens / 2, 4, 8, o.rounds, out))
    std::printf("\nadapters: the round failed\n");
  // 16 sequences of up to 257 positions (17 blocks each) in a pool of 96 blocks: about 5 fit.
  if (!preemption_round(*run.eng, 16, o.decode_tokens, 96, o.rounds, out))
    std::printf("\npreemption: the round failed\n");
  fs::remove_all(run.dir);
  if (!o.json_path.empty())
    std::ofstream(o.json_path) << out.dump(2) << "\n";
  // A wrong answer is a failed benchmark, however fast.
  return out["golden_match"] == 1 ? 0 : 1;
}

} // namespace llmos::bench
