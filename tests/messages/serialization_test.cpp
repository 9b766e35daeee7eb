// Every llmos message type survives CAF's binary serialization, alone and inside a caf::message
// (the form in which it crosses a node boundary); type_ids_test.cpp checks their IDs.
#include <cstring>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>
#include <gtest/gtest.h>

#include "llmos/messages/dataset.hpp"
#include "llmos/messages/device.hpp"
#include "llmos/messages/directory.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/messages/model.hpp"
#include "llmos/messages/node_manager.hpp"
#include "llmos/messages/register.hpp"
#include "llmos/messages/registry.hpp"
#include "llmos/messages/scheduler.hpp"
#include "llmos/messages/serving.hpp"
#include "llmos/messages/tuner.hpp"

namespace llmos {
namespace {

using string_map = std::map<std::string, std::string>;

caf::actor_system_config& registered(caf::actor_system_config& cfg) {
  register_messages(cfg);
  return cfg;
}

class serialization_test : public ::testing::Test {
protected:
  /// Serializes `x` and reads it back into a fresh T; every byte written must be consumed.
  template <class T> T round_trip(const T& x) {
    caf::binary_serializer::container_type buf;
    caf::binary_serializer sink{sys_, buf};
    auto copy = x;
    if (auto err = sink(copy))
      ADD_FAILURE() << "serializing failed: " << sys_.render(err);
    EXPECT_FALSE(buf.empty());
    T result{};
    caf::binary_deserializer source{sys_, buf};
    if (auto err = source(result))
      ADD_FAILURE() << "deserializing failed: " << sys_.render(err);
    EXPECT_EQ(source.remaining(), 0u) << "bytes left over after reading back";
    return result;
  }

  /// Round-trips `x` wrapped in a caf::message, which needs the type registered by name.
  template <class T> T message_round_trip(const T& x) {
    auto msg = caf::make_message(x);
    caf::binary_serializer::container_type buf;
    caf::binary_serializer sink{sys_, buf};
    if (auto err = sink(msg))
      ADD_FAILURE() << "serializing the message failed: " << sys_.render(err);
    caf::message result;
    caf::binary_deserializer source{sys_, buf};
    if (auto err = source(result))
      ADD_FAILURE() << "deserializing the message failed: " << sys_.render(err);
    if (!result.match_elements<T>()) {
      ADD_FAILURE() << "message came back as " << caf::to_string(result);
      return T{};
    }
    return result.get_as<T>(0);
  }

  caf::actor_system_config cfg_;
  caf::actor_system sys_{registered(cfg_)};
};

actor_entry sample_entry() {
  return actor_entry{"cpu0", "device", "alpha", {{"threads", "4"}, {"type", "cpu"}}, {}};
}

void expect_same(const actor_entry& got, const actor_entry& want) {
  EXPECT_EQ(got.name, want.name);
  EXPECT_EQ(got.kind, want.kind);
  EXPECT_EQ(got.node, want.node);
  EXPECT_EQ(got.config, want.config);
  EXPECT_EQ(got.handle, want.handle);
}

TEST_F(serialization_test, pong) {
  const pong x{"alpha", 4242, -17};
  for (const auto& y : {round_trip(x), message_round_trip(x)}) {
    EXPECT_EQ(y.node, "alpha");
    EXPECT_EQ(y.pid, 4242u);
    EXPECT_EQ(y.uptime_ms, -17);
  }
}

TEST_F(serialization_test, node_status_with_every_state) {
  for (auto state : {node_state::self, node_state::connecting, node_state::up, node_state::lost}) {
    const node_status x{"beta", "10.0.0.2", 4101, 65535, {"cpu", "cuda:0"}, state, 123456789};
    for (const auto& y : {round_trip(x), message_round_trip(x)}) {
      EXPECT_EQ(y.name, "beta");
      EXPECT_EQ(y.host, "10.0.0.2");
      EXPECT_EQ(y.port, 4101);
      EXPECT_EQ(y.rpc_port, 65535);
      EXPECT_EQ(y.devices, (std::vector<std::string>{"cpu", "cuda:0"}));
      EXPECT_EQ(y.state, state) << to_string(state);
      EXPECT_EQ(y.since_ms, 123456789);
    }
  }
}

TEST_F(serialization_test, actor_entry_without_handle_stays_invalid) {
  const auto x = sample_entry();
  ASSERT_FALSE(x.handle);
  for (const auto& y : {round_trip(x), message_round_trip(x)}) {
    expect_same(y, x);
    EXPECT_FALSE(y.handle);
  }
}

TEST_F(serialization_test, actor_entry_handle_resolves_to_the_same_local_actor) {
  auto x = sample_entry();
  x.handle = sys_.spawn([]() -> caf::behavior { return {[](int32_t i) { return i; }}; });
  auto y = round_trip(x);
  expect_same(y, x);
  ASSERT_TRUE(y.handle);
  EXPECT_EQ(y.handle.id(), x.handle.id());
  caf::anon_send_exit(x.handle, caf::exit_reason::user_shutdown);
}

TEST_F(serialization_test, spawn_request) {
  const spawn_request x{"alpha", "device", "gpu0", {{"index", "1"}, {"type", "cuda"}}};
  for (const auto& y : {round_trip(x), message_round_trip(x)}) {
    EXPECT_EQ(y.node, "alpha");
    EXPECT_EQ(y.kind, "device");
    EXPECT_EQ(y.name, "gpu0");
    EXPECT_EQ(y.config, x.config);
  }
}

TEST_F(serialization_test, directory_event) {
  for (bool added : {true, false}) {
    const directory_event x{added, sample_entry(), added ? "registered" : "node lost"};
    for (const auto& y : {round_trip(x), message_round_trip(x)}) {
      EXPECT_EQ(y.added, added);
      expect_same(y.entry, x.entry);
      EXPECT_EQ(y.reason, x.reason);
    }
  }
}

TEST_F(serialization_test, device_info) {
  device_info x;
  x.name = "gpu1";
  x.type = "cuda";
  x.backend = "cuda";
  x.threads = 8;
  x.cuda_index = 1;
  x.memory_bytes = uint64_t{141} << 30;
  x.memory_free_bytes = uint64_t{100} << 30;
  x.memory_allocated_bytes = uint64_t{3} << 30;
  x.memory_reserved_bytes = uint64_t{5} << 30;
  x.jobs_done = 99;
  x.elements_done = uint64_t{1} << 40;
  x.busy_seconds = 0.125;
  for (const auto& y : {round_trip(x), message_round_trip(x)}) {
    EXPECT_EQ(y.name, "gpu1");
    EXPECT_EQ(y.type, "cuda");
    EXPECT_EQ(y.backend, "cuda");
    EXPECT_EQ(y.threads, 8u);
    EXPECT_EQ(y.cuda_index, 1);
    EXPECT_EQ(y.memory_bytes, uint64_t{141} << 30);
    EXPECT_EQ(y.memory_free_bytes, uint64_t{100} << 30);
    EXPECT_EQ(y.memory_allocated_bytes, uint64_t{3} << 30);
    EXPECT_EQ(y.memory_reserved_bytes, uint64_t{5} << 30);
    EXPECT_EQ(y.jobs_done, 99u);
    EXPECT_EQ(y.elements_done, uint64_t{1} << 40);
    EXPECT_EQ(y.busy_seconds, 0.125);
  }
}

TEST_F(serialization_test, tensor_bytes_keeps_every_byte_including_zeros) {
  const float values[] = {0.0f, -1.5f, 3.25f, 1e-30f, -0.0f, 65504.0f};
  tensor_bytes x;
  x.shape = {2, 3};
  x.data.resize(sizeof(values));
  std::memcpy(x.data.data(), values, sizeof(values));
  // Raw bytes with embedded NULs and high bytes: a C-string path would cut them short.
  x.data += std::string{"\0\xff\x00\x80", 4};
  for (const auto& y : {round_trip(x), message_round_trip(x)}) {
    EXPECT_EQ(y.shape, (std::vector<int64_t>{2, 3}));
    ASSERT_EQ(y.data.size(), x.data.size());
    EXPECT_EQ(std::memcmp(y.data.data(), x.data.data(), x.data.size()), 0);
  }
}

TEST_F(serialization_test, empty_tensor) {
  const tensor_bytes x{{0}, {}};
  auto y = round_trip(x);
  EXPECT_EQ(y.shape, (std::vector<int64_t>{0}));
  EXPECT_TRUE(y.data.empty());
}

TEST_F(serialization_test, string_map) {
  const string_map x{{"", "empty key"}, {"lr", "1e-3"}, {"note", ""}};
  for (const auto& y : {round_trip(x), message_round_trip(x)})
    EXPECT_EQ(y, x);
}

TEST_F(serialization_test, llmos_error_keeps_code_and_context) {
  const auto x = make_llmos_error(error_code::duplicate_name,
                                  "actor name 'cpu0' is already taken; choose another name");
  for (const auto& y : {round_trip(x), message_round_trip(x)}) {
    EXPECT_EQ(y.category(), error_category);
    EXPECT_EQ(y.code(), static_cast<uint8_t>(error_code::duplicate_name));
    EXPECT_EQ(describe(y),
              "duplicate_name: actor name 'cpu0' is already taken; choose another name");
    // The renderer registered with the system says the same.
    EXPECT_EQ(sys_.render(y), describe(y));
  }
}

TEST(describe, renders_codes_without_context_and_foreign_errors) {
  EXPECT_EQ(describe(caf::error{}), "no error");
  EXPECT_EQ(describe(caf::make_error(error_code::kernel_failed)), "kernel_failed");
  auto foreign = describe(caf::make_error(caf::sec::request_timeout));
  EXPECT_NE(foreign.find("error"), std::string::npos) << foreign;
  EXPECT_NE(foreign.find(std::to_string(static_cast<int>(caf::sec::request_timeout))),
            std::string::npos)
      << foreign;
}

TEST_F(serialization_test, progress_event) {
  const progress_event x{"ingest spam", "clean", 3, 6, "near_dedupe"};
  for (const auto& y : {round_trip(x), message_round_trip(x)}) {
    EXPECT_EQ(y.task, x.task);
    EXPECT_EQ(y.stage, x.stage);
    EXPECT_EQ(y.done, 3u);
    EXPECT_EQ(y.total, 6u);
    EXPECT_EQ(y.message, x.message);
  }
}

TEST_F(serialization_test, dataset_stats) {
  dataset_stats x;
  x.dataset = "spam";
  x.version = "f2d998bd614c7b0ef33f91360265c159";
  x.records = 4927;
  x.train = 7877;
  x.validation = 493;
  x.test = 492;
  x.augmented = 3935;
  x.removed = {{"near_dedupe", 532}, {"exact_dedupe", 141}};
  x.labels = {{"ham", 6670}, {"spam", 2192}};
  x.report = R"({"seconds":16.1})";
  for (const auto& y : {round_trip(x), message_round_trip(x)}) {
    EXPECT_EQ(y.version, x.version);
    EXPECT_EQ(y.records, x.records);
    EXPECT_EQ(y.train + y.validation + y.test, 8862u);
    EXPECT_EQ(y.augmented, x.augmented);
    EXPECT_EQ(y.removed, x.removed);
    EXPECT_EQ(y.labels, x.labels);
    EXPECT_EQ(y.report, x.report);
  }
}

TEST_F(serialization_test, data_record_with_chinese_text_and_pixels) {
  data_record x{"zh/tang300:5",
                "床前明月光，疑是地上霜。",
                "tang300",
                "train",
                true,
                2,
                2,
                std::string("\x00\xff\x10\x00", 4),
                "tang300:5",
                "human"};
  auto y = message_round_trip(x);
  EXPECT_EQ(y.id, x.id);
  EXPECT_EQ(y.text, x.text);
  EXPECT_EQ(y.label, x.label);
  EXPECT_EQ(y.split, x.split);
  EXPECT_TRUE(y.augmented);
  EXPECT_EQ(y.rows, 2u);
  EXPECT_EQ(y.image, x.image);
  EXPECT_EQ(y.origin, x.origin);
  EXPECT_EQ(y.label_source, "human");
  EXPECT_EQ(round_trip(std::vector<data_record>{x, x}).size(), 2u);
}

TEST_F(serialization_test, quarantine_item) {
  const quarantine_item x{"near_dedupe", "near duplicate (jaccard≈0.91) of a", "mail/1.txt#3",
                          "Subject: hi"};
  auto y = message_round_trip(x);
  EXPECT_EQ(y.rule, x.rule);
  EXPECT_EQ(y.reason, x.reason);
  EXPECT_EQ(y.origin, x.origin);
  EXPECT_EQ(y.text, x.text);
}

TEST_F(serialization_test, stream_request_keeps_rank_world_and_credits) {
  stream_request x;
  x.split = "validation";
  x.rank = 1;
  x.world = 4;
  x.batch_size = 16;
  x.credits = 2;
  x.seed = 99;
  x.epochs = 3;
  auto y = message_round_trip(x);
  EXPECT_EQ(y.split, "validation");
  EXPECT_EQ(y.rank, 1u);
  EXPECT_EQ(y.world, 4u);
  EXPECT_EQ(y.batch_size, 16u);
  EXPECT_EQ(y.credits, 2u);
  EXPECT_EQ(y.seed, 99u);
  EXPECT_EQ(y.epochs, 3u);
  EXPECT_FALSE(y.consumer);
}

TEST_F(serialization_test, data_batch_carries_tensor_bytes_and_dtype) {
  data_batch x;
  x.stream = 7;
  x.seq = 2;
  x.epoch = 1;
  x.ids = {"a", "b"};
  x.labels = {"spam", ""};
  x.inputs.shape = {2, 3};
  x.inputs.dtype = "i32";
  x.inputs.data = std::string(24, '\0');
  x.inputs.data[4] = 7;
  x.last = true;
  auto y = message_round_trip(x);
  EXPECT_EQ(y.stream, 7u);
  EXPECT_EQ(y.seq, 2u);
  EXPECT_EQ(y.epoch, 1u);
  EXPECT_EQ(y.ids, x.ids);
  EXPECT_EQ(y.labels, x.labels);
  EXPECT_EQ(y.inputs.shape, x.inputs.shape);
  EXPECT_EQ(y.inputs.dtype, "i32");
  EXPECT_EQ(y.inputs.data, x.inputs.data);
  EXPECT_TRUE(y.last);
}

TEST_F(serialization_test, review_items) {
  const std::vector<review_item> xs{{"r1", "a text", "train", "spam", 0.51}};
  auto ys = round_trip(xs);
  ASSERT_EQ(ys.size(), 1u);
  EXPECT_EQ(ys[0].text, "a text");
  EXPECT_EQ(ys[0].suggested, "spam");
  EXPECT_DOUBLE_EQ(ys[0].confidence, 0.51);
  EXPECT_EQ(message_round_trip(xs[0]).split, "train");
}

TEST_F(serialization_test, pseudo_label_items) {
  const std::vector<pseudo_label_item> xs{{"r1", "spam", 0.97}, {"r2", "ham", 0.51}};
  auto ys = round_trip(xs);
  ASSERT_EQ(ys.size(), 2u);
  EXPECT_EQ(ys[0].record_id, "r1");
  EXPECT_EQ(ys[1].label, "ham");
  EXPECT_DOUBLE_EQ(ys[0].confidence, 0.97);
  EXPECT_EQ(message_round_trip(xs[1]).label, "ham");
}

TEST_F(serialization_test, train_request_and_report) {
  train_request req;
  req.overrides = {{"lr", "0.001"}, {"max_steps", "200"}};
  req.fine_tune = "lora";
  req.checkpoint = "/tmp/m.ckpt";
  req.resume = true;
  auto r = round_trip(req);
  EXPECT_EQ(r.overrides, req.overrides);
  EXPECT_EQ(r.fine_tune, "lora");
  EXPECT_EQ(r.checkpoint, "/tmp/m.ckpt");
  EXPECT_TRUE(r.resume);
  train_report rep{"m", 200, 0.25, "{\"loss\":0.3}", true, 12.5, 480.0};
  auto q = message_round_trip(rep);
  EXPECT_EQ(q.model, "m");
  EXPECT_EQ(q.steps, 200);
  EXPECT_EQ(q.evaluation, "{\"loss\":0.3}");
  EXPECT_TRUE(q.stopped_early);
  EXPECT_DOUBLE_EQ(q.samples_per_second, 480.0);
}

TEST_F(serialization_test, generate_request_predictions_model_info_and_token_ids) {
  generate_request g;
  g.prompt = {84, 104, 101};
  g.max_tokens = 9;
  g.temperature = 0.7;
  g.top_k = 40;
  g.top_p = 0.9;
  g.seed = 3;
  g.request = 17;
  g.priority = 4;
  g.logprobs = 2;
  g.adapter = "zorp";
  auto h = message_round_trip(g);
  EXPECT_EQ(h.adapter, "zorp");
  EXPECT_EQ(h.priority, 4);
  EXPECT_EQ(h.logprobs, 2);
  EXPECT_EQ(h.prompt, g.prompt);
  EXPECT_EQ(h.top_k, 40);
  EXPECT_DOUBLE_EQ(h.top_p, 0.9);
  EXPECT_EQ(h.request, 17u);
  const std::vector<prediction_item> ps{{"spam", 0.9}, {"ham", 0.6}};
  auto qs = round_trip(ps);
  ASSERT_EQ(qs.size(), 2u);
  EXPECT_EQ(qs[1].label, "ham");
  model_info info{"m",        "gpt",        "cpu0",         7,           1000,    true, false,
                  {"a", "b"}, "model: m\n", "{\"loss\":1}", {2.5, 1.25}, {"zorp"}};
  auto j = message_round_trip(info);
  EXPECT_EQ(j.architecture, "gpt");
  EXPECT_EQ(j.parameters, 1000);
  EXPECT_TRUE(j.quantized);
  EXPECT_EQ(j.labels, info.labels);
  EXPECT_EQ(j.losses, info.losses);
  EXPECT_EQ(j.evaluation, info.evaluation);
  EXPECT_EQ(j.adapters, info.adapters);
  EXPECT_EQ(message_round_trip(std::vector<int32_t>{1, -2, 3}), (std::vector<int32_t>{1, -2, 3}));
}

TEST_F(serialization_test, serving_messages_round_trip) {
  publish_request p;
  p.name = "m";
  p.package = {std::string("\0\1weights", 9), "llmos-tokenizer/1 byte\n", "model: m\n"};
  p.metrics = R"({"accuracy":0.9})";
  auto q = message_round_trip(p);
  EXPECT_EQ(q.package.weights, p.package.weights);
  EXPECT_EQ(q.package.tokenizer, p.package.tokenizer);
  EXPECT_EQ(q.metrics, p.metrics);
  model_version v{"m", 3, "2026-11-29T20:00:00Z", "{}", "{}", 1234, {"production"}};
  auto vs = message_round_trip(std::vector<model_version>{v});
  ASSERT_EQ(vs.size(), 1u);
  EXPECT_EQ(vs[0].version, 3u);
  EXPECT_EQ(vs[0].aliases, v.aliases);
  auto imp = message_round_trip(
      import_request{"stories", "gguf", "/models/s.gguf", "/models/tok.bin", "pretrained"});
  EXPECT_EQ(imp.name, "stories");
  EXPECT_EQ(imp.format, "gguf");
  EXPECT_EQ(imp.path, "/models/s.gguf");
  EXPECT_EQ(imp.tokenizer, "/models/tok.bin");
  EXPECT_EQ(imp.note, "pretrained");
  auto ev = message_round_trip(alias_event{"m", "canary", 4});
  EXPECT_EQ(ev.alias, "canary");
  EXPECT_EQ(ev.version, 4u);
  predict_request pr;
  pr.texts = {"hello", "world"};
  pr.priority = 0;
  pr.version = 2;
  pr.request_id = "client-7";
  auto pr2 = message_round_trip(pr);
  EXPECT_EQ(pr2.texts, pr.texts);
  EXPECT_EQ(pr2.version, 2u);
  EXPECT_EQ(pr2.request_id, "client-7");
  auto rep = message_round_trip(predict_reply{"m", 2, {{"spam", 0.75}}, "srv-abc-3"});
  EXPECT_EQ(rep.request_id, "srv-abc-3");
  ASSERT_EQ(rep.predictions.size(), 1u);
  EXPECT_EQ(rep.predictions[0].label, "spam");
  complete_request cr;
  cr.prompt = "Once";
  cr.max_tokens = 5;
  cr.priority = -3;
  cr.stop = {"\n", "The End"};
  cr.model = "zorp";
  auto cr2 = message_round_trip(cr);
  EXPECT_EQ(cr2.model, "zorp");
  EXPECT_EQ(cr2.prompt, "Once");
  EXPECT_EQ(cr2.priority, -3);
  EXPECT_EQ(cr2.stop, cr.stop);
  auto cp = message_round_trip(
      complete_reply{"lm", 1, " upon", 4, 5, "cmpl-1", "length", R"({"tokens":[" upon"]})"});
  EXPECT_EQ(cp.logprobs, R"({"tokens":[" upon"]})");
  EXPECT_EQ(cp.text, " upon");
  EXPECT_EQ(cp.completion_tokens, 5u);
  EXPECT_EQ(cp.finish_reason, "length");
  auto rows = message_round_trip(std::vector<sequence_row>{{7, 2, "swapped", 40, 30, 0, "v1.r0"},
                                                           {8, 0, "queued", 5, 0, 0, ""}});
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].state, "swapped");
  EXPECT_EQ(rows[0].replica, "v1.r0");
  EXPECT_EQ(rows[1].request, 8u);
  server_status st;
  st.model = "m";
  st.version = 2;
  st.ready = true;
  st.mean_batch = 3.5;
  auto st2 = message_round_trip(st);
  EXPECT_TRUE(st2.ready);
  EXPECT_DOUBLE_EQ(st2.mean_batch, 3.5);
}

TEST_F(serialization_test, scheduler_and_tuner_messages_round_trip) {
  task_spec s;
  s.name = "t";
  s.owner = "research";
  s.priority = -3;
  s.replicas = 2;
  s.cpu_threads = 4;
  s.gpus = 1;
  s.gpu_memory_mb = 40000;
  s.preemptible = false;
  s.detail = {{"kind", "train"}, {"set.lr", "0.01"}};
  auto s2 = message_round_trip(s);
  EXPECT_EQ(s2.priority, -3);
  EXPECT_EQ(s2.gpu_memory_mb, 40000u);
  EXPECT_FALSE(s2.preemptible);
  EXPECT_EQ(s2.detail, s.detail);
  task_status st;
  st.id = 9;
  st.state = "running";
  st.nodes = {"alpha", "beta"};
  st.preemptions = 2;
  st.result = R"({"accuracy":0.9})";
  auto sts = message_round_trip(std::vector<task_status>{st});
  ASSERT_EQ(sts.size(), 1u);
  EXPECT_EQ(sts[0].nodes, st.nodes);
  EXPECT_EQ(sts[0].preemptions, 2u);
  EXPECT_EQ(sts[0].result, st.result);
  study_status ss;
  ss.name = "s";
  ss.best_trial = 4;
  ss.best_value = 0.93;
  ss.history = "[[20,0,0.5]]";
  auto ss2 = message_round_trip(std::vector<study_status>{ss});
  ASSERT_EQ(ss2.size(), 1u);
  EXPECT_EQ(ss2[0].best_trial, 4);
  EXPECT_DOUBLE_EQ(ss2[0].best_value, 0.93);
  EXPECT_EQ(ss2[0].history, ss.history);
}

} // namespace
} // namespace llmos
