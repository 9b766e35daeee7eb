// Operations: /healthz, /readyz, /metrics (Prometheus text), /v1/alerts, /v1/feedback (durable
// log), the dashboard page at / and its data at /v1/dashboard.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>

#include <nlohmann/json.hpp>

#include "http/http_errors.hpp"
#include "http/json_depth.hpp"
#include "http/routes.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/messages/feedback.hpp"
#include "llmos/messages/model.hpp"
#include "llmos/messages/node_manager.hpp"
#include "llmos/runtime/metrics.hpp"
#include "llmos/runtime/secret_compare.hpp"
#include "llmos/runtime/wire_json.hpp"

namespace llmos::http {
namespace {

nlohmann::json alerts_json(gateway_context& ctx) {
  std::lock_guard<std::mutex> guard{ctx.alerts_mutex};
  nlohmann::json active = nlohmann::json::array();
  for (auto& s : ctx.alerts.current())
    active.push_back(monitor::to_json(s));
  nlohmann::json history = nlohmann::json::array();
  for (auto& e : ctx.alerts.history())
    history.push_back(monitor::to_json(e));
  return {{"rules", active}, {"events", history}};
}

/// Appends one JSON line and fsyncs before answering: accepted feedback survives a crash.
caf::error append_feedback(gateway_context& ctx, const nlohmann::json& record) {
  std::lock_guard<std::mutex> guard{ctx.feedback_mutex};
  const auto line = record.dump() + "\n";
  int fd = ::open(ctx.cfg.feedback_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    return make_llmos_error(error_code::io_failed,
                            "feedback log " + ctx.cfg.feedback_log + ": " + std::strerror(errno));
  const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok)
    return make_llmos_error(error_code::io_failed,
                            "feedback log " + ctx.cfg.feedback_log + ": write failed");
  return caf::none;
}

nlohmann::json nodes_json(gateway_context& ctx) {
  auto out = nlohmann::json::array();
  if (auto nodes = ctx.ask<std::vector<node_status>>(ctx.manager, nodes_atom::value))
    for (auto& n : *nodes)
      out.push_back(wire::to_json(n));
  return out;
}

void add_device(gateway_context& ctx, const actor_entry& e, nlohmann::json& out) {
  auto d = ctx.ask<device_info>(caf::actor_cast<device_actor>(e.handle), info_atom::value);
  if (!d)
    return;
  // The device's own form, with where it runs and its utilisation (busy / uptime) beside it.
  auto j = wire::to_json(*d);
  j["node"] = e.node;
  j["utilisation"] = d->uptime_seconds > 0 ? d->busy_seconds / d->uptime_seconds : 0.0;
  out["devices"].push_back(std::move(j));
}

/// The loop's decisions, newest first (every analyst in the directory).
void add_decisions(gateway_context& ctx, const actor_entry& e, nlohmann::json& out) {
  auto h = ctx.ask<std::string>(caf::actor_cast<feedback_actor>(e.handle), history_atom::value);
  if (!h)
    return;
  auto j = nlohmann::json::parse(*h, nullptr, false);
  if (!j.is_array())
    return;
  for (auto it = j.rbegin(); it != j.rend(); ++it)
    out["decisions"].push_back({{"analyst", e.name},
                                {"round", it->value("round", 0)},
                                {"decision", it->value("decision", "")},
                                {"why", it->value("why", "")},
                                {"time", it->value("time", 0.0)}});
}

/// Language servers' generations: the OS view of them as schedulable processes.
void add_generations(gateway_context& ctx, const actor_entry& e, nlohmann::json& out) {
  auto rows = ctx.ask<std::vector<sequence_row>>(caf::actor_cast<server_actor>(e.handle),
                                                 sequences_atom::value);
  if (!rows)
    return;
  for (auto& r : *rows) {
    auto j = wire::to_json(r);
    j["server"] = e.name;
    out["generations"].push_back(std::move(j));
  }
}

void add_job(gateway_context& ctx, const actor_entry& e, nlohmann::json& out) {
  auto m = ctx.ask<model_info>(caf::actor_cast<model_actor>(e.handle), info_atom::value);
  if (!m)
    return;
  auto j = wire::to_json(*m);
  j["model"] = e.name;
  j["node"] = e.node;
  j.erase("spec"); // the dashboard polls; the spec's YAML is in `send MODEL info`
  out["jobs"].push_back(std::move(j));
}

nlohmann::json dashboard_json(gateway_context& ctx) {
  nlohmann::json out;
  out["nodes"] = nodes_json(ctx);
  for (const char* key : {"actors", "devices", "jobs", "decisions", "generations"})
    out[key] = nlohmann::json::array();
  if (auto entries = ctx.entries())
    for (auto& e : *entries) {
      out["actors"].push_back({{"name", e.name}, {"kind", e.kind}, {"node", e.node}});
      if (e.kind == "device")
        add_device(ctx, e, out);
      else if (e.kind == "feedback")
        add_decisions(ctx, e, out);
      else if (e.kind == "server")
        add_generations(ctx, e, out);
      else if (e.kind == "model")
        add_job(ctx, e, out);
    }
  out["models"] = models_json(ctx);
  out["alerts"] = alerts_json(ctx);
  return out;
}

} // namespace

std::string alerts_text(gateway_context& ctx) {
  return alerts_json(ctx).dump();
}

void install_ops_routes(httplib::Server& server, gateway_context& ctx) {
  server.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"status":"ok"})", "application/json");
  });
  // Ready when every server this gateway knows has a version loaded.
  server.Get("/readyz", [&ctx](const httplib::Request&, httplib::Response& res) {
    (void)ctx.entries();
    nlohmann::json waiting = nlohmann::json::array();
    for (auto& [model, servers] : ctx.servers.servers())
      for (auto& s : servers) {
        auto st = ctx.ask<server_status>(s, status_atom::value);
        if (!st || !st->ready)
          waiting.push_back(model);
      }
    res.status = waiting.empty() ? 200 : 503;
    res.set_content(nlohmann::json{{"ready", waiting.empty()}, {"waiting", waiting}}.dump(),
                    "application/json");
  });
  server.Get("/metrics", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_text(), "text/plain; version=0.0.4");
  });
  server.Get("/v1/alerts", [&ctx](const httplib::Request&, httplib::Response& res) {
    res.set_content(alerts_json(ctx).dump(), "application/json");
  });
  // {"model": NAME, "label": CORRECT, ...}: any further fields are kept as given.
  server.Post("/v1/feedback", [&ctx](const httplib::Request& req, httplib::Response& res) {
    auto body = json_body(req, res);
    if (!body)
      return;
    if (!ctx.cfg.analyst.empty()) {
      // The analyst checks the fields, joins the record to its request and logs it durably.
      auto analyst = ctx.lookup(ctx.cfg.analyst);
      if (!analyst)
        return send_error(res, analyst.error());
      auto ack = ctx.ask<std::string>(caf::actor_cast<feedback_actor>(*analyst),
                                      feedback_atom::value, body->dump());
      if (!ack)
        return send_error(res, ack.error());
      res.status = 202;
      res.set_content(*ack, "application/json");
      return;
    }
    for (const char* key : {"model", "label"})
      if (!body->contains(key) || !(*body)[key].is_string())
        return send_error(res, 400, std::string{"\""} + key + "\" must be a string", key);
    (*body)["received_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
    if (auto err = append_feedback(ctx, *body))
      return send_error(res, err);
    res.status = 202;
    res.set_content(R"({"accepted":true})", "application/json");
  });
  server.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(dashboard_html(), "text/html; charset=utf-8");
  });
  server.Get("/v1/dashboard", [&ctx](const httplib::Request&, httplib::Response& res) {
    res.set_content(dashboard_json(ctx).dump(), "application/json");
  });
}

void send_error(httplib::Response& res, int status, const std::string& reason,
                const std::string& field) {
  res.status = status;
  if (status == 429) // a full queue: clients (OpenAI's included) back off and retry
    res.set_header("Retry-After", "1");
  res.set_content(error_body(status, reason, field), "application/json");
}

void send_error(httplib::Response& res, const caf::error& err, const std::string& field) {
  res.status = status_of(err);
  if (res.status == 429)
    res.set_header("Retry-After", "1");
  res.set_content(error_body(err, field), "application/json");
}

void send_json(httplib::Response& res, const nlohmann::json& j) {
  res.set_content(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  "application/json");
}

std::optional<nlohmann::json> json_body(const httplib::Request& req, httplib::Response& res) {
  if (!json_depth_within(req.body, max_json_depth)) {
    send_error(res, 400, "the body nests deeper than " + std::to_string(max_json_depth) + " levels",
               "body");
    return std::nullopt;
  }
  auto j = nlohmann::json::parse(req.body, nullptr, false);
  if (j.is_discarded()) {
    send_error(res, 400, "the body is not JSON", "body");
    return std::nullopt;
  }
  if (!j.is_object()) {
    send_error(res, 400, std::string{"the body must be a JSON object, got "} + j.type_name(),
               "body");
    return std::nullopt;
  }
  return j;
}

bool authorized(gateway_context& ctx, const httplib::Request& req, httplib::Response& res) {
  const auto now = auth_throttle::clock::now();
  if (auto wait = ctx.auth_failures.blocked_for(req.remote_addr, now); wait > 0) {
    send_error(res, 429, "too many failed authentications from " + req.remote_addr,
               "Authorization");
    res.set_header("Retry-After", std::to_string(wait));
    return false;
  }
  const auto header = req.get_header_value("Authorization");
  if (header.empty()) {
    ctx.auth_failures.failed(req.remote_addr, now);
    send_error(res, 401, "this route needs \"Authorization: Bearer TOKEN\"", "Authorization");
    return false;
  }
  const std::string scheme = "Bearer ";
  if (header.compare(0, scheme.size(), scheme) != 0 ||
      !secrets_equal(ctx.cfg.token, std::string_view{header}.substr(scheme.size()))) {
    ctx.auth_failures.failed(req.remote_addr, now);
    send_error(res, 403, "the token is wrong", "Authorization");
    return false;
  }
  return true;
}

std::optional<nlohmann::json> admin_body(gateway_context& ctx, const httplib::Request& req,
                                         httplib::Response& res) {
  if (!authorized(ctx, req, res))
    return std::nullopt;
  return json_body(req, res);
}

} // namespace llmos::http
