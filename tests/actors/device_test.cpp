// The device: device_core on its own (what a device reports, GELU against the CPU reference,
// refused tensors, counters, CUDA devices the machine does not have), then the "device" actor
// kind spawned in a normal actor system and asked through its typed interface.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <gtest/gtest.h>

#include "device/device_actor.hpp"
#include "device/device_core.hpp"
#include "llmos/kernels/cuda_info.hpp"
#include "llmos/kernels/cuda_stream.hpp"
#include "llmos/kernels/gelu.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/messages/register.hpp"
#include "threaded_system.hpp"

namespace llmos {
namespace {

tensor_bytes make_tensor(std::vector<int64_t> shape, const std::vector<float>& values) {
  tensor_bytes t;
  t.shape = std::move(shape);
  t.data.resize(values.size() * sizeof(float));
  std::memcpy(t.data.data(), values.data(), t.data.size());
  return t;
}

std::vector<float> values_of(const tensor_bytes& t) {
  std::vector<float> out(t.data.size() / sizeof(float));
  std::memcpy(out.data(), t.data.data(), out.size() * sizeof(float));
  return out;
}

std::vector<float> cpu_reference(const std::vector<float>& in) {
  std::vector<float> out(in.size());
  kernels::gelu_forward_cpu(out.data(), in.data(), in.size());
  return out;
}

/// -4 .. 4 in small steps, plus values where tanh saturates.
std::vector<float> sweep() {
  std::vector<float> xs;
  for (int i = -400; i <= 400; i += 7)
    xs.push_back(static_cast<float>(i) / 100.0f);
  for (float x : {-20.0f, -8.0f, 8.0f, 20.0f, 0.0f, -0.0f, 1e-6f})
    xs.push_back(x);
  return xs;
}

device_core cpu_device(const std::string& name = "cpu0", uint32_t threads = 2) {
  auto core = device_core::create(name, "cpu", 0, threads);
  EXPECT_TRUE(core) << describe(core.error());
  return std::move(*core);
}

void expect_kernel_failed(const caf::expected<tensor_bytes>& result,
                          const std::vector<std::string>& words) {
  ASSERT_FALSE(result) << "expected the tensor to be refused";
  EXPECT_EQ(result.error().category(), error_category);
  EXPECT_EQ(result.error().code(), static_cast<uint8_t>(error_code::kernel_failed));
  const auto msg = describe(result.error());
  for (const auto& w : words)
    EXPECT_NE(msg.find(w), std::string::npos) << "missing '" << w << "' in: " << msg;
}

TEST(device_core, cpu_device_describes_itself) {
  auto core = cpu_device("cpu7", 3);
  const auto& info = core.info();
  EXPECT_EQ(info.name, "cpu7");
  EXPECT_EQ(info.type, "cpu");
  EXPECT_EQ(info.backend, "cpu");
  EXPECT_EQ(info.threads, 3u);
  EXPECT_EQ(info.cuda_index, -1);
  EXPECT_GT(info.memory_bytes, uint64_t{64} << 20) << "the machine's memory";
  // Free memory is read when asked: some, and never more than there is.
  const auto now = core.snapshot(0);
  EXPECT_GT(now.memory_free_bytes, 0u);
  EXPECT_LE(now.memory_free_bytes, info.memory_bytes);
  EXPECT_EQ(now.memory_allocated_bytes, 0u) << "LibTorch's CUDA allocator is a GPU's only";
  EXPECT_EQ(now.memory_reserved_bytes, 0u);
  EXPECT_EQ(info.jobs_done, 0u);
  EXPECT_EQ(info.elements_done, 0u);
  EXPECT_EQ(info.busy_seconds, 0.0);
}

TEST(device_core, gelu_matches_the_cpu_kernel_and_known_values) {
  auto core = cpu_device();
  const auto in = sweep();
  auto out = core.gelu(make_tensor({static_cast<int64_t>(in.size())}, in));
  ASSERT_TRUE(out) << describe(out.error());
  EXPECT_EQ(out->shape, (std::vector<int64_t>{static_cast<int64_t>(in.size())}));
  const auto got = values_of(*out);
  const auto want = cpu_reference(in);
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i)
    EXPECT_EQ(got[i], want[i]) << "at x=" << in[i] << ": the CPU device runs the CPU kernel";
  auto known = core.gelu(make_tensor({3}, {0.0f, 1.0f, -1.0f}));
  ASSERT_TRUE(known) << describe(known.error());
  const auto k = values_of(*known);
  EXPECT_FLOAT_EQ(k[0], 0.0f);
  EXPECT_NEAR(k[1], 0.841192f, 1e-5);
  EXPECT_NEAR(k[2], -0.158808f, 1e-5);
}

TEST(device_core, gelu_keeps_the_shape_and_accepts_empty_tensors) {
  auto core = cpu_device();
  auto out = core.gelu(make_tensor({2, 3}, {1, 2, 3, -1, -2, -3}));
  ASSERT_TRUE(out) << describe(out.error());
  EXPECT_EQ(out->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(values_of(*out), cpu_reference({1, 2, 3, -1, -2, -3}));
  auto empty = core.gelu(make_tensor({4, 0}, {}));
  ASSERT_TRUE(empty) << describe(empty.error());
  EXPECT_EQ(empty->shape, (std::vector<int64_t>{4, 0}));
  EXPECT_TRUE(empty->data.empty());
  // No dimensions: a scalar, one value.
  auto scalar = core.gelu(make_tensor({}, {1.0f}));
  ASSERT_TRUE(scalar) << describe(scalar.error());
  EXPECT_NEAR(values_of(*scalar).at(0), 0.841192f, 1e-5);
}

TEST(device_core, refuses_tensors_whose_bytes_do_not_match_the_shape) {
  auto core = cpu_device();
  auto short_by_one = make_tensor({2, 2}, {1, 2, 3, 4});
  short_by_one.data.pop_back();
  expect_kernel_failed(core.gelu(short_by_one), {"15 bytes", "16"});
  expect_kernel_failed(core.gelu(make_tensor({3}, {1, 2, 3, 4})), {"16 bytes", "12"});
  expect_kernel_failed(core.gelu(make_tensor({2, -2}, {1, 2, 3, 4})), {"negative", "-2"});
  expect_kernel_failed(
      core.gelu(make_tensor(
          {std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::max()}, {1})),
      {"overflows"});
  // Refused tensors are not work done.
  EXPECT_EQ(core.info().jobs_done, 0u);
  EXPECT_EQ(core.info().elements_done, 0u);
}

TEST(device_core, counters_advance_with_each_kernel) {
  auto core = cpu_device();
  ASSERT_TRUE(core.gelu(make_tensor({5}, {1, 2, 3, 4, 5})));
  EXPECT_EQ(core.info().jobs_done, 1u);
  EXPECT_EQ(core.info().elements_done, 5u);
  ASSERT_TRUE(core.gelu(make_tensor({2, 3}, {1, 2, 3, 4, 5, 6})));
  EXPECT_EQ(core.info().jobs_done, 2u);
  EXPECT_EQ(core.info().elements_done, 11u);
  EXPECT_GE(core.info().busy_seconds, 0.0);
  EXPECT_LT(core.info().busy_seconds, 10.0);
}

TEST(float_count, counts_elements_of_a_valid_tensor) {
  auto n = float_count(make_tensor({2, 3, 4}, std::vector<float>(24)));
  ASSERT_TRUE(n) << describe(n.error());
  EXPECT_EQ(*n, 24u);
}

TEST(device_core, cuda_device_the_machine_lacks_is_refused_with_the_count) {
  const int count = kernels::cuda_device_count();
  const std::string have = "has " + std::to_string(count) + " usable CUDA device(s)";
  for (int index : {count, 99, -1}) {
    auto core = device_core::create("gpu", "cuda", index, 1);
    ASSERT_FALSE(core) << "cuda index " << index << " with " << count << " devices";
    EXPECT_EQ(core.error().code(), static_cast<uint8_t>(error_code::bad_config));
    const auto msg = describe(core.error());
    EXPECT_NE(msg.find("cuda index " + std::to_string(index)), std::string::npos) << msg;
    EXPECT_NE(msg.find(have), std::string::npos) << msg;
    EXPECT_NE(msg.find("type=cpu"), std::string::npos) << "the message says what to do: " << msg;
  }
}

TEST(device_core, cpu_device_refuses_nccl_and_says_why) {
  auto core = device_core::create("cpu0", "cpu", 0, 1);
  ASSERT_TRUE(core);
  auto id = core->nccl_id();
  ASSERT_FALSE(id);
  EXPECT_NE(describe(id.error()).find("device 'cpu0': an NCCL id needs a CUDA device"),
            std::string::npos)
      << describe(id.error());
  EXPECT_TRUE(core->nccl_join(std::string(128, '\0'), 0, 1));
  auto sum = core->all_reduce(make_tensor({2}, {1.0f, 2.0f}));
  ASSERT_FALSE(sum);
  EXPECT_NE(describe(sum.error()).find("is in no NCCL group"), std::string::npos);
}

// A job finds its device's streams through the thread (the device actor sets them around it):
// none on a CPU device; a GPU device's own (checked where there is one).
TEST(device_core, a_device_job_sees_its_device_streams_and_only_during_the_job) {
  auto cpu = device_core::create("cpu0", "cpu", 0, 1);
  ASSERT_TRUE(cpu);
  EXPECT_EQ(cpu->streams().compute, nullptr);
  EXPECT_EQ(cpu->streams().copy, nullptr);
  int a = 0, b = 0;
  {
    const kernels::job_stream_scope outer({&a, &b});
    EXPECT_EQ(kernels::current_job_streams().compute, &a);
    {
      const kernels::job_stream_scope inner(cpu->streams());
      EXPECT_EQ(kernels::current_job_streams().compute, nullptr);
    }
    EXPECT_EQ(kernels::current_job_streams().copy, &b);
  }
  EXPECT_EQ(kernels::current_job_streams().compute, nullptr);
  if (kernels::cuda_device_count() == 0)
    return;
  auto gpu = device_core::create("gpu0", "cuda", 0, 1);
  ASSERT_TRUE(gpu) << describe(gpu.error());
  EXPECT_NE(gpu->streams().compute, nullptr);
  EXPECT_NE(gpu->streams().copy, nullptr);
  EXPECT_NE(gpu->streams().compute, gpu->streams().copy);
}

TEST(device_core, cuda_device_all_reduce_in_a_group_of_one) {
  if (kernels::cuda_device_count() == 0)
    GTEST_SKIP() << "no usable CUDA device";
  auto core = device_core::create("gpu0", "cuda", 0, 1);
  ASSERT_TRUE(core);
  auto id = core->nccl_id();
  ASSERT_TRUE(id) << describe(id.error());
  ASSERT_FALSE(core->nccl_join(*id, 0, 1));
  auto sum = core->all_reduce(make_tensor({3}, {1.0f, -2.0f, 0.5f}));
  ASSERT_TRUE(sum) << describe(sum.error());
  EXPECT_EQ(values_of(*sum), (std::vector<float>{1.0f, -2.0f, 0.5f}));
}

TEST(device_core, cuda_device_matches_the_cpu_reference) {
  if (kernels::cuda_device_count() == 0)
    GTEST_SKIP() << "no usable CUDA device";
  auto core = device_core::create("gpu0", "cuda", 0, 1);
  ASSERT_TRUE(core) << describe(core.error());
  EXPECT_EQ(core->info().backend, "cuda");
  EXPECT_EQ(core->info().cuda_index, 0);
  EXPECT_GT(core->info().memory_bytes, 0u);
  const auto in = sweep();
  auto out = core->gelu(make_tensor({static_cast<int64_t>(in.size())}, in));
  ASSERT_TRUE(out) << describe(out.error());
  const auto got = values_of(*out);
  const auto want = cpu_reference(in);
  for (std::size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], 1e-5 * std::max(1.0f, std::fabs(in[i]))) << "at x=" << in[i];
  EXPECT_EQ(core->info().jobs_done, 1u);
}

// --- the "device" actor kind -------------------------------------------------------------------

class device_kind_test : public ::testing::Test {
protected:
  caf::expected<caf::actor> spawn(std::map<std::string, std::string> config) {
    // Defaults as the kind table would fill them in.
    config.emplace("type", "cpu");
    config.emplace("index", "0");
    config.emplace("threads", "1");
    spawn_context ctx{sys_, "solo", "cpu0", std::move(config)};
    auto handle = kind_.spawn(ctx);
    if (handle)
      spawned_.push_back(*handle);
    return handle;
  }

  actor_kind kind_ = device_kind();
  test::threaded_config cfg_;
  caf::actor_system sys_{cfg_};
  test::exit_at_end spawned_;
};

TEST_F(device_kind_test, spawned_device_answers_info_and_gelu) {
  auto handle = spawn({{"threads", "4"}});
  ASSERT_TRUE(handle) << describe(handle.error());
  auto dev = caf::actor_cast<device_actor>(*handle);
  caf::scoped_actor self{sys_};
  self->request(dev, std::chrono::seconds(10), gelu_atom::value,
                make_tensor({3}, {0.0f, 1.0f, -1.0f}))
      .receive(
          [&](const tensor_bytes& out) {
            EXPECT_EQ(values_of(out), cpu_reference({0.0f, 1.0f, -1.0f}));
          },
          [&](const caf::error& err) { ADD_FAILURE() << describe(err); });
  self->request(dev, std::chrono::seconds(10), gelu_atom::value, make_tensor({2}, {1.0f}))
      .receive([&](const tensor_bytes&) { ADD_FAILURE() << "a short tensor was accepted"; },
               [&](const caf::error& err) {
                 EXPECT_EQ(err.code(), static_cast<uint8_t>(error_code::kernel_failed))
                     << describe(err);
               });
  self->request(dev, std::chrono::seconds(10), info_atom::value)
      .receive(
          [&](const device_info& info) {
            EXPECT_EQ(info.name, "cpu0");
            EXPECT_EQ(info.type, "cpu");
            EXPECT_EQ(info.threads, 4u);
            EXPECT_EQ(info.jobs_done, 1u);
            EXPECT_EQ(info.elements_done, 3u);
          },
          [&](const caf::error& err) { ADD_FAILURE() << describe(err); });
}

TEST_F(device_kind_test, integers_a_device_cannot_use_are_refused) {
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"index", "99999999999"},
                                                        {"index", "-1"},
                                                        {"threads", "0"},
                                                        {"threads", "-1"},
                                                        {"threads", "99999999999"}}) {
    auto handle = spawn({{key, value}});
    ASSERT_FALSE(handle) << key << "=" << value << " was accepted";
    EXPECT_EQ(handle.error().code(), static_cast<uint8_t>(error_code::bad_config));
    const auto msg = describe(handle.error());
    EXPECT_NE(msg.find("'" + key + "'"), std::string::npos) << msg;
    EXPECT_NE(msg.find(value), std::string::npos) << msg;
  }
}

TEST_F(device_kind_test, schema_has_the_documented_keys_and_defaults) {
  std::map<std::string, std::string> defaults;
  for (const auto& f : kind_.fields)
    defaults[f.key] = f.default_value;
  EXPECT_EQ(kind_.name, "device");
  EXPECT_EQ(defaults, (std::map<std::string, std::string>{
                          {"index", "0"}, {"threads", "1"}, {"type", "cpu"}}));
}

} // namespace
} // namespace llmos
