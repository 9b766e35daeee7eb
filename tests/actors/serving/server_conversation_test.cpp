// The server actor's conversation on the deterministic fixture: a real registry imports
// stories260K (llama2.c's published model), a server follows its `production` alias, deploys it
// on replicas spawned by the node manager (their devices and the registry's import worker run on
// the fixture's scheduler), completes text, follows an alias move to a new version, and refuses
// what it cannot serve by name. One message at a time on the test's thread: no sleeps, no polls.
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "../model/formats_test_util.hpp"
#include "../node_fixture.hpp"
#include "llmos/messages/registry.hpp"
#include "llmos/messages/serving.hpp"
#include "llmos/runtime/atomic_file.hpp"

namespace llmos {
namespace {

class server_conversation : public test::node_fixture {
protected:
  actor_kind_table kinds() override { return builtin_actor_kinds(); }

  void SetUp() override {
    std::string why;
    models_ = test::stories260k_dir(&why);
    if (models_.empty())
      GTEST_SKIP() << why;
    node_fixture::SetUp();
    reg_ = spawn_kind<registry_actor>("registry", "registry", {{"root", (root_ / "reg").string()}});
  }

  /// stories260K as the next version of model "stories".
  uint32_t import_stories() {
    import_request req{"stories", "llama2c", models_ + "/stories260K.bin", "", "test"};
    auto v = ask<model_version>(reg_, import_atom::value, req);
    EXPECT_TRUE(v) << describe(v.error());
    return v ? v->version : 0;
  }

  void set_production(uint32_t version) {
    auto v = ask<model_version>(reg_, alias_atom::value, std::string{"stories"},
                                std::string{"production"}, version);
    ASSERT_TRUE(v) << describe(v.error());
  }

  static complete_request greedy(uint32_t max_tokens) {
    complete_request req;
    req.max_tokens = max_tokens;
    req.temperature = 0.0;
    return req;
  }

  std::string models_;
  registry_actor reg_;
};

TEST_F(server_conversation, deploys_the_production_version_and_completes_like_llama2c) {
  ASSERT_EQ(import_stories(), 1u);
  set_production(1);
  auto server = spawn_kind<server_actor>("server", "stories-server", {{"model", "stories"}});
  run();
  auto st = ask<server_status>(server, status_atom::value);
  ASSERT_TRUE(st) << describe(st.error());
  EXPECT_TRUE(st->ready);
  EXPECT_EQ(st->version, 1u);
  EXPECT_EQ(st->follows, "production");
  EXPECT_EQ(st->kind, "language");
  // Greedy from BOS is llama2.c's published output (run.c adds a newline after it).
  auto out = ask<complete_reply>(server, complete_atom::value, greedy(200));
  ASSERT_TRUE(out) << describe(out.error());
  auto expected = read_whole_file(std::filesystem::path(models_) / "expected-greedy-200.txt");
  ASSERT_TRUE(expected) << describe(expected.error());
  EXPECT_EQ(out->text + "\n", *expected);
  EXPECT_EQ(out->completion_tokens, 200u);
  EXPECT_EQ(out->finish_reason, "length");
  EXPECT_EQ(out->version, 1u);
  auto served = ask<server_status>(server, status_atom::value);
  ASSERT_TRUE(served);
  EXPECT_EQ(served->served, 1u);
}

TEST_F(server_conversation, follows_its_alias_to_a_new_version) {
  ASSERT_EQ(import_stories(), 1u);
  set_production(1);
  auto server = spawn_kind<server_actor>("server", "stories-server", {{"model", "stories"}});
  run();
  ASSERT_EQ(import_stories(), 2u);
  set_production(2); // the registry tells its watchers; the server deploys version 2
  run();
  auto st = ask<server_status>(server, status_atom::value);
  ASSERT_TRUE(st) << describe(st.error());
  EXPECT_TRUE(st->ready);
  EXPECT_EQ(st->version, 2u);
  auto out = ask<complete_reply>(server, complete_atom::value, greedy(12));
  ASSERT_TRUE(out) << describe(out.error());
  EXPECT_EQ(out->version, 2u);
  EXPECT_EQ(out->completion_tokens, 12u);
}

TEST_F(server_conversation, what_it_cannot_serve_is_refused_by_name) {
  auto server = spawn_kind<server_actor>("server", "stories-server", {{"model", "stories"}});
  run();
  // Nothing published yet: the server runs, but has no version to complete with.
  auto none = ask<complete_reply>(server, complete_atom::value, greedy(5));
  ASSERT_FALSE(none);
  EXPECT_NE(describe(none.error()).find("stories"), std::string::npos) << describe(none.error());
  ASSERT_EQ(import_stories(), 1u);
  set_production(1); // the server follows `production` from its start: it deploys now
  run();
  auto other = greedy(5);
  other.model = "no-such-adapter";
  auto refused = ask<complete_reply>(server, complete_atom::value, other);
  ASSERT_FALSE(refused);
  EXPECT_NE(describe(refused.error()).find("no-such-adapter"), std::string::npos)
      << describe(refused.error());
  // A language model is not a classifier.
  auto predicted = ask<predict_reply>(server, predict_atom::value, predict_request{});
  ASSERT_FALSE(predicted);
  // The server still serves.
  auto out = ask<complete_reply>(server, complete_atom::value, greedy(5));
  ASSERT_TRUE(out) << describe(out.error());
  EXPECT_EQ(out->completion_tokens, 5u);
}

} // namespace
} // namespace llmos
