// The model actor's conversation on the deterministic fixture: a real model actor and a device
// actor on the fixture's scheduler (workers run inline there), with stories260K's real weights,
// so that requests that cross each other (a cancel while the request is being admitted, a
// request beyond the waiting limit) are delivered in an order the test chooses, not the one the
// threads happen to take. Every reply is checked against the engine's own greedy output.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

#include <caf/event_based_actor.hpp>
#include <gtest/gtest.h>

#include "../deterministic_fixture.hpp"
#include "device/device_actor.hpp"
#include "formats_test_util.hpp"
#include "llmos/messages/model.hpp"
#include "model/model_actor.hpp"
#include "model/train/engine.hpp"

namespace llmos {
namespace {

namespace fs = std::filesystem;

class model_conversation : public test::deterministic_fixture {
protected:
  void SetUp() override {
    std::string why;
    const auto w = test::stories260k(&why);
    if (!w)
      GTEST_SKIP() << why;
    auto e = model::engine::from_llama(*w, "stories");
    ASSERT_TRUE(e) << describe(e.error());
    root_ = fs::temp_directory_path() / ("llmos-model-conversation-" + std::to_string(::getpid()));
    fs::create_directories(root_);
    checkpoint_ = (root_ / "stories.pt").string();
    ASSERT_FALSE((*e)->save(checkpoint_));
    spec_ = (*e)->spec();
    model::sampling_params greedy;
    greedy.temperature = 0.0;
    auto ref = (*e)->generate({}, 250, greedy, 1, nullptr);
    ASSERT_TRUE(ref) << describe(ref.error());
    reference_ = *ref;
  }

  void TearDown() override {
    deterministic_fixture::TearDown();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  /// A model actor named "stories" on a device of its own, both on the fixture's scheduler.
  model_actor spawn_stories(std::size_t max_waiting = 256) {
    auto core = device_core::create("cpu0", "cpu", 0, 1);
    EXPECT_TRUE(core) << describe(core.error());
    auto dev = stop_at_end(spawn_device(sys_, std::move(*core)));
    return stop_at_end(spawn_model(sys_, spec_, dev, "cpu0", model::decoder_config{}, max_waiting));
  }

  static generate_request greedy(uint32_t max_tokens, uint64_t request = 0) {
    generate_request req;
    req.max_tokens = max_tokens;
    req.temperature = 0.0;
    req.request = request;
    return req;
  }

  /// What the cancel of a generation answered (whether it found the request) and what the
  /// generation was answered with.
  struct cancel_race {
    caf::expected<bool> cancelled;
    caf::expected<std::vector<int32_t>> tokens;
  };

  /// Posts `req` and then a cancel of request `cancel` to `m`, so that both reach the model before
  /// its device runs, and runs them.
  cancel_race generate_and_cancel(const model_actor& m, const generate_request& req,
                                  uint64_t cancel) {
    auto out = post<std::vector<int32_t>>(m, generate_atom::value, req);
    auto cancelled = post<bool>(m, cancel_atom::value, cancel);
    run();
    return {take(cancelled), take(out)};
  }

  /// The first n tokens of the engine's greedy generation from BOS.
  std::vector<int32_t> reference(std::size_t n) const {
    return {reference_.begin(), reference_.begin() + static_cast<std::ptrdiff_t>(n)};
  }

  fs::path root_;
  std::string checkpoint_;
  model::model_spec spec_;
  std::vector<int32_t> reference_;
};

TEST_F(model_conversation, a_loaded_checkpoint_generates_and_streams_what_the_engine_does) {
  auto m = spawn_stories();
  auto info = ask<model_info>(m, load_atom::value, checkpoint_);
  ASSERT_TRUE(info) << describe(info.error());
  EXPECT_EQ(info->name, "stories");
  EXPECT_EQ(info->architecture, "llama");
  EXPECT_GT(info->parameters, 0);
  // The subscriber sees each token as a message of its own, in order, before the reply.
  auto streamed = std::make_shared<std::vector<int32_t>>();
  auto req = greedy(40, 7);
  req.subscriber = sys_.spawn([streamed](caf::event_based_actor* self) -> caf::behavior {
    return {[streamed, self](token_atom, uint64_t request, int32_t token) {
      EXPECT_EQ(request, 7u);
      streamed->push_back(token);
      if (streamed->size() == 40)
        self->quit();
    }};
  });
  auto out = ask<std::vector<int32_t>>(m, generate_atom::value, req);
  ASSERT_TRUE(out) << describe(out.error());
  EXPECT_EQ(*out, reference(40));
  EXPECT_EQ(*streamed, *out);
}

TEST_F(model_conversation, a_cancel_reaches_a_request_the_device_is_admitting) {
  auto m = spawn_stories();
  ASSERT_TRUE(ask<model_info>(m, load_atom::value, checkpoint_));
  // Both reach the model before its device runs: the generation is handed to the device's
  // first job (admitted and stepped there) while the cancel waits in the model's mailbox.
  auto [ok, tokens] = generate_and_cancel(m, greedy(250, 11), 11);
  ASSERT_TRUE(ok) << describe(ok.error());
  EXPECT_TRUE(*ok) << "the request was in the device's job: the cancel must still find it";
  ASSERT_TRUE(tokens) << describe(tokens.error());
  EXPECT_LT(tokens->size(), 250u) << "a cancelled request is answered with what it has";
  EXPECT_EQ(*tokens, reference(tokens->size()));
  // The decoder dropped the sequence: nothing is listed, and the next request runs in full.
  auto rows = ask<std::vector<sequence_row>>(m, sequences_atom::value);
  ASSERT_TRUE(rows);
  EXPECT_TRUE(rows->empty());
  auto again = ask<std::vector<int32_t>>(m, generate_atom::value, greedy(30, 12));
  ASSERT_TRUE(again) << describe(again.error());
  EXPECT_EQ(*again, reference(30));
}

TEST_F(model_conversation, a_cancel_of_an_unknown_request_changes_nothing) {
  auto m = spawn_stories();
  ASSERT_TRUE(ask<model_info>(m, load_atom::value, checkpoint_));
  auto [ok, tokens] = generate_and_cancel(m, greedy(20, 1), 2);
  ASSERT_TRUE(ok);
  EXPECT_FALSE(*ok);
  ASSERT_TRUE(tokens) << describe(tokens.error());
  EXPECT_EQ(*tokens, reference(20));
}

TEST_F(model_conversation, requests_beyond_the_waiting_limit_are_refused_naming_the_model) {
  auto m = spawn_stories(1);
  ASSERT_TRUE(ask<model_info>(m, load_atom::value, checkpoint_));
  // The first goes to the device at once, the second waits, the third finds the queue full.
  auto first = post<std::vector<int32_t>>(m, generate_atom::value, greedy(10, 1));
  auto second = post<std::vector<int32_t>>(m, generate_atom::value, greedy(10, 2));
  auto third = post<std::vector<int32_t>>(m, generate_atom::value, greedy(10, 3));
  run();
  auto why = expect_error(take(third), error_code::overloaded);
  EXPECT_NE(why.find("model 'stories'"), std::string::npos) << why;
  for (auto* slot : {&first, &second}) {
    auto tokens = take(*slot);
    ASSERT_TRUE(tokens) << describe(tokens.error());
    EXPECT_EQ(*tokens, reference(10));
  }
}

TEST_F(model_conversation, bad_requests_are_refused_by_name_and_the_model_keeps_serving) {
  auto m = spawn_stories();
  auto early = expect_error(ask<std::vector<int32_t>>(m, generate_atom::value, greedy(5)),
                            error_code::bad_params);
  EXPECT_NE(early.find("has no weights yet"), std::string::npos) << early;
  auto missing = ask<model_info>(m, load_atom::value, (root_ / "nothing.pt").string());
  ASSERT_FALSE(missing);
  EXPECT_NE(describe(missing.error()).find("nothing.pt"), std::string::npos)
      << describe(missing.error());
  ASSERT_TRUE(ask<model_info>(m, load_atom::value, checkpoint_));
  auto hot = greedy(5);
  hot.temperature = -1.0;
  expect_error(ask<std::vector<int32_t>>(m, generate_atom::value, hot), error_code::bad_params);
  auto out = ask<std::vector<int32_t>>(m, generate_atom::value, greedy(15));
  ASSERT_TRUE(out) << describe(out.error());
  EXPECT_EQ(*out, reference(15));
}

TEST_F(model_conversation, a_saved_model_loads_into_another_and_generates_the_same) {
  auto m = spawn_stories();
  ASSERT_TRUE(ask<model_info>(m, load_atom::value, checkpoint_));
  const auto copy = (root_ / "copy.pt").string();
  auto saved = ask<std::string>(m, save_atom::value, copy);
  ASSERT_TRUE(saved) << describe(saved.error());
  EXPECT_EQ(*saved, copy);
  auto other = spawn_stories();
  ASSERT_TRUE(ask<model_info>(other, load_atom::value, copy));
  auto out = ask<std::vector<int32_t>>(other, generate_atom::value, greedy(25));
  ASSERT_TRUE(out) << describe(out.error());
  EXPECT_EQ(*out, reference(25));
}

} // namespace
} // namespace llmos
