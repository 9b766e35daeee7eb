#include "serving/request_log.hpp"

#include <caf/typed_event_based_actor.hpp>
#include <nlohmann/json.hpp>

#include "llmos/messages/error.hpp"
#include "llmos/messages/feedback.hpp"
#include "llmos/messages/find_actor.hpp"
#include "llmos/runtime/log.hpp"

namespace llmos::serving {
namespace {

constexpr std::size_t backlog_limit = 10000;

void flush_backlog(server_self self) {
  auto& st = self->state;
  if (!st.feedback || st.log_backlog.empty())
    return;
  std::string batch = "[";
  for (auto& r : st.log_backlog)
    batch += (batch.size() > 1 ? "," : "") + r;
  batch += "]";
  st.log_backlog.clear();
  caf::anon_send(caf::actor_cast<feedback_actor>(st.feedback), log_atom::value, std::move(batch));
}

void find_analyst(server_self self) {
  auto& st = self->state;
  const auto now = std::chrono::steady_clock::now();
  if (st.feedback_lookup || !st.cfg.manager || now < st.feedback_retry)
    return;
  st.feedback_lookup = true;
  find_actor(
      self, st.cfg.manager, st.cfg.feedback,
      [self](caf::actor h) {
        auto& st = self->state;
        st.feedback = h;
        st.feedback_lookup = false;
        self->monitor(h);
        flush_backlog(self);
      },
      [self](caf::error err) {
        // Not started yet (or gone): a logged request looks again in five seconds.
        self->state.feedback_lookup = false;
        self->state.feedback_retry = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        log_warning("server '" + self->state.cfg.name + "': feedback analyst '" +
                    self->state.cfg.feedback + "' not found (" + describe(err) +
                    "); request records wait");
      });
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void queue_record(server_self self, const nlohmann::json& record) {
  auto& st = self->state;
  if (st.log_backlog.size() >= backlog_limit)
    st.log_backlog.erase(st.log_backlog.begin());
  st.log_backlog.push_back(record.dump());
}

void send_records(server_self self) {
  if (self->state.feedback)
    flush_backlog(self);
  else
    find_analyst(self);
}

} // namespace

std::string request_id_of(server_state& st, const std::string& given, uint64_t n) {
  if (!given.empty())
    return given;
  if (st.instance.empty()) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%012llx",
                  static_cast<unsigned long long>(st.rng() & 0xffffffffffffULL));
    st.instance = buf;
  }
  return st.cfg.name + "-" + st.instance + "-" + std::to_string(n);
}

bool sampled(server_state& st) {
  if (st.cfg.feedback.empty() || st.cfg.log_sample <= 0.0)
    return false;
  if (st.cfg.log_sample >= 1.0)
    return true;
  return std::uniform_real_distribution<double>{0.0, 1.0}(st.rng) < st.cfg.log_sample;
}

void log_served(server_self self, const pending_request& p) {
  const auto& reply = p.reply;
  for (std::size_t k = 0; k < reply.predictions.size() && k < p.texts.size(); ++k)
    queue_record(
        self, {{"kind", "request"},
               {"id", reply.predictions.size() == 1 ? reply.request_id
                                                    : reply.request_id + "#" + std::to_string(k)},
               {"model", reply.model},
               {"version", reply.version},
               {"text", p.texts[k]},
               {"label", reply.predictions[k].label},
               {"confidence", reply.predictions[k].confidence},
               {"time", now_s()}});
  send_records(self);
}

void log_completion(server_self self, const complete_reply& reply, const std::string& prompt) {
  queue_record(self, {{"kind", "request"},
                      {"id", reply.request_id},
                      {"model", reply.model},
                      {"version", reply.version},
                      {"text", prompt},
                      {"completion", reply.text},
                      {"time", now_s()}});
  send_records(self);
}

} // namespace llmos::serving
