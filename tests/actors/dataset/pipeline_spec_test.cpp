// The pipeline file: the shipped examples parse, defaults and ${DATA} paths resolve, and each kind
// of mistake is refused with its line and the fix.
#include <cstdlib>
#include <filesystem>

#include <gtest/gtest.h>

#include "dataset/data_dir.hpp"
#include "dataset/pipeline_spec.hpp"
#include "dataset/readers/reader.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/runtime/state_dir.hpp"

namespace {

using llmos::dataset::parse_pipeline;

std::string refusal(const std::string& yaml) {
  auto spec = parse_pipeline(yaml, "/tmp/p/pipe.yaml");
  EXPECT_FALSE(spec) << "accepted:\n" << yaml;
  return spec ? std::string{} : llmos::describe(spec.error());
}

TEST(pipeline_spec, shipped_examples_parse) {
  for (const char* name : {"spam", "fortunes", "fashion"}) {
    auto path = std::string{LLMOS_SOURCE_DIR} + "/nodes/examples/pipelines/" + name + ".yaml";
    auto spec = llmos::dataset::load_pipeline(path);
    ASSERT_TRUE(spec) << llmos::describe(spec.error());
    EXPECT_EQ(spec->dataset, name);
    EXPECT_FALSE(spec->sources.empty());
    EXPECT_FALSE(spec->text.empty());
  }
}

TEST(pipeline_spec, reads_every_section) {
  auto spec = parse_pipeline(R"(dataset: spam
root: store
sources:
  - name: mail
    kind: maildir
    path: ${DATA}/mail
    options: {extension: .txt}
    limit: 50
clean:
  - rule: near_dedupe
    options: {threshold: 0.8}
annotate:
  overwrite: true
  labelling_functions:
    - {name: money, kind: keywords, patterns: [free, cash], label: spam, weight: 2}
split: {train: 0.7, validation: 0.2, test: 0.1, seed: 9}
augment: {rate: 0.2, copies: 2, seed: 4}
tokenizer: {kind: bpe, vocab_size: 500, max_length: 64}
shard_records: 10
)",
                             "/tmp/p/pipe.yaml");
  ASSERT_TRUE(spec) << llmos::describe(spec.error());
  EXPECT_EQ(spec->root, "/tmp/p/store");
  EXPECT_EQ(spec->quarantine, "/tmp/p/store/spam.quarantine.jsonl");
  ASSERT_EQ(spec->sources.size(), 1u);
  EXPECT_EQ(spec->sources[0].path, llmos::dataset::data_dir() + "/mail");
  EXPECT_EQ(spec->sources[0].options.at("extension"), ".txt");
  EXPECT_EQ(spec->sources[0].limit, 50u);
  EXPECT_EQ(spec->sources[0].line, 4);
  ASSERT_EQ(spec->clean.size(), 1u);
  EXPECT_EQ(spec->clean[0].options.at("threshold"), "0.8");
  ASSERT_EQ(spec->labelling_functions.size(), 1u);
  EXPECT_EQ(spec->labelling_functions[0].patterns, (std::vector<std::string>{"free", "cash"}));
  EXPECT_DOUBLE_EQ(spec->labelling_functions[0].weight, 2.0);
  EXPECT_TRUE(spec->overwrite_labels);
  EXPECT_DOUBLE_EQ(spec->split.train, 0.7);
  EXPECT_EQ(spec->split.seed, 9u);
  EXPECT_TRUE(spec->augment.enabled);
  EXPECT_EQ(spec->augment.copies, 2u);
  EXPECT_EQ(spec->tokenizer.kind, "bpe");
  EXPECT_EQ(spec->tokenizer.max_length, 64u);
  EXPECT_EQ(spec->shard_records, 10u);
}

TEST(pipeline_spec, defaults_without_optional_sections) {
  auto spec = parse_pipeline("dataset: d\nsources:\n  - {name: a, kind: jsonl, path: a.jsonl}\n",
                             "/tmp/p/pipe.yaml");
  ASSERT_TRUE(spec) << llmos::describe(spec.error());
  EXPECT_EQ(spec->sources[0].path, "/tmp/p/a.jsonl");
  EXPECT_FALSE(spec->augment.enabled);
  EXPECT_EQ(spec->tokenizer.kind, "byte");
  EXPECT_DOUBLE_EQ(spec->split.train, 0.8);
  // Without root: the store lives in the state folder beside the data cache, like every other
  // component's default state.
  EXPECT_EQ(spec->root, llmos::state_dir() + "/datasets");
  EXPECT_EQ(std::filesystem::path{llmos::state_dir()}.parent_path(),
            std::filesystem::path{llmos::dataset::data_dir()}.parent_path());
}

TEST(pipeline_spec, every_reader_kind_is_a_source_kind_including_sqlite) {
  auto spec = parse_pipeline("dataset: d\nsources:\n  - name: shop\n    kind: sqlite\n"
                             "    path: shop.db\n    options: {query: 'SELECT body AS text FROM "
                             "reviews WHERE stars > 3', label_column: stars}\n",
                             "/tmp/p/pipe.yaml");
  ASSERT_TRUE(spec) << llmos::describe(spec.error());
  EXPECT_EQ(spec->sources[0].kind, "sqlite");
  EXPECT_EQ(spec->sources[0].path, "/tmp/p/shop.db");
  EXPECT_EQ(spec->sources[0].options.at("query"),
            "SELECT body AS text FROM reviews WHERE stars > 3");
  EXPECT_EQ(llmos::dataset::known_source_kinds(), llmos::dataset::reader_kinds());
}

TEST(pipeline_spec, postgres_sources_incremental_runs_and_a_schedule) {
  auto spec = parse_pipeline(
      "dataset: d\nincremental: true\nschedule: {every: 6h, scheduler: sched, priority: 5}\n"
      "sources:\n  - name: shop\n    kind: postgres\n    path: 'host=db port=5432 dbname=shop'\n"
      "    options: {table: reviews, id_column: id, cursor_column: id, password_file: pw}\n",
      "/tmp/p/pipe.yaml");
  ASSERT_TRUE(spec) << llmos::describe(spec.error());
  EXPECT_TRUE(spec->incremental);
  EXPECT_EQ(spec->schedule.every_s, 6u * 3600);
  EXPECT_EQ(spec->schedule.scheduler, "sched");
  EXPECT_EQ(spec->schedule.priority, 5);
  EXPECT_EQ(spec->sources[0].path, "host=db port=5432 dbname=shop") << "not a file path";
  EXPECT_EQ(spec->sources[0].options.at("password_file"), "/tmp/p/pw") << "a file path";
  const std::string head = "dataset: d\nsources:\n  - {name: a, kind: jsonl, path: a.jsonl}\n";
  auto msg = refusal(head + "schedule: {every: 6 hours}\n");
  EXPECT_NE(msg.find(":4: 'every' must be a whole number and a unit"), std::string::npos) << msg;
  msg = refusal(head + "schedule: {every: 40d}\n");
  EXPECT_NE(msg.find("from 1s to 30d"), std::string::npos) << msg;
  msg = refusal(head + "schedule: {scheduler: s}\n");
  EXPECT_NE(msg.find("'schedule' needs 'every'"), std::string::npos) << msg;
}

TEST(pipeline_spec, refuses_mistakes_with_line_and_fix) {
  const std::string head = "dataset: d\nsources:\n  - {name: a, kind: jsonl, path: a.jsonl}\n";
  auto msg = refusal(head + "claen:\n  - rule: normalise\n");
  EXPECT_NE(msg.find("pipe.yaml:4: unknown key 'claen'; did you mean 'clean'?"), std::string::npos)
      << msg;
  msg = refusal(head + "clean:\n  - rule: normalize\n");
  EXPECT_NE(msg.find(":5:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'normalise'?"), std::string::npos) << msg;
  msg = refusal(head + "split: {train: 0.8, validation: 0.3, test: 0.1}\n");
  EXPECT_NE(msg.find("make train + validation + test = 1"), std::string::npos) << msg;
  msg = refusal("dataset: d\n");
  EXPECT_NE(msg.find("missing 'sources:'"), std::string::npos) << msg;
  msg = refusal("sources: []\n");
  EXPECT_NE(msg.find("missing 'dataset: NAME'"), std::string::npos) << msg;
  msg = refusal("dataset: d\nsources:\n  - {name: a, kind: parquet, path: x}\n");
  EXPECT_NE(msg.find(":3:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("one of: csv, tsv, jsonl, maildir, fortunes, idx"), std::string::npos) << msg;
  msg = refusal("dataset: d\nsources:\n  - {name: a, kind: idx}\n");
  EXPECT_NE(msg.find("needs options 'images' and 'labels'"), std::string::npos) << msg;
  msg = refusal(head + "  - {name: a, kind: csv, path: b.csv}\n");
  EXPECT_NE(msg.find("two sources are called 'a'"), std::string::npos) << msg;
  msg = refusal(head + "augment: {image_flip: maybe}\n");
  EXPECT_NE(msg.find("'image_flip' must be true or false"), std::string::npos) << msg;
  msg = refusal(head + "tokenizer: {kind: wordpiece}\n");
  EXPECT_NE(msg.find("(one of: byte, char, bpe, unigram)"), std::string::npos) << msg;
  msg =
      refusal(head + "annotate:\n  labelling_functions:\n    - {name: x, kind: regex, label: s}\n");
  EXPECT_NE(msg.find(":6: a labelling function needs 'patterns'"), std::string::npos) << msg;
  msg = refusal(head + "clean: [\n");
  EXPECT_NE(msg.find("YAML syntax error"), std::string::npos) << msg;
  msg = refusal("dataset: 'bad name'\nsources:\n  - {name: a, kind: jsonl, path: a}\n");
  EXPECT_NE(msg.find("not a valid name"), std::string::npos) << msg;
}

TEST(pipeline_spec, unreadable_file_is_named) {
  auto spec = llmos::dataset::load_pipeline("/nonexistent/pipe.yaml");
  ASSERT_FALSE(spec);
  EXPECT_NE(llmos::describe(spec.error()).find("/nonexistent/pipe.yaml"), std::string::npos);
}

} // namespace
