// Packaging: a model trained for a few dozen steps on real data is exported, each file is loaded
// back the way an outside runtime would (TorchScript with torch::jit::load, ONNX with OpenCV's
// dnn module) and its outputs are compared with the checkpoint's network and with what
// engine::infer / engine::evaluate answer for the same rows.
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include <opencv2/dnn.hpp>
#include <torch/script.h>

#include "../../temp_folder.hpp"
#include "engine_test_util.hpp"
#include "model/export/checkpoint_network.hpp"
#include "model/export/export.hpp"

namespace llmos::model::testing {
namespace {

namespace fs = std::filesystem;

constexpr double tolerance = 1e-4;

/// Prints a measured difference (the numbers the export's users care about) and returns it.
double report(const std::string& what, double diff) {
  std::cout << "[ measured ] " << what << ": max |diff| " << diff << "\n";
  return diff;
}

double max_abs(const torch::Tensor& a, const torch::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  if (a.sizes() != b.sizes())
    return std::numeric_limits<double>::infinity();
  return (a - b).abs().max().item<double>();
}

torch::Tensor wire(const tensor_bytes& t) {
  const auto type = t.dtype == "u8" ? torch::kUInt8 : torch::kInt32;
  return torch::from_blob(const_cast<char*>(t.data.data()), t.shape, type).clone();
}

tensor_bytes to_bytes(const torch::Tensor& x) {
  auto c = x.contiguous();
  tensor_bytes t;
  t.shape = c.sizes().vec();
  t.dtype = c.scalar_type() == torch::kUInt8 ? "u8" : "i32";
  t.data.assign(static_cast<const char*>(c.data_ptr()), static_cast<std::size_t>(c.nbytes()));
  return t;
}

/// Logits of the checkpoint's own network for wire-form inputs.
torch::Tensor network_logits(const std::string& checkpoint, const torch::Tensor& x) {
  auto c = load_checkpoint_network(checkpoint);
  EXPECT_TRUE(c) << describe(c.error());
  torch::NoGradGuard no_grad;
  return c->net->forward(network_input(*c, x));
}

torch::Tensor engine_probabilities(engine& e, const tensor_bytes& x) {
  auto p = e.infer(x);
  EXPECT_TRUE(p) << describe(p.error());
  std::vector<torch::Tensor> rows;
  for (auto& row : *p)
    rows.push_back(torch::tensor(row.probabilities));
  return torch::stack(rows);
}

torch::Tensor torchscript_logits(const std::string& file, const torch::Tensor& x) {
  auto m = torch::jit::load(file);
  torch::NoGradGuard no_grad;
  return m.forward({x}).toTensor();
}

torch::Tensor opencv_logits(const std::string& file, const tensor_bytes& x) {
  auto net = cv::dnn::readNetFromONNX(file);
  std::vector<int> sizes(x.shape.begin(), x.shape.end());
  cv::Mat in(static_cast<int>(sizes.size()), sizes.data(), x.dtype == "u8" ? CV_8U : CV_32S,
             const_cast<char*>(x.data.data()));
  net.setInput(in, x.dtype == "u8" ? "pixels" : "tokens");
  cv::Mat out = net.forward();
  EXPECT_EQ(out.dims, 2);
  return torch::from_blob(out.ptr<float>(), {out.size[0], out.size[1]}, torch::kFloat32).clone();
}

nlohmann::json torchscript_metadata(const std::string& file) {
  torch::jit::ExtraFilesMap extra{{"llmos.json", ""}};
  torch::jit::load(file, c10::nullopt, extra);
  return nlohmann::json::parse(extra["llmos.json"], nullptr, false);
}

/// Trains `spec` for its max_steps on `set` and saves the checkpoint to `path`.
std::unique_ptr<engine> trained(const std::string& spec, const small_set& set,
                                const std::string& path) {
  auto e = make_engine(spec_of(spec), set);
  if (!e)
    return nullptr;
  train(*e, set, e->spec().max_steps, static_cast<uint32_t>(e->spec().batch_size));
  EXPECT_FALSE(e->save(path));
  return e;
}

/// Classifier exports that take whole batches (bag, cnn): every format against the network and
/// the engine on one validation batch.
void expect_batch_exports_match(engine& e, const std::string& ckpt, const test::temp_folder& dir,
                                const data_batch& batch) {
  const auto arch = e.spec().architecture;
  const auto x = wire(batch.inputs);
  const auto want = network_logits(ckpt, x);
  const auto probs = engine_probabilities(e, batch.inputs);
  EXPECT_LT(report(arch + " network vs engine::infer (probabilities)",
                   max_abs(torch::softmax(want, 1), probs)),
            1e-6);

  const auto ts = dir / (arch + ".pt");
  ASSERT_FALSE(export_torchscript(ckpt, ts));
  const auto ts_logits = torchscript_logits(ts, x);
  EXPECT_LT(report(arch + " TorchScript vs network (logits)", max_abs(ts_logits, want)), tolerance);
  EXPECT_LT(report(arch + " TorchScript vs engine::infer (probabilities)",
                   max_abs(torch::softmax(ts_logits, 1), probs)),
            tolerance);

  const auto onnx = dir / (arch + ".onnx");
  ASSERT_FALSE(export_onnx(ckpt, onnx));
  const auto cv_logits = opencv_logits(onnx, batch.inputs);
  EXPECT_LT(report(arch + " ONNX (OpenCV dnn) vs network (logits)", max_abs(cv_logits, want)),
            tolerance);
  EXPECT_LT(report(arch + " ONNX (OpenCV dnn) vs engine::infer (probabilities)",
                   max_abs(torch::softmax(cv_logits, 1), probs)),
            tolerance);
}

const char* bag_spec = "model: spam-bag\narchitecture: bag\n"
                       "hyper: {embed_dim: 32, hidden_dim: 32, dropout: 0.1}\n"
                       "train: {lr: 0.003, batch_size: 16, max_steps: 30, warmup_steps: 5}\n";

TEST(model_export, bag_exports_to_torchscript_and_onnx_and_both_match_the_engine) {
  auto set = spam_set();
  if (!set)
    GTEST_SKIP() << "SpamAssassin not installed (run tools/setup/setup.sh)";
  test::temp_folder dir;
  const auto ckpt = dir / "bag.ckpt";
  auto e = trained(bag_spec, *set, ckpt);
  ASSERT_TRUE(e);
  auto batches = set->batches("validation", 16);
  ASSERT_GE(batches.size(), 2u);
  expect_batch_exports_match(*e, ckpt, dir, batches[0]);

  // Any batch size and length (a single short row, rows of padding only): the declared shape.
  auto short_rows = wire(batches[1].inputs).narrow(1, 0, 7).narrow(0, 0, 3).clone();
  short_rows[2].fill_(set->shape.pad_id);
  const auto want = network_logits(ckpt, short_rows);
  EXPECT_LT(max_abs(torchscript_logits(dir / "bag.pt", short_rows.to(torch::kLong)), want),
            tolerance);
  EXPECT_LT(max_abs(opencv_logits(dir / "bag.onnx", to_bytes(short_rows)), want), tolerance);
  // Exporting leaves the process's RNG alone (loading a checkpoint restores the RNG state saved
  // in it; building the network draws initial weights).
  torch::manual_seed(7);
  ASSERT_FALSE(export_onnx(ckpt, dir / "again.onnx"));
  const auto drawn = torch::rand({4});
  torch::manual_seed(7);
  EXPECT_TRUE(torch::equal(drawn, torch::rand({4})));

  auto meta = torchscript_metadata(dir / "bag.pt");
  EXPECT_EQ(meta.value("architecture", ""), "bag");
  EXPECT_EQ(meta["labels"].get<std::vector<std::string>>(), e->labels().labels());
  EXPECT_EQ(meta["input"]["shape"], nlohmann::json({-1, -1}));

  // The comparison has teeth: after more training, the old files no longer match the engine.
  auto more = set->batches("train", 16, 5);
  for (std::size_t i = 0; i < 10 && i < more.size(); ++i)
    ASSERT_TRUE(e->train_step(more[i]));
  EXPECT_GT(max_abs(torch::softmax(opencv_logits(dir / "bag.onnx", batches[0].inputs), 1),
                    engine_probabilities(*e, batches[0].inputs)),
            1e-3);
}

TEST(model_export, lora_fine_tuned_bag_exports_with_its_adapters_folded_in) {
  auto set = spam_set();
  if (!set)
    GTEST_SKIP() << "SpamAssassin not installed (run tools/setup/setup.sh)";
  test::temp_folder dir;
  auto e = trained(bag_spec, *set, dir / "base.ckpt");
  ASSERT_TRUE(e);
  auto tune = spec_of(std::string(bag_spec) + "lora: {rank: 4, alpha: 8}\n");
  ASSERT_FALSE(e->fine_tune("lora", tune, set->labels));
  auto batches = set->batches("train", 16, 1);
  for (std::size_t i = 0; i < 10; ++i)
    ASSERT_TRUE(e->train_step(batches[i]));
  ASSERT_FALSE(e->save(dir / "lora.ckpt"));
  expect_batch_exports_match(*e, dir / "lora.ckpt", dir, set->batches("validation", 16)[0]);
}

TEST(model_export, cnn_exports_to_torchscript_and_onnx_and_both_match_the_engine) {
  auto set = fashion_set();
  if (!set)
    GTEST_SKIP() << "Fashion-MNIST not installed (run tools/setup/setup.sh)";
  test::temp_folder dir;
  const auto ckpt = dir / "cnn.ckpt";
  auto e = trained("model: fashion-cnn\narchitecture: cnn\n"
                   "hyper: {conv_channels: [8, 16], hidden_dim: 32, dropout: 0.1}\n"
                   "train: {lr: 0.003, batch_size: 32, max_steps: 30, warmup_steps: 5}\n",
                   *set, ckpt);
  ASSERT_TRUE(e);
  expect_batch_exports_match(*e, ckpt, dir, set->batches("validation", 32)[0]);
}

/// Token ids [1, length] cut or padded (with pad_id) to `length`.
torch::Tensor fit(const torch::Tensor& row, int64_t length, int64_t pad_id) {
  if (row.size(1) >= length)
    return row.narrow(1, 0, length).clone();
  auto out = torch::full({1, length}, pad_id, row.options());
  out.narrow(1, 0, row.size(1)).copy_(row);
  return out;
}

/// The one-row TorchScript exports (bilstm, transformer): row by row against the network and
/// engine::infer, and no ONNX exporter.
void expect_row_exports_match(const std::string& arch, const std::string& hyper) {
  auto set = spam_set();
  if (!set)
    GTEST_SKIP() << "SpamAssassin not installed (run tools/setup/setup.sh)";
  test::temp_folder dir;
  const auto ckpt = dir / (arch + ".ckpt");
  auto e = trained("model: spam-" + arch + "\narchitecture: " + arch + "\nhyper: " + hyper +
                       "\ntrain: {lr: 0.003, batch_size: 16, max_steps: 15, warmup_steps: 3}\n",
                   *set, ckpt);
  ASSERT_TRUE(e);
  const auto file = dir / (arch + ".pt");
  ASSERT_FALSE(export_torchscript(ckpt, file));
  const auto meta = torchscript_metadata(file);
  const auto length = meta["input"]["shape"][1].get<int64_t>();
  auto batch = wire(set->batches("validation", 16)[0].inputs);
  double vs_network = 0, vs_engine = 0;
  for (int64_t i = 0; i < 4; ++i) {
    auto row = batch.narrow(0, i, 1);
    auto in = length > 0 ? fit(row, length, set->shape.pad_id) : row.clone();
    auto got = torchscript_logits(file, in);
    vs_network = std::max(vs_network, max_abs(got, network_logits(ckpt, in)));
    vs_engine = std::max(vs_engine,
                         max_abs(torch::softmax(got, 1), engine_probabilities(*e, to_bytes(row))));
  }
  EXPECT_LT(report(arch + " TorchScript vs network (logits)", vs_network), tolerance);
  EXPECT_LT(report(arch + " TorchScript vs engine::infer (probabilities)", vs_engine), tolerance);
  auto refused = export_onnx(ckpt, dir / (arch + ".onnx"));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused.code(), static_cast<uint8_t>(error_code::bad_params));
  EXPECT_NE(describe(refused).find("architecture '" + arch + "' has no ONNX exporter"),
            std::string::npos)
      << describe(refused);
  EXPECT_FALSE(fs::exists(dir / (arch + ".onnx")));
}

TEST(model_export, bilstm_exports_to_torchscript_one_row_of_any_length) {
  expect_row_exports_match("bilstm", "{embed_dim: 16, hidden_dim: 16, layers: 1, dropout: 0.1}");
}

TEST(model_export, transformer_exports_to_torchscript_one_padded_row) {
  expect_row_exports_match(
      "transformer",
      "{embed_dim: 32, heads: 4, layers: 1, ff_dim: 64, max_length: 64, dropout: 0.1}");
}

TEST(model_export, gpt_exports_to_torchscript_with_the_engines_loss_and_next_token) {
  auto set = fortunes_set();
  if (!set)
    GTEST_SKIP() << "fortunes not installed (run tools/setup/setup.sh)";
  test::temp_folder dir;
  const auto ckpt = dir / "gpt.ckpt";
  auto e = trained("model: fortunes-gpt\narchitecture: gpt\n"
                   "hyper: {embed_dim: 32, heads: 4, layers: 2, ff_dim: 64, max_length: 64, "
                   "dropout: 0.0}\n"
                   "train: {lr: 0.003, batch_size: 16, max_steps: 20, warmup_steps: 3}\n",
                   *set, ckpt);
  ASSERT_TRUE(e);
  const auto file = dir / "gpt.pt";
  ASSERT_FALSE(export_torchscript(ckpt, file));
  const int64_t length = 64;
  auto batch = set->batches("validation", 16)[0];
  auto row = fit(wire(batch.inputs).narrow(0, 0, 1), length, set->shape.pad_id);
  auto logits = torchscript_logits(file, row);
  ASSERT_EQ(logits.sizes(), (std::vector<int64_t>{1, length, set->shape.vocab_size}));
  EXPECT_LT(
      report("gpt TorchScript vs network (logits)", max_abs(logits, network_logits(ckpt, row))),
      tolerance);

  // The engine's validation loss of that row, from the exported logits.
  data_batch one = batch;
  one.inputs = to_bytes(row);
  one.labels.assign(1, "");
  one.ids.resize(1);
  auto r = e->evaluate({one});
  ASSERT_TRUE(r) << describe(r.error());
  auto target = row.narrow(1, 1, length - 1).to(torch::kLong).reshape({-1});
  auto keep = target.ne(set->shape.pad_id);
  auto nll = -torch::log_softmax(logits[0].narrow(0, 0, length - 1), 1)
                  .gather(1, target.unsqueeze(1))
                  .squeeze(1);
  const double loss = nll.masked_select(keep).mean().item<double>();
  EXPECT_LT(report("gpt TorchScript vs engine::evaluate (loss)", std::abs(loss - r->loss)),
            tolerance);

  // Greedy generation's first token is the argmax after the prompt (BOS first, as generate does).
  const std::vector<int32_t> prompt{'T', 'h', 'e', ' '};
  auto next = e->generate(prompt, 1, sampling_params{0.0, 0, 1.0, 0.0, 0.0, {}}, 1, {});
  ASSERT_TRUE(next) << describe(next.error());
  const int64_t greedy = next->empty() ? set->shape.eos_id : (*next)[0]; // EOS ends generation
  std::vector<int32_t> context;
  if (set->shape.bos_id >= 0)
    context.push_back(static_cast<int32_t>(set->shape.bos_id));
  context.insert(context.end(), prompt.begin(), prompt.end());
  auto ids = fit(torch::tensor(context, torch::kInt).unsqueeze(0), length, set->shape.pad_id);
  const auto last = static_cast<int64_t>(context.size()) - 1;
  EXPECT_EQ(torchscript_logits(file, ids)[0][last].argmax().item<int64_t>(), greedy);
  EXPECT_TRUE(export_onnx(ckpt, dir / "gpt.onnx"));
}

TEST(model_export, missing_checkpoints_and_formats_are_refused_by_name) {
  test::temp_folder dir;
  auto err = export_torchscript(dir / "none.ckpt", dir / "none.pt");
  ASSERT_TRUE(err);
  EXPECT_NE(describe(err).find("none.ckpt': no such file"), std::string::npos) << describe(err);
  EXPECT_FALSE(fs::exists(dir / "none.pt"));
  EXPECT_EQ(export_formats("bag"), (std::vector<std::string>{"torchscript", "onnx"}));
  EXPECT_EQ(export_formats("cnn"), (std::vector<std::string>{"torchscript", "onnx"}));
  EXPECT_EQ(export_formats("gpt"), (std::vector<std::string>{"torchscript"}));
  EXPECT_TRUE(export_formats("mystery").empty());
}

} // namespace
} // namespace llmos::model::testing
