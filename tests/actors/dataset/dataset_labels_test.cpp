// The dataset actor's labels: proposed labels fill only unlabelled records above the confidence,
// labels asked from a model are stored as a version that survives a restart, the review queue
// is least confident first and people's labels stay, and a model that fails changes nothing.
#include <gmock/gmock.h>

#include "dataset_actor_fixture.hpp"

namespace llmos {
namespace {

using namespace dataset_test;
using ::testing::HasSubstr;

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

TEST_F(dataset_actor_test, model_requests_out_of_range_or_without_a_model_are_refused_by_name) {
  auto ds = spawn(pipeline_);
  const auto first = ingest(ds);
  auto model = sys_.spawn(even_odd_classifier);
  spawned_.push_back(model);
  auto refusal = [](const auto& answer) {
    return answer ? std::string{"an answer"} : describe(answer.error());
  };
  EXPECT_THAT(refusal(ask<dataset_stats>(ds, pseudo_label_atom::value, std::string{"m"}, model, 0.5,
                                         uint32_t{0})),
              HasSubstr("pseudo_label: max_records must be 1 to 100000"));
  EXPECT_THAT(refusal(ask<dataset_stats>(ds, pseudo_label_atom::value, std::string{"m"},
                                         caf::actor{}, 0.5, uint32_t{10})),
              HasSubstr("pseudo_label: no model named"));
  EXPECT_THAT(refusal(ask<dataset_stats>(ds, pseudo_label_atom::value, std::string{"m"}, model, 1.5,
                                         uint32_t{10})),
              HasSubstr("pseudo_label: threshold must be within [0, 1]"));
  EXPECT_THAT(refusal(ask<std::vector<review_item>>(ds, review_atom::value, std::string{"m"}, model,
                                                    uint32_t{1001})),
              HasSubstr("review: n must be 1 to 1000"));
  EXPECT_THAT(refusal(ask<std::vector<review_item>>(ds, review_atom::value, std::string{"m"},
                                                    caf::actor{}, uint32_t{5})),
              HasSubstr("review: no model named"));
  auto now = ask<dataset_stats>(ds, stats_atom::value);
  ASSERT_TRUE(now);
  EXPECT_EQ(now->version, first.version);
}

} // namespace
} // namespace llmos
