// The model actor end to end on real actors: a dataset actor ingests SpamAssassin mails and
// streams batches; the model trains on its own device actor with progress events, answers
// evaluation and inference, checkpoints, and a second model actor loads the checkpoint.
// Bad requests are refused with the model's name while it keeps working.
#include <filesystem>
#include <fstream>
#include <future>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <gtest/gtest.h>

#include "../threaded_system.hpp"
#include "dataset/dataset_actor.hpp"
#include "device/device_actor.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/messages/register.hpp"
#include "model/model_actor.hpp"
#include "model/progress_text.hpp"
#include "model_data.hpp"

namespace llmos {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

template <class T, class Handle, class... Ts>
caf::expected<T> ask(caf::scoped_actor& self, const Handle& h, Ts&&... xs) {
  caf::expected<T> out{caf::error{}};
  self->request(h, 120s, std::forward<Ts>(xs)...)
      .receive([&](T& x) { out = std::move(x); }, [&](caf::error& e) { out = std::move(e); });
  return out;
}

TEST(model_actor, trains_from_a_dataset_actor_and_serves) {
#if defined(__SANITIZE_THREAD__)
  // Its BPE tokenizer is SentencePiece, whose built-in protobuf clashes with LibTorch's unless
  // loaded with RTLD_DEEPBIND, which sanitizers refuse. Under TSan the model actor trains in
  // tests/nodes/embedded_serving_test.cpp (a byte tokenizer).
  GTEST_SKIP() << "SentencePiece beside LibTorch needs RTLD_DEEPBIND (not under TSan)";
#endif
  if (!model::testing::spam_set())
    GTEST_SKIP() << "SpamAssassin not installed";
  const auto dir = fs::temp_directory_path() / ("llmos-model-actor-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const auto pipeline = (dir / "spam.yaml").string();
  std::ofstream(pipeline) << "root: " << (dir / "store").string() << "\n"
                          << model::testing::spam_pipeline_text();
  test::threaded_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  spawn_context ctx{sys, "n", "spam", {{"pipeline", pipeline}}};
  auto ds = dataset_kind().spawn(ctx);
  ASSERT_TRUE(ds) << describe(ds.error());
  auto stats = ask<dataset_stats>(self, caf::actor_cast<dataset_actor>(*ds), ingest_atom::value,
                                  caf::actor{});
  ASSERT_TRUE(stats) << describe(stats.error());

  auto spec = model::parse_model_spec("model: spam-bag\narchitecture: bag\n"
                                      "hyper: {embed_dim: 32, hidden_dim: 32}\n"
                                      "train: {lr: 0.01, batch_size: 16, max_steps: 80, "
                                      "warmup_steps: 5, eval_every: 20}\n",
                                      "spam-bag.yaml");
  ASSERT_TRUE(spec);
  auto dev = spawn_device(sys, *device_core::create("cpu0", "cpu", 0, 1));
  auto m = spawn_model(sys, *spec, dev);

  // No weights yet: inference is refused with the model's name.
  auto early = ask<std::vector<prediction_item>>(self, m, infer_atom::value, tensor_bytes{});
  ASSERT_FALSE(early);
  EXPECT_NE(describe(early.error()).find("model 'spam-bag' has no weights"), std::string::npos);

  // A bad override is refused before anything runs.
  train_request bad;
  bad.dataset = *ds;
  bad.overrides = {{"learning_rate", "0.1"}};
  auto refused = ask<train_report>(self, m, train_atom::value, bad);
  ASSERT_FALSE(refused);
  EXPECT_NE(describe(refused.error()).find("learning_rate"), std::string::npos);

  train_request req;
  req.dataset = *ds;
  req.subscriber = caf::actor_cast<caf::actor>(self);
  req.checkpoint = (dir / "ckpt" / "spam-bag.ckpt").string();
  auto report = ask<train_report>(self, m, train_atom::value, req);
  ASSERT_TRUE(report) << describe(report.error());
  EXPECT_EQ(report->steps, 80);
  EXPECT_GT(report->samples_per_second, 0);
  auto eval = nlohmann::json::parse(report->evaluation);
  EXPECT_GT(eval["metrics"]["accuracy"].get<double>(), 0.8) << report->evaluation;
  EXPECT_TRUE(fs::exists(req.checkpoint));

  // Progress events arrived while training: train stages and evaluations.
  int train_events = 0, eval_events = 0;
  while (self->mailbox().size() > 0)
    self->receive([&](progress_atom, const progress_event& e) {
      train_events += e.stage == "train";
      eval_events += e.stage == "evaluate";
    });
  EXPECT_GE(train_events, 3);
  EXPECT_GE(eval_events, 3);

  auto scored = ask<std::string>(self, m, evaluate_atom::value, *ds, std::string{"validation"});
  ASSERT_TRUE(scored) << describe(scored.error());
  EXPECT_EQ(nlohmann::json::parse(*scored)["metrics"]["accuracy"], eval["metrics"]["accuracy"]);

  // A second replica loads the checkpoint and predicts like the first.
  auto other =
      spawn_model(sys, *spec, spawn_device(sys, *device_core::create("cpu1", "cpu", 0, 1)));
  auto loaded = ask<model_info>(self, other, load_atom::value, req.checkpoint);
  ASSERT_TRUE(loaded) << describe(loaded.error());
  EXPECT_EQ(loaded->step, 80);
  EXPECT_EQ(loaded->labels, (std::vector<std::string>{"ham", "spam"}));
  auto batch = model::testing::spam_set()->batches("validation", 8).front();
  auto a = ask<std::vector<prediction_item>>(self, m, infer_atom::value, batch.inputs);
  auto b = ask<std::vector<prediction_item>>(self, other, infer_atom::value, batch.inputs);
  ASSERT_TRUE(a && b);
  ASSERT_EQ(a->size(), 8u);
  for (std::size_t i = 0; i < a->size(); ++i) {
    EXPECT_EQ((*a)[i].label, (*b)[i].label);
    EXPECT_NEAR((*a)[i].confidence, (*b)[i].confidence, 1e-6);
  }

  // The device counted the work.
  auto info = ask<device_info>(self, dev, info_atom::value);
  ASSERT_TRUE(info);
  EXPECT_GT(info->jobs_done, 60u);
  EXPECT_GT(info->busy_seconds, 0.0);
  EXPECT_LE(info->busy_seconds, info->uptime_seconds);

  // A burst while the device is busy: the model keeps at most 256 jobs waiting on it and
  // refuses the rest overloaded (naming the model and the device); the waiting ones are served.
  {
    auto release = std::make_shared<std::promise<void>>();
    device_job block;
    block.what = "hold the device";
    block.run = std::make_shared<std::function<void(const device_info&)>>(
        [gate = release->get_future().share()](const device_info&) { gate.wait(); });
    self->send(dev, run_job_atom::value, std::move(block));
    for (int i = 0; i < 300; ++i)
      self->send(m, infer_atom::value, batch.inputs);
    // The refusals come back at once; the waiting jobs only after the device is released.
    int refused = 0, served = 0;
    bool stuck = false;
    auto timeout = caf::after(std::chrono::seconds(60)) >> [&] { stuck = true; };
    for (int i = 0; i < 44 && !stuck; ++i)
      self->receive([&](const std::vector<prediction_item>&) { ++served; },
                    [&](const caf::error& err) {
                      EXPECT_NE(describe(err).find("jobs wait for device"), std::string::npos)
                          << describe(err);
                      ++refused;
                    },
                    timeout);
    EXPECT_EQ(refused, 44);
    EXPECT_EQ(served, 0) << "served while the device was held";
    release->set_value();
    for (int i = 0; i < 256 && !stuck; ++i)
      self->receive([&](const std::vector<prediction_item>&) { ++served; },
                    [&](const caf::error& err) { ADD_FAILURE() << describe(err); }, timeout);
    EXPECT_EQ(served, 256);
    EXPECT_FALSE(stuck);
    self->receive([](double) {}, timeout); // the blocking job's answer
  }

  // Resume: a third replica continues the checkpointed run (step 80) to step 100.
  auto third =
      spawn_model(sys, *spec, spawn_device(sys, *device_core::create("cpu2", "cpu", 0, 1)));
  train_request resume;
  resume.dataset = *ds;
  resume.checkpoint = req.checkpoint;
  resume.resume = true;
  resume.overrides = {{"max_steps", "100"}};
  auto resumed = ask<train_report>(self, third, train_atom::value, resume);
  ASSERT_TRUE(resumed) << describe(resumed.error());
  EXPECT_EQ(resumed->steps, 100);
  EXPECT_GT(nlohmann::json::parse(resumed->evaluation)["metrics"]["accuracy"].get<double>(), 0.8);

  // LoRA fine-tuning of the first replica: adapters added, 20 more steps, still accurate.
  auto before = ask<model_info>(self, m, info_atom::value);
  train_request tune;
  tune.dataset = *ds;
  tune.fine_tune = "lora";
  tune.overrides = {{"lora_rank", "4"}, {"max_steps", "20"}, {"warmup_steps", "2"}};
  auto tuned = ask<train_report>(self, m, train_atom::value, tune);
  ASSERT_TRUE(tuned) << describe(tuned.error());
  EXPECT_EQ(tuned->steps, 20);
  auto after = ask<model_info>(self, m, info_atom::value);
  ASSERT_TRUE(before && after);
  EXPECT_GT(after->parameters, before->parameters) << "LoRA adapters add parameters";
  EXPECT_GT(nlohmann::json::parse(tuned->evaluation)["metrics"]["accuracy"].get<double>(), 0.8);
  tune.fine_tune = "sideways";
  auto wrong = ask<train_report>(self, m, train_atom::value, tune);
  ASSERT_FALSE(wrong);
  EXPECT_NE(describe(wrong.error()).find("fine-tune mode 'sideways' is unknown"),
            std::string::npos);

  auto missing = ask<model_info>(self, other, load_atom::value, (dir / "nope.ckpt").string());
  ASSERT_FALSE(missing);
  EXPECT_NE(describe(missing.error()).find("nope.ckpt': no such file"), std::string::npos);
  self->send_exit(m, caf::exit_reason::user_shutdown);
  self->send_exit(other, caf::exit_reason::user_shutdown);
  self->send_exit(third, caf::exit_reason::user_shutdown);
  self->send_exit(*ds, caf::exit_reason::user_shutdown);
  fs::remove_all(dir);
}

TEST(model_actor, the_model_kind_runs_its_jobs_on_the_named_device) {
  const auto dir = fs::temp_directory_path() / ("llmos-model-kind-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const auto spec = (dir / "tiny.yaml").string();
  std::ofstream(spec) << "model: tiny\narchitecture: bag\nhyper: {embed_dim: 8, hidden_dim: 8}\n";
  test::threaded_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  auto dev = spawn_device(sys, *device_core::create("dev0", "cpu", 0, 1));
  // The config as a node passes it: checked against the kind, defaults filled in.
  actor_kind_table kinds;
  kinds.add(model_kind());
  auto checked = kinds.validate("model", {{"spec", spec}, {"threads", "1"}, {"device", "dev0"}});
  ASSERT_TRUE(checked) << describe(checked.error());
  spawn_context ctx{sys, "n", "tiny", *checked};
  ctx.find_local = [&](const std::string& name, const std::string& kind) {
    return name == "dev0" && kind == "device" ? caf::actor_cast<caf::actor>(dev) : caf::actor{};
  };
  auto m = model_kind().spawn(ctx);
  ASSERT_TRUE(m) << describe(m.error());
  // Loading runs as a job on the model's device: the named one counts it (a missing checkpoint
  // still took the job).
  auto loaded = ask<model_info>(self, caf::actor_cast<model_actor>(*m), load_atom::value,
                                (dir / "none.ckpt").string());
  EXPECT_FALSE(loaded);
  auto info = ask<device_info>(self, dev, info_atom::value);
  ASSERT_TRUE(info) << describe(info.error());
  EXPECT_EQ(info->jobs_done, 1u);

  // A device the node does not host is refused with the key, the name and the node.
  ctx.config["device"] = "gpu9";
  auto refused = model_kind().spawn(ctx);
  ASSERT_FALSE(refused);
  EXPECT_NE(describe(refused.error()).find("config key 'device'"), std::string::npos);
  EXPECT_NE(describe(refused.error()).find("'gpu9'"), std::string::npos);
  self->send_exit(caf::actor_cast<caf::actor>(*m), caf::exit_reason::user_shutdown);
  self->send_exit(dev, caf::exit_reason::user_shutdown);
  fs::remove_all(dir);
}

TEST(progress_text, step_and_evaluation_lines) {
  model::step_report r;
  r.step = 25;
  r.loss = 0.41234;
  r.lr = 0.003;
  EXPECT_EQ(model::step_line(r, 800, 2.0, 100, false),
            "loss 0.4123 lr 0.00300 | 400 samples/s | ETA 6 s");
  EXPECT_EQ(model::step_line(r, 800, 2.0, 100, true),
            "loss 0.4123 lr 0.00300 | 400 tokens/s | ETA 6 s");
  model::eval_report e;
  e.loss = 0.25;
  e.metrics.accuracy = 0.9125;
  e.metrics.macro_f1 = 0.905;
  EXPECT_EQ(model::eval_line(e), "val loss 0.2500 accuracy 0.9125 macro-F1 0.9050");
  e.perplexity = 7.41;
  EXPECT_EQ(model::eval_line(e), "val loss 0.2500 perplexity 7.410");
}

} // namespace
} // namespace llmos
