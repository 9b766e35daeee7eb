// The pipeline runner end to end on a planted data set: each cleaning rule removes exactly the
// records planted for it and the quarantine holds exactly those, with rule and path:line; the
// stored version lists its shards and its hash does not change when nothing changed; augmented
// records exist only in the training split; a missing source names itself and the pipeline
// line; and a run that stops half-way leaves the previous version and quarantine as they were.
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "dataset/augment/stop_words.hpp"
#include "dataset/augment/thesaurus.hpp"
#include "dataset/data_dir.hpp"
#include "dataset/dataset_view.hpp"
#include "dataset/pipeline_runner.hpp"
#include "dataset/quarantine.hpp"
#include "dataset/store/atomic_file.hpp"
#include "llmos/messages/error.hpp"
#include "notes_corpus.hpp"
#include "pipeline_test_util.hpp"

namespace llmos::dataset {
namespace {

namespace fs = std::filesystem;

class pipeline_runner_test : public ::testing::Test {
protected:
  pipeline_spec load(const notes::pipeline_options& o = {}) {
    auto file = notes::write_pipeline(dir_.path(), corpus_, o);
    auto spec = load_pipeline(file);
    EXPECT_TRUE(spec) << describe(spec.error());
    return spec ? *spec : pipeline_spec{};
  }

  /// (rule, line) of every quarantine entry; origins must be the source file.
  std::set<std::pair<std::string, uint64_t>> quarantined(const pipeline_spec& spec) {
    std::set<std::pair<std::string, uint64_t>> out;
    auto entries = quarantine::read(spec.quarantine);
    EXPECT_TRUE(entries) << describe(entries.error());
    if (!entries)
      return out;
    const auto source = dir_ / "notes.jsonl";
    for (const auto& e : *entries) {
      EXPECT_EQ(e.origin.path, source);
      EXPECT_EQ(e.origin.to_string(), source + ":" + std::to_string(e.origin.line));
      EXPECT_TRUE(out.emplace(e.rule, e.origin.line).second)
          << "quarantined twice: " << e.rule << " line " << e.origin.line;
    }
    return out;
  }

  std::set<std::pair<std::string, uint64_t>> planted() const {
    std::set<std::pair<std::string, uint64_t>> out;
    for (const auto& [rule, lines] : corpus_.removed)
      for (auto line : lines)
        out.emplace(rule, line);
    return out;
  }

  test::temp_folder dir_{"pipeline_runner"};
  notes::corpus corpus_ = notes::make_corpus();
};

TEST_F(pipeline_runner_test, each_rule_removes_what_was_planted_and_quarantines_it_with_origin) {
  ASSERT_EQ(corpus_.lines, 60u);
  auto spec = load();
  auto result = run_ok(spec);
  EXPECT_EQ(result.records, corpus_.kept.size());
  EXPECT_EQ(result.train + result.validation + result.test, corpus_.kept.size());
  EXPECT_EQ(
      result.removed,
      (std::map<std::string, uint64_t>{
          {"jsonl_reader", 1}, {"exact_dedupe", 5}, {"near_dedupe", 3}, {"length_filter", 2}}));
  EXPECT_EQ(result.labels, corpus_.labels);
  EXPECT_EQ(result.augmented, 0u);

  // The report says what every rule did, in order; normalise changes text but removes nothing.
  const auto& rules = result.report.at("rules");
  ASSERT_EQ(rules.size(), 4u);
  EXPECT_EQ(rules[0].at("rule"), "normalise");
  EXPECT_EQ(rules[0].at("modified"), corpus_.normalised);
  EXPECT_EQ(rules[0].at("removed"), 0u);
  for (std::size_t i = 1; i < rules.size(); ++i) {
    const auto rule = rules[i].at("rule").get<std::string>();
    EXPECT_EQ(rules[i].at("removed"), corpus_.removed.at(rule).size()) << rule;
  }
  EXPECT_EQ(result.report.at("annotation").at("labelled"), corpus_.labelled_by_lf);

  // Exactly the planted records are in the quarantine, each once, at its path:line.
  EXPECT_EQ(quarantined(spec), planted());
  auto entries = quarantine::read(spec.quarantine);
  ASSERT_TRUE(entries);
  for (const auto& e : *entries) {
    if (e.rule == "exact_dedupe" && e.origin.line == *corpus_.removed.at("exact_dedupe").begin()) {
      EXPECT_EQ(e.reason, "duplicate of notes:6"); // english[5] is on line 6
    }
    if (e.rule == "length_filter" && e.text == "今天天气好") {
      EXPECT_NE(e.reason.find('5'), std::string::npos) << "measured in code points: " << e.reason;
    }
  }
  EXPECT_FALSE(fs::exists(spec.quarantine + ".partial"));
}

TEST_F(pipeline_runner_test, the_version_lists_its_shards_and_its_hash_is_stable_across_runs) {
  auto spec = load();
  auto first = run_ok(spec);
  auto second = run_ok(spec);
  ASSERT_EQ(first.version.version.size(), 32u);
  EXPECT_EQ(first.version.version, second.version.version);
  auto versions = list_versions(spec.root, "notes");
  ASSERT_TRUE(versions);
  EXPECT_EQ(*versions, std::vector<std::string>{first.version.version});

  // Shards of at most shard_records (10) records whose counts add up to each split.
  std::map<split_part, uint64_t> per_part;
  std::map<split_part, uint64_t> shards;
  for (const auto& s : first.version.shards) {
    EXPECT_LE(s.records, 10u) << s.file;
    EXPECT_TRUE(fs::exists(fs::path{first.version.path} / s.file)) << s.file;
    per_part[s.part] += s.records;
    ++shards[s.part];
  }
  EXPECT_EQ(per_part[split_part::train], first.train);
  EXPECT_EQ(per_part[split_part::validation], first.validation);
  EXPECT_EQ(per_part[split_part::test], first.test);
  EXPECT_EQ(shards[split_part::train], (first.train + 9) / 10);
  EXPECT_EQ(first.version.manifest.at("records"), corpus_.kept.size());
  EXPECT_EQ(first.version.manifest.at("shards").size(), first.version.shards.size());

  // One more record in the source is a new version beside the old one.
  std::ofstream{dir_ / "notes.jsonl", std::ios::app}
      << notes::json_line("a brand new record about the harbour and its quiet boats", "tech");
  auto third = run_ok(spec);
  EXPECT_NE(third.version.version, first.version.version);
  EXPECT_EQ(third.records, corpus_.kept.size() + 1);
  versions = list_versions(spec.root, "notes");
  ASSERT_TRUE(versions);
  EXPECT_EQ(versions->size(), 2u);
}

TEST_F(pipeline_runner_test, the_current_file_names_the_last_runs_version_even_when_it_existed) {
  auto spec = load();
  const auto source = dir_ / "notes.jsonl";
  std::string original;
  {
    std::ifstream in{source};
    original.assign(std::istreambuf_iterator<char>{in}, {});
  }
  auto a = run_ok(spec);
  std::ofstream{source, std::ios::app}
      << notes::json_line("one more record about the lighthouse keeper's long night", "tech");
  auto b = run_ok(spec);
  ASSERT_NE(a.version.version, b.version.version);
  std::ofstream{source, std::ios::trunc} << original; // back to the first content
  auto again = run_ok(spec);
  EXPECT_EQ(again.version.version, a.version.version);
  // The manifest of a's version is older than b's, yet a is what the last run produced.
  auto current = read_whole_file(current_version_file(spec.root, "notes"));
  ASSERT_TRUE(current);
  EXPECT_EQ(*current, a.version.version);
}

TEST_F(pipeline_runner_test, augmented_records_exist_only_in_the_training_split) {
  if (data_path(thesaurus_relative_path).empty() || data_path(stop_words_relative_path).empty())
    GTEST_SKIP() << "thesaurus or stop words not found under " << data_dir()
                 << "; run tools/setup/setup.sh";
  notes::pipeline_options o;
  o.augment = true;
  auto spec = load(o);
  auto result = run_ok(spec);
  ASSERT_GT(result.augmented, 0u);
  EXPECT_EQ(result.report.at("augmentation").at("created"), result.augmented);
  auto store = dataset_store::open(spec.root);
  ASSERT_TRUE(store);
  auto view = dataset_view::load(*store, result.version);
  ASSERT_TRUE(view) << describe(view.error());
  std::set<std::string> train_ids;
  for (const auto& r : view->split("train"))
    if (!r.augmented)
      train_ids.insert(r.id);
  uint64_t augmented = 0;
  for (const auto& r : view->split("train")) {
    if (!r.augmented)
      continue;
    ++augmented;
    const auto hash = r.id.rfind("#aug1");
    ASSERT_NE(hash, std::string::npos) << r.id;
    EXPECT_TRUE(train_ids.count(r.id.substr(0, hash))) << r.id << " comes from outside train";
  }
  EXPECT_EQ(augmented, result.augmented);
  EXPECT_EQ(train_ids.size(), result.train);
  for (const char* split : {"validation", "test"})
    for (const auto& r : view->split(split))
      EXPECT_FALSE(r.augmented) << r.id << " in " << split;
}

TEST_F(pipeline_runner_test, a_missing_source_names_the_source_and_the_pipeline_line) {
  notes::pipeline_options o;
  o.source = "missing.jsonl";
  notes::write_text(dir_ / "notes.yaml", notes::pipeline_yaml(o));
  auto spec = load_pipeline(dir_ / "notes.yaml");
  ASSERT_TRUE(spec) << describe(spec.error());
  auto result = run_unwatched(*spec);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), static_cast<uint8_t>(error_code::io_failed));
  const auto line = notes::line_of(spec->text, "- name: notes");
  ASSERT_GT(line, 0);
  const auto message = describe(result.error());
  EXPECT_NE(message.find(spec->file + ":" + std::to_string(line) + ": source 'notes'"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find(dir_ / "missing.jsonl"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(spec->quarantine)) << "a failed run published a quarantine";
  auto versions = list_versions(spec->root, "notes");
  ASSERT_TRUE(versions);
  EXPECT_TRUE(versions->empty());
}

TEST_F(pipeline_runner_test, an_interrupted_run_leaves_the_previous_version_and_quarantine) {
  auto spec = load();
  auto good = run_ok(spec);
  const auto before = quarantined(spec);
  ASSERT_EQ(before, planted());

  // A run that dies after reading (its second source is missing) ...
  notes::pipeline_options o;
  o.extra_source = "gone.jsonl";
  auto broken = load(o);
  ASSERT_EQ(broken.quarantine, spec.quarantine);
  ASSERT_FALSE(run_unwatched(broken));
  // ... and the leftovers of one killed while storing: a version folder without a manifest.
  const auto half = fs::path{spec.root} / "notes" / std::string(32, 'a');
  notes::write_text((half / "train-00000.msgpack").string(), "half a shard");
  notes::write_text((half / "manifest.json.tmp").string(), "{\"format\":");
  ASSERT_TRUE(fs::exists(spec.quarantine + ".partial"));

  auto versions = list_versions(spec.root, "notes");
  ASSERT_TRUE(versions);
  EXPECT_EQ(*versions, std::vector<std::string>{good.version.version});
  EXPECT_EQ(quarantined(spec), before) << "the interrupted run's quarantine became visible";
  auto store = dataset_store::open(spec.root);
  ASSERT_TRUE(store);
  auto info = store->read("notes", good.version.version);
  ASSERT_TRUE(info) << describe(info.error());
  auto view = dataset_view::load(*store, *info);
  ASSERT_TRUE(view) << describe(view.error());
  EXPECT_EQ(view->split("train").size() + view->split("validation").size() +
                view->split("test").size(),
            corpus_.kept.size());
  EXPECT_FALSE(store->read("notes", std::string(32, 'a'))) << "a folder without manifest read";

  // The next complete run publishes a quarantine of its own records only.
  load(); // the pipeline file again without the missing source
  auto again = run_ok(spec);
  EXPECT_EQ(again.version.version, good.version.version);
  EXPECT_EQ(quarantined(spec), planted());
  EXPECT_FALSE(fs::exists(spec.quarantine + ".partial"));
}

} // namespace
} // namespace llmos::dataset
