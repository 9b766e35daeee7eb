// The HTTP routes of the gateway, installed on a cpp-httplib server. Each group lives in its own
// file: models (predict, list, admin), completions (OpenAI-compatible, SSE), operations (health,
// metrics, alerts, feedback, dashboard), datasets (the review queue and people's labels).
#pragma once

#include <httplib.h>

#include "http/gateway_context.hpp"

namespace llmos::http {

void install_model_routes(httplib::Server& server, gateway_context& ctx);
void install_completion_routes(httplib::Server& server, gateway_context& ctx);
void install_ops_routes(httplib::Server& server, gateway_context& ctx);
void install_dataset_routes(httplib::Server& server, gateway_context& ctx);

/// Writes an error answer (status + JSON body).
void send_error(httplib::Response& res, int status, const std::string& reason,
                const std::string& field = "");
void send_error(httplib::Response& res, const caf::error& err, const std::string& field = "");

/// Writes a JSON answer (the status as set); strings quoting outside text or generated text may
/// hold bytes that are not UTF-8, which dump() would throw on: they become U+FFFD.
void send_json(httplib::Response& res, const nlohmann::json& j);

/// Parses a JSON object body; on failure answers 400 and returns nullopt.
std::optional<nlohmann::json> json_body(const httplib::Request& req, httplib::Response& res);

/// The JSON object body of an admin route: authorized, then json_body; nullopt once answered.
std::optional<nlohmann::json> admin_body(gateway_context& ctx, const httplib::Request& req,
                                         httplib::Response& res);

/// True when the request carries the gateway's token; else answers 401 (none), 403 (wrong) or
/// 429 with Retry-After (too many failures from the client's address: auth_throttle).
bool authorized(gateway_context& ctx, const httplib::Request& req, httplib::Response& res);

/// Registry versions and aliases with the live status of every server, per model.
nlohmann::json models_json(gateway_context& ctx);

/// Alert rules' states and recent events as JSON text (also for the REPL's `alerts`).
std::string alerts_text(gateway_context& ctx);

/// The dashboard page (HTML + script that polls /v1/dashboard).
const std::string& dashboard_html();

} // namespace llmos::http
