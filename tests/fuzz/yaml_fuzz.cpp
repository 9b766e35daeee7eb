// The YAML files people write, each through its reader: the topology, data pipelines, model
// specs, feedback-loop policies, alert rules and tuner studies. One source, one binary per reader
// (LLMOS_FUZZ_READER picks it), so each has its own corpus and figures. A reader answers bad input
// with an error naming the file and field; anything else (a crash, a throw) is the finding.
#include <string>

#include "dataset/pipeline_spec.hpp"
#include "feedback/core/loop_policy.hpp"
#include "fuzz_target.hpp"
#include "llmos/runtime/actor_kinds.hpp"
#include "llmos/runtime/topology.hpp"
#include "model/core/model_spec.hpp"
#include "monitor/core/alert_rule.hpp"
#include "tuner/core/study_spec.hpp"

namespace {

/// Kinds shaped like the built-in ones (which live in the actor library that the fuzz build
/// leaves out): each config type once, a choice list and a required key.
const llmos::actor_kind_table& kinds() {
  static const auto table = [] {
    llmos::actor_kind_table t;
    using llmos::config_type;
    for (const char* name : {"dataset", "model", "server", "http", "registry", "scheduler"})
      t.add({name,
             "fuzz kind",
             {optional_key("path", config_type::path, "", ""),
              optional_key("port", config_type::integer, "0", ""),
              optional_key("enabled", config_type::boolean, "true", ""),
              optional_key("rate", config_type::number, "1.5", ""),
              optional_key("policy", config_type::string, "fifo", "", {"fifo", "priority"}),
              {"name", config_type::string, "", std::string{name} == "server", "", {}}},
             {}});
    return t;
  }();
  return table;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string text{llmos::fuzz::as_text(data, size)};
#if LLMOS_FUZZ_READER == 0
  (void)llmos::parse_topology(text, "fuzz.yaml", kinds());
#elif LLMOS_FUZZ_READER == 1
  (void)kinds;
  (void)llmos::dataset::parse_pipeline(text, "fuzz.yaml");
#elif LLMOS_FUZZ_READER == 2
  (void)kinds;
  if (auto spec = llmos::model::parse_model_spec(text, "fuzz.yaml"))
    (void)llmos::model::to_yaml(*spec);
#elif LLMOS_FUZZ_READER == 3
  (void)kinds;
  (void)llmos::feedback::parse_loop_policy(text, "fuzz.yaml");
#elif LLMOS_FUZZ_READER == 4
  (void)kinds;
  (void)llmos::monitor::parse_alert_rules(text, "fuzz.yaml");
#elif LLMOS_FUZZ_READER == 5
  (void)kinds;
  (void)llmos::tuner::parse_study_spec(text, "fuzz.yaml");
#else
#error "LLMOS_FUZZ_READER must be 0 to 5"
#endif
  return 0;
}
