// Publishing a model actor's weights as a registry version: the model's checkpoint bytes and
// spec, the data set's tokenizer and version, its last evaluation as metrics, and the lineage
// (data set and version, hyper-parameters, steps, parent version, producer, note). Used by the
// gateway's `publish` method and by the tuner for a study's best trial; a template over the
// sending actor, so typed and untyped actors share the one chain of requests.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

#include "llmos/messages/dataset.hpp"
#include "llmos/messages/model.hpp"
#include "llmos/messages/registry.hpp"

namespace llmos {

struct publish_plan {
  model_actor model;
  dataset_actor dataset;
  registry_actor registry;
  std::string dataset_name;
  std::string name;     ///< registry model name; "" = the model actor's spec name
  std::string producer; ///< "" = "model actor 'NAME'"
  std::string note;
  nlohmann::json extra = nlohmann::json::object(); ///< merged into the lineage
};

template <class Self>
void publish_model(Self* self, publish_plan plan,
                   std::function<void(caf::expected<model_version>)> done) {
  using namespace std::chrono_literals;
  auto p = std::make_shared<publish_plan>(std::move(plan));
  auto req = std::make_shared<publish_request>();
  auto lineage = std::make_shared<nlohmann::json>();
  auto fail = [done](caf::error& err) { done(std::move(err)); };
  auto send = [self, p, req, lineage, done, fail]() {
    req->lineage = lineage->dump();
    self->request(p->registry, 10min, publish_atom::value, *req)
        .then([done](model_version& v) { done(std::move(v)); }, fail);
  };
  auto with_stats = [self, p, req, lineage, send](dataset_stats& stats) {
    (*lineage)["dataset_version"] = stats.version;
    // The parent is the version published before this one, if any.
    self->request(p->registry, 30s, resolve_atom::value, req->name, std::string{"latest"})
        .then(
            [lineage, send](model_version& parent) {
              (*lineage)["parent"] = parent.version;
              send();
            },
            [send](caf::error&) { send(); });
  };
  auto with_tokenizer = [self, p, req, with_stats, fail](std::string& tok) {
    req->package.tokenizer = std::move(tok);
    self->request(p->dataset, 30s, stats_atom::value).then(with_stats, fail);
  };
  auto with_package = [self, p, req, with_tokenizer, fail](model_package& pkg) {
    req->package = std::move(pkg);
    self->request(p->dataset, 30s, tokenizer_atom::value).then(with_tokenizer, fail);
  };
  self->request(p->model, 30s, info_atom::value)
      .then(
          [self, p, req, lineage, with_package, fail](model_info& info) {
            req->name = p->name.empty() ? info.name : p->name;
            auto eval = nlohmann::json::parse(info.evaluation, nullptr, false);
            req->metrics = (eval.is_object() ? eval : nlohmann::json::object()).dump();
            *lineage = {{"dataset", p->dataset_name},
                        {"hyper_parameters", info.spec},
                        {"steps", info.step},
                        {"produced_by",
                         p->producer.empty() ? "model actor '" + info.name + "'" : p->producer},
                        {"note", p->note},
                        {"parent", nullptr}};
            lineage->update(p->extra);
            self->request(p->model, 10min, export_atom::value).then(with_package, fail);
          },
          fail);
}

} // namespace llmos
