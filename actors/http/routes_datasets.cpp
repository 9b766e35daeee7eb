// The labelling routes: a data set's review queue (the records a classifier is least sure of)
// and people's labels, for a labelling page or tool. Route group "labels" (route_policy.hpp):
// open on a loopback node, closed with `protect: labels`.
//   GET  /v1/datasets/{name}/review?model=SERVER&n=10
//        -> {"dataset", "model", "items": [{"id", "text", "split", "suggested", "confidence"}]}
//   POST /v1/datasets/{name}/labels  {"labels": [{"id": "...", "label": "..."}]}  (1-1000)
//        -> {"dataset", "version", "labels": {label: records}}
#include <charconv>

#include "http/routes.hpp"
#include "llmos/messages/dataset.hpp"
#include "llmos/runtime/wire_json.hpp"

namespace llmos::http {
namespace {

constexpr std::size_t max_labels = 1000;

/// The data set actor named in the path; answers 404 itself when there is none.
std::optional<dataset_actor> dataset_of(gateway_context& ctx, const std::string& name,
                                        httplib::Response& res) {
  auto handle = ctx.lookup(name);
  if (!handle) {
    send_error(res, 404, "no data set named '" + name + "'", "dataset");
    return std::nullopt;
  }
  return caf::actor_cast<dataset_actor>(*handle);
}

void review(gateway_context& ctx, const httplib::Request& req, httplib::Response& res) {
  const std::string name = req.matches[1];
  const auto model = req.get_param_value("model");
  if (model.empty())
    return send_error(res, 400, "review needs ?model=SERVER (a deployed classifier)", "model");
  uint32_t n = 10;
  if (req.has_param("n")) {
    const auto text = req.get_param_value("n");
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc{} || end != text.data() + text.size())
      return send_error(res, 400, "n must be a whole number, got '" + text + "'", "n");
  }
  auto server = ctx.lookup(model);
  if (!server)
    return send_error(res, 404, "no server named '" + model + "'", "model");
  auto dataset = dataset_of(ctx, name, res);
  if (!dataset)
    return;
  auto items = ctx.ask<std::vector<review_item>>(*dataset, review_atom::value, model, *server, n);
  if (!items)
    return send_error(res, items.error(), "n");
  auto out = wire::to_json(*items);
  send_json(res, {{"dataset", name}, {"model", model}, {"items", std::move(out)}});
}

void add_labels(gateway_context& ctx, const httplib::Request& req, httplib::Response& res) {
  const std::string name = req.matches[1];
  auto body = json_body(req, res);
  if (!body)
    return;
  if (!body->contains("labels") || !(*body)["labels"].is_array() || (*body)["labels"].empty() ||
      (*body)["labels"].size() > max_labels)
    return send_error(res, 400,
                      "\"labels\" must be an array of 1 to " + std::to_string(max_labels) +
                          " {\"id\", \"label\"} objects",
                      "labels");
  std::vector<pseudo_label_item> items;
  for (const auto& l : (*body)["labels"]) {
    if (!l.is_object() || !l.contains("id") || !l["id"].is_string() || !l.contains("label") ||
        !l["label"].is_string())
      return send_error(res, 400,
                        "labels[" + std::to_string(items.size()) +
                            "] must be {\"id\": string, \"label\": string}",
                        "labels");
    items.push_back({l["id"].get<std::string>(), l["label"].get<std::string>(), 1.0});
  }
  auto dataset = dataset_of(ctx, name, res);
  if (!dataset)
    return;
  auto stats = ctx.ask<dataset_stats>(*dataset, human_label_atom::value, std::move(items));
  if (!stats)
    return send_error(res, stats.error(), "labels");
  send_json(res, {{"dataset", name}, {"version", stats->version}, {"labels", stats->labels}});
}

} // namespace

void install_dataset_routes(httplib::Server& server, gateway_context& ctx) {
  server.Get(
      R"(/v1/datasets/([^/:]+)/review)",
      [&ctx](const httplib::Request& req, httplib::Response& res) { review(ctx, req, res); });
  server.Post(
      R"(/v1/datasets/([^/:]+)/labels)",
      [&ctx](const httplib::Request& req, httplib::Response& res) { add_labels(ctx, req, res); });
}

} // namespace llmos::http
