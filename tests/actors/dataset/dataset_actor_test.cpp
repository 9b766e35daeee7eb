// The dataset actor in a real actor system, driven as a model or client would: statistics before
// and after an ingest, progress by stage, samples, the quarantine by rule, a pushed stream that
// sends only what its credit allows, a pulled stream, refusals, a second ingest while one runs,
// a restart that serves the stored version without ingesting, and a stream that keeps its
// version while a new one is ingested. Labelling: dataset_labels_test.cpp.
#include "dataset_actor_fixture.hpp"

namespace llmos {
namespace {

using namespace dataset_test;

TEST_F(dataset_actor_test, before_the_first_ingest_stats_are_empty_and_nothing_is_served) {
  auto ds = spawn(pipeline_);
  auto stats = ask<dataset_stats>(ds, stats_atom::value);
  ASSERT_TRUE(stats) << describe(stats.error());
  EXPECT_EQ(stats->dataset, "notes");
  EXPECT_EQ(stats->version, "");
  EXPECT_EQ(stats->records, 0u);
  EXPECT_EQ(stats->train + stats->validation + stats->test, 0u);
  auto sample =
      ask<std::vector<data_record>>(ds, sample_atom::value, std::string{"train"}, 3u, uint64_t{1});
  ASSERT_FALSE(sample);
  EXPECT_EQ(sample.error().code(), bad_params);
  EXPECT_NE(describe(sample.error()).find("run ingest first"), std::string::npos);
  auto stream = ask<uint64_t>(ds, open_stream_atom::value, request(0, 1, 4, 1));
  ASSERT_FALSE(stream);
  EXPECT_EQ(stream.error().code(), bad_params);
  auto none = ask<std::vector<quarantine_item>>(ds, quarantine_atom::value, std::string{}, 10u);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_F(dataset_actor_test, ingest_reports_progress_by_stage_and_its_statistics_are_served) {
  auto ds = spawn(pipeline_);
  auto events = std::make_shared<inbox<progress_event>>();
  auto sink = sys_.spawn([events](caf::event_based_actor*) -> caf::behavior {
    return {[=](progress_atom, const progress_event& e) { events->push(e); }};
  });
  spawned_.push_back(sink);
  auto stats = ingest(ds, sink);
  EXPECT_EQ(stats.dataset, "notes");
  EXPECT_EQ(stats.version.size(), 32u);
  EXPECT_EQ(stats.records, corpus_.kept.size());
  EXPECT_EQ(stats.train + stats.validation + stats.test, corpus_.kept.size());
  EXPECT_GT(stats.validation, 0u);
  EXPECT_GT(stats.test, 0u);
  EXPECT_EQ(
      stats.removed,
      (std::map<std::string, uint64_t>{
          {"jsonl_reader", 1}, {"exact_dedupe", 5}, {"near_dedupe", 3}, {"length_filter", 2}}));
  EXPECT_EQ(stats.labels, corpus_.labels);
  EXPECT_NE(stats.report.find("\"rules\""), std::string::npos);

  // Progress: stage after stage in pipeline order, never more done than the total.
  ASSERT_TRUE(events->wait([](const std::vector<progress_event>& xs) {
    return !xs.empty() && xs.back().stage == "store" && xs.back().done == xs.back().total;
  })) << "the store stage never finished";
  std::vector<std::string> stages;
  for (const auto& e : events->items()) {
    EXPECT_EQ(e.task, "ingest notes");
    if (e.total > 0) {
      EXPECT_LE(e.done, e.total) << e.stage;
    }
    if (stages.empty() || stages.back() != e.stage)
      stages.push_back(e.stage);
  }
  EXPECT_EQ(stages,
            (std::vector<std::string>{"read", "clean", "annotate", "split", "tokenize", "store"}));

  auto after = ask<dataset_stats>(ds, stats_atom::value);
  ASSERT_TRUE(after);
  expect_same_version(*after, stats);
}

TEST_F(dataset_actor_test, samples_and_the_quarantine_answer_from_the_stored_version) {
  auto ds = spawn(pipeline_);
  auto stats = ingest(ds);
  auto five =
      ask<std::vector<data_record>>(ds, sample_atom::value, std::string{"train"}, 5u, uint64_t{7});
  ASSERT_TRUE(five) << describe(five.error());
  ASSERT_EQ(five->size(), 5u);
  std::set<std::string> ids;
  for (const auto& r : *five) {
    EXPECT_EQ(r.split, "train");
    EXPECT_FALSE(r.text.empty());
    ids.insert(r.id);
  }
  EXPECT_EQ(ids.size(), 5u);
  auto again =
      ask<std::vector<data_record>>(ds, sample_atom::value, std::string{"train"}, 5u, uint64_t{7});
  ASSERT_TRUE(again);
  for (std::size_t i = 0; i < 5; ++i)
    EXPECT_EQ((*again)[i].id, (*five)[i].id) << "the same seed chose differently";

  // Every record once, with the split the statistics count.
  auto all =
      ask<std::vector<data_record>>(ds, sample_atom::value, std::string{}, 1000u, uint64_t{1});
  ASSERT_TRUE(all);
  std::map<std::string, uint64_t> per_split;
  ids.clear();
  for (const auto& r : *all) {
    ++per_split[r.split];
    ids.insert(r.id);
  }
  EXPECT_EQ(ids.size(), corpus_.kept.size());
  EXPECT_EQ(per_split["train"], stats.train);
  EXPECT_EQ(per_split["validation"], stats.validation);
  EXPECT_EQ(per_split["test"], stats.test);
  for (const auto& line : corpus_.kept)
    EXPECT_TRUE(ids.count("notes:" + std::to_string(line))) << "line " << line << " is missing";
  auto dev =
      ask<std::vector<data_record>>(ds, sample_atom::value, std::string{"dev"}, 1u, uint64_t{1});
  ASSERT_FALSE(dev);
  EXPECT_EQ(dev.error().code(), bad_params);

  // The quarantine by rule, with the origin of each record.
  auto dups = ask<std::vector<quarantine_item>>(ds, quarantine_atom::value,
                                                std::string{"exact_dedupe"}, 100u);
  ASSERT_TRUE(dups) << describe(dups.error());
  std::set<std::string> origins;
  for (const auto& q : *dups) {
    EXPECT_EQ(q.rule, "exact_dedupe");
    EXPECT_NE(q.reason.find("duplicate of notes:"), std::string::npos) << q.reason;
    origins.insert(q.origin);
  }
  std::set<std::string> planted;
  for (auto line : corpus_.removed.at("exact_dedupe"))
    planted.insert((dir_ / "notes.jsonl") + ":" + std::to_string(line));
  EXPECT_EQ(origins, planted);
  auto everything =
      ask<std::vector<quarantine_item>>(ds, quarantine_atom::value, std::string{}, 100u);
  ASSERT_TRUE(everything);
  EXPECT_EQ(everything->size(), 11u);
  auto limited = ask<std::vector<quarantine_item>>(ds, quarantine_atom::value, std::string{}, 3u);
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->size(), 3u);
}

TEST_F(dataset_actor_test, a_pushed_stream_sends_only_what_its_credit_allows) {
  auto ds = spawn(pipeline_);
  auto stats = ingest(ds);
  ASSERT_GE(stats.train, 20u) << "too few records to see the credit at work";
  const auto train = records_of(ds, "train");
  ASSERT_EQ(train.size(), stats.train);

  auto box = std::make_shared<batch_inbox>();
  auto consumer = spawn_consumer(box);
  auto id = ask<uint64_t>(ds, open_stream_atom::value, request(0, 2, 2, 2, consumer));
  ASSERT_TRUE(id) << describe(id.error());
  auto count_is = [](std::size_t n) {
    return [n](const std::vector<data_batch>& xs) { return xs.size() >= n; };
  };
  ASSERT_TRUE(box->wait(count_is(2)));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(box->size(), 2u) << "batches beyond the credit arrived";

  caf::anon_send(ds, credit_atom::value, *id, uint32_t{3});
  ASSERT_TRUE(box->wait(count_is(5)));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(box->size(), 5u) << "batches beyond the returned credit arrived";

  caf::anon_send(ds, credit_atom::value, *id, uint32_t{1000});
  ASSERT_TRUE(box->wait(has_last)) << "the stream never ended";

  // Rank 1 pulls its half; the two halves are disjoint and together the whole split.
  auto pulled = ask<uint64_t>(ds, open_stream_atom::value, request(1, 2, 4, 0));
  ASSERT_TRUE(pulled) << describe(pulled.error());
  const auto rank1 = pull_all(ds, *pulled);
  ASSERT_TRUE(has_last(rank1));
  auto more = ask<data_batch>(ds, next_batch_atom::value, *pulled);
  ASSERT_FALSE(more) << "a batch after the last one";
  EXPECT_EQ(more.error().code(), bad_params);

  std::multiset<std::string> rank0_ids;
  const auto rank0 = box->items();
  for (std::size_t i = 0; i < rank0.size(); ++i) {
    EXPECT_EQ(rank0[i].stream, *id);
    EXPECT_EQ(rank0[i].seq, i);
    EXPECT_EQ(rank0[i].last, i + 1 == rank0.size());
    expect_rows_match(rank0[i], train);
    rank0_ids.insert(rank0[i].ids.begin(), rank0[i].ids.end());
  }
  std::multiset<std::string> rank1_ids;
  for (const auto& b : rank1) {
    expect_rows_match(b, train);
    rank1_ids.insert(b.ids.begin(), b.ids.end());
  }
  EXPECT_EQ(rank0_ids.size(), (train.size() + 1) / 2);
  EXPECT_EQ(rank1_ids.size(), train.size() / 2);
  std::set<std::string> both;
  for (const auto* ids : {&rank0_ids, &rank1_ids})
    for (const auto& x : *ids)
      EXPECT_TRUE(both.insert(x).second) << x << " was sent twice";
  std::set<std::string> expected;
  for (const auto& [rid, r] : train)
    expected.insert(rid);
  EXPECT_EQ(both, expected);
}

TEST_F(dataset_actor_test, bad_stream_requests_and_closed_streams_are_refused) {
  auto ds = spawn(pipeline_);
  ingest(ds);
  auto dev = request(0, 1, 4, 1);
  dev.split = "dev";
  auto refused = ask<uint64_t>(ds, open_stream_atom::value, dev);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), bad_params);
  EXPECT_NE(describe(refused.error()).find("'dev'"), std::string::npos);
  refused = ask<uint64_t>(ds, open_stream_atom::value, request(2, 2, 4, 1));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), bad_params);
  auto unknown = ask<data_batch>(ds, next_batch_atom::value, uint64_t{4242});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code(), bad_params);

  auto id = ask<uint64_t>(ds, open_stream_atom::value, request(0, 1, 4, 0));
  ASSERT_TRUE(id);
  ASSERT_TRUE(ask<data_batch>(ds, next_batch_atom::value, *id));
  caf::anon_send(ds, close_stream_atom::value, *id);
  auto closed = ask<data_batch>(ds, next_batch_atom::value, *id);
  ASSERT_FALSE(closed);
  EXPECT_EQ(closed.error().code(), bad_params);
}

struct fifo_release {
  std::string path;
  bool needed = true;
  ~fifo_release() {
    for (int i = 0; needed && i < 50; ++i) {
      int fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK);
      if (fd >= 0) {
        ::close(fd);
        return;
      }
      std::this_thread::sleep_for(20ms);
    }
  }
};

TEST_F(dataset_actor_test, a_second_ingest_while_one_runs_is_refused_and_stats_still_answer) {
  // The source is a FIFO: the first ingest waits in it until the test writes the records.
  const auto fifo = dir_ / "slow.jsonl";
  dataset::notes::pipeline_options slow;
  slow.dataset = "slow";
  slow.source = "slow.jsonl";
  dataset::notes::write_text(dir_ / "slow.yaml", dataset::notes::pipeline_yaml(slow));
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
  fifo_release release{fifo};
  auto ds = spawn(dir_ / "slow.yaml");
  caf::scoped_actor first{sys_};
  auto pending = first->request(ds, 30s, ingest_atom::value, caf::actor{});

  auto second = ask<dataset_stats>(ds, ingest_atom::value, caf::actor{});
  ASSERT_FALSE(second) << "a second ingest ran beside the first";
  EXPECT_EQ(second.error().code(), bad_params);
  EXPECT_NE(describe(second.error()).find("already ingesting"), std::string::npos)
      << describe(second.error());
  auto stats = ask<dataset_stats>(ds, stats_atom::value);
  ASSERT_TRUE(stats) << "the dataset stopped answering while ingesting";
  EXPECT_EQ(stats->version, "");

  {
    std::ofstream out{fifo, std::ios::binary};
    out << corpus_.jsonl;
  }
  release.needed = false;
  bool done = false;
  pending.receive(
      [&](dataset_stats& s) {
        done = true;
        EXPECT_EQ(s.records, corpus_.kept.size());
      },
      [&](caf::error& err) { ADD_FAILURE() << describe(err); });
  EXPECT_TRUE(done);
}

TEST_F(dataset_actor_test, a_restarted_actor_serves_the_stored_version_without_ingesting) {
  auto first = spawn(pipeline_);
  auto stats = ingest(first);
  caf::anon_send_exit(first, caf::exit_reason::user_shutdown);
  const auto quarantine = dir_ / "store/notes.quarantine.jsonl";
  const auto written = fs::last_write_time(quarantine);
  std::this_thread::sleep_for(20ms);

  auto second = spawn(pipeline_);
  auto served = ask<dataset_stats>(second, stats_atom::value);
  ASSERT_TRUE(served);
  expect_same_version(*served, stats);
  EXPECT_EQ(records_of(second, "train").size(), stats.train);
  auto id = ask<uint64_t>(second, open_stream_atom::value, request(0, 1, 64, 0));
  ASSERT_TRUE(id);
  const auto batches = pull_all(second, *id);
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].ids.size(), stats.train);
  auto q = ask<std::vector<quarantine_item>>(second, quarantine_atom::value, std::string{}, 100u);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->size(), 11u);
  // Nothing was run again: the quarantine is untouched and there is still one version.
  EXPECT_EQ(fs::last_write_time(quarantine), written);
  EXPECT_FALSE(fs::exists(quarantine + ".partial"));
  std::size_t versions = 0;
  for (const auto& entry : fs::directory_iterator{dir_ / "store/notes"})
    versions += entry.is_directory() ? 1 : 0;
  EXPECT_EQ(versions, 1u);
}

TEST_F(dataset_actor_test, a_stream_keeps_its_version_while_a_new_one_is_ingested) {
  auto ds = spawn(pipeline_);
  auto v1 = ingest(ds);
  const auto train_v1 = records_of(ds, "train");
  auto id = ask<uint64_t>(ds, open_stream_atom::value, request(0, 1, 4, 0));
  ASSERT_TRUE(id);
  auto first = ask<data_batch>(ds, next_batch_atom::value, *id);
  ASSERT_TRUE(first);

  // The source shrinks to its first 20 lines: the next version has fewer training records.
  std::string head;
  std::istringstream lines{corpus_.jsonl};
  std::string line;
  for (int i = 0; i < 20 && std::getline(lines, line); ++i)
    head += line + "\n";
  dataset::notes::write_text(dir_ / "notes.jsonl", head);
  auto v2 = ingest(ds);
  ASSERT_NE(v2.version, v1.version);
  ASSERT_LT(v2.train, v1.train);

  std::vector<data_batch> batches{*first};
  for (auto& b : pull_all(ds, *id))
    batches.push_back(std::move(b));
  std::set<std::string> ids;
  for (const auto& b : batches) {
    expect_rows_match(b, train_v1);
    ids.insert(b.ids.begin(), b.ids.end());
  }
  EXPECT_EQ(ids.size(), v1.train) << "the open stream did not finish the version it started on";

  auto fresh = ask<uint64_t>(ds, open_stream_atom::value, request(0, 1, 4, 0));
  ASSERT_TRUE(fresh);
  std::size_t n = 0;
  for (const auto& b : pull_all(ds, *fresh))
    n += b.ids.size();
  EXPECT_EQ(n, v2.train);
}

} // namespace
} // namespace llmos
