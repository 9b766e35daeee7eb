// POST /v1/models/{name}:predict (also /versions/{v}:predict), GET /v1/models, and the admin
// routes: deploy a version, unload, move an alias.
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>

#include <nlohmann/json.hpp>

#include "http/http_errors.hpp"
#include "http/routes.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/runtime/wire_json.hpp"

namespace llmos::http {
namespace {

/// Texts of a predict body: {"instances": ["..", {"text": ".."}]}, {"inputs": [..]} or
/// {"texts": [..]}; answers 400 naming the field when the shape is wrong.
std::optional<predict_request> predict_of(const nlohmann::json& body, httplib::Response& res) {
  predict_request req;
  const char* key = body.contains("instances") ? "instances"
                    : body.contains("inputs")  ? "inputs"
                                               : "texts";
  if (!body.contains(key) || !body[key].is_array()) {
    send_error(res, 400, "the body needs \"instances\": an array of texts", "instances");
    return std::nullopt;
  }
  std::size_t i = 0;
  for (const auto& item : body[key]) {
    if (item.is_string())
      req.texts.push_back(item.get<std::string>());
    else if (item.is_object() && item.contains("text") && item["text"].is_string())
      req.texts.push_back(item["text"].get<std::string>());
    else {
      send_error(res, 400,
                 std::string{key} + "[" + std::to_string(i) +
                     "] must be a string or {\"text\": string}, got " + item.type_name(),
                 std::string{key} + "[" + std::to_string(i) + "]");
      return std::nullopt;
    }
    ++i;
  }
  if (req.texts.empty()) {
    send_error(res, 400, std::string{key} + " is empty", key);
    return std::nullopt;
  }
  if (body.contains("priority")) {
    if (!body["priority"].is_number_unsigned()) {
      send_error(res, 400, "priority must be 0 (most urgent), 1 or 2", "priority");
      return std::nullopt;
    }
    req.priority = body["priority"].get<uint32_t>();
  }
  return req;
}

void predict(gateway_context& ctx, const httplib::Request& http, httplib::Response& res,
             const std::string& model, uint32_t version) {
  auto body = json_body(http, res);
  if (!body)
    return;
  auto req = predict_of(*body, res);
  if (!req)
    return;
  req->version = version;
  if (auto id = body->find("request_id"); id != body->end() && id->is_string())
    req->request_id = id->get<std::string>();
  std::vector<std::size_t> tried;
  caf::error last =
      make_llmos_error(error_code::not_found, "no server serves model '" + model + "'");
  bool refreshed = false;
  for (;;) {
    auto choice = ctx.servers.pick(model, tried);
    if (!choice) {
      if (refreshed || !tried.empty())
        break;
      refreshed = true; // a server started since the last refresh?
      (void)ctx.entries();
      continue;
    }
    auto reply = ctx.ask<predict_reply>(choice->server, predict_atom::value, *req);
    ctx.servers.done(model, choice->slot);
    if (reply) {
      send_json(res, wire::to_json(*reply));
      return;
    }
    last = reply.error();
    // Another server of the model may have the version, or a replica; bad input fails at once.
    const int status = status_of(last);
    if (status != 404 && status != 503)
      break;
    tried.push_back(choice->slot);
  }
  send_error(res, last);
}

} // namespace

nlohmann::json models_json(gateway_context& ctx) {
  nlohmann::json models = nlohmann::json::object();
  if (auto versions = ctx.ask_registry<std::vector<model_version>>(list_atom::value, std::string{}))
    for (auto& v : *versions)
      models[v.name]["versions"].push_back(wire::to_json(v));
  (void)ctx.entries();
  for (auto& [model, servers] : ctx.servers.servers())
    for (auto& s : servers)
      if (auto st = ctx.ask<server_status>(s, status_atom::value))
        models[model]["servers"].push_back(wire::to_json(*st));
  nlohmann::json list = nlohmann::json::array();
  for (auto& [name, m] : models.items()) {
    m["name"] = name;
    // A fine-tune served as adapters over its base names it (vLLM's field for LoRA modules).
    if (auto base = ctx.servers.base_of(name); !base.empty())
      m["parent"] = base;
    list.push_back(m);
  }
  return list;
}

namespace {

/// Seconds since 1970 of an ISO-8601 UTC time ("2026-12-02T10:00:00Z"); 0 when it is not one.
int64_t unix_seconds(const nlohmann::json& t) {
  if (t.is_number_integer())
    return t.get<int64_t>();
  if (!t.is_string())
    return 0;
  std::tm tm{};
  std::istringstream in(t.get<std::string>());
  in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
  return in.fail() ? 0 : static_cast<int64_t>(timegm(&tm));
}

/// One model in OpenAI's shape (id, object, created, owned_by), with llmos's versions and
/// servers beside those fields.
nlohmann::json openai_model(const nlohmann::json& m) {
  nlohmann::json out = m;
  out["id"] = m["name"];
  out["object"] = "model";
  out["owned_by"] = "llmos";
  int64_t created = 0;
  if (m.contains("versions") && !m["versions"].empty())
    created = unix_seconds(m["versions"][0].value("created", nlohmann::json()));
  out["created"] = created;
  return out;
}

/// A version number from a path: 1 to 2^32-1; 0 (and a 400 answered) otherwise.
uint32_t version_from_path(const std::string& text, httplib::Response& res) {
  const auto v = std::stoull(text);
  if (v == 0 || v > UINT32_MAX) {
    send_error(res, 400, "versions start at 1", "version");
    return 0;
  }
  return static_cast<uint32_t>(v);
}

/// OpenAI's list ({"object": "list", "data": [...]}) and llmos's ("models") in one answer.
void list_models(gateway_context& ctx, httplib::Response& res) {
  auto models = models_json(ctx);
  nlohmann::json data = nlohmann::json::array();
  for (const auto& m : models)
    data.push_back(openai_model(m));
  res.set_content(nlohmann::json{{"object", "list"}, {"data", data}, {"models", models}}.dump(),
                  "application/json");
}

void describe_model(gateway_context& ctx, const std::string& name, httplib::Response& res) {
  for (const auto& m : models_json(ctx))
    if (m["name"] == name)
      return res.set_content(openai_model(m).dump(), "application/json");
  send_error(res, 404, "the model '" + name + "' does not exist", "model");
}

/// Admin: deploy {"version": "3" | "production"} on every server of the model, or unload.
void deploy_or_unload(gateway_context& ctx, const httplib::Request& req, httplib::Response& res) {
  if (!authorized(ctx, req, res))
    return;
  const std::string model = req.matches[1];
  const bool deploy = req.matches[2] == "deploy";
  std::string ref;
  if (deploy) {
    auto body = json_body(req, res);
    if (!body)
      return;
    if (!body->contains("version"))
      return send_error(res, 400, "deploy needs \"version\"", "version");
    ref = (*body)["version"].is_string() ? (*body)["version"].get<std::string>()
                                         : (*body)["version"].dump();
  }
  (void)ctx.entries();
  auto servers = ctx.servers.servers();
  if (!servers.count(model))
    return send_error(res, 404, "no server serves model '" + model + "'", "model");
  nlohmann::json out = nlohmann::json::array();
  for (auto& s : servers[model]) {
    auto st = deploy ? ctx.ask<server_status>(s, deploy_atom::value, ref)
                     : ctx.ask<server_status>(s, unload_atom::value);
    if (!st)
      return send_error(res, st.error(), "version");
    out.push_back({{"version", st->version}, {"ready", st->ready}});
  }
  res.set_content(nlohmann::json{{"servers", out}}.dump(), "application/json");
}

/// Admin: a version packaged as TorchScript, ONNX, GGUF or llama2.c, as a file download.
void export_version(gateway_context& ctx, const httplib::Request& req, httplib::Response& res) {
  if (!authorized(ctx, req, res))
    return;
  const auto v = version_from_path(req.matches[2].str(), res);
  if (v == 0)
    return;
  auto path = ctx.ask_registry<std::string>(export_atom::value, req.matches[1].str(), v,
                                            req.matches[3].str());
  if (!path)
    return send_error(res, path.error(), "version");
  std::ifstream in{*path, std::ios::binary};
  std::ostringstream bytes;
  bytes << in.rdbuf();
  res.set_header("Content-Disposition", "attachment; filename=\"" +
                                            std::filesystem::path(*path).filename().string() +
                                            "\"");
  res.set_content(std::move(bytes).str(), "application/octet-stream");
}

/// Admin: import pretrained weights from a file on the registry's node:
/// {"format": "llama2c|gguf|safetensors|llmos", "path": FILE, "tokenizer": FILE, "note": TEXT}.
void import_version(gateway_context& ctx, const httplib::Request& req, httplib::Response& res) {
  auto body = admin_body(ctx, req, res);
  if (!body)
    return;
  import_request r;
  // The body is the request's JSON form; its name comes from the path.
  if (auto problem = wire::from_json(*body, r); !problem.empty())
    return send_error(res, 400, problem, problem.substr(0, problem.find_first_of(":.[")));
  r.name = req.matches[1].str();
  if (r.format.empty() || r.path.empty())
    return send_error(res, 400, "\"format\" and \"path\" are required", "format");
  auto v = ctx.ask_registry<model_version>(import_atom::value, std::move(r));
  if (!v)
    return send_error(res, v.error(), "path");
  res.status = 201;
  send_json(res, wire::to_json(*v));
}

/// Admin: point an alias at a version: {"version": 3}.
void set_alias(gateway_context& ctx, const httplib::Request& req, httplib::Response& res) {
  auto body = admin_body(ctx, req, res);
  if (!body)
    return;
  if (!body->contains("version") || !(*body)["version"].is_number_unsigned())
    return send_error(res, 400, "\"version\" must be a version number", "version");
  auto v =
      ctx.ask_registry<model_version>(alias_atom::value, req.matches[1].str(), req.matches[2].str(),
                                      (*body)["version"].get<uint32_t>());
  if (!v)
    return send_error(res, v.error(), "version");
  send_json(res, wire::to_json(*v));
}

} // namespace

void install_model_routes(httplib::Server& server, gateway_context& ctx) {
  using request = const httplib::Request&;
  using response = httplib::Response&;
  server.Post(R"(/v1/models/([^/:]+):predict)",
              [&ctx](request req, response res) { predict(ctx, req, res, req.matches[1], 0); });
  server.Post(R"(/v1/models/([^/:]+)/versions/v?([0-9]+):predict)",
              [&ctx](request req, response res) {
                if (const auto v = version_from_path(req.matches[2].str(), res))
                  predict(ctx, req, res, req.matches[1], v);
              });
  server.Get("/v1/models", [&ctx](request, response res) { list_models(ctx, res); });
  server.Get(R"(/v1/models/([^/:]+))",
             [&ctx](request req, response res) { describe_model(ctx, req.matches[1], res); });
  server.Post(R"(/v1/admin/models/([^/:]+):(deploy|unload))",
              [&ctx](request req, response res) { deploy_or_unload(ctx, req, res); });
  server.Get(
      R"(/v1/models/([^/:]+)/versions/v?([0-9]+)/export/(torchscript|onnx|gguf|gguf-f16|gguf-q8_0|llama2c))",
      [&ctx](request req, response res) { export_version(ctx, req, res); });
  server.Post(R"(/v1/admin/models/([^/:]+)/import)",
              [&ctx](request req, response res) { import_version(ctx, req, res); });
  server.Put(R"(/v1/admin/models/([^/:]+)/aliases/([^/:]+))",
             [&ctx](request req, response res) { set_alias(ctx, req, res); });
}

} // namespace llmos::http
