// Models on a GPU (label gpu; each test skips where LibTorch sees no CUDA device): the shared
// pretrained model placed on cuda:0 reproduces the reference's greedy text, fine-tunes to the
// same losses as on the CPU, trains under bf16 autocast, writes checkpoints a CPU loads, and a
// "cuda" device actor runs the engine's jobs on its GPU and reports free memory that moves with
// what the model allocates. Without a GPU, placing on CUDA is
// refused with a message that says why.
#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <gtest/gtest.h>

#include "cuda_llama_test.hpp"
#include "device/device_actor.hpp"
#include "device/device_core.hpp"
#include "llmos/kernels/cuda_stream.hpp"
#include "llmos/messages/register.hpp"

namespace llmos::model {
namespace {

const char* const story =
    "Once upon a time, there was a little dog named Max. Max liked to run in the big green park "
    "with his friend Tom. One day, Tom found a red ball under a tree. He said, \"Max, look what I "
    "found!\" Max was very happy. They played with the ball all day. When the sun went down, they "
    "went home and had a big dinner. Max was tired, so he went to sleep in his warm bed.";

class model_gpu_test : public cuda_llama_test {
protected:
  std::unique_ptr<engine> on_gpu() {
    auto e = imported();
    if (!e)
      return nullptr;
    auto err = e->place("cuda", 0);
    EXPECT_FALSE(err) << describe(err);
    return err ? nullptr : std::move(e);
  }

  /// Full fine-tuning for `steps` steps of `precision` on the story; the loss of each step.
  std::vector<double> fine_tune_losses(engine& e, int steps, const std::string& precision) {
    auto batch = batch_of(story, 32);
    auto training = e.spec();
    training.max_steps = steps;
    training.warmup_steps = 0;
    training.lr = 1e-3;
    training.precision = precision;
    EXPECT_FALSE(e.fine_tune("full", training, label_vocab{}));
    std::vector<double> losses;
    for (int i = 0; i < steps; ++i) {
      auto r = e.train_step(batch);
      EXPECT_TRUE(r) << describe(r.error());
      if (!r)
        break;
      losses.push_back(r->loss);
    }
    return losses;
  }
};

TEST_F(model_gpu_test, greedy_generation_on_cuda_reproduces_the_reference_text) {
  auto e = on_gpu();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->device(), "cuda:0");
  expect_reference_text(*e);
}

TEST_F(model_gpu_test, fine_tuning_on_cuda_follows_the_cpu_losses) {
  auto cpu = imported();
  auto gpu = on_gpu();
  ASSERT_TRUE(cpu && gpu);
  const auto a = fine_tune_losses(*cpu, 20, "f32");
  const auto b = fine_tune_losses(*gpu, 20, "f32");
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    EXPECT_NEAR(b[i], a[i], 1e-3 * std::max(1.0, a[i])) << "step " << i;
  EXPECT_LT(b.back(), b.front());
}

TEST_F(model_gpu_test, bf16_autocast_on_cuda_trains) {
  auto e = on_gpu();
  auto f32 = on_gpu();
  ASSERT_TRUE(e && f32);
  const auto losses = fine_tune_losses(*e, 30, "bf16");
  ASSERT_EQ(losses.size(), 30u);
  for (auto l : losses)
    ASSERT_TRUE(std::isfinite(l));
  EXPECT_LT(losses.back(), losses.front() * 0.9);
  // The same weights and batch in float32: a first loss equal to the bit would mean autocast
  // never took the matmuls to bf16.
  const auto reference = fine_tune_losses(*f32, 1, "f32");
  ASSERT_EQ(reference.size(), 1u);
  EXPECT_GT(std::fabs(losses[0] - reference[0]), 1e-6) << "bf16 " << losses[0];
  EXPECT_LT(std::fabs(losses[0] - reference[0]), 0.05 * reference[0]);
}

TEST_F(model_gpu_test, a_classifier_re_headed_on_cuda_trains_there) {
  // A fine-tune with new labels makes a new head; it must land on the engine's GPU.
  auto spec = parse_model_spec("model: tiny\narchitecture: bag\nhyper: {embed_dim: 16, "
                               "hidden_dim: 16}\ntrain: {lr: 0.01, warmup_steps: 0}\n",
                               "tiny.yaml");
  ASSERT_TRUE(spec) << describe(spec.error());
  data_shape shape;
  shape.vocab_size = 64;
  shape.num_classes = 2;
  auto e = engine::create(*spec, shape, label_vocab{{"a", "b"}});
  ASSERT_TRUE(e) << describe(e.error());
  ASSERT_FALSE((*e)->place("cuda", 0));
  auto batch = [](const std::vector<std::string>& labels) {
    data_batch b;
    b.inputs.dtype = "i32";
    b.inputs.shape = {static_cast<int64_t>(labels.size()), 4};
    std::vector<int32_t> ids;
    for (std::size_t r = 0; r < labels.size(); ++r)
      for (int32_t k = 0; k < 4; ++k)
        ids.push_back(static_cast<int32_t>(1 + (labels[r][0] - 'a') * 8 + k));
    b.inputs.data.assign(reinterpret_cast<const char*>(ids.data()), ids.size() * sizeof(int32_t));
    b.labels = labels;
    return b;
  };
  ASSERT_TRUE((*e)->train_step(batch({"a", "b", "a", "b"})));
  for (const std::string mode : {"full", "head"}) {
    ASSERT_FALSE((*e)->fine_tune(mode, *spec, label_vocab{{"a", "b", "c"}})) << mode;
    ASSERT_FALSE((*e)->fine_tune(mode, *spec, label_vocab{{"a", "b", "c", "d"}})) << mode;
    for (int i = 0; i < 3; ++i) {
      auto r = (*e)->train_step(batch({"a", "b", "c", "d"}));
      ASSERT_TRUE(r) << mode << ": " << describe(r.error());
      EXPECT_TRUE(std::isfinite(r->loss));
    }
  }
}

TEST_F(model_gpu_test, a_checkpoint_written_on_cuda_loads_on_the_cpu) {
  auto e = on_gpu();
  ASSERT_TRUE(e);
  fine_tune_losses(*e, 3, "f32");
  const auto path =
      (std::filesystem::temp_directory_path() / ("gpu_ckpt_" + std::to_string(::getpid()) + ".pt"))
          .string();
  ASSERT_FALSE(e->save(path));
  EXPECT_EQ(e->device(), "cuda:0"); // saving went through the host and came back
  auto loaded = engine::load(path);
  std::filesystem::remove(path);
  ASSERT_TRUE(loaded) << describe(loaded.error());
  EXPECT_EQ((*loaded)->device(), "cpu");
  EXPECT_EQ((*loaded)->flat_parameters(), e->flat_parameters());
  // Both continue from the same optimizer state, one on each device.
  const auto prompt = tok_->encode("Lily went to");
  EXPECT_EQ(greedy(**loaded, prompt, 30), greedy(*e, prompt, 30));
}

TEST_F(model_gpu_test, a_cuda_device_actor_runs_the_engine_on_its_gpu) {
  caf::actor_system_config cfg;
  register_messages(cfg);
  cfg.set("scheduler.max-threads", 2);
  caf::actor_system sys{cfg};
  auto core = device_core::create("gpu0", "cuda", 0, 1);
  ASSERT_TRUE(core) << describe(core.error());
  EXPECT_GT(core->info().memory_bytes, 0u);
  auto device = spawn_device(sys, std::move(*core));
  auto e = std::shared_ptr<engine>(imported());
  ASSERT_TRUE(e);
  const auto prompt = tok_->encode("Tom saw a");
  auto out = std::make_shared<std::vector<int32_t>>();
  auto placed = std::make_shared<std::string>();
  auto stream = std::make_shared<void*>(nullptr);
  device_job job;
  job.what = "generate on gpu0";
  // What a model actor's job does (model_state.hpp on_device): under the device's stream,
  // place, then compute.
  job.run = std::make_shared<std::function<void(const device_info&)>>(
      [e, out, placed, prompt, stream](const device_info& d) {
        *stream = kernels::current_job_streams().compute;
        const engine::stream_scope on_stream(*stream, d.cuda_index);
        if (auto err = e->place(d.type, d.cuda_index)) {
          *placed = describe(err);
          return;
        }
        *placed = e->device();
        sampling_params greedy_params;
        greedy_params.temperature = 0.0;
        if (auto got = e->generate(prompt, 40, greedy_params, 1, nullptr))
          *out = *got;
      });
  caf::scoped_actor self{sys};
  self->request(device, std::chrono::seconds(120), run_job_atom::value, std::move(job))
      .receive([](double seconds) { EXPECT_GT(seconds, 0.0); },
               [](const caf::error& err) { ADD_FAILURE() << describe(err); });
  EXPECT_EQ(*placed, "cuda:0");
  EXPECT_NE(*stream, nullptr) << "a cuda device's jobs run under its own stream";
  auto cpu = imported();
  ASSERT_TRUE(cpu);
  EXPECT_EQ(*out, greedy(*cpu, prompt, 40));
  self->send_exit(device, caf::exit_reason::user_shutdown);
}

TEST_F(model_gpu_test, a_cuda_device_reports_memory_that_moves_with_allocation) {
  auto probe = device_core::create("gpu-probe", "cuda", 0, 1);
  ASSERT_TRUE(probe) << describe(probe.error());
  const auto before = probe->snapshot(0).memory_free_bytes;
  ASSERT_GT(before, 0u);
  EXPECT_LE(before, probe->info().memory_bytes);
  // A 12-layer, d-1024 llama with its AdamW state after one step: well over 500 MB on the GPU,
  // held by LibTorch's caching allocator.
  auto spec = parse_model_spec("model: big\narchitecture: llama\n"
                               "hyper: {vocab_size: 32000, embed_dim: 1024, ff_dim: 2816, "
                               "layers: 12, heads: 16, max_length: 256}\n",
                               "memory test");
  ASSERT_TRUE(spec) << describe(spec.error());
  data_shape shape;
  shape.vocab_size = 32000;
  auto e = engine::create(*spec, shape, {});
  ASSERT_TRUE(e) << describe(e.error());
  ASSERT_FALSE((*e)->place("cuda", 0));
  data_batch batch;
  batch.inputs.dtype = "i32";
  batch.inputs.shape = {2, 64};
  std::vector<int32_t> ids(128, 7);
  batch.inputs.data.assign(reinterpret_cast<const char*>(ids.data()), ids.size() * 4);
  batch.labels.assign(2, "");
  ASSERT_TRUE((*e)->train_step(batch));
  const auto now = probe->snapshot(0);
  const auto after = now.memory_free_bytes;
  EXPECT_LT(after + (uint64_t{500} << 20), before)
      << "free before " << (before >> 20) << " MiB, after " << (after >> 20) << " MiB";
  // The caching allocator's own figures: the model and its optimizer state live in tensors.
  EXPECT_GT(now.memory_allocated_bytes, uint64_t{500} << 20) << (now.memory_allocated_bytes >> 20);
  EXPECT_GE(now.memory_reserved_bytes, now.memory_allocated_bytes);
}

// Runs everywhere: without a GPU the refusal names the model and the reason.
TEST_F(llama_test, placing_on_a_missing_gpu_is_refused_with_the_reason) {
  auto e = imported();
  ASSERT_TRUE(e);
  const int gpus = engine::cuda_devices();
  auto err = e->place("cuda", gpus); // one past the last GPU (cuda:0 where there is none)
  ASSERT_TRUE(err);
  EXPECT_NE(describe(err).find("model 'stories'"), std::string::npos) << describe(err);
  EXPECT_NE(describe(err).find("cuda:" + std::to_string(gpus)), std::string::npos) << describe(err);
  EXPECT_EQ(e->device(), "cpu");
  EXPECT_TRUE(e->place("tpu", 0));
  EXPECT_FALSE(e->place("cpu", -1));
}

} // namespace
} // namespace llmos::model
