// Labels from a model: the dataset actor asks a server for predictions on its unlabelled
// records (and a sample of labelled ones, to report agreement), a chunk at a time at the
// server's lowest priority so user traffic comes first, then a detached worker stores the new
// version (model_labels.hpp) and reports back like an ingest does.
#include <algorithm>
#include <cmath>

#include <caf/blocking_actor.hpp>

#include "dataset/dataset_state.hpp"
#include "dataset/model_labels.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/messages/serving.hpp"

namespace llmos {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t chunk = 64;          ///< texts per predict request
constexpr uint32_t lowest_priority = 1000; ///< beyond the last level counts as the last
constexpr std::size_t max_checks = 500;    ///< labelled records asked, for agreement
constexpr uint32_t max_records_limit = 100000;

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
  self->spawn<caf::detached>([in = std::move(in), outcome, parent, run](caf::blocking_actor*) {
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

void ask_next(self_ptr self, caf::actor server, uint64_t run, std::shared_ptr<labelling_job> job) {
  const auto from = job->answers.size();
  if (from == job->texts.size())
    return store(self, run, labels_of(self->state, *job));
  predict_request req;
  req.priority = lowest_priority;
  const auto n = std::min(chunk, job->texts.size() - from);
  req.texts.assign(job->texts.begin() + static_cast<std::ptrdiff_t>(from),
                   job->texts.begin() + static_cast<std::ptrdiff_t>(from + n));
  const auto where =
      "dataset '" + self->state.spec.dataset + "': pseudo_label: model '" + job->model + "'";
  self->request(server, 2min, predict_atom::value, std::move(req))
      .then(
          [self, server, run, job, n, where](predict_reply& r) {
            if (r.predictions.size() != n)
              return fail_run(
                  self, run,
                  make_llmos_error(error_code::io_failed,
                                   where + " answered " + std::to_string(r.predictions.size()) +
                                       " predictions for " + std::to_string(n) + " texts"));
            for (auto& p : r.predictions)
              job->answers.push_back(std::move(p));
            ask_next(self, server, run, job);
          },
          [self, run, where](caf::error& err) {
            fail_run(self, run,
                     make_llmos_error(error_code::io_failed, where + ": " + describe(err)));
          });
}

} // namespace

caf::typed_response_promise<dataset_stats> label_with_model(self_ptr self, const std::string& model,
                                                            caf::actor server, double threshold,
                                                            uint32_t max_records) {
  auto rp = self->make_response_promise<dataset_stats>();
  auto& st = self->state;
  auto refuse = [&](const std::string& what) {
    rp.deliver(make_llmos_error(error_code::bad_params,
                                "dataset '" + st.spec.dataset + "': pseudo_label: " + what));
    return rp;
  };
  if (!st.view) {
    rp.deliver(no_version(st));
    return rp;
  }
  if (!(threshold >= 0 && threshold <= 1)) // NaN too
    return refuse("threshold must be within [0, 1]");
  if (max_records == 0 || max_records > max_records_limit)
    return refuse("max_records must be 1 to " + std::to_string(max_records_limit));
  if (!server)
    return refuse("no model named");
  if (st.view->images())
    return refuse("image data sets are not labelled by models yet");
  auto job = std::make_shared<labelling_job>();
  job->model = model;
  job->threshold = threshold;
  collect(*st.view, max_records, *job);
  if (job->unlabelled == 0)
    return refuse("every record of version " + st.view->version().version + " has a label");
  auto run = begin_run(self, std::make_shared<ingest_outcome>(), rp);
  if (run)
    ask_next(self, std::move(server), *run, std::move(job));
  return rp;
}

caf::typed_response_promise<dataset_stats>
store_proposed_labels(self_ptr self, const std::vector<pseudo_label_item>& items,
                      double threshold) {
  auto rp = self->make_response_promise<dataset_stats>();
  auto& st = self->state;
  if (!st.view) {
    rp.deliver(no_version(st));
    return rp;
  }
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

} // namespace llmos
