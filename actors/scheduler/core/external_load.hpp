// What models the scheduler did not place hold on a node: those a topology declares, server
// replicas, models spawned by hand. They compute on the same cores and GPUs as the scheduler's
// tasks, so the cluster view counts them (cluster_state::set_external) instead of offering their
// capacity again. A model on a device of its own holds its `threads`; a model placed on a CPU
// device actor (`device: cpu0`) keeps that device's threads busy (counted once however many
// models share it); a model on a CUDA device holds that GPU.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace llmos::scheduler {

/// An actor as the node manager lists it (name, kind and the config it was spawned with).
struct hosted_actor {
  std::string name;
  std::string kind;
  std::map<std::string, std::string> config;
};

/// A device actor of a node, as its info answered.
struct device_facts {
  std::string name;
  bool cuda = false;
  uint32_t threads = 0; ///< CPU devices
};

/// The external load of one node.
struct external_load {
  uint32_t cpu_threads = 0;
  std::map<std::string, uint32_t> gpu_holders; ///< CUDA device name -> models on it
  std::vector<std::string> models;             ///< the models counted, in listing order
};

/// The load of the model actors in `actors` for which `own` is false (the scheduler's own
/// replicas are counted when placed). A `threads` value that is not a number in [1, 1024]
/// counts as 1 (the model kind refused it anyway); a device that is not in `devices` counts as
/// nothing (it is another node's or gone).
external_load measure_external(const std::vector<hosted_actor>& actors,
                               const std::vector<device_facts>& devices,
                               const std::function<bool(const std::string&)>& own);

} // namespace llmos::scheduler
