// Labels from a model and from people: the dataset actor asks a server for predictions on its
// unlabelled records (and a sample of labelled ones, to report agreement), a chunk at a time at
// the server's lowest priority so user traffic comes first; pseudo_label stores the confident
// ones, review answers the least confident for people, whose labels are kept in the human-labels
// file; a worker (worker_threads.hpp) stores each new version (model_labels.hpp) and reports back
// like an ingest does.
#include <algorithm>
#include <cmath>
#include <functional>

#include "dataset/annotate/human_labels.hpp"
#include "dataset/dataset_state.hpp"
#include "dataset/model_labels.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/messages/serving.hpp"
#include "llmos/runtime/worker_threads.hpp"

namespace llmos {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t chunk = 64;          ///< texts per predict request
constexpr uint32_t lowest_priority = 1000; ///< beyond the last level counts as the last
constexpr std::size_t max_checks = 500;    ///< labelled records asked, for agreement
constexpr uint32_t max_records_limit = 100000;
constexpr std::size_t max_people_labels = 1000; ///< per request
constexpr uint32_t max_review = 1000;           ///< records a review answers
constexpr std::size_t review_pool = 10000;      ///< unlabelled records a review considers

/// The texts asked: the unlabelled records first, then the labelled ones checked.
struct labelling_job {
  std::string model;
  double threshold = 0.9;
  std::vector<std::string> ids;
  std::vector<std::string> texts;
  std::size_t unlabelled = 0;
  std::vector<prediction_item> answers;
};

/// Picks the records to ask about: unlabelled ones (not augmented copies) up to `max`, and up
/// to max_checks labelled ones spread over the set.
void collect(const dataset::dataset_view& view, uint32_t max, labelling_job& job) {
  std::vector<const dataset::served_record*> labelled;
  for (const char* split : {"train", "validation", "test"})
    for (const auto& r : view.split(split)) {
      if (r.augmented)
        continue;
      if (!r.label.empty())
        labelled.push_back(&r);
      else if (job.ids.size() < max) {
        job.ids.push_back(r.id);
        job.texts.push_back(r.text);
      }
    }
  job.unlabelled = job.ids.size();
  const std::size_t step = std::max<std::size_t>(1, labelled.size() / max_checks);
  for (std::size_t i = 0; i < labelled.size() && job.ids.size() - job.unlabelled < max_checks;
       i += step) {
    job.ids.push_back(labelled[i]->id);
    job.texts.push_back(labelled[i]->text);
  }
}

/// The worker stores the labels; the actor hears back through (ingest_atom, run).
void store(self_ptr self, uint64_t run, dataset::model_labels in) {
  auto outcome = self->state.running.at(run).first;
  auto parent = caf::actor_cast<caf::actor>(self);
  run_on_worker(self->system(), [in = std::move(in), outcome, parent, run] {
    outcome->result = dataset::store_model_labels(in);
    caf::anon_send(parent, ingest_atom::value, run);
  });
}

dataset::model_labels labels_of(const dataset_state& st, const labelling_job& job) {
  dataset::model_labels in;
  in.root = st.spec.root;
  in.base = st.view->version();
  in.model = job.model;
  in.min_confidence = job.threshold;
  for (std::size_t i = 0; i < job.ids.size(); ++i) {
    dataset::pseudo_label p{job.ids[i], job.answers[i].label, job.answers[i].confidence};
    (i < job.unlabelled ? in.labels : in.checks).push_back(std::move(p));
  }
  return in;
}

using done_fn = std::function<void()>;
using failed_fn = std::function<void(caf::error)>;

/// Asks `server` for every text of `job`, a chunk at a time (answers collect in job->answers);
/// then `done`, or `failed` with the first error (naming the model).
void ask_model(self_ptr self, caf::actor server, std::shared_ptr<labelling_job> job, done_fn done,
               failed_fn failed) {
  const auto from = job->answers.size();
  if (from == job->texts.size())
    return done();
  predict_request req;
  req.priority = lowest_priority;
  const auto n = std::min(chunk, job->texts.size() - from);
  req.texts.assign(job->texts.begin() + static_cast<std::ptrdiff_t>(from),
                   job->texts.begin() + static_cast<std::ptrdiff_t>(from + n));
  const auto where = "dataset '" + self->state.spec.dataset + "': model '" + job->model + "'";
  self->request(server, 2min, predict_atom::value, std::move(req))
      .then(
          [self, server, job, n, where, done, failed](predict_reply& r) {
            if (r.predictions.size() != n)
              return failed(
                  make_llmos_error(error_code::io_failed,
                                   where + " answered " + std::to_string(r.predictions.size()) +
                                       " predictions for " + std::to_string(n) + " texts"));
            for (auto& p : r.predictions)
              job->answers.push_back(std::move(p));
            ask_model(self, server, job, done, failed);
          },
          [where, failed](caf::error& err) {
            failed(make_llmos_error(error_code::io_failed, where + ": " + describe(err)));
          });
}

/// The worker stores people's labels, then a version with them; a refused label ends the run.
void store_people(self_ptr self, uint64_t run, std::vector<dataset::human_label> labels) {
  auto outcome = self->state.running.at(run).first;
  auto parent = caf::actor_cast<caf::actor>(self);
  run_on_worker(self->system(), [root = self->state.spec.root, base = self->state.view->version(),
                                 labels = std::move(labels), outcome, parent, run] {
    auto all = dataset::add_human_labels(dataset::human_labels_file(root, base.dataset), labels);
    if (!all)
      outcome->result = std::move(all.error());
    else
      outcome->result = dataset::store_human_labels(root, base, *all);
    caf::anon_send(parent, ingest_atom::value, run);
  });
}

/// Answers `rp` with `err` and hands it back: how each request below is refused.
template <class T>
caf::typed_response_promise<T> refused(caf::typed_response_promise<T> rp, caf::error err) {
  rp.deliver(std::move(err));
  return rp;
}

/// The bad_params error for a request's own arguments: "dataset '<name>': <request>: <what>".
caf::error bad_request(const dataset_state& st, std::string_view request, const std::string& what) {
  return make_llmos_error(error_code::bad_params, "dataset '" + st.spec.dataset +
                                                      "': " + std::string{request} + ": " + what);
}

/// Why a request that asks a model about this data set's records (pseudo_label, review) cannot
/// start; empty when it can: `count` (records to label or answer) outside 1..`limit`, no server,
/// or image records (the servers classify text).
std::string model_request_refusal(const dataset::dataset_view& view, const caf::actor& server,
                                  const char* count_name, uint32_t count, uint32_t limit) {
  if (count == 0 || count > limit)
    return std::string{count_name} + " must be 1 to " + std::to_string(limit);
  if (!server)
    return "no model named";
  if (view.images())
    return "image data sets are not labelled by models yet";
  return {};
}

} // namespace

caf::typed_response_promise<dataset_stats> label_with_model(self_ptr self, const std::string& model,
                                                            caf::actor server, double threshold,
                                                            uint32_t max_records) {
  auto rp = self->make_response_promise<dataset_stats>();
  auto& st = self->state;
  auto refuse = [&](const std::string& what) {
    return refused(rp, bad_request(st, "pseudo_label", what));
  };
  if (!st.view)
    return refused(rp, no_version(st));
  if (!(threshold >= 0 && threshold <= 1)) // NaN too
    return refuse("threshold must be within [0, 1]");
  if (auto why =
          model_request_refusal(*st.view, server, "max_records", max_records, max_records_limit);
      !why.empty())
    return refuse(why);
  auto job = std::make_shared<labelling_job>();
  job->model = model;
  job->threshold = threshold;
  collect(*st.view, max_records, *job);
  if (job->unlabelled == 0)
    return refuse("every record of version " + st.view->version().version + " has a label");
  auto run = begin_run(self, std::make_shared<ingest_outcome>(), rp);
  if (run)
    ask_model(
        self, std::move(server), job,
        [self, run = *run, job] { store(self, run, labels_of(self->state, *job)); },
        [self, run = *run](caf::error err) { fail_run(self, run, std::move(err)); });
  return rp;
}

caf::typed_response_promise<dataset_stats>
store_proposed_labels(self_ptr self, const std::vector<pseudo_label_item>& items,
                      double threshold) {
  auto rp = self->make_response_promise<dataset_stats>();
  auto& st = self->state;
  if (!st.view)
    return refused(rp, no_version(st));
  auto run = begin_run(self, std::make_shared<ingest_outcome>(), rp);
  if (!run)
    return rp;
  dataset::model_labels in;
  in.root = st.spec.root;
  in.base = st.view->version();
  in.model = "client";
  in.min_confidence = threshold;
  for (const auto& it : items)
    in.labels.push_back({it.record_id, it.label, it.confidence});
  store(self, *run, std::move(in));
  return rp;
}

caf::typed_response_promise<dataset_stats>
store_people_labels(self_ptr self, const std::vector<pseudo_label_item>& items) {
  auto rp = self->make_response_promise<dataset_stats>();
  auto& st = self->state;
  if (!st.view)
    return refused(rp, no_version(st));
  if (items.empty() || items.size() > max_people_labels)
    return refused(
        rp, bad_request(st, "label",
                        "give 1 to " + std::to_string(max_people_labels) + " labels at a time"));
  auto run = begin_run(self, std::make_shared<ingest_outcome>(), rp);
  if (!run)
    return rp;
  std::vector<dataset::human_label> labels;
  labels.reserve(items.size());
  for (const auto& it : items)
    labels.push_back({it.record_id, it.label});
  store_people(self, *run, std::move(labels));
  return rp;
}

caf::typed_response_promise<std::vector<review_item>>
review_queue(self_ptr self, const std::string& model, caf::actor server, uint32_t n) {
  auto rp = self->make_response_promise<std::vector<review_item>>();
  auto& st = self->state;
  auto refuse = [&](const std::string& what) {
    return refused(rp, bad_request(st, "review", what));
  };
  if (!st.view)
    return refused(rp, no_version(st));
  if (auto why = model_request_refusal(*st.view, server, "n", n, max_review); !why.empty())
    return refuse(why);
  auto job = std::make_shared<labelling_job>();
  job->model = model;
  std::vector<std::string> splits;
  for (const char* split : {"train", "validation", "test"})
    for (const auto& r : st.view->split(split))
      if (!r.augmented && r.label.empty() && job->ids.size() < review_pool) {
        job->ids.push_back(r.id);
        job->texts.push_back(r.text);
        splits.emplace_back(split);
      }
  ask_model(
      self, std::move(server), job,
      [rp, job, splits, n]() mutable {
        std::vector<review_item> out;
        for (std::size_t i = 0; i < job->ids.size(); ++i)
          out.push_back({job->ids[i], job->texts[i], splits[i], job->answers[i].label,
                         job->answers[i].confidence});
        // Least confident first: what a person's label teaches the model most (uncertainty
        // sampling); ties keep the version's order.
        std::stable_sort(out.begin(), out.end(),
                         [](const auto& a, const auto& b) { return a.confidence < b.confidence; });
        if (out.size() > n)
          out.resize(n);
        rp.deliver(std::move(out));
      },
      [rp](caf::error err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

} // namespace llmos
