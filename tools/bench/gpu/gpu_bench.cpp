// llmos-gpu-bench: a GPT-2-small-shaped Llama (12 layers, d 768, 12 heads, context 1024, vocab
// 32768) trained and decoding through llmos's engine on a device, beside the same model in plain
// PyTorch eager (tools/bench/gpu/torch_eager.py, run by this program with the same shape), in one
// run; prints tokens/s of both, their ratios and the model FLOP utilisation of training. The
// engine is driven through its torch-free interface, as a device job drives it.
//   llmos-gpu-bench [--device cuda|cpu] [--layers N --dim N --heads N --ff N --context N
//                    --vocab N --batch N --steps N --decode N --precision bf16|f32]
//                   [--peer "python3 tools/bench/gpu/torch_eager.py"] [--json FILE]
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "llmos/messages/error.hpp"
#include "model/core/model_spec.hpp"
#include "model/train/batch_decoder.hpp"
#include "model/train/engine.hpp"

namespace {

using llmos::model::engine;
using clock_type = std::chrono::steady_clock;

struct options {
  std::string device = "cuda";
  int64_t layers = 12, dim = 768, heads = 12, ff = 2048, context = 1024, vocab = 32768;
  int64_t batch = 8, steps = 10, decode = 64;
  std::string precision = "bf16";
  std::string peer = "python3 " LLMOS_SOURCE_DIR "/tools/bench/gpu/torch_eager.py";
  std::string json;
  /// The chip's dense bf16 peak for MFU: the H100/H200 datasheet's 989 TFLOP/s.
  double peak_tflops = 989.0;
};

bool parse(int argc, char** argv, options& o) {
  std::map<std::string, int64_t*> ints{
      {"--layers", &o.layers}, {"--dim", &o.dim},         {"--heads", &o.heads},
      {"--ff", &o.ff},         {"--context", &o.context}, {"--vocab", &o.vocab},
      {"--batch", &o.batch},   {"--steps", &o.steps},     {"--decode", &o.decode}};
  std::map<std::string, std::string*> strs{{"--device", &o.device},
                                           {"--precision", &o.precision},
                                           {"--peer", &o.peer},
                                           {"--json", &o.json}};
  for (int i = 1; i < argc; ++i) {
    const std::string key = argv[i];
    if (i + 1 >= argc) {
      std::cerr << "llmos-gpu-bench: " << key << " needs a value\n";
      return false;
    }
    const std::string value = argv[++i];
    if (auto it = ints.find(key); it != ints.end()) {
      try {
        *it->second = std::stoll(value);
      } catch (const std::exception&) {
        std::cerr << "llmos-gpu-bench: " << key << " takes a number, got '" << value << "'\n";
        return false;
      }
      if (*it->second < 1) {
        std::cerr << "llmos-gpu-bench: " << key << " must be at least 1\n";
        return false;
      }
    } else if (auto s = strs.find(key); s != strs.end()) {
      *s->second = value;
    } else if (key == "--peak-tflops") {
      o.peak_tflops = std::stod(value);
    } else {
      std::cerr << "llmos-gpu-bench: unknown option " << key << "\n";
      return false;
    }
  }
  return true;
}

std::string spec_yaml(const options& o) {
  std::ostringstream y;
  y << "model: gpt2-small-llama\narchitecture: llama\n"
    << "hyper: {vocab_size: " << o.vocab << ", embed_dim: " << o.dim << ", ff_dim: " << o.ff
    << ", layers: " << o.layers << ", heads: " << o.heads << ", max_length: " << o.context
    << ", tied: 1}\n"
    << "train: {optimizer: adamw, lr: 0.0003, weight_decay: 0.0, batch_size: " << o.batch
    << ", max_steps: 1000000, warmup_steps: 0, precision: " << o.precision << "}\n";
  return y.str();
}

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

/// Runs the peer with the same shape; its JSON object, or null with the reason printed.
nlohmann::json run_peer(const options& o) {
  std::ostringstream cmd;
  cmd << o.peer << " --device " << o.device << " --layers " << o.layers << " --dim " << o.dim
      << " --heads " << o.heads << " --ff " << o.ff << " --context " << o.context << " --vocab "
      << o.vocab << " --batch " << o.batch << " --steps " << o.steps << " --decode " << o.decode
      << " --precision " << o.precision;
  std::FILE* pipe = ::popen(cmd.str().c_str(), "r");
  if (pipe == nullptr)
    return nullptr;
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, pipe))
    out.append(buf, n);
  const int rc = ::pclose(pipe);
  // The peer prints progress lines, then its figures as the last line.
  auto last = out.find_last_of('{');
  auto j = last == std::string::npos ? nlohmann::json()
                                     : nlohmann::json::parse(out.substr(last), nullptr, false);
  if (rc != 0 || j.is_discarded() || j.is_null()) {
    std::cerr << "llmos-gpu-bench: the PyTorch peer failed (rc " << rc << "):\n" << out << "\n";
    return nullptr;
  }
  return j;
}

/// What the steps of main hand on to each other, filled in the order they run.
struct gpu_run {
  std::unique_ptr<engine> eng;
  double params = 0;
  std::vector<int32_t> ids; ///< the training batch's tokens; the decode prompt is their start
  llmos::data_batch batch;
  double train_tps = 0, mfu = 0, decode_b1 = 0, decode_b32 = 0;
};

/// Prints why the benchmark stopped; `status` is main's exit status.
int stop(const caf::error& err, int status) {
  std::cerr << "llmos-gpu-bench: " << llmos::describe(err) << "\n";
  return status;
}

/// The engine of `spec`, placed on `o.device`.
caf::error make_engine(const options& o, const llmos::model::model_spec& spec, gpu_run& run) {
  llmos::model::data_shape shape;
  shape.vocab_size = o.vocab;
  shape.pad_id = -1; // random tokens: none is padding
  auto made = engine::create(spec, shape, {});
  if (!made)
    return made.error();
  run.eng = std::move(*made);
  if (auto err = run.eng->place(o.device, 0))
    return err;
  run.params = static_cast<double>(run.eng->parameter_count());
  return {};
}

/// The training batch: rows of `context` random tokens (context - 1 predicted per row).
void make_batch(const options& o, gpu_run& run) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(o.vocab - 1));
  run.batch.inputs.dtype = "i32";
  run.batch.inputs.shape = {o.batch, o.context};
  run.ids.resize(static_cast<std::size_t>(o.batch * o.context));
  for (auto& t : run.ids)
    t = token(rng);
  run.batch.inputs.data.assign(reinterpret_cast<const char*>(run.ids.data()), run.ids.size() * 4);
  run.batch.labels.assign(static_cast<std::size_t>(o.batch), "");
}

/// Training tokens/s over `o.steps` steps after two untimed ones, and the model FLOP
/// utilisation.
caf::error time_training(const options& o, gpu_run& run) {
  auto& e = *run.eng;
  for (int warm = 0; warm < 2; ++warm)
    if (auto r = e.train_step(run.batch); !r)
      return r.error();
  const auto t0 = clock_type::now();
  for (int64_t i = 0; i < o.steps; ++i)
    if (auto r = e.train_step(run.batch); !r)
      return r.error();
  const double train_s = seconds_since(t0); // each step reads its loss: synchronised
  const double tokens = static_cast<double>(o.steps * o.batch * (o.context - 1));
  run.train_tps = tokens / train_s;
  // PaLM's count: 6 N per token for the matmuls of forward and backward, plus attention's
  // 12 L d T.
  const double flops_per_token = 6.0 * run.params + 12.0 * static_cast<double>(o.layers * o.dim) *
                                                        static_cast<double>(o.context);
  run.mfu = run.train_tps * flops_per_token / (o.peak_tflops * 1e12);
  return {};
}

/// Decoding, batch 1: greedy from a 16-token prompt, after an untimed 8-token generation.
caf::error time_decoding(const options& o, gpu_run& run) {
  llmos::model::sampling_params greedy;
  greedy.temperature = 0.0;
  std::vector<int32_t> prompt(run.ids.begin(), run.ids.begin() + 16);
  if (auto r = run.eng->generate(prompt, 8, greedy, 1, nullptr); !r)
    return r.error();
  const auto t0 = clock_type::now();
  auto out = run.eng->generate(prompt, o.decode, greedy, 1, nullptr);
  const double decode_s = seconds_since(t0);
  if (!out)
    return out.error();
  run.decode_b1 = static_cast<double>(out->size()) / decode_s;
  return {};
}

/// Decoding, batch 32, the way the server does it: continuous batching (the batch decoder, its
/// paged pool on the device) of 32 greedy sequences from the same 16-token prompt, `o.decode`
/// tokens each. Timed from when all 32 decode (the peer prefills before its clock starts too).
/// The fused decode kernels run float32 weights, so this engine is the same shape in f32 (the
/// peer decodes in float32 as well).
caf::error time_batched_decoding(const options& o, llmos::model::model_spec spec, gpu_run& run) {
  spec.precision = "f32";
  gpu_run f32;
  if (auto err = make_engine(o, spec, f32))
    return err;
  auto made = llmos::model::batch_decoder::create(*f32.eng);
  if (!made)
    return made.error();
  auto& d = **made;
  llmos::model::sequence_request r;
  r.prompt.assign(run.ids.begin(), run.ids.begin() + 16);
  r.sampling.temperature = 0.0;
  r.max_new = 8; // warm-up: the pool and the kernels' buffers are made
  if (auto id = d.admit(r); !id)
    return id.error();
  while (d.active() > 0)
    if (auto ev = d.step(); !ev)
      return ev.error();
  r.max_new = o.decode;
  for (int i = 0; i < 32; ++i)
    if (auto id = d.admit(r); !id)
      return id.error();
  std::map<uint64_t, int64_t> made_tokens;
  std::optional<clock_type::time_point> t0;
  int64_t timed = 0;
  while (d.active() > 0) {
    auto events = d.step();
    if (!events)
      return events.error();
    for (const auto& ev : *events)
      if (ev.token >= 0) {
        ++made_tokens[ev.id];
        timed += t0 ? 1 : 0;
      }
    if (!t0 && made_tokens.size() == 32)
      t0 = clock_type::now(); // every sequence has its prompt in the cache
  }
  if (t0 && timed > 0)
    run.decode_b32 = static_cast<double>(timed) / seconds_since(*t0);
  return {};
}

/// Our figures: printed, and the JSON the peer's are added to.
nlohmann::json report_llmos(const options& o, const gpu_run& run) {
  nlohmann::json j{{"device", run.eng->device()},
                   {"parameters", run.params},
                   {"train_tps_llmos", run.train_tps},
                   {"decode_tps_b1_llmos", run.decode_b1},
                   {"decode_tps_b32_llmos", run.decode_b32},
                   {"mfu", run.mfu}};
  std::printf("llmos:   train %.0f tokens/s (MFU %.1f%% of %.0f TFLOP/s), decode b1 %.1f "
              "tokens/s, decode b32 %.1f tokens/s (continuous batching, f32)\n",
              run.train_tps, run.mfu * 100.0, o.peak_tflops, run.decode_b1, run.decode_b32);
  return j;
}

/// The peer's figures added to `j`, printed with the ratios of ours to theirs.
void report_peer(const nlohmann::json& peer, nlohmann::json& j) {
  for (auto& [k, v] : peer.items())
    j[k] = v;
  auto ratio = [&](const char* ours, const char* theirs) {
    return j[ours].is_number() && j[theirs].is_number() && j[theirs].get<double>() > 0
               ? j[ours].get<double>() / j[theirs].get<double>()
               : 0.0;
  };
  std::printf("PyTorch eager: train %.0f tokens/s, decode b1 %.1f, decode b32 %.1f tokens/s\n",
              j.value("train_tps_torch", 0.0), j.value("decode_tps_b1_torch", 0.0),
              j.value("decode_tps_b32_torch", 0.0));
  std::printf("ratio llmos/torch: train %.2fx, decode b1 %.2fx, decode b32 %.2fx\n",
              ratio("train_tps_llmos", "train_tps_torch"),
              ratio("decode_tps_b1_llmos", "decode_tps_b1_torch"),
              ratio("decode_tps_b32_llmos", "decode_tps_b32_torch"));
}

} // namespace

int main(int argc, char** argv) {
  options o;
  if (!parse(argc, argv, o))
    return 2;
  auto spec = llmos::model::parse_model_spec(spec_yaml(o), "llmos-gpu-bench");
  if (!spec)
    return stop(spec.error(), 2);
  gpu_run run;
  if (auto err = make_engine(o, *spec, run))
    return stop(err, 1);
  std::printf("llmos-gpu-bench: %.1fM parameters on %s, batch %lld x %lld, %s\n", run.params / 1e6,
              run.eng->device().c_str(), static_cast<long long>(o.batch),
              static_cast<long long>(o.context), o.precision.c_str());
  make_batch(o, run);
  if (auto err = time_training(o, run))
    return stop(err, 1);
  if (auto err = time_decoding(o, run))
    return stop(err, 1);
  if (auto err = time_batched_decoding(o, *spec, run))
    return stop(err, 1);
  auto j = report_llmos(o, run);
  auto peer = o.peer.empty() ? nlohmann::json() : run_peer(o);
  if (peer.is_object())
    report_peer(peer, j);
  if (!o.json.empty())
    std::ofstream(o.json) << j.dump(2) << "\n";
  return 0;
}
