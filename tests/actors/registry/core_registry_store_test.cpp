// The registry's on-disk model store: versions round-trip byte for byte, numbers are never
// reused, aliases move atomically and survive reopening, names and references are checked, a
// corrupt file is caught and named, and a real kill -9 in the middle of a publish or an alias
// move leaves either the old or the new state, never a half one.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "llmos/messages/error.hpp"
#include "registry/core/registry_store.hpp"

using namespace llmos::registry;
using llmos::error_code;
namespace fs = std::filesystem;

namespace {

uint8_t code_of(error_code c) {
  return static_cast<uint8_t>(c);
}

// Bytes that include zeros and every byte value, so that a text-mode or C-string slip shows.
std::string pattern_bytes(std::size_t size, uint64_t seed) {
  std::string out(size, '\0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (std::size_t i = 0; i < size; ++i) {
    if (i % 8 == 0)
      x = x * 6364136223846793005ull + 1442695040888963407ull;
    out[i] = static_cast<char>(x >> (8 * (i % 8)));
  }
  return out;
}

version_files sample_files(uint64_t seed, std::size_t weights_size = 4096) {
  version_files f;
  f.weights = pattern_bytes(weights_size, seed);
  f.tokenizer = pattern_bytes(300, seed + 1000);
  f.spec = "model: mlp\nhidden: [" + std::to_string(seed) + ", 64]\n";
  return f;
}

void write_text(const fs::path& file, const std::string& text) {
  std::ofstream out{file, std::ios::binary | std::ios::trunc};
  out << text;
}

// Names in a model folder that start with '.', i.e. temporaries of writes or removals.
std::vector<std::string> hidden_entries(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it{dir, ec}, end; !ec && it != end; it.increment(ec))
    if (auto name = it->path().filename().string(); name.front() == '.')
      out.push_back(name);
  return out;
}

std::vector<uint32_t> numbers_of(const std::vector<version_meta>& metas) {
  std::vector<uint32_t> out;
  for (const auto& m : metas)
    out.push_back(m.version);
  return out;
}

// A forked child running `body` until it is killed; the destructor kills and reaps it, so a
// failing assertion in the parent does not leave it writing into a removed folder.
class child_process {
public:
  template <class F> explicit child_process(F body) {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      body();
      ::_exit(0);
    }
  }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process() { kill_and_reap(); }

  pid_t pid() const { return pid_; }

  /// SIGKILLs and reaps the child; true when it died of that signal (and not of its own error).
  bool kill_and_reap() {
    if (pid_ <= 0)
      return false;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  }

private:
  pid_t pid_ = -1;
};

class registry_store_test : public ::testing::Test {
protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("llmos_registry_store_test_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  registry_store open_store() {
    auto store = registry_store::open(root_);
    EXPECT_TRUE(store) << (store ? "" : llmos::describe(store.error()));
    return std::move(*store);
  }

  version_meta publish(registry_store& store, const std::string& name, uint64_t seed,
                       nlohmann::json metrics = nlohmann::json::object()) {
    auto m = store.publish(name, sample_files(seed), std::move(metrics),
                           {{"dataset_version", "d" + std::to_string(seed)}, {"parent", nullptr}});
    EXPECT_TRUE(m) << (m ? "" : llmos::describe(m.error()));
    return m ? *m : version_meta{};
  }

  fs::path root_;
};

} // namespace

TEST_F(registry_store_test, publish_list_meta_files_round_trip) {
  auto store = open_store();
  const nlohmann::json lineage = {{"dataset_version", "notes@7f3a"},
                                  {"hyper_parameters", {{"lr", 0.001}, {"epochs", 3}}},
                                  {"parent", nullptr},
                                  {"produced_by", "trainer-1"}};
  auto files1 = sample_files(1);
  files1.tokenizer.clear(); // an empty file must round-trip too
  auto v1 = store.publish("mnist-mlp", files1, {{"accuracy", 0.95}}, lineage);
  ASSERT_TRUE(v1) << llmos::describe(v1.error());
  EXPECT_EQ(v1->name, "mnist-mlp");
  EXPECT_EQ(v1->version, 1u);
  EXPECT_TRUE(std::regex_match(v1->created, std::regex{R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)"}))
      << v1->created;
  EXPECT_EQ(v1->metrics, (nlohmann::json{{"accuracy", 0.95}}));
  EXPECT_EQ(v1->lineage, lineage);
  EXPECT_EQ(v1->weights_bytes, files1.weights.size());
  EXPECT_EQ(v1->weights_xxh3, xxh3_hex(files1.weights));
  EXPECT_EQ(v1->weights_xxh3.size(), 32u);
  EXPECT_NE(v1->weights_xxh3, xxh3_hex(sample_files(2).weights));
  auto v2 = publish(store, "mnist-mlp", 2, {{"accuracy", 0.97}});
  EXPECT_EQ(v2.version, 2u);
  publish(store, "alpha", 3);

  // The layout is part of the contract: other tools read these files directly.
  const auto dir = store.version_dir("mnist-mlp", 1);
  EXPECT_EQ(dir, root_ / "mnist-mlp" / "v1");
  for (const char* f : {"weights.pt", "tokenizer.bin", "spec.yaml", "meta.json"})
    EXPECT_TRUE(fs::is_regular_file(dir / f)) << f;
  std::ifstream meta_in{dir / "meta.json"};
  const auto on_disk = nlohmann::json::parse(meta_in);
  EXPECT_EQ(on_disk["weights_xxh3"], v1->weights_xxh3);
  EXPECT_EQ(on_disk["metrics"]["accuracy"], 0.95);
  EXPECT_TRUE(hidden_entries(root_ / "mnist-mlp").empty());

  for (int round = 0; round < 2; ++round) { // as written, and as a fresh process sees it
    auto s = round == 0 ? std::move(store) : open_store();
    EXPECT_EQ(s.models(), (std::vector<std::string>{"alpha", "mnist-mlp"}));
    auto all = s.versions("mnist-mlp");
    ASSERT_TRUE(all) << llmos::describe(all.error());
    EXPECT_EQ(numbers_of(*all), (std::vector<uint32_t>{1, 2}));
    EXPECT_EQ((*all)[1].metrics["accuracy"], 0.97);
    auto m = s.meta("mnist-mlp", 1);
    ASSERT_TRUE(m) << llmos::describe(m.error());
    EXPECT_EQ(m->lineage, lineage);
    EXPECT_EQ(m->created, v1->created);
    auto f = s.files("mnist-mlp", 1);
    ASSERT_TRUE(f) << llmos::describe(f.error());
    EXPECT_EQ(f->weights, files1.weights);
    EXPECT_EQ(f->tokenizer, "");
    EXPECT_EQ(f->spec, files1.spec);
    auto f2 = s.files("mnist-mlp", 2);
    ASSERT_TRUE(f2);
    EXPECT_EQ(f2->weights, sample_files(2).weights);
    EXPECT_EQ(f2->tokenizer, sample_files(2).tokenizer);
    store = std::move(s);
  }
}

TEST_F(registry_store_test, numbering_continues_after_remove_and_reopen) {
  auto store = open_store();
  for (uint64_t seed = 1; seed <= 3; ++seed)
    publish(store, "m", seed);
  ASSERT_TRUE(store.remove("m", 3));
  EXPECT_FALSE(fs::exists(store.version_dir("m", 3)));
  EXPECT_EQ(publish(store, "m", 4).version, 4u);

  store = open_store();
  ASSERT_TRUE(store.remove("m", 4));
  store = open_store();
  EXPECT_EQ(publish(store, "m", 5).version, 5u);
  EXPECT_EQ(numbers_of(*store.versions("m")), (std::vector<uint32_t>{1, 2, 5}));
  std::ifstream counter{root_ / "m" / "next_version"};
  uint64_t next = 0;
  counter >> next;
  EXPECT_EQ(next, 6u);

  auto again = store.remove("m", 4);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), code_of(error_code::not_found));

  // A model whose versions are all gone is not listed, but keeps its numbering.
  for (uint32_t v : {1u, 2u, 5u})
    ASSERT_TRUE(store.remove("m", v));
  EXPECT_TRUE(store.models().empty());
  EXPECT_TRUE(store.versions("m")->empty());
  store = open_store();
  EXPECT_EQ(publish(store, "m", 6).version, 6u);
  EXPECT_TRUE(hidden_entries(root_ / "m").empty());
}

TEST_F(registry_store_test, aliases_set_move_resolve_remove_and_survive_reopen) {
  auto store = open_store();
  publish(store, "m", 1);
  publish(store, "m", 2);
  EXPECT_TRUE(store.aliases("m")->empty());
  ASSERT_TRUE(store.set_alias("m", "prod", 1));
  ASSERT_TRUE(store.set_alias("m", "staging", 2));
  EXPECT_EQ(*store.resolve("m", "prod"), 1u);
  ASSERT_TRUE(store.set_alias("m", "prod", 2)); // move
  EXPECT_EQ(*store.resolve("m", "prod"), 2u);

  store = open_store();
  EXPECT_EQ(*store.aliases("m"), (std::map<std::string, uint32_t>{{"prod", 2}, {"staging", 2}}));
  EXPECT_EQ(*store.resolve("m", "prod"), 2u);
  EXPECT_EQ(*store.resolve("m", "latest"), 2u);
  EXPECT_EQ(*store.resolve("m", "v1"), 1u);
  EXPECT_EQ(*store.resolve("m", "1"), 1u);
  ASSERT_TRUE(store.remove_alias("m", "staging"));

  store = open_store();
  EXPECT_EQ(*store.aliases("m"), (std::map<std::string, uint32_t>{{"prod", 2}}));
  std::ifstream in{root_ / "m" / "aliases.json"};
  EXPECT_EQ(nlohmann::json::parse(in)["aliases"], (nlohmann::json{{"prod", 2}}));

  auto gone = store.resolve("m", "staging");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code(), code_of(error_code::not_found));
  EXPECT_NE(llmos::describe(gone.error()).find("'prod'"), std::string::npos)
      << "lists the aliases there are: " << llmos::describe(gone.error());
  auto twice = store.remove_alias("m", "staging");
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().code(), code_of(error_code::not_found));
  auto to_missing = store.set_alias("m", "prod", 9);
  ASSERT_FALSE(to_missing);
  EXPECT_EQ(to_missing.error().code(), code_of(error_code::not_found));
  EXPECT_EQ(*store.resolve("m", "prod"), 2u) << "a refused move leaves the alias where it was";
  auto no_model = store.set_alias("other", "prod", 1);
  ASSERT_FALSE(no_model);
  EXPECT_EQ(no_model.error().code(), code_of(error_code::not_found));
  EXPECT_TRUE(hidden_entries(root_ / "m").empty());
}

TEST_F(registry_store_test, remove_refused_while_aliased_names_the_alias) {
  auto store = open_store();
  publish(store, "m", 1);
  publish(store, "m", 2);
  ASSERT_TRUE(store.set_alias("m", "prod", 1));
  ASSERT_TRUE(store.set_alias("m", "canary", 1));
  auto refused = store.remove("m", 1);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), code_of(error_code::bad_params));
  const auto msg = llmos::describe(refused.error());
  EXPECT_NE(msg.find("'prod'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'canary'"), std::string::npos) << msg;
  ASSERT_TRUE(store.files("m", 1)) << "the refused version is untouched";

  ASSERT_TRUE(store.set_alias("m", "prod", 2));
  ASSERT_TRUE(store.remove_alias("m", "canary"));
  ASSERT_TRUE(store.remove("m", 1));
  auto removed = store.resolve("m", "1");
  ASSERT_FALSE(removed);
  EXPECT_EQ(removed.error().code(), code_of(error_code::not_found));
  EXPECT_EQ(numbers_of(*store.versions("m")), (std::vector<uint32_t>{2}));
}

TEST_F(registry_store_test, bad_names_and_refs_give_clear_errors) {
  auto store = open_store();
  const auto expect_error = [](const auto& result, error_code code, const std::string& mention) {
    ASSERT_FALSE(result) << "expected an error mentioning " << mention;
    EXPECT_EQ(result.error().code(), code_of(code)) << llmos::describe(result.error());
    EXPECT_NE(llmos::describe(result.error()).find(mention), std::string::npos)
        << llmos::describe(result.error());
  };
  for (const std::string& bad : std::vector<std::string>{
           "", "../evil", ".hidden", "a/b", "with space", "-dash", "ünï", std::string(65, 'a')})
    expect_error(store.publish(bad, sample_files(1), {}, {}), error_code::bad_params,
                 "'" + bad + "'");
  EXPECT_TRUE(store.models().empty());
  ASSERT_TRUE(store.publish(std::string(64, 'a'), sample_files(1), {}, {}));
  publish(store, "m", 1);

  for (std::string bad : {"latest", "3", "v12", "bad/alias", ".x"})
    expect_error(store.set_alias("m", bad, 1), error_code::bad_params, "'" + bad + "'");
  expect_error(store.resolve("m", "v0"), error_code::bad_params, "'v0'");
  expect_error(store.resolve("m", "99999999999"), error_code::bad_params, "'99999999999'");
  expect_error(store.resolve("m", "a b"), error_code::bad_params, "'a b'");
  expect_error(store.resolve("m", ""), error_code::bad_params, "''");
  expect_error(store.resolve("m", "v7"), error_code::not_found, "version 7");
  expect_error(store.resolve("m", "nope"), error_code::not_found, "'nope'");
  expect_error(store.resolve("ghost", "latest"), error_code::not_found, "'ghost'");
  expect_error(store.meta("m", 0), error_code::not_found, "version 0");
  expect_error(store.files("../m", 1), error_code::bad_params, "'../m'");
  expect_error(store.publish("m", sample_files(2), nlohmann::json::array({1}), {}),
               error_code::bad_params, "metrics");
  expect_error(store.publish("m", sample_files(2), {}, {{"parent", "v1"}}), error_code::bad_params,
               "parent");
  EXPECT_EQ(numbers_of(*store.versions("m")), (std::vector<uint32_t>{1}));
}

TEST_F(registry_store_test, corrupt_weights_and_tokenizer_detected_by_checksum) {
  auto store = open_store();
  publish(store, "m", 1);
  publish(store, "m", 2);
  const auto weights = store.version_dir("m", 1) / "weights.pt";
  auto bytes = sample_files(1).weights;
  bytes[1000] = static_cast<char>(bytes[1000] ^ 0x01); // one flipped bit, same size
  write_text(weights, bytes);
  auto read = store.files("m", 1);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code(), code_of(error_code::bad_config));
  EXPECT_NE(llmos::describe(read.error()).find(weights.string()), std::string::npos)
      << llmos::describe(read.error());
  EXPECT_TRUE(store.meta("m", 1)) << "the record itself is fine";

  const auto tokenizer = store.version_dir("m", 2) / "tokenizer.bin";
  write_text(tokenizer, sample_files(2).tokenizer.substr(0, 100)); // torn
  auto torn = store.files("m", 2);
  ASSERT_FALSE(torn);
  EXPECT_EQ(torn.error().code(), code_of(error_code::bad_config));
  EXPECT_NE(llmos::describe(torn.error()).find(tokenizer.string()), std::string::npos);
}

TEST_F(registry_store_test, corrupt_meta_and_alias_files_reported_as_bad_config) {
  auto store = open_store();
  publish(store, "m", 1);
  publish(store, "m", 2);
  ASSERT_TRUE(store.set_alias("m", "prod", 1));
  const auto meta2 = store.version_dir("m", 2) / "meta.json";
  for (const std::string& bad : {std::string{"{\"name\": \"m\", \"vers"}, std::string{"[]"},
                                 std::string{"{\"format\": 1}"}}) {
    write_text(meta2, bad);
    for (const auto& err :
         {store.meta("m", 2).error(), store.versions("m").error(), store.files("m", 2).error()}) {
      EXPECT_EQ(err.code(), code_of(error_code::bad_config)) << bad;
      EXPECT_NE(llmos::describe(err).find(meta2.string()), std::string::npos)
          << llmos::describe(err);
    }
  }
  // A meta.json copied from another version must not make v2 pass for v1.
  fs::copy_file(store.version_dir("m", 1) / "meta.json", meta2,
                fs::copy_options::overwrite_existing);
  auto copied = store.meta("m", 2);
  ASSERT_FALSE(copied);
  EXPECT_EQ(copied.error().code(), code_of(error_code::bad_config));

  const auto alias_file = root_ / "m" / "aliases.json";
  write_text(alias_file, "{\"format\": 1, \"aliases\": {\"prod\": \"one\"}}");
  auto aliases = store.aliases("m");
  ASSERT_FALSE(aliases);
  EXPECT_EQ(aliases.error().code(), code_of(error_code::bad_config));
  EXPECT_NE(llmos::describe(aliases.error()).find(alias_file.string()), std::string::npos);
  EXPECT_FALSE(store.resolve("m", "prod"));
}

TEST_F(registry_store_test, open_sweeps_leftovers_of_dead_writers_only) {
  {
    auto store = open_store();
    publish(store, "m", 1);
  }
  // A pid that certainly belongs to no process any more.
  const pid_t dead = ::fork();
  if (dead == 0)
    ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  const auto model = root_ / "m";
  const auto d = std::to_string(dead);
  fs::create_directory(model / (".incoming-" + d + "-1"));
  write_text(model / (".incoming-" + d + "-1") / "weights.pt", "half");
  fs::create_directory(model / (".removing-" + d + "-2-v1"));
  write_text(model / (".incoming-" + d + "-3-aliases.json"), "{\"form");
  // A live writer's temporary (our parent's pid stands in for another registry process).
  const auto live = ".incoming-" + std::to_string(::getppid()) + "-1";
  fs::create_directory(model / live);

  auto store = open_store();
  EXPECT_EQ(hidden_entries(model), std::vector<std::string>{live});
  EXPECT_EQ(numbers_of(*store.versions("m")), (std::vector<uint32_t>{1}));
  EXPECT_TRUE(store.files("m", 1));
  fs::remove_all(model / live);
}

TEST_F(registry_store_test, kill_during_publish_leaves_no_half_version) {
  {
    auto store = open_store();
    publish(store, "m", 1);
    publish(store, "m", 2);
  }
  const auto model = root_ / "m";
  std::set<std::string> before;
  for (const auto& entry : fs::directory_iterator{model})
    before.insert(entry.path().filename().string());
  // Big enough that writing and syncing it takes tens of milliseconds, so a kill right after
  // the publish shows its first trace on disk, or shortly after, lands in the middle of it.
  const auto big = sample_files(99, 64u << 20);
  for (int delay_ms : {0, 15}) {
    child_process child{[&] {
      auto store = registry_store::open(root_);
      if (!store)
        ::_exit(2);
      for (;;)
        if (!store->publish("m", big, {{"accuracy", 0.5}}, {}))
          ::_exit(3);
    }};
    // Any entry the model folder did not have counts as the publish having begun.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{5};
    bool started = false;
    while (!started && std::chrono::steady_clock::now() < deadline) {
      std::error_code ec;
      for (fs::directory_iterator it{model, ec}, end; !ec && it != end; it.increment(ec))
        started = started || before.count(it->path().filename().string()) == 0;
      if (!started)
        std::this_thread::sleep_for(std::chrono::microseconds{100});
    }
    ASSERT_TRUE(started) << "the child never started publishing";
    std::this_thread::sleep_for(std::chrono::milliseconds{delay_ms});
    ASSERT_TRUE(child.kill_and_reap()) << "the child failed before it was killed";
    const bool left_temporary = !hidden_entries(model).empty();

    auto store = open_store();
    auto listed = store.versions("m");
    ASSERT_TRUE(listed) << llmos::describe(listed.error());
    ASSERT_GE(listed->size(), 2u);
    EXPECT_EQ(numbers_of(*listed)[0], 1u);
    EXPECT_EQ(numbers_of(*listed)[1], 2u);
    for (const auto& m : *listed) {
      auto f = store.files("m", m.version);
      ASSERT_TRUE(f) << "v" << m.version << ": " << llmos::describe(f.error());
      EXPECT_EQ(f->weights, m.version <= 2 ? sample_files(m.version).weights : big.weights);
    }
    EXPECT_TRUE(hidden_entries(model).empty()) << "open() sweeps the dead writer's temporary";
    if (delay_ms == 0) {
      EXPECT_TRUE(left_temporary) << "the kill should have hit the publish midway";
    }
    for (const auto& entry : fs::directory_iterator{model})
      before.insert(entry.path().filename().string());
  }
  auto store = open_store();
  const auto last = store.versions("m")->back().version;
  EXPECT_GT(publish(store, "m", 3).version, last);
}

TEST_F(registry_store_test, kill_during_alias_moves_leaves_a_valid_alias_file) {
  {
    auto store = open_store();
    publish(store, "m", 1);
    publish(store, "m", 2);
    ASSERT_TRUE(store.set_alias("m", "prod", 1));
  }
  // Several kills at different moments, so that some land inside a write.
  for (int round = 0; round < 10; ++round) {
    child_process child{[&] {
      auto store = registry_store::open(root_);
      if (!store)
        ::_exit(2);
      for (uint32_t i = 0;; ++i)
        if (!store->set_alias("m", "prod", i % 2 + 1) ||
            !store->set_alias("m", "canary-" + std::to_string(i % 5), i % 2 + 1))
          ::_exit(3);
    }};
    std::this_thread::sleep_for(std::chrono::milliseconds{3 + 4 * round});
    ASSERT_TRUE(child.kill_and_reap()) << "the child failed before it was killed";

    auto store = open_store();
    EXPECT_TRUE(hidden_entries(root_ / "m").empty());
    auto map = store.aliases("m");
    ASSERT_TRUE(map) << llmos::describe(map.error());
    ASSERT_EQ(map->count("prod"), 1u);
    for (const auto& [alias, version] : *map) {
      EXPECT_TRUE(version == 1 || version == 2) << alias << " -> " << version;
      EXPECT_EQ(*store.resolve("m", alias), version);
    }
    std::ifstream in{root_ / "m" / "aliases.json"};
    EXPECT_FALSE(nlohmann::json::parse(in, nullptr, false).is_discarded());
  }
}
