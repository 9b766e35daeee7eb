// The dataset actor in a real actor system, driven as a model or client would: statistics before
// and after an ingest, progress by stage, samples, the quarantine by rule, a pushed stream that
// sends only what its credit allows, a pulled stream, refusals, a second ingest while one runs,
// a restart that serves the stored version without ingesting, and a stream that keeps its
// version while a new one is ingested.
#include <sys/stat.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "dataset/dataset_actor.hpp"
#include "dataset/tokenize/byte_tokenizer.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/messages/register.hpp"
#include "llmos/messages/serving.hpp"
#include "notes_corpus.hpp"

namespace llmos {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr auto bad_params = static_cast<uint8_t>(error_code::bad_params);
constexpr uint32_t max_length = 48; // the notes pipeline's tokenizer

/// What an actor received, shared with the test thread.
template <class T> class inbox {
public:
  void push(T x) {
    std::lock_guard<std::mutex> guard{mu_};
    items_.push_back(std::move(x));
    cv_.notify_all();
  }

  std::vector<T> items() const {
    std::lock_guard<std::mutex> guard{mu_};
    return items_;
  }

  std::size_t size() const {
    std::lock_guard<std::mutex> guard{mu_};
    return items_.size();
  }

  /// Waits until `done(items)` holds or `timeout` passes; its last answer.
  template <class F> bool wait(F done, std::chrono::milliseconds timeout = 5s) const {
    std::unique_lock<std::mutex> lock{mu_};
    return cv_.wait_for(lock, timeout, [&] { return done(items_); });
  }

private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<T> items_;
};

using batch_inbox = inbox<data_batch>;

bool has_last(const std::vector<data_batch>& xs) {
  return !xs.empty() && xs.back().last;
}

class dataset_actor_test : public ::testing::Test {
protected:
  ~dataset_actor_test() override {
    for (auto& h : spawned_)
      caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
  }

  static caf::actor_system_config& configure(caf::actor_system_config& cfg) {
    register_messages(cfg);
    cfg.set("scheduler.max-threads", 2);
    return cfg;
  }

  dataset_actor spawn(const std::string& pipeline) {
    auto kind = dataset_kind();
    spawn_context ctx{sys_, "n", "ds", {{"pipeline", pipeline}}};
    auto handle = kind.spawn(ctx);
    EXPECT_TRUE(handle) << describe(handle.error());
    if (!handle)
      return {};
    spawned_.push_back(*handle);
    return caf::actor_cast<dataset_actor>(*handle);
  }

  /// One request with a timeout: the reply or the error.
  template <class T, class... Ts> caf::expected<T> ask(const dataset_actor& ds, Ts&&... xs) {
    caf::expected<T> result{caf::make_error(caf::sec::request_timeout)};
    caf::scoped_actor self{sys_};
    self->request(ds, 30s, std::forward<Ts>(xs)...)
        .receive([&](T& x) { result = std::move(x); },
                 [&](caf::error& err) { result = std::move(err); });
    return result;
  }

  dataset_stats ingest(const dataset_actor& ds, caf::actor sink = {}) {
    auto stats = ask<dataset_stats>(ds, ingest_atom::value, std::move(sink));
    EXPECT_TRUE(stats) << describe(stats.error());
    return stats ? *stats : dataset_stats{};
  }

  /// Every record of a split, by id (from the actor's samples).
  std::map<std::string, data_record> records_of(const dataset_actor& ds, const std::string& split) {
    std::map<std::string, data_record> out;
    auto xs = ask<std::vector<data_record>>(ds, sample_atom::value, split, 1000u, uint64_t{1});
    EXPECT_TRUE(xs) << describe(xs.error());
    if (xs)
      for (auto& r : *xs)
        out.emplace(r.id, r);
    return out;
  }

  /// A consumer that records every batch it receives (and returns no credit by itself).
  caf::actor spawn_consumer(std::shared_ptr<batch_inbox> box) {
    auto h = sys_.spawn([box](caf::event_based_actor*) -> caf::behavior {
      return {[=](batch_atom, const data_batch& b) { box->push(b); }};
    });
    spawned_.push_back(h);
    return h;
  }

  /// Pulls a stream opened without consumer until its last batch.
  std::vector<data_batch> pull_all(const dataset_actor& ds, uint64_t id) {
    std::vector<data_batch> out;
    for (int guard = 0; guard < 1000 && !has_last(out); ++guard) {
      auto b = ask<data_batch>(ds, next_batch_atom::value, id);
      EXPECT_TRUE(b) << describe(b.error());
      if (!b)
        break;
      out.push_back(std::move(*b));
    }
    return out;
  }

  static stream_request request(uint32_t rank, uint32_t world, uint32_t batch_size,
                                uint32_t credits, caf::actor consumer = {}) {
    stream_request req;
    req.split = "train";
    req.rank = rank;
    req.world = world;
    req.batch_size = batch_size;
    req.credits = credits;
    req.seed = 9;
    req.consumer = std::move(consumer);
    return req;
  }

  /// Checks that every row of `b` is its record's text as bytes, cut or padded to max_length.
  static void expect_rows_match(const data_batch& b, const std::map<std::string, data_record>& rs) {
    ASSERT_EQ(b.inputs.dtype, "i32");
    ASSERT_EQ(b.inputs.shape,
              (std::vector<int64_t>{static_cast<int64_t>(b.ids.size()), max_length}));
    ASSERT_EQ(b.inputs.data.size(), b.ids.size() * max_length * sizeof(int32_t));
    for (std::size_t k = 0; k < b.ids.size(); ++k) {
      auto it = rs.find(b.ids[k]);
      ASSERT_NE(it, rs.end()) << b.ids[k] << " is not in the split";
      EXPECT_EQ(b.labels[k], it->second.label);
      std::vector<int32_t> row(max_length);
      std::memcpy(row.data(), b.inputs.data.data() + k * max_length * sizeof(int32_t),
                  max_length * sizeof(int32_t));
      std::vector<int32_t> expected(max_length, dataset::byte_tokenizer::pad_id);
      const auto& text = it->second.text;
      for (std::size_t i = 0; i < text.size() && i < max_length; ++i)
        expected[i] = static_cast<unsigned char>(text[i]);
      EXPECT_EQ(row, expected) << b.ids[k];
    }
  }

  caf::actor_system_config cfg_;
  caf::actor_system sys_{configure(cfg_)};
  dataset::notes::temp_folder dir_{"dataset_actor"};
  dataset::notes::corpus corpus_ = dataset::notes::make_corpus();
  std::string pipeline_ = dataset::notes::write_pipeline(dir_.path(), corpus_);
  std::vector<caf::actor> spawned_;
};

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
  EXPECT_EQ(after->version, stats.version);
  EXPECT_EQ(after->records, stats.records);
  EXPECT_EQ(after->train, stats.train);
  EXPECT_EQ(after->validation, stats.validation);
  EXPECT_EQ(after->test, stats.test);
  EXPECT_EQ(after->removed, stats.removed);
  EXPECT_EQ(after->labels, stats.labels);
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

TEST_F(dataset_actor_test, proposed_labels_fill_only_unlabelled_records_above_the_confidence) {
  auto ds = spawn(pipeline_);
  const auto first = ingest(ds);
  auto all = records_of(ds, "");
  std::string unlabelled;
  std::string labelled;
  for (const auto& [id, r] : all)
    if (!r.augmented)
      (r.label.empty() ? unlabelled : labelled) = id;
  ASSERT_FALSE(unlabelled.empty());
  std::vector<pseudo_label_item> items{{unlabelled, "tech", 0.4}, {labelled, "poem", 0.99}};
  auto same = ask<dataset_stats>(ds, pseudo_label_atom::value, items, 0.5);
  ASSERT_TRUE(same) << describe(same.error());
  EXPECT_EQ(same->version, first.version) << "a gold label was overwritten or a weak one applied";
  items[0].confidence = 0.9;
  auto labelled_now = ask<dataset_stats>(ds, pseudo_label_atom::value, items, 0.5);
  ASSERT_TRUE(labelled_now) << describe(labelled_now.error());
  EXPECT_NE(labelled_now->version, first.version);
  EXPECT_EQ(labelled_now->labels.at("tech"), first.labels.at("tech") + 1);
  EXPECT_EQ(records_of(ds, "").at(unlabelled).label, "tech");
  EXPECT_EQ(records_of(ds, "").at(labelled).label, all.at(labelled).label);
}

/// A classifier as a server answers predict: "sport" (0.97) for texts of even length, else
/// "poem" (0.6).
caf::behavior even_odd_classifier(caf::event_based_actor*) {
  return {[](predict_atom, const predict_request& req) {
    predict_reply out;
    for (const auto& t : req.texts)
      out.predictions.push_back(t.size() % 2 == 0 ? prediction_item{"sport", 0.97}
                                                  : prediction_item{"poem", 0.6});
    return out;
  }};
}

TEST_F(dataset_actor_test, labels_asked_from_a_model_are_stored_as_a_version_that_survives) {
  auto ds = spawn(pipeline_);
  const auto first = ingest(ds);
  std::map<std::string, uint64_t> given; // what the classifier will say of unlabelled records
  uint64_t scored = 0;
  uint64_t agreed = 0;
  for (const auto& [id, r] : records_of(ds, "")) {
    if (r.augmented)
      continue;
    const std::string label = r.text.size() % 2 == 0 ? "sport" : "poem";
    if (r.label.empty()) {
      ++given[label];
    } else {
      ++scored;
      agreed += r.label == label ? 1 : 0;
    }
  }
  ASSERT_FALSE(given.empty()) << "the corpus keeps unlabelled records";
  uint64_t unlabelled = 0;
  for (const auto& [label, n] : given)
    unlabelled += n;
  auto model = sys_.spawn(even_odd_classifier);
  spawned_.push_back(model);

  auto refused =
      ask<dataset_stats>(ds, pseudo_label_atom::value, std::string{"m"}, model, 1.5, uint32_t{100});
  ASSERT_FALSE(refused);
  EXPECT_NE(describe(refused.error()).find("threshold"), std::string::npos);
  refused =
      ask<dataset_stats>(ds, pseudo_label_atom::value, std::string{"m"}, model, 0.9, uint32_t{0});
  ASSERT_FALSE(refused);
  EXPECT_NE(describe(refused.error()).find("max_records"), std::string::npos);

  auto stats = ask<dataset_stats>(ds, pseudo_label_atom::value, std::string{"m"}, model, 0.5,
                                  uint32_t{1000});
  ASSERT_TRUE(stats) << describe(stats.error());
  EXPECT_NE(stats->version, first.version);
  EXPECT_EQ(stats->labels[""], 0u);
  for (const auto& [label, n] : given)
    EXPECT_EQ(stats->labels[label], first.labels.count(label) ? first.labels.at(label) + n : n);
  auto report = nlohmann::json::parse(stats->report)["pseudo_labels"];
  EXPECT_EQ(report["model"], "m");
  EXPECT_EQ(report["asked"], unlabelled) << report.dump();
  EXPECT_EQ(report["applied"], unlabelled) << report.dump();
  EXPECT_EQ(report["labels"], nlohmann::json(given)) << report.dump();
  EXPECT_EQ(report["agreement_with_existing_labels"]["scored"], scored) << report.dump();
  EXPECT_EQ(report["agreement_with_existing_labels"]["agreed"], agreed) << report.dump();
  // ... by who gave the label: the source's own and the labelling functions' (stored per record).
  const auto& by_source = report["agreement_with_existing_labels"]["by_source"];
  EXPECT_TRUE(by_source.contains("gold")) << report.dump();
  EXPECT_TRUE(by_source.contains("labelling_functions")) << report.dump();
  std::map<std::string, int> sources;
  for (const auto& [id, r] : records_of(ds, ""))
    ++sources[r.label_source];
  EXPECT_EQ(sources["model"], static_cast<int>(unlabelled)) << "every model label is marked";
  EXPECT_GT(sources["labelling_functions"], 0);
  // Nothing is left to label now.
  auto nothing = ask<dataset_stats>(ds, pseudo_label_atom::value, std::string{"m"}, model, 0.5,
                                    uint32_t{1000});
  ASSERT_FALSE(nothing);
  EXPECT_NE(describe(nothing.error()).find("has a label"), std::string::npos);

  // A restarted data set serves the labelled version without ingesting again.
  auto again = spawn(pipeline_);
  auto restarted = ask<dataset_stats>(again, stats_atom::value);
  ASSERT_TRUE(restarted) << describe(restarted.error());
  EXPECT_EQ(restarted->version, stats->version);
  EXPECT_EQ(restarted->labels["sport"], stats->labels["sport"]);
}

TEST_F(dataset_actor_test, the_review_queue_is_least_confident_first_and_peoples_labels_stay) {
  auto ds = spawn(pipeline_);
  const auto first = ingest(ds);
  auto model = sys_.spawn(even_odd_classifier);
  spawned_.push_back(model);
  auto queue =
      ask<std::vector<review_item>>(ds, review_atom::value, std::string{"m"}, model, uint32_t{100});
  ASSERT_TRUE(queue) << describe(queue.error());
  ASSERT_FALSE(queue->empty());
  for (std::size_t i = 1; i < queue->size(); ++i)
    EXPECT_LE((*queue)[i - 1].confidence, (*queue)[i].confidence);
  const auto all = records_of(ds, "");
  for (const auto& q : *queue) {
    EXPECT_TRUE(all.at(q.record_id).label.empty()) << q.record_id << " is labelled";
    EXPECT_EQ(q.text, all.at(q.record_id).text);
    EXPECT_EQ(q.suggested, q.text.size() % 2 == 0 ? "sport" : "poem");
  }
  auto one =
      ask<std::vector<review_item>>(ds, review_atom::value, std::string{"m"}, model, uint32_t{1});
  ASSERT_TRUE(one);
  ASSERT_EQ(one->size(), 1u);
  EXPECT_DOUBLE_EQ((*one)[0].confidence, queue->front().confidence);

  // A person labels the first queued record and overrules a labelled one.
  std::string gold;
  for (const auto& [id, r] : all)
    if (!r.augmented && r.label == "sport")
      gold = id;
  ASSERT_FALSE(gold.empty());
  const auto queued = queue->front().record_id;
  std::vector<pseudo_label_item> given{{queued, "tech", 1.0}, {gold, "poem", 1.0}};
  auto labelled = ask<dataset_stats>(ds, human_label_atom::value, given);
  ASSERT_TRUE(labelled) << describe(labelled.error());
  EXPECT_NE(labelled->version, first.version);
  EXPECT_EQ(records_of(ds, "").at(queued).label, "tech");
  EXPECT_EQ(records_of(ds, "").at(gold).label, "poem");
  auto report = nlohmann::json::parse(labelled->report)["human_labels"];
  EXPECT_EQ(report["applied"], 2) << report.dump();
  // A bad label is refused by entry, and what was given before stays.
  auto refused =
      ask<dataset_stats>(ds, human_label_atom::value, std::vector<pseudo_label_item>{{"x", "", 1}});
  ASSERT_FALSE(refused);
  EXPECT_NE(describe(refused.error()).find("label 1"), std::string::npos);

  // Ingesting again (the source still has no label there, and the gold one) keeps them both
  // (the stratified split may differ: the labels did).
  auto again = ingest(ds);
  EXPECT_NE(nlohmann::json::parse(again.report)["human_labels"].dump().find("\"applied\":2"),
            std::string::npos)
      << again.report;
  EXPECT_EQ(records_of(ds, "").at(queued).label, "tech");
  EXPECT_EQ(records_of(ds, "").at(gold).label, "poem");
  auto after =
      ask<std::vector<review_item>>(ds, review_atom::value, std::string{"m"}, model, uint32_t{100});
  ASSERT_TRUE(after);
  EXPECT_EQ(after->size(), queue->size() - 1) << "the labelled record left the queue";
}

TEST_F(dataset_actor_test, a_model_that_fails_leaves_the_version_as_it_was) {
  auto ds = spawn(pipeline_);
  const auto first = ingest(ds);
  auto model = sys_.spawn([](caf::event_based_actor*) -> caf::behavior {
    return {[](predict_atom, const predict_request&) -> caf::result<predict_reply> {
      return make_llmos_error(error_code::unavailable, "no replica");
    }};
  });
  spawned_.push_back(model);
  auto failed = ask<dataset_stats>(ds, pseudo_label_atom::value, std::string{"gone"}, model, 0.5,
                                   uint32_t{10});
  ASSERT_FALSE(failed);
  EXPECT_NE(describe(failed.error()).find("model 'gone'"), std::string::npos)
      << describe(failed.error());
  auto now = ask<dataset_stats>(ds, stats_atom::value);
  ASSERT_TRUE(now);
  EXPECT_EQ(now->version, first.version);
  // The run ended: an ingest may start again.
  EXPECT_EQ(ingest(ds).version, first.version);
}

// Unblocks a reader stuck opening a FIFO (so that a failed test cannot hang the actor system).
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
  EXPECT_EQ(served->version, stats.version);
  EXPECT_EQ(served->records, stats.records);
  EXPECT_EQ(served->train, stats.train);
  EXPECT_EQ(served->removed, stats.removed);
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
