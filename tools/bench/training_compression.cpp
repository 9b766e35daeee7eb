#include "training_compression.hpp"

#include <chrono>
#include <cstdio>
#include <memory>
#include <utility>

#include "model/train/engine.hpp"

namespace llmos::bench {

namespace {

using model::engine;

/// Rows per second of engine.infer over the batches, and the predicted classes.
std::pair<double, std::vector<int64_t>> infer_rate(engine& e, const std::vector<data_batch>& bs) {
  std::vector<int64_t> classes;
  int64_t rows = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int pass = 0; pass < 3; ++pass)
    for (auto& b : bs) {
      auto ps = e.infer(b.inputs);
      if (!ps)
        continue;
      rows += static_cast<int64_t>(ps->size());
      if (pass == 0)
        for (auto& p : *ps)
          classes.push_back(p.index);
    }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return {static_cast<double>(rows) / secs, classes};
}

/// The Transformer classifier the compression figures are measured on, trained on the
/// workload's data.
model::model_spec transformer_spec(const workload& w) {
  auto spec = w.spec;
  spec.architecture = "transformer";
  spec.embed_dim = 64;
  spec.heads = 4;
  spec.layers = 2;
  spec.ff_dim = 256;
  spec.max_length = 128;
  spec.max_steps = 150;
  spec.warmup_steps = 10;
  spec.lr = 0.003;
  return spec;
}

/// Samples/s of `spec` trained in `precision`, cycling over the first `trained` batches; the
/// trained engine is left in `keep`.
double timed_train(const model::model_spec& spec, const workload& w, std::size_t trained,
                   const std::string& precision, std::unique_ptr<engine>& keep) {
  auto s = spec;
  s.precision = precision;
  auto e = std::move(*engine::create(s, w.shape, w.labels));
  const auto start = std::chrono::steady_clock::now();
  int64_t samples = 0;
  for (int i = 0; i < s.max_steps; ++i) {
    const auto& b = w.batches[static_cast<std::size_t>(i) % trained];
    if (e->train_step(b))
      samples += static_cast<int64_t>(b.ids.size());
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  keep = std::move(e);
  return static_cast<double>(samples) / secs;
}

/// Held-out batches, never trained on, for accuracy before and after.
std::vector<data_batch> held_out_batches(const workload& w, std::size_t trained) {
  std::vector<data_batch> held_out;
  for (std::size_t i = trained; i < w.batches.size(); ++i)
    held_out.push_back(w.batches[i]);
  if (held_out.empty())
    held_out.push_back(w.batches.back());
  return held_out;
}

double accuracy(engine& e, const std::vector<data_batch>& held_out) {
  auto r = e.evaluate(held_out);
  return r ? r->metrics.accuracy : 0.0;
}

/// The share of rows on which int8 predicts the class float did.
double agreement(const std::vector<int64_t>& float_classes,
                 const std::vector<int64_t>& int8_classes) {
  std::size_t same = 0;
  for (std::size_t i = 0; i < float_classes.size() && i < int8_classes.size(); ++i)
    same += float_classes[i] == int8_classes[i];
  return float_classes.empty()
             ? 0.0
             : static_cast<double>(same) / static_cast<double>(float_classes.size());
}

/// What compression measured.
struct compression_figures {
  std::size_t held_out_rows = 0;
  double f32_sps = 0, bf16_sps = 0;               ///< training samples/s
  double f32_acc = 0, bf16_acc = 0, int8_acc = 0; ///< held-out accuracy
  double float_rps = 0, int8_rps = 0;             ///< inference rows/s
  double agree = 0;                               ///< int8's agreement with f32
};

void report_compression(const compression_figures& f, nlohmann::json& out) {
  std::printf(
      "transformer  held-out accuracy (%zu mails)  f32 %.4f  bf16-trained %.4f  int8 %.4f\n",
      f.held_out_rows, f.f32_acc, f.bf16_acc, f.int8_acc);
  out["transformer_f32_accuracy"] = f.f32_acc;
  out["transformer_bf16_accuracy"] = f.bf16_acc;
  out["transformer_int8_accuracy"] = f.int8_acc;
  std::printf("transformer  train samples/s  f32 %8.1f  bf16 %8.1f (%.2fx) | infer rows/s  f32 "
              "%8.1f  int8 %8.1f (%.2fx), int8 agrees with f32 on %.1f%% of held-out rows\n",
              f.f32_sps, f.bf16_sps, f.bf16_sps / f.f32_sps, f.float_rps, f.int8_rps,
              f.int8_rps / f.float_rps, 100.0 * f.agree);
  out["transformer_f32_train_sps"] = f.f32_sps;
  out["transformer_bf16_train_sps"] = f.bf16_sps;
  out["transformer_f32_infer_rps"] = f.float_rps;
  out["transformer_int8_infer_rps"] = f.int8_rps;
  out["transformer_int8_agreement"] = f.agree;
}

} // namespace

void compression(const workload& w, nlohmann::json& out) {
  const auto spec = transformer_spec(w);
  // The last 30 batches are held out; training cycles over the ones before them.
  const std::size_t trained = w.batches.size() > 40 ? w.batches.size() - 30 : w.batches.size();
  compression_figures f;
  std::unique_ptr<engine> f32, bf16;
  f.f32_sps = timed_train(spec, w, trained, "f32", f32);
  f.bf16_sps = timed_train(spec, w, trained, "bf16", bf16);
  const auto held_out = held_out_batches(w, trained);
  f.held_out_rows = held_out.size() * held_out.front().ids.size();
  f.f32_acc = accuracy(*f32, held_out);
  f.bf16_acc = accuracy(*bf16, held_out);
  auto [float_rps, float_classes] = infer_rate(*f32, held_out);
  (void)f32->quantize_int8();
  auto [int8_rps, int8_classes] = infer_rate(*f32, held_out);
  f.int8_acc = accuracy(*f32, held_out);
  f.float_rps = float_rps;
  f.int8_rps = int8_rps;
  f.agree = agreement(float_classes, int8_classes);
  report_compression(f, out);
}

} // namespace llmos::bench
