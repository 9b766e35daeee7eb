#include "http/http_gateway.hpp"

#include <filesystem>
#include <memory>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <prometheus/gauge.h>

#include "http/body_framing.hpp"
#include "http/front_door.hpp"
#include "http/route_policy.hpp"
#include "http/routes.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/runtime/drain.hpp"
#include "llmos/runtime/log.hpp"
#include "llmos/runtime/metrics.hpp"
#include "llmos/runtime/state_dir.hpp"
#include "monitor/core/sample.hpp"

namespace llmos {
namespace {

using namespace std::chrono_literals;
using http::gateway_context;

/// The request this HTTP worker thread is serving, counted while a stopping node waits (httplib
/// serves one request at a time per thread, from pre-routing to the logger).
thread_local std::unique_ptr<drain::request_guard> request_in_flight;

/// Device utilisation and queue gauges, refreshed from the devices' own counters.
void sample_devices(caf::event_based_actor* self, const std::vector<actor_entry>& entries) {
  static auto& util =
      gauge_family("llmos_device_utilisation", "Busy seconds over uptime of a device actor");
  static auto& queue = gauge_family("llmos_device_queue_length", "Jobs waiting for a device actor");
  static auto& memory = gauge_family("llmos_device_memory_bytes", "Memory a device can use");
  static auto& free_memory =
      gauge_family("llmos_device_memory_free_bytes", "Of a device's memory, free when last asked");
  static auto& allocated = gauge_family("llmos_device_memory_allocated_bytes",
                                        "GPU: bytes in LibTorch tensors of the device's process");
  static auto& reserved =
      gauge_family("llmos_device_memory_reserved_bytes",
                   "GPU: bytes LibTorch's caching allocator holds, in use or not");
  for (auto& e : entries) {
    if (e.kind != "device")
      continue;
    self->request(caf::actor_cast<device_actor>(e.handle), 2s, info_atom::value)
        .then(
            [node = e.node](device_info& d) {
              prometheus::Labels l{{"device", d.name}, {"node", node}};
              util.Add(l).Set(d.uptime_seconds > 0 ? d.busy_seconds / d.uptime_seconds : 0.0);
              queue.Add(l).Set(static_cast<double>(d.queued));
              memory.Add(l).Set(static_cast<double>(d.memory_bytes));
              free_memory.Add(l).Set(static_cast<double>(d.memory_free_bytes));
              allocated.Add(l).Set(static_cast<double>(d.memory_allocated_bytes));
              reserved.Add(l).Set(static_cast<double>(d.memory_reserved_bytes));
            },
            [](caf::error&) {});
  }
}

caf::behavior gateway_behavior(caf::event_based_actor* self, std::shared_ptr<gateway_context> ctx,
                               std::shared_ptr<http::guarded_server> server,
                               std::shared_ptr<std::thread> thread) {
  // The handlers refer to ctx: it must outlive the worker threads, which the join waits for
  // (CAF drops the behavior, and with it this function's own ctx, before attachables run; a
  // gateway stopped while a request was in flight freed ctx under its handler).
  self->attach_functor([server, thread, ctx] {
    server->stop();
    if (thread->joinable())
      thread->join();
    server->close(); // its workers, which may be in a handler
  });
  self->send(self, tick_atom::value);
  return {
      [self, ctx](tick_atom) {
        self->delayed_send(self, 1s, tick_atom::value);
        {
          std::lock_guard<std::mutex> guard{ctx->alerts_mutex};
          for (auto& ev : ctx->alerts.evaluate(monitor::samples_from(process_metrics().Collect()),
                                               std::chrono::system_clock::now()))
            log_warning("alert " + ev.rule + " " + ev.state + ": " + ev.summary + " (value " +
                        std::to_string(ev.value) + ")");
        }
        self->request(ctx->manager, 2s, get_atom::value, directory_atom::value)
            .then(
                [self, ctx](directory_actor& dir) {
                  self->request(dir, 2s, actors_atom::value, std::string{})
                      .then(
                          [self, ctx](std::vector<actor_entry>& all) {
                            ctx->servers.update(all);
                            sample_devices(self, all);
                          },
                          [](caf::error&) {});
                },
                [](caf::error&) {});
      },
      [ctx](alerts_atom) { return http::alerts_text(*ctx); },
      [ctx](status_atom) { return ctx->cfg.port; },
  };
}

std::vector<config_field> http_fields() {
  return {
      optional_key("port", config_type::integer, "8080", "TCP port (0 = any free port)"),
      optional_key("host", config_type::string, "127.0.0.1", "address to listen on"),
      optional_key("tls_certificate", config_type::path, "",
                   "PEM certificate (chain) to serve HTTPS with; with tls_key"),
      optional_key("tls_key", config_type::path, "", "PEM private key of tls_certificate"),
      optional_key("token", config_type::string, "", "admin bearer token (\"\" = admin closed)"),
      optional_key(
          "protect", config_type::string, "",
          "route groups that need the token too: predict, completions, feedback, models, observe "
          "or all, comma-separated (\"\" = only admin)"),
      optional_key("body_limit", config_type::integer, "1048576", "largest request body, bytes"),
      optional_key("threads", config_type::integer, "8", "requests processed at once"),
      optional_key("max_connections", config_type::integer, "1024",
                   "open connections (beyond: 503 and close)"),
      optional_key("head_timeout_ms", config_type::integer, "10000",
                   "a request's line and headers must arrive within this (else 408)"),
      optional_key("registry", config_type::string, "registry", "registry actor name"),
      optional_key("feedback", config_type::path, "",
                   "feedback log (JSON lines); default .cache/state/feedback.jsonl"),
      optional_key("analyst", config_type::string, "",
                   "feedback analyst actor for /v1/feedback (\"\" = the feedback log file)"),
      optional_key("alerts", config_type::path, "", "alert rules YAML"),
      optional_key("timeout_ms", config_type::integer, "30000", "per-request actor timeout"),
  };
}

/// The gateway's settings from its config; the requested port in cfg.port.
caf::expected<http::gateway_config> read_config(spawn_context& ctx) {
  http::gateway_config cfg;
  cfg.name = ctx.name;
  cfg.host = ctx.config["host"];
  cfg.token = ctx.config["token"];
  auto protect = http::parse_protected_groups(ctx.config["protect"]);
  if (!protect)
    return std::move(protect.error());
  if (!protect->empty() && cfg.token.empty())
    return make_llmos_error(error_code::bad_config,
                            "http: protect: '" + ctx.config["protect"] +
                                "' needs a token (set the gateway's token key)");
  cfg.protect = std::move(*protect);
  cfg.registry = ctx.config["registry"];
  cfg.feedback_log = ctx.config["feedback"];
  if (cfg.feedback_log.empty()) {
    const auto state = std::filesystem::path{state_dir()};
    std::error_code ec;
    std::filesystem::create_directories(state, ec);
    cfg.feedback_log = (state / "feedback.jsonl").string();
  }
  cfg.analyst = ctx.config["analyst"];
  cfg.alert_rules = ctx.config["alerts"];
  const auto port = std::stoll(ctx.config["port"]);
  const auto threads = std::stoll(ctx.config["threads"]);
  const auto limit = std::stoll(ctx.config["body_limit"]);
  const auto timeout = std::stoll(ctx.config["timeout_ms"]);
  if (port < 0 || port > 65535 || threads < 1 || threads > 1024 || limit < 1 || timeout < 1)
    return make_llmos_error(error_code::bad_config,
                            "http: port must be 0-65535, threads 1-1024, body_limit and "
                            "timeout_ms positive");
  cfg.port = static_cast<uint16_t>(port);
  cfg.threads = static_cast<uint32_t>(threads);
  cfg.body_limit = static_cast<std::size_t>(limit);
  cfg.request_timeout = std::chrono::milliseconds{timeout};
  return cfg;
}

/// The front door, serving HTTPS when a certificate is given: either way slow or idle clients
/// hold no worker and the connection count has its own limit.
caf::expected<std::shared_ptr<http::guarded_server>> make_server(spawn_context& ctx,
                                                                 const http::gateway_config& cfg) {
  const auto& cert = ctx.config["tls_certificate"];
  const auto& key = ctx.config["tls_key"];
  if (cert.empty() != key.empty())
    return make_llmos_error(error_code::bad_config,
                            "http '" + ctx.name + "': tls_certificate and tls_key go together (" +
                                (cert.empty() ? "tls_key" : "tls_certificate") + " given alone)");
  const auto max_connections = std::stoll(ctx.config["max_connections"]);
  const auto head_timeout = std::stoll(ctx.config["head_timeout_ms"]);
  if (max_connections < 1 || head_timeout < 1)
    return make_llmos_error(error_code::bad_config,
                            "http: max_connections and head_timeout_ms must be positive");
  std::shared_ptr<tls::context> tls;
  if (!cert.empty()) {
    auto made = tls::context::server(cert, key);
    if (!made)
      return make_llmos_error(error_code::bad_config,
                              "http '" + ctx.name +
                                  "': cannot serve TLS: " + describe(made.error()));
    tls = std::move(*made);
  }
  http::front_door_limits limits;
  limits.workers = cfg.threads;
  limits.max_connections = static_cast<std::size_t>(max_connections);
  limits.head_timeout = std::chrono::milliseconds{head_timeout};
  // Every body the gateway accepts arrives whole before a worker takes its request (within
  // max_collected_total together), so a client trickling one holds no worker.
  limits.max_collected_body = cfg.body_limit;
  return std::make_shared<http::guarded_server>(limits, tls);
}

/// Connection habits and the JSON shape of the errors httplib answers itself.
void set_connection_policy(httplib::Server& server, std::size_t body_limit) {
  server.set_payload_max_length(body_limit);
  // httplib closes a keep-alive connection after 5 requests by default: every client would
  // reconnect all the time (and with its listen backlog of 5, wait a SYN retry of 1 s).
  // An idle kept-alive connection holds its worker thread, and a stopping gateway waits for
  // every worker: 5 s idle (then the client reconnects) keeps a node's stop within its grace.
  server.set_keep_alive_max_count(1000000);
  server.set_keep_alive_timeout(5);
  // Small responses on kept-alive connections: without TCP_NODELAY, Nagle's algorithm and the
  // peer's delayed ACK hold each answer for tens of milliseconds.
  server.set_tcp_nodelay(true);
  // httplib answers 413 and 404 itself with an empty body: give them the JSON shape too.
  server.set_error_handler([body_limit](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty())
      return;
    if (res.status == 413)
      http::send_error(
          res, 413, "the body is larger than the limit of " + std::to_string(body_limit) + " bytes",
          "body");
    else if (res.status == 404)
      http::send_error(res, 404, "no route " + req.method + " " + req.path, "path");
  });
}

/// Whether a request may be served at all, decided from its head before routing.
httplib::Server::HandlerResponse admit(gateway_context& ctx, const httplib::Request& req,
                                       httplib::Response& res) {
  request_in_flight.reset(); // one whose headers could not be written never reached the logger
  if (drain::active()) {
    http::send_error(res, 503, "the node is stopping: retry on another node", "");
    res.set_header("Retry-After", "1");
    res.set_header("Connection", "close");
    return httplib::Server::HandlerResponse::Handled;
  }
  auto refusal = http::refuse_body(
      req.method, [&](const std::string& h) { return req.get_header_value(h); },
      ctx.cfg.body_limit);
  if (refusal) {
    http::send_error(res, refusal->status, refusal->message, refusal->param);
    res.set_header("Connection", "close"); // the unread body must not be taken for a request
    return httplib::Server::HandlerResponse::Handled;
  }
  // Admin routes check the token themselves; a protected serving group is checked here, before
  // its body is read.
  if (ctx.cfg.protect.count(http::route_group(req.path)) && !http::authorized(ctx, req, res)) {
    res.set_header("Connection", "close");
    return httplib::Server::HandlerResponse::Handled;
  }
  request_in_flight = std::make_unique<drain::request_guard>();
  return httplib::Server::HandlerResponse::Unhandled;
}

/// A stopping node (drain.hpp) refuses new requests and counts those it is serving, from
/// routing until the answer (a streamed one included) is written; the logger runs then. Bodies
/// httplib would read without a bound are refused from their headers (body_framing).
void set_admission(httplib::Server& server, gateway_context* ctx) {
  server.set_pre_routing_handler(
      [ctx](const httplib::Request& req, httplib::Response& res) { return admit(*ctx, req, res); });
  server.set_logger([](const httplib::Request&, const httplib::Response& res) {
    request_in_flight.reset();
    http::guarded_server::note_response(res);
  });
}

/// The port bound (the requested one, or a free one for 0).
caf::expected<uint16_t> bind(http::guarded_server& server, const http::gateway_config& cfg) {
  const int bound = cfg.port == 0 ? server.bind_to_any_port(cfg.host)
                                  : (server.bind_to_port(cfg.host, cfg.port) ? cfg.port : -1);
  if (bound < 0)
    return make_llmos_error(error_code::io_failed,
                            "http: cannot listen on " + cfg.host + ":" + std::to_string(cfg.port));
  if (!server.widen_backlog())
    log_warning("http gateway '" + cfg.name + "': its listening backlog stays at 5; bursts of " +
                "connections beyond it wait for SYN retransmission");
  return static_cast<uint16_t>(bound);
}

caf::expected<caf::actor> spawn_http(spawn_context& ctx) {
  auto cfg = read_config(ctx);
  if (!cfg)
    return std::move(cfg.error());
  auto shared = std::make_shared<gateway_context>(ctx.system, ctx.manager, *cfg);
  if (!cfg->alert_rules.empty()) {
    auto rules = monitor::load_alert_rules(cfg->alert_rules);
    if (!rules)
      return std::move(rules.error());
    shared->alerts = monitor::alert_engine{std::move(*rules)};
  }
  auto server = make_server(ctx, *cfg);
  if (!server)
    return std::move(server.error());
  set_connection_policy(**server, cfg->body_limit);
  set_admission(**server, shared.get());
  http::install_model_routes(**server, *shared);
  http::install_completion_routes(**server, *shared);
  http::install_ops_routes(**server, *shared);
  http::install_dataset_routes(**server, *shared);
  auto port = bind(**server, *cfg);
  if (!port)
    return std::move(port.error());
  shared->cfg.port = *port;
  auto thread = std::make_shared<std::thread>([server = *server] { server->listen_after_bind(); });
  log_info("http gateway '" + ctx.name + "' on http://" + cfg->host + ":" + std::to_string(*port));
  return ctx.system.spawn(gateway_behavior, shared, *server, thread);
}

} // namespace

actor_kind http_kind() {
  return {"http",
          "HTTP/JSON gateway: predict, completions (SSE), models, admin, metrics, alerts, "
          "dashboard",
          http_fields(), spawn_http};
}

} // namespace llmos
