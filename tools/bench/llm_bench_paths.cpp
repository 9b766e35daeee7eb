#include "llm_bench_paths.hpp"

#include <fstream>
#include <iostream>
#include <sstream>

#include "bench_process.hpp"
#include "llmos/messages/error.hpp"
#include "model/formats/gguf_file.hpp"
#include "model/formats/llama_weights.hpp"
#include "model/train/batch_decoder.hpp"
#include "model/train/engine.hpp"

namespace llmos::bench {

namespace {

namespace fs = std::filesystem;

constexpr const char* node_llama_cpp = "node-llama-cpp@3.21.1";

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

model_actor_client::model_actor_client(caf::actor_system& sys, device_core core,
                                       const model::model_spec& spec)
    : dev_(spawn_device(sys, std::move(core))), model_(spawn_model(sys, spec, dev_, "bench-cpu")),
      self_(sys) {}

model_actor_client::~model_actor_client() {
  self_->send_exit(model_, caf::exit_reason::user_shutdown);
  self_->send_exit(dev_, caf::exit_reason::user_shutdown);
}

caf::error model_actor_client::load(const std::string& checkpoint) {
  caf::error result;
  self_->request(model_, caf::infinite, load_atom::value, checkpoint)
      .receive([](model_info&) {}, [&](caf::error& err) { result = std::move(err); });
  return result;
}

caf::expected<token_ids> model_actor_client::generate(const token_ids& prompt, uint32_t max_new) {
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

caf::expected<token_ids> decoder_generate(model::engine& e, const token_ids& prompt,
                                          uint32_t max_new) {
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

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

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

} // namespace llmos::bench
