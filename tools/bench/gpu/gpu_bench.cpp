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
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "llmos/messages/error.hpp"
#include "model/core/model_spec.hpp"
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

} // namespace

int main(int argc, char** argv) {
  options o;
  if (!parse(argc, argv, o))
    return 2;
  auto spec = llmos::model::parse_model_spec(spec_yaml(o), "llmos-gpu-bench");
  if (!spec) {
    std::cerr << "llmos-gpu-bench: " << llmos::describe(spec.error()) << "\n";
    return 2;
  }
  llmos::model::data_shape shape;
  shape.vocab_size = o.vocab;
  shape.pad_id = -1; // random tokens: none is padding
  auto made = engine::create(*spec, shape, {});
  if (!made) {
    std::cerr << "llmos-gpu-bench: " << llmos::describe(made.error()) << "\n";
    return 1;
  }
  auto& e = **made;
  if (auto err = e.place(o.device, 0)) {
    std::cerr << "llmos-gpu-bench: " << llmos::describe(err) << "\n";
    return 1;
  }
  const double params = static_cast<double>(e.parameter_count());
  std::printf("llmos-gpu-bench: %.1fM parameters on %s, batch %lld x %lld, %s\n", params / 1e6,
              e.device().c_str(), static_cast<long long>(o.batch),
              static_cast<long long>(o.context), o.precision.c_str());

  // Training: rows of `context` random tokens (context - 1 predicted per row).
  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(o.vocab - 1));
  llmos::data_batch batch;
  batch.inputs.dtype = "i32";
  batch.inputs.shape = {o.batch, o.context};
  std::vector<int32_t> ids(static_cast<std::size_t>(o.batch * o.context));
  for (auto& t : ids)
    t = token(rng);
  batch.inputs.data.assign(reinterpret_cast<const char*>(ids.data()), ids.size() * 4);
  batch.labels.assign(static_cast<std::size_t>(o.batch), "");
  for (int warm = 0; warm < 2; ++warm)
    if (auto r = e.train_step(batch); !r) {
      std::cerr << "llmos-gpu-bench: " << llmos::describe(r.error()) << "\n";
      return 1;
    }
  auto t0 = clock_type::now();
  for (int64_t i = 0; i < o.steps; ++i)
    if (auto r = e.train_step(batch); !r) {
      std::cerr << "llmos-gpu-bench: " << llmos::describe(r.error()) << "\n";
      return 1;
    }
  const double train_s = seconds_since(t0); // each step reads its loss: synchronised
  const double tokens = static_cast<double>(o.steps * o.batch * (o.context - 1));
  const double train_tps = tokens / train_s;
  // PaLM's count: 6 N per token for the matmuls of forward and backward, plus attention's
  // 12 L d T.
  const double flops_per_token =
      6.0 * params + 12.0 * static_cast<double>(o.layers * o.dim) * static_cast<double>(o.context);
  const double mfu = train_tps * flops_per_token / (o.peak_tflops * 1e12);

  // Decoding, batch 1: greedy from a 16-token prompt.
  llmos::model::sampling_params greedy;
  greedy.temperature = 0.0;
  std::vector<int32_t> prompt(ids.begin(), ids.begin() + 16);
  if (auto r = e.generate(prompt, 8, greedy, 1, nullptr); !r) {
    std::cerr << "llmos-gpu-bench: " << llmos::describe(r.error()) << "\n";
    return 1;
  }
  t0 = clock_type::now();
  auto out = e.generate(prompt, o.decode, greedy, 1, nullptr);
  const double decode_s = seconds_since(t0);
  if (!out) {
    std::cerr << "llmos-gpu-bench: " << llmos::describe(out.error()) << "\n";
    return 1;
  }
  const double decode_b1 = static_cast<double>(out->size()) / decode_s;

  nlohmann::json j{{"device", e.device()},
                   {"parameters", params},
                   {"train_tps_llmos", train_tps},
                   {"decode_tps_b1_llmos", decode_b1},
                   // Batched decoding on a GPU needs the paged CUDA kernel (not written yet):
                   // the engine decodes one sequence per call there.
                   {"decode_tps_b32_llmos", nullptr},
                   {"mfu", mfu}};
  std::printf("llmos:   train %.0f tokens/s (MFU %.1f%% of %.0f TFLOP/s), decode b1 %.1f "
              "tokens/s, decode b32 n/a\n",
              train_tps, mfu * 100.0, o.peak_tflops, decode_b1);
  auto peer = o.peer.empty() ? nlohmann::json() : run_peer(o);
  if (peer.is_object()) {
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
    std::printf("ratio llmos/torch: train %.2fx, decode b1 %.2fx\n",
                ratio("train_tps_llmos", "train_tps_torch"),
                ratio("decode_tps_b1_llmos", "decode_tps_b1_torch"));
  }
  if (!o.json.empty())
    std::ofstream(o.json) << j.dump(2) << "\n";
  return 0;
}
