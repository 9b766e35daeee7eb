// The round's preparation: production's weights and tokenizer, the original training data and
// the labelled feedback written to the round's folder; two data sets built from them (the tuned
// one, original plus the feedback's training part, and the held-out feedback); production's
// weights fine-tuned on the tuned one through the scheduler, within the policy's time limit.
#include <filesystem>
#include <fstream>

#include <caf/event_based_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "feedback/core/loop_decisions.hpp"
#include "feedback/loop_steps.hpp"
#include "llmos/messages/dataset.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/messages/model.hpp"
#include "llmos/messages/node_manager.hpp"
#include "llmos/messages/scheduler.hpp"
#include "model/core/model_spec.hpp"

namespace llmos::feedback::loop {
namespace {

namespace fs = std::filesystem;

caf::error write_file(const fs::path& path, const std::string& text) {
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  out << text;
  out.close();
  if (!out)
    return make_llmos_error(error_code::io_failed, "cannot write " + path.string());
  return caf::none;
}

std::string jsonl_line(const std::string& id, const std::string& text, const std::string& label) {
  return nlohmann::json{{"id", id}, {"text", text}, {"label", label}}.dump() + "\n";
}

/// A pipeline over JSON-lines files that are already clean text: production's tokenizer.
std::string pipeline_text(const std::string& dataset, const fs::path& dir,
                          const std::vector<std::pair<std::string, fs::path>>& sources,
                          const std::string& split, uint32_t max_length, bool labelled) {
  std::string y = "# Written by the feedback loop (round folder " + dir.string() + ").\n";
  y += "dataset: " + dataset + "\nroot: " + (dir / "data").string() + "\nsources:\n";
  for (const auto& [name, path] : sources)
    y += "  - {name: " + name + ", kind: jsonl, path: " + path.string() +
         (labelled ? ", options: {text_field: text, label_field: label}}\n"
                   : ", options: {text_field: text}}\n");
  y += "split: " + split + "\n";
  y += "tokenizer: {from: " + (dir / "tokenizer.bin").string() +
       ", max_length: " + std::to_string(max_length) + "}\n";
  return y;
}

/// Spawns a data set actor for `pipeline` (replacing one of the name) and ingests it.
void build_dataset(analyst_self self, const std::string& name, const fs::path& pipeline,
                   std::function<void(caf::actor)> then, fail_fn fail) {
  auto nm = caf::actor_cast<node_manager_actor>(self->state.cfg.manager);
  spawn_request req{"", "dataset", name, {{"pipeline", pipeline.string()}}};
  self->request(nm, call_timeout, stop_atom::value, name).then([](bool) {}, [](caf::error&) {});
  self->request(nm, call_timeout, spawn_atom::value, req)
      .then(
          [self, then, fail](actor_entry& e) {
            auto ds = caf::actor_cast<dataset_actor>(e.handle);
            self->request(ds, long_timeout, ingest_atom::value, caf::actor{})
                .then([then, h = e.handle](dataset_stats&) { then(h); },
                      [fail](caf::error& err) { fail(err); });
          },
          [fail](caf::error& err) { fail(err); });
}

/// The fine-tuning task: production's weights trained on the tuned data set.
task_spec fine_tune_task(const analyst_state& st) {
  const auto& r = *st.round;
  const auto& ft = st.policy->finetune;
  task_spec t;
  t.name = r.task;
  t.owner = "feedback-loop";
  t.detail = {{"spec", ft.spec},
              {"dataset", r.tuned_dataset},
              {"init", (r.dir / "base.pt").string()},
              {"fine_tune", "full"},
              {"checkpoint", (r.dir / "candidate.pt").string()},
              {"set.max_steps", std::to_string(ft.steps)},
              {"set.eval_every", std::to_string(std::max<int64_t>(ft.steps / 2, 1))}};
  if (ft.lr > 0)
    t.detail["set.lr"] = std::to_string(ft.lr);
  return t;
}

/// Production's weights in a model actor of their own, to compare the candidate with.
void compare_with_production(analyst_self self, const fail_fn& fail) {
  auto& st = self->state;
  auto& r = *st.round;
  auto nm = caf::actor_cast<node_manager_actor>(st.cfg.manager);
  const auto name = r.task + "-production";
  spawn_request req{"", "model", name, {{"spec", st.policy->finetune.spec}}};
  self->request(nm, call_timeout, stop_atom::value, name).then([](bool) {}, [](caf::error&) {});
  self->request(nm, call_timeout, spawn_atom::value, req)
      .then(
          [self, fail](actor_entry& e) {
            auto prod = e.handle;
            auto path = (self->state.round->dir / "base.pt").string();
            self->request(caf::actor_cast<model_actor>(prod), long_timeout, load_atom::value, path)
                .then(
                    [self, prod, fail](model_info&) {
                      lookup(
                          self, self->state.round->task,
                          [self, prod](caf::actor cand) { evaluate(self, cand, prod); }, fail);
                    },
                    [fail](caf::error& err) { fail(err); });
          },
          [fail](caf::error& err) { fail(err); });
}

/// Waits for the fine-tuning task within the policy's limit; a task past it is cancelled.
void await_fine_tune(analyst_self self, scheduler_actor sched, uint64_t id, const fail_fn& fail) {
  const auto limit =
      std::chrono::seconds(static_cast<int64_t>(self->state.policy->finetune.timeout_s));
  self->request(sched, limit, wait_atom::value, id, caf::actor{})
      .then(
          [self, fail](task_status& ts) {
            if (ts.state != "done")
              return fail(make_llmos_error(error_code::kernel_failed,
                                           "task " + ts.name + " " + ts.state + ": " + ts.error));
            compare_with_production(self, fail);
          },
          [self, sched, id, fail](caf::error& err) {
            // Timed out (or the scheduler went): the task must not run on.
            self->request(sched, call_timeout, cancel_atom::value, id)
                .then([](task_status&) {}, [](caf::error&) {});
            fail(err);
          });
}

/// Fine-tunes production's weights on the tuned data set through the scheduler.
void fine_tune(analyst_self self) {
  auto& st = self->state;
  if (!enter(*st.round, round_stage::training))
    return;
  auto t = fine_tune_task(st);
  auto fail = round_failed(self, "fine-tune");
  lookup(
      self, st.policy->scheduler,
      [self, t, fail](caf::actor h) {
        auto sched = caf::actor_cast<scheduler_actor>(h);
        self->request(sched, call_timeout, submit_atom::value, t)
            .then([self, sched, fail](uint64_t id) { await_fine_tune(self, sched, id, fail); },
                  [fail](caf::error& err) { fail(err); });
      },
      fail);
}

/// Builds the round's data sets one after the other (each its name and pipeline), then `then`.
void build_datasets(analyst_self self, std::vector<std::pair<std::string, fs::path>> sets,
                    const std::function<void()>& then, const fail_fn& fail) {
  if (sets.empty())
    return then();
  auto [name, pipeline] = sets.front();
  sets.erase(sets.begin());
  const auto number = self->state.round->number;
  build_dataset(
      self, name, pipeline,
      [self, sets, then, fail, number](caf::actor) {
        if (!self->state.round || self->state.round->number != number)
          return; // the round ended while the data set was built
        build_datasets(self, sets, then, fail);
      },
      fail);
}

/// The round's three data sets in production's tokens, from the files prepare wrote: the
/// tuned one (original training data and the feedback's training part), the held-out feedback,
/// and the original test split (an imported model's tokenizer is not the data set's); then the
/// fine-tune.
void build_round_datasets(analyst_self self, uint32_t max_length, const fail_fn& fail) {
  const auto& r = *self->state.round;
  using sources = std::vector<std::pair<std::string, fs::path>>;
  struct round_set {
    std::string name, file;
    sources from;
    std::string split;
  };
  const std::string all_test = "{train: 0.0, validation: 0.0, test: 1.0, seed: 7}";
  const std::vector<round_set> sets = {
      {r.tuned_dataset,
       "tuned.yaml",
       {{"original", r.dir / "original.jsonl"}, {"feedback", r.dir / "feedback-train.jsonl"}},
       "{train: 0.9, validation: 0.1, test: 0.0, seed: 7}"},
      {r.eval_dataset, "heldout.yaml", {{"feedback", r.dir / "feedback-heldout.jsonl"}}, all_test},
      {r.original_dataset,
       "original-test.yaml",
       {{"original", r.dir / "original-test.jsonl"}},
       all_test}};
  sources built;
  for (const auto& set : sets) {
    if (auto err = write_file(r.dir / set.file, pipeline_text(set.name, r.dir, set.from, set.split,
                                                              max_length, !r.language)))
      return fail(err);
    built.emplace_back(set.name, r.dir / set.file);
  }
  build_datasets(
      self, std::move(built), [self] { fine_tune(self); }, fail);
}

} // namespace

void prepare(analyst_self self, model_package pkg, std::vector<data_record> original) {
  auto& st = self->state;
  auto& r = *st.round;
  auto fail = round_failed(self, "preparing the data");
  std::error_code ec;
  fs::create_directories(r.dir, ec);
  auto spec = model::parse_model_spec(pkg.spec, st.policy->model);
  if (!spec)
    return fail(spec.error());
  r.language = model::is_language_model(spec->architecture);
  std::string orig, orig_test, train, held;
  for (const auto& rec : original)
    if (!rec.augmented)
      (rec.split == "test" ? orig_test : orig) += jsonl_line(rec.id, rec.text, rec.label);
  uint64_t n_train = 0, n_held = 0;
  for (const auto& l : st.labelled) {
    if (l.model != st.policy->model)
      continue;
    if (split_for_holdout(l.request_id, st.policy->finetune.holdout) == "eval") {
      held += jsonl_line(l.request_id, l.text, l.label);
      ++n_held;
    } else {
      for (uint32_t k = 0; k < st.policy->finetune.feedback_weight; ++k)
        train += jsonl_line(l.request_id + "~" + std::to_string(k), l.text, l.label);
      ++n_train;
    }
  }
  if (n_held < 10 || n_train < 10)
    return fail(make_llmos_error(error_code::bad_params,
                                 std::to_string(n_train) + " labelled records to train on and " +
                                     std::to_string(n_held) +
                                     " held out: at least 10 of each are needed"));
  r.labelled_used = n_train;
  for (auto err : {write_file(r.dir / "base.pt", pkg.weights),
                   write_file(r.dir / "tokenizer.bin", pkg.tokenizer),
                   write_file(r.dir / "original.jsonl", orig),
                   write_file(r.dir / "original-test.jsonl", orig_test),
                   write_file(r.dir / "feedback-train.jsonl", train),
                   write_file(r.dir / "feedback-heldout.jsonl", held)})
    if (err)
      return fail(err);
  build_round_datasets(self, static_cast<uint32_t>(spec->max_length), fail);
}

} // namespace llmos::feedback::loop
