#include "dataset/dataset_actor.hpp"

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "dataset/dataset_state.hpp"
#include "dataset/quarantine.hpp"
#include "dataset/store/atomic_file.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/messages/find_actor.hpp"
#include "llmos/messages/scheduler.hpp"
#include "llmos/runtime/log.hpp"
#include "llmos/runtime/worker_threads.hpp"

namespace llmos {
namespace {

namespace fs = std::filesystem;

dataset_stats stats_of(const dataset::dataset_view& view) {
  dataset_stats s;
  s.dataset = view.version().dataset;
  s.version = view.version().version;
  const auto& report = view.version().manifest.value("statistics", nlohmann::json::object());
  for (const char* name : {"train", "validation", "test"})
    for (const auto& r : view.split(name)) {
      ++s.labels[r.label];
      if (r.augmented)
        ++s.augmented;
      else
        ++s.records;
    }
  s.train = view.split("train").size();
  s.validation = view.split("validation").size();
  s.test = view.split("test").size();
  if (report.contains("removed") && report["removed"].is_object())
    for (const auto& [rule, n] : report["removed"].items())
      s.removed[rule] = n.get<uint64_t>();
  s.report = report.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return s;
}

caf::error load_version(self_ptr self, const dataset::version_info& version) {
  auto store = dataset::dataset_store::open(self->state.spec.root);
  if (!store)
    return std::move(store.error());
  auto view = dataset::dataset_view::load(*store, version);
  if (!view)
    return std::move(view.error());
  self->state.stats = stats_of(*view);
  self->state.view = std::make_shared<dataset::dataset_view>(std::move(*view));
  return caf::none;
}

// Picks the version whose manifest was written last: the one the previous ingest produced.
void load_latest(self_ptr self) {
  auto store = dataset::dataset_store::open(self->state.spec.root);
  if (!store)
    return;
  // The version the last completed ingest named wins; older stores without the file fall back
  // to the newest manifest.
  if (auto current = dataset::read_whole_file(
          dataset::current_version_file(self->state.spec.root, self->state.spec.dataset))) {
    if (auto info = store->read(self->state.spec.dataset, *current)) {
      if (auto err = load_version(self, *info))
        log_warning("dataset '" + self->state.spec.dataset + "': stored version " + *current +
                    " could not be loaded: " + describe(err));
      else
        return;
    }
  }
  auto versions = store->versions(self->state.spec.dataset);
  if (!versions || versions->empty())
    return;
  std::optional<dataset::version_info> best;
  fs::file_time_type best_time{};
  for (const auto& v : *versions) {
    auto info = store->read(self->state.spec.dataset, v);
    if (!info)
      continue;
    std::error_code ec;
    auto t = fs::last_write_time(fs::path{info->path} / "manifest.json", ec);
    if (!ec && (!best || t > best_time)) {
      best = std::move(*info);
      best_time = t;
    }
  }
  if (best) {
    if (auto err = load_version(self, *best))
      log_warning("dataset '" + self->state.spec.dataset + "': stored version " + best->version +
                  " could not be loaded: " + describe(err));
  }
}

void close_stream(self_ptr self, uint64_t id) {
  self->state.streams.close(id);
  self->state.stream_views.erase(id);
}

// The next batch of a stream, from the version it was opened on; closes it after the last.
caf::expected<data_batch> next_batch(self_ptr self, uint64_t id) {
  auto& st = self->state;
  auto i = st.stream_views.find(id);
  if (i == st.stream_views.end())
    return make_llmos_error(error_code::bad_params,
                            "stream " + std::to_string(id) + " is not open (closed or finished)");
  auto view = i->second; // close_stream below drops the map's reference
  auto batch = st.streams.next(*view, id);
  if (batch && batch->last)
    close_stream(self, id);
  return batch;
}

// Sends batches while the stream has credit (push streams only).
void pump(self_ptr self, uint64_t id) {
  auto& st = self->state;
  auto consumer = st.streams.consumer(id);
  while (consumer && st.streams.can_send(id)) {
    auto batch = next_batch(self, id);
    if (!batch)
      return;
    const bool last = batch->last;
    caf::anon_send(consumer, batch_atom::value, std::move(*batch));
    if (last)
      return;
  }
}

caf::typed_response_promise<dataset_stats> start_ingest(self_ptr self, caf::actor sink) {
  auto rp = self->make_response_promise<dataset_stats>();
  auto outcome = std::make_shared<ingest_outcome>();
  auto run = begin_run(self, outcome, rp);
  if (!run)
    return rp;
  // The pipeline blocks for seconds to minutes: it runs on a worker of its own (a thread, but in
  // the deterministic tests), and the dataset keeps answering stats, samples and batches of the
  // current version meanwhile.
  auto parent = caf::actor_cast<caf::actor>(self);
  run_on_worker(self->system(), [spec = self->state.spec, sink, outcome, parent, run = *run] {
    const std::string task = "ingest " + spec.dataset;
    outcome->result = dataset::run_pipeline(
        spec, [&](const std::string& stage, uint64_t done, uint64_t total, const std::string& m) {
          if (sink)
            caf::anon_send(sink, progress_atom::value, progress_event{task, stage, done, total, m});
        });
    caf::anon_send(parent, ingest_atom::value, run);
  });
  return rp;
}

void finish_ingest(self_ptr self, uint64_t run) {
  auto& st = self->state;
  auto i = st.running.find(run);
  if (i == st.running.end())
    return;
  auto [outcome, rp] = i->second;
  st.running.erase(i);
  auto& result = *outcome->result;
  if (!result) {
    rp.deliver(std::move(result.error()));
    return;
  }
  if (auto err = load_version(self, result->version)) {
    rp.deliver(std::move(err));
    return;
  }
  log_info("dataset '" + st.spec.dataset + "': version " + result->version.version + " with " +
           std::to_string(st.stats.train) + "/" + std::to_string(st.stats.validation) + "/" +
           std::to_string(st.stats.test) + " records");
  rp.deliver(st.stats);
}

std::vector<data_record> sample(const dataset::dataset_view& view, const std::string& split,
                                uint32_t n, uint64_t seed) {
  std::vector<std::pair<std::string, const dataset::served_record*>> pool;
  for (const char* name : {"train", "validation", "test"})
    if (split.empty() || split == name)
      for (const auto& r : view.split(name))
        pool.emplace_back(name, &r);
  std::mt19937_64 rng{seed};
  std::shuffle(pool.begin(), pool.end(), rng);
  std::vector<data_record> out;
  for (std::size_t i = 0; i < pool.size() && i < n; ++i) {
    const auto& r = *pool[i].second;
    out.push_back(data_record{r.id, r.text, r.label, pool[i].first, r.augmented, r.rows, r.cols,
                              r.image, "", r.label_source});
  }
  return out;
}

caf::result<std::vector<data_record>> on_sample(self_ptr self, const std::string& split, uint32_t n,
                                                uint64_t seed) {
  if (!self->state.view)
    return no_version(self->state);
  if (!split.empty() && !dataset::dataset_view::is_split(split))
    return make_llmos_error(error_code::bad_params,
                            "sample: split '" + split + "' is not train, validation or test");
  return sample(*self->state.view, split, n, seed);
}

/// Up to `limit` records the pipeline refused (of one rule, or of all when `rule` is "").
caf::result<std::vector<quarantine_item>> on_quarantine(self_ptr self, const std::string& rule,
                                                        uint32_t limit) {
  std::vector<quarantine_item> out;
  if (!fs::exists(self->state.spec.quarantine))
    return out;
  auto entries = dataset::quarantine::read(self->state.spec.quarantine);
  if (!entries)
    return std::move(entries.error());
  for (auto& e : *entries) {
    if (out.size() >= limit)
      break;
    if (rule.empty() || e.rule == rule)
      out.push_back({e.rule, e.reason, e.origin.to_string(), std::move(e.text)});
  }
  return out;
}

caf::result<uint64_t> on_open_stream(self_ptr self, stream_request& req) {
  auto& st = self->state;
  if (!st.view)
    return no_version(st);
  // Streams that idled out release the versions they pinned before a new one opens.
  for (auto gone : st.streams.expire(dataset::batch_streams::clock::now()))
    st.stream_views.erase(gone);
  auto id = st.streams.open(*st.view, req);
  if (!id)
    return std::move(id.error());
  st.stream_views.emplace(*id, st.view);
  pump(self, *id);
  return *id;
}

caf::result<data_batch> on_next_batch(self_ptr self, uint64_t id) {
  if (!self->state.view)
    return no_version(self->state);
  auto batch = next_batch(self, id);
  if (!batch)
    return std::move(batch.error());
  return std::move(*batch);
}

/// A scheduled ingest is due: run it here, or submit it as a task to the scheduler the pipeline
/// names (which queues it, orders it by priority and counts its thread while it runs). A round
/// that finds the last one still running (or queued) is skipped.
void on_schedule_tick(self_ptr self) {
  auto& st = self->state;
  const auto& schedule = st.spec.schedule;
  self->delayed_send(self, std::chrono::seconds(schedule.every_s), tick_atom::value);
  const auto who = "dataset '" + st.spec.dataset + "': scheduled ingest";
  if (schedule.scheduler.empty()) {
    if (st.running.empty())
      start_ingest(self, caf::actor{}); // nobody asked: its answer goes nowhere
    else
      log_info(who + " skipped: the last run is still going");
    return;
  }
  task_spec task;
  task.name = "ingest-" + st.actor_name;
  task.owner = "datasets";
  task.priority = schedule.priority;
  task.detail = {{"kind", "ingest"}, {"dataset", st.actor_name}};
  find_actor(
      self, st.manager, schedule.scheduler,
      [self, task, who](caf::actor scheduler) {
        self->request(caf::actor_cast<scheduler_actor>(scheduler), std::chrono::seconds(30),
                      submit_atom::value, task)
            .then(
                [who](uint64_t id) { log_info(who + " submitted as task " + std::to_string(id)); },
                [who](caf::error& err) { log_warning(who + " not submitted: " + describe(err)); });
      },
      [who, name = schedule.scheduler](caf::error err) {
        log_warning(who + ": no scheduler '" + name + "': " + describe(err));
      });
}

dataset_impl::behavior_type dataset_behavior(self_ptr self, dataset::pipeline_spec spec,
                                             std::string actor_name, caf::actor manager) {
  self->state.spec = std::move(spec);
  self->state.actor_name = std::move(actor_name);
  self->state.manager = std::move(manager);
  load_latest(self);
  if (self->state.spec.schedule.every_s > 0)
    self->delayed_send(self, std::chrono::seconds(self->state.spec.schedule.every_s),
                       tick_atom::value);
  return {
      [=](tick_atom) { on_schedule_tick(self); },
      [=](ingest_atom, caf::actor sink) { return start_ingest(self, std::move(sink)); },
      [=](ingest_atom, uint64_t run) { finish_ingest(self, run); },
      [=](stats_atom) -> dataset_stats {
        auto s = self->state.stats;
        s.dataset = self->state.spec.dataset;
        return s;
      },
      [=](tokenizer_atom) -> caf::result<std::string> {
        if (!self->state.view)
          return no_version(self->state);
        return self->state.view->tokenizer_bytes();
      },
      [=](sample_atom, const std::string& split, uint32_t n, uint64_t seed) {
        return on_sample(self, split, n, seed);
      },
      [=](quarantine_atom, const std::string& rule, uint32_t limit) {
        return on_quarantine(self, rule, limit);
      },
      [=](open_stream_atom, stream_request& req) { return on_open_stream(self, req); },
      [=](credit_atom, uint64_t id, uint32_t n) {
        if (self->state.streams.add_credit(id, n))
          pump(self, id);
      },
      [=](next_batch_atom, uint64_t id) { return on_next_batch(self, id); },
      [=](close_stream_atom, uint64_t id) { close_stream(self, id); },
      [=](pseudo_label_atom, const std::vector<pseudo_label_item>& items, double min_confidence) {
        return store_proposed_labels(self, items, min_confidence);
      },
      [=](pseudo_label_atom, const std::string& model, caf::actor server, double min_confidence,
          uint32_t max_records) {
        return label_with_model(self, model, std::move(server), min_confidence, max_records);
      },
      [=](human_label_atom, const std::vector<pseudo_label_item>& items) {
        return store_people_labels(self, items);
      },
      [=](review_atom, const std::string& model, caf::actor server, uint32_t n) {
        return review_queue(self, model, std::move(server), n);
      },
  };
}

} // namespace

caf::error no_version(const dataset_state& st) {
  return make_llmos_error(error_code::bad_params,
                          "dataset '" + st.spec.dataset + "' has no version yet; run ingest first");
}

std::optional<uint64_t> begin_run(self_ptr self, std::shared_ptr<ingest_outcome> outcome,
                                  caf::typed_response_promise<dataset_stats> rp) {
  auto& st = self->state;
  if (!st.running.empty()) {
    rp.deliver(make_llmos_error(error_code::bad_params,
                                "dataset '" + st.spec.dataset +
                                    "' is already ingesting or storing labels; try again after"));
    return std::nullopt;
  }
  const auto run = ++st.runs;
  st.running.emplace(run, std::make_pair(std::move(outcome), std::move(rp)));
  return run;
}

void fail_run(self_ptr self, uint64_t run, caf::error err) {
  auto& st = self->state;
  auto i = st.running.find(run);
  if (i == st.running.end())
    return;
  auto rp = i->second.second;
  st.running.erase(i);
  rp.deliver(std::move(err));
}

namespace {

/// The keys a topology may give a dataset actor.
const std::vector<config_field> dataset_fields = {
    required_key("pipeline", config_type::path, "path of the pipeline YAML file"),
};

caf::expected<caf::actor> spawn_dataset(spawn_context& ctx) {
  auto spec = dataset::load_pipeline(ctx.config["pipeline"]);
  if (!spec)
    return std::move(spec.error());
  auto handle = ctx.system.spawn(dataset_behavior, std::move(*spec), ctx.name, ctx.manager);
  return caf::actor_cast<caf::actor>(handle);
}

} // namespace

actor_kind dataset_kind() {
  return {"dataset", "a data set: ingests its pipeline file, serves samples and streams batches",
          dataset_fields, spawn_dataset};
}

} // namespace llmos
