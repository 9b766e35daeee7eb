#include "llm_bench.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <nlohmann/json.hpp>

#include "bench_process.hpp"
#include "dataset/tokenize/llama_tokenizer.hpp"
#include "device/device_actor.hpp"
#include "device/device_core.hpp"
#include "llm_adapters_bench.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/messages/register.hpp"
#include "model/formats/gguf_file.hpp"
#include "model/formats/llama2c_file.hpp"
#include "model/model_actor.hpp"
#include "model/train/batch_decoder.hpp"
#include "model/train/engine.hpp"

namespace llmos::bench {

namespace {

namespace fs = std::filesystem;
using model::engine;
using token_ids = std::vector<int32_t>;

constexpr const char* node_llama_cpp = "node-llama-cpp@3.21.1";

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

/// Continues `prompt` (the callee prepends BOS) greedily by up to `max_new` tokens.
using generate_fn = std::function<caf::expected<token_ids>(const token_ids&, uint32_t)>;

double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  return xs.empty() ? 0.0 : xs[xs.size() / 2];
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string join(const token_ids& ids) {
  std::string s;
  for (auto t : ids)
    s += (s.empty() ? "" : ",") + std::to_string(t);
  return s;
}

/// The last non-empty line of `text`.
std::string last_line(const std::string& text) {
  const auto end = text.find_last_not_of("\r\n");
  if (end == std::string::npos)
    return "";
  const auto nl = text.find_last_of('\n', end);
  const auto begin = nl == std::string::npos ? 0 : nl + 1;
  return text.substr(begin, end + 1 - begin);
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

/// llmos as a client of a node uses it: a model actor on a CPU device actor, the weights loaded
/// from a checkpoint, generate requests sent from another actor and answered with the tokens.
class model_actor_client {
public:
  model_actor_client(caf::actor_system& sys, device_core core, const model::model_spec& spec)
      : dev_(spawn_device(sys, std::move(core))), model_(spawn_model(sys, spec, dev_, "bench-cpu")),
        self_(sys) {}

  ~model_actor_client() {
    self_->send_exit(model_, caf::exit_reason::user_shutdown);
    self_->send_exit(dev_, caf::exit_reason::user_shutdown);
  }

  caf::error load(const std::string& checkpoint) {
    caf::error result;
    self_->request(model_, caf::infinite, load_atom::value, checkpoint)
        .receive([](model_info&) {}, [&](caf::error& err) { result = std::move(err); });
    return result;
  }

  caf::expected<token_ids> generate(const token_ids& prompt, uint32_t max_new) {
    generate_request req;
    req.prompt = prompt;
    req.max_tokens = max_new;
    req.temperature = 0.0;
    caf::expected<token_ids> out{caf::error{}};
    self_->request(model_, caf::infinite, generate_atom::value, std::move(req))
        .receive([&](token_ids& t) { out = std::move(t); },
                 [&](caf::error& err) { out = std::move(err); });
    return out;
  }

private:
  device_actor dev_;
  model_actor model_;
  caf::scoped_actor self_;
};

/// What the model actor runs for a language model (continuous batching), here called directly on
/// this thread: a decoder per request, as the actor makes one per busy period, then steps until
/// the sequence ends.
caf::expected<token_ids> decoder_generate(engine& e, const token_ids& prompt, uint32_t max_new) {
  auto dec = model::batch_decoder::create(e);
  if (!dec)
    return std::move(dec.error());
  model::sequence_request req;
  req.prompt = prompt;
  req.max_new = max_new;
  req.sampling.temperature = 0.0;
  auto id = (*dec)->admit(req);
  if (!id)
    return std::move(id.error());
  token_ids out;
  for (bool done = false; !done;) {
    auto events = (*dec)->step();
    if (!events)
      return std::move(events.error());
    for (auto& ev : *events) {
      if (ev.id != *id)
        continue;
      if (ev.token >= 0)
        out.push_back(ev.token);
      done = done || ev.finished;
    }
  }
  return out;
}

/// One round of a peer process; its last stdout line is JSON {"tokens", "decode_runs",
/// "prefill_runs", ...} or {"skipped": why}. Its stderr goes to `err_file`, shown on failure.
void peer_round(const std::string& cmd, const fs::path& err_file, llm_row& row,
                nlohmann::json& info) {
  int rc = 0;
  const auto line = last_line(command_output(cmd + " 2>'" + err_file.string() + "'", &rc));
  if (rc != 0 || line.empty()) {
    auto err = read_text(err_file);
    if (err.size() > 600)
      err = "..." + err.substr(err.size() - 600);
    return row.skip("failed (exit status " + std::to_string(rc) + "): " + err);
  }
  try {
    info = nlohmann::json::parse(line);
    if (info.contains("skipped"))
      return row.skip(info["skipped"].get<std::string>());
    if (row.tokens.empty())
      row.tokens = info["tokens"].get<token_ids>();
    for (double x : info["decode_runs"])
      row.decode.push_back(x);
    for (double x : info["prefill_runs"])
      row.prefill.push_back(x);
  } catch (const nlohmann::json::exception& e) {
    row.skip("unreadable output (" + std::string{e.what()} + "): " + line);
  }
}

/// The arguments both peers take.
std::string peer_args(const llm_options& o, const token_ids& prompt_with_bos,
                      const model::llama_weights& w) {
  return " --threads " + std::to_string(o.threads) + " --decode-tokens " +
         std::to_string(o.decode_tokens) + " --runs " + std::to_string(o.runs) +
         " --prefill-runs " + std::to_string(o.prefill_runs) + " --bos " +
         std::to_string(w.vocab.bos) + " --eos " + std::to_string(w.vocab.eos) + " --prompt " +
         join(prompt_with_bos);
}

} // namespace

std::string ensure_node_llama_cpp(const fs::path& prefix, const fs::path& dir) {
  int rc = 0;
  command_output("command -v node >/dev/null", &rc);
  if (rc != 0)
    return "no node on PATH (node-llama-cpp needs Node.js 20)";
  if (read_text(prefix / "node_modules/node-llama-cpp/package.json")
          .find("\"version\": \"3.21.1\"") != std::string::npos)
    return "";
  command_output("command -v npm >/dev/null", &rc);
  if (rc != 0)
    return "node-llama-cpp is not in " + prefix.string() + " and there is no npm to install it";
  // llama.cpp comes prebuilt as optional dependencies: no compiler, no install scripts.
  std::cout << "  installing " << node_llama_cpp << " into " << prefix.string() << " (once) ..."
            << std::endl;
  fs::create_directories(prefix);
  const auto log = dir / "npm.log";
  command_output("npm install --prefix '" + prefix.string() + "' " + node_llama_cpp +
                     " --ignore-scripts --no-audit --no-fund --loglevel=error >'" + log.string() +
                     "' 2>&1",
                 &rc);
  if (rc != 0)
    return "npm install " + std::string{node_llama_cpp} + " failed: " + read_text(log);
  return "";
}

namespace {

/// The llama.cpp peer's command (the weights exported to GGUF F32 in `dir`), or "" with the row
/// marked skipped.
std::string llamacpp_command(const llm_options& o, const model::llama_weights& w,
                             const token_ids& prompt_with_bos, const fs::path& dir, llm_row& row) {
  auto skip = [&](const std::string& why) {
    row.skip(why);
    return std::string{};
  };
  if (o.node_script.empty())
    return skip("not asked for");
  if (auto why = ensure_node_llama_cpp(o.npm_prefix, dir); !why.empty())
    return skip(why);
  const auto gguf = (dir / "stories260K-f32.gguf").string();
  if (auto err = model::write_gguf(w, gguf, model::gguf_tensor_type::f32, "stories260K"))
    return skip("write_gguf failed: " + describe(err));
  return "node '" + o.node_script + "' --modules '" + o.npm_prefix + "' --model '" + gguf +
         "' --context " + std::to_string(w.config.seq_len) + peer_args(o, prompt_with_bos, w);
}

/// The PyTorch peer's command, or "" with the row marked skipped.
std::string python_command(const llm_options& o, const model::llama_weights& w,
                           const std::string& checkpoint, const token_ids& prompt_with_bos,
                           llm_row& row) {
  if (o.python_script.empty() || !fs::exists("/usr/bin/python3")) {
    row.skip(o.python_script.empty() ? "not asked for"
                                     : "no /usr/bin/python3 (Debian's python3-torch runs there)");
    return "";
  }
  // One owner of the cores: torch's threads, OpenBLAS single-threaded (TOOLCHAIN.md).
  return "OPENBLAS_NUM_THREADS=1 /usr/bin/python3 '" + o.python_script + "' --checkpoint '" +
         checkpoint + "'" + peer_args(o, prompt_with_bos, w);
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

} // namespace

int run_llm(const llm_options& o) {
  const fs::path model_dir = fs::path{o.models_dir} / "stories260K";
  const auto checkpoint = (model_dir / "stories260K.bin").string();
  const auto expected_file = model_dir / "expected-greedy-200.txt";
  if (!fs::exists(checkpoint) || !fs::exists(model_dir / "tok512.bin") ||
      !fs::exists(expected_file)) {
    std::cerr << "llmos-bench llm: stories260K is not in " << model_dir.string()
              << ": run tools/setup/setup.sh with the shared models in ../shared/models (or set "
                 "LLMOS_MODELS_DIR to a folder holding stories260K/)\n";
    return 1;
  }
  auto weights = model::read_llama2c(checkpoint, (model_dir / "tok512.bin").string());
  if (!weights) {
    std::cerr << "llmos-bench llm: " << describe(weights.error()) << "\n";
    return 1;
  }
  auto tok = dataset::llama_tokenizer::create(weights->vocab);
  auto eng = engine::from_llama(*weights, "stories260K");
  if (!tok || !eng) {
    std::cerr << "llmos-bench llm: " << describe(!tok ? tok.error() : eng.error()) << "\n";
    return 1;
  }
  const auto& c = weights->config;
  std::printf("llmos-bench llm: stories260K (dim %lld, %lld layers, %lld heads / %lld kv, vocab "
              "%lld), %u thread%s, greedy\n  decode: %d tokens from BOS; prefill: a %d-token "
              "prompt (BOS included) and 1 token; medians of %d rounds x %d decode / %d prefill "
              "runs, the paths interleaved round by round\n",
              static_cast<long long>(c.dim), static_cast<long long>(c.n_layers),
              static_cast<long long>(c.n_heads), static_cast<long long>(c.n_kv_heads),
              static_cast<long long>(c.vocab_size), o.threads, o.threads == 1 ? "" : "s",
              o.decode_tokens, o.prompt_tokens, o.rounds, o.runs, o.prefill_runs);
  const auto dir = fs::temp_directory_path() / ("llmos-llm-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir);

  // The prefill prompt: the model's own greedy text from BOS (cycled if it ends early), so
  // every path reads the same, natural tokens.
  engine::use_threads(o.threads);
  model::sampling_params greedy;
  greedy.temperature = 0.0;
  auto text = (*eng)->generate({}, o.decode_tokens, greedy, 1, nullptr);
  if (!text || text->empty()) {
    std::cerr << "llmos-bench llm: generate failed: "
              << (text ? "no tokens" : describe(text.error())) << "\n";
    return 1;
  }
  token_ids prompt;
  for (std::size_t i = 0; static_cast<int>(prompt.size()) + 1 < o.prompt_tokens; ++i)
    prompt.push_back((*text)[i % text->size()]);
  token_ids prompt_with_bos = prompt;
  prompt_with_bos.insert(prompt_with_bos.begin(), weights->vocab.bos);

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
  auto& actor_row = rows[0];
  auto& decoder_row = rows[1];
  auto& engine_row = rows[2];
  auto& llamacpp_row = rows[3];
  auto& python_row = rows[4];

  caf::actor_system_config cfg;
  register_messages(cfg);
  caf::actor_system sys{cfg};
  std::unique_ptr<model_actor_client> client;
  const auto ckpt = (dir / "stories260K.ckpt").string();
  auto core = device_core::create("bench-cpu", "cpu", 0, o.threads);
  if (auto err = (*eng)->save(ckpt)) {
    actor_row.skip("failed: " + describe(err));
  } else if (!core) {
    actor_row.skip("failed: " + describe(core.error()));
  } else {
    client = std::make_unique<model_actor_client>(sys, std::move(*core), (*eng)->spec());
    if (auto err = client->load(ckpt))
      actor_row.skip("failed: " + describe(err));
  }
  auto* raw = eng->get();
  const auto llamacpp_cmd = llamacpp_command(o, *weights, prompt_with_bos, dir, llamacpp_row);
  const auto python_cmd = python_command(o, *weights, checkpoint, prompt_with_bos, python_row);
  nlohmann::json llamacpp_info, python_info;

  // Rounds interleave the paths, so that a slow spell of a shared machine hits all of them.
  for (int round = 0; round < o.rounds; ++round) {
    std::cout << "  round " << round + 1 << "/" << o.rounds << " ..." << std::endl;
    if (actor_row.skipped.empty())
      measure_round([&](const token_ids& p, uint32_t n) { return client->generate(p, n); }, prompt,
                    o, actor_row);
    engine::use_threads(o.threads); // the device's thread may have resized the shared pool
    if (decoder_row.skipped.empty())
      measure_round([&](const token_ids& p, uint32_t n) { return decoder_generate(*raw, p, n); },
                    prompt, o, decoder_row);
    if (engine_row.skipped.empty()) {
      measure_round(
          [&](const token_ids& p, uint32_t n) { return raw->generate(p, n, greedy, 1, nullptr); },
          prompt, o, engine_row);
    }
    if (llamacpp_row.skipped.empty())
      peer_round(llamacpp_cmd, dir / "llamacpp.err", llamacpp_row, llamacpp_info);
    if (python_row.skipped.empty())
      peer_round(python_cmd, dir / "python.err", python_row, python_info);
  }
  client.reset();
  if (llamacpp_info.contains("version"))
    llamacpp_row.name += " (node-llama-cpp " + llamacpp_info["version"].get<std::string>() + ")";
  if (python_info.contains("torch"))
    python_row.name = "PyTorch " + python_info["torch"].get<std::string>() + " (python)";

  // Correctness: llama2.c's published text for the first 200 tokens, and agreement with llmos.
  const auto expected = read_text(expected_file);
  auto golden = [&](const llm_row& r) {
    if (r.tokens.size() < 200)
      return false;
    auto t = tok->decode(token_ids(r.tokens.begin(), r.tokens.begin() + 200));
    return t && *t + "\n" == expected;
  };
  const double base_decode = median(llamacpp_row.decode);
  const double base_prefill = median(llamacpp_row.prefill);
  std::printf("\n%-36s %12s %13s %11s %12s  %s\n", "path", "decode tok/s", "prefill tok/s",
              "decode/l.cpp", "prefill/l.cpp", "greedy 200 = llama2.c, tokens = llmos");
  nlohmann::json out;
  out["golden_match"] = 0;
  for (const auto& r : rows) {
    const double decode = median(r.decode), prefill = median(r.prefill);
    out["decode_tps_" + r.key] = decode;
    out["prefill_tps_" + r.key] = prefill;
    if (!r.skipped.empty()) {
      std::printf("%-36s skipped: %s\n", r.name.c_str(), r.skipped.c_str());
      out["skipped_" + r.key] = r.skipped;
      continue;
    }
    const bool ok = golden(r);
    const auto agree = common_prefix(r.tokens, actor_row.tokens);
    out[r.key == "llmos" ? std::string{"golden_match"} : "golden_match_" + r.key] = ok ? 1 : 0;
    out["agree_tokens_" + r.key] = agree;
    out["decode_tps_" + r.key + "_best"] = *std::max_element(r.decode.begin(), r.decode.end());
    out["prefill_tps_" + r.key + "_best"] = *std::max_element(r.prefill.begin(), r.prefill.end());
    std::printf("%-36s %12.1f %13.1f %11s %12s   %s, %zu/%zu\n", r.name.c_str(), decode, prefill,
                ratio(decode, base_decode).c_str(), ratio(prefill, base_prefill).c_str(),
                ok ? "match" : "DIFFERS", agree, r.tokens.size());
  }
  out["threads"] = o.threads;
  out["decode_tokens"] = o.decode_tokens;
  out["prompt_tokens"] = o.prompt_tokens;
  if (actor_row.skipped.empty() && decoder_row.skipped.empty())
    std::printf("\nthe model actor (device jobs of up to 2 ms of steps) costs %.1f%% of the decode "
                "speed and %.1f%% of the prefill speed of its batch_decoder called directly\n",
                100.0 * (1.0 - median(actor_row.decode) / median(decoder_row.decode)),
                100.0 * (1.0 - median(actor_row.prefill) / median(decoder_row.prefill)));
  if (!adapters_round(*weights, **eng, 16, o.decode_tokens / 2, 4, 8, o.rounds, out))
    std::printf("\nadapters: the round failed\n");
  fs::remove_all(dir);
  if (!o.json_path.empty())
    std::ofstream(o.json_path) << out.dump(2) << "\n";
  // A wrong answer is a failed benchmark, however fast.
  return out["golden_match"] == 1 ? 0 : 1;
}

} // namespace llmos::bench
