// The scheduler and tuner kinds' gateway methods. Options are key=value like the model methods':
// `send sched submit name=n spec=PATH dataset=D priority=5 lr=0.01` (keys the scheduler does not
// know become spec overrides). Replies are JSON-shaped msgpack maps.
#include "gateway/scheduler_methods.hpp"

#include <functional>

#include <caf/event_based_actor.hpp>
#include <nlohmann/json.hpp>

#include "gateway/call_options.hpp"
#include "gateway/rpc_params.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/messages/scheduler.hpp"
#include "llmos/messages/tuner.hpp"
#include "llmos/runtime/wire_json.hpp"

namespace llmos {
namespace {

constexpr auto call_timeout = std::chrono::seconds(30);
constexpr auto wait_timeout = std::chrono::minutes(24 * 60); // CAF 0.17 has no hours

scheduler_actor scheduler_of(const rpc_call& c) {
  return caf::actor_cast<scheduler_actor>(c.target);
}

tuner_actor tuner_of(const rpc_call& c) {
  return caf::actor_cast<tuner_actor>(c.target);
}

/// The task named by id=N, or by name=NAME (the newest task of that name), then `then(id)`.
void with_task(rpc_call& c, const std::string& method,
               std::function<void(rpc_call&, uint64_t)> then) {
  call_options o{*c.params, method};
  const auto id = o.whole("id", 0);
  o.check(o.has("id") || o.has("name"), method + ": id=N or name=NAME is required");
  if (o.refused(c))
    return;
  if (o.has("id"))
    return then(c, id);
  auto ctx = c;
  const auto name = o.text("name");
  c.self->request(scheduler_of(c), call_timeout, queue_atom::value)
      .then(
          [ctx, name, then](std::vector<task_status>& xs) mutable {
            for (const auto& x : xs) // newest first
              if (x.name == name)
                return then(ctx, x.id);
            ctx.reply(make_llmos_error(error_code::not_found, "no task named '" + name + "'"));
          },
          [reply = c.reply](caf::error& err) { reply(std::move(err)); });
}

void submit(rpc_call& c) {
  call_options o{*c.params, "submit"};
  task_spec s;
  s.name = o.text("name");
  s.owner = o.text("owner");
  s.priority = static_cast<int32_t>(o.integer("priority", 0, INT32_MIN, INT32_MAX));
  s.replicas = o.whole32("replicas", s.replicas);
  s.cpu_threads = o.whole32("threads", s.cpu_threads);
  s.gpus = o.whole32("gpus", s.gpus);
  s.gpu_memory_mb = o.whole("gpu_memory_mb", 0);
  s.preemptible = o.text("preemptible", "true") != "false";
  if (o.refused(c))
    return;
  static const std::vector<std::string> own{"name",    "owner", "priority",      "replicas",
                                            "threads", "gpus",  "gpu_memory_mb", "preemptible"};
  for (const auto& [k, v] : o.all()) {
    if (std::find(own.begin(), own.end(), k) != own.end())
      continue;
    const bool is_detail =
        std::find(task_detail_keys.begin(), task_detail_keys.end(), k) != task_detail_keys.end();
    s.detail[is_detail || k.rfind("set.", 0) == 0 ? k : "set." + k] = v;
  }
  forward_as_field<uint64_t>(c, "id", scheduler_of(c), call_timeout, submit_atom::value, s);
}

void status_call(rpc_call& c, bool cancel) {
  with_task(c, cancel ? "cancel" : "status", [cancel](rpc_call& c, uint64_t id) {
    if (cancel)
      forward<task_status>(c, scheduler_of(c), call_timeout, cancel_atom::value, id);
    else
      forward<task_status>(c, scheduler_of(c), call_timeout, status_atom::value, id);
  });
}

void wait(rpc_call& c) {
  with_task(c, "wait", [](rpc_call& c, uint64_t id) {
    auto sink = spawn_progress_sink(c);
    forward_then_stop<task_status>(c, sink, packed_reply, scheduler_of(c), wait_timeout,
                                   wait_atom::value, id, sink);
  });
}

void queue(rpc_call& c) {
  auto reply = c.reply;
  c.self->request(scheduler_of(c), call_timeout, queue_atom::value)
      .then(
          [reply](std::vector<task_status>& xs) {
            auto out = nlohmann::json::array();
            for (const auto& x : xs) {
              auto j = wire::to_json(x);
              j.erase("result"); // a listing: `status` shows a task's whole report
              out.push_back(std::move(j));
            }
            reply(packed(out));
          },
          [reply](caf::error& err) { reply(std::move(err)); });
}

/// study/status/wait/stop on a tuner: one string argument (a file or a study name).
template <class Atom>
void study_call(rpc_call& c, Atom atom, const std::string& method, const std::string& key,
                std::chrono::seconds timeout) {
  call_options o{*c.params, method};
  const auto arg = o.text(key);
  o.check(!arg.empty(), method + ": " + key + "=... is required");
  if (o.refused(c))
    return;
  forward<study_status>(c, tuner_of(c), timeout, atom, arg);
}

} // namespace

void add_scheduler_methods(method_table& t) {
  t.add("scheduler",
        {"submit", true,
         "send SCHED submit name=N spec=PATH dataset=D [priority=0] [owner=O] [replicas=1] "
         "[threads=1] [gpus=0] [gpu_memory_mb=0] [preemptible=true] [keep=true] [FIELD=VALUE...]",
         "queue a training task (other keys override spec fields)", submit});
  t.add("scheduler",
        {"cancel", true, "send SCHED cancel id=N|name=NAME", "cancel (stopping it if running)",
         [](rpc_call& c) { status_call(c, true); }});
  t.add("scheduler", {"status", false, "send SCHED status id=N|name=NAME", "one task",
                      [](rpc_call& c) { status_call(c, false); }});
  t.add("scheduler", {"queue", false, "send SCHED queue", "every task, newest first", queue});
  t.add("scheduler", {"wait", false, "send SCHED wait id=N|name=NAME",
                      "progress of a task as notifications until it ends", wait});
  t.add("tuner", {"study", true, "send TUNER study file=STUDY.yaml",
                  "start (or resume) a hyper-parameter study", [](rpc_call& c) {
                    study_call(c, study_atom::value, "study", "file", std::chrono::seconds(30));
                  }});
  t.add("tuner", {"status", false, "send TUNER status study=NAME", "a study's progress and best",
                  [](rpc_call& c) {
                    study_call(c, status_atom::value, "status", "study", std::chrono::seconds(30));
                  }});
  t.add("tuner", {"wait", false, "send TUNER wait study=NAME", "answers when the study ends",
                  [](rpc_call& c) {
                    study_call(c, wait_atom::value, "wait", "study", std::chrono::minutes(24 * 60));
                  }});
  t.add("tuner",
        {"stop", true, "send TUNER stop study=NAME", "stop a study (state kept)", [](rpc_call& c) {
           study_call(c, stop_atom::value, "stop", "study", std::chrono::seconds(30));
         }});
  t.add("tuner", {"studies", false, "send TUNER studies", "every study", [](rpc_call& c) {
                    forward<std::vector<study_status>>(c, tuner_of(c), call_timeout,
                                                       list_atom::value);
                  }});
}

} // namespace llmos
