#include "dataset/annotate/annotation_stats.hpp"

#include <nlohmann/json.hpp>

namespace llmos::dataset {
namespace {

nlohmann::json optional_number(const std::optional<double>& x) {
  return x ? nlohmann::json(*x) : nlohmann::json(nullptr);
}

} // namespace

nlohmann::json to_json(const annotation_stats& stats) {
  nlohmann::json functions = nlohmann::json::array();
  for (const auto& f : stats.functions)
    functions.push_back({{"name", f.name},
                         {"label", f.label},
                         {"votes", f.votes},
                         {"coverage", f.coverage},
                         {"overlap", f.overlap},
                         {"conflict", f.conflict},
                         {"gold_votes", f.gold_votes},
                         {"accuracy", optional_number(f.accuracy)}});
  return {{"records", stats.records},
          {"coverage", stats.coverage},
          {"overlap", stats.overlap},
          {"conflict", stats.conflict},
          {"labelled", stats.labelled},
          {"relabelled", stats.relabelled},
          {"kept", stats.kept},
          {"ties", stats.ties},
          {"gold_scored", stats.gold_scored},
          {"accuracy", optional_number(stats.accuracy)},
          {"label_distribution", stats.label_distribution},
          {"unlabelled", stats.unlabelled},
          {"functions", std::move(functions)}};
}

} // namespace llmos::dataset
