#include "scheduler/core/external_load.hpp"

#include <charconv>
#include <set>

namespace llmos::scheduler {

namespace {

uint32_t threads_of(const std::map<std::string, std::string>& config) {
  auto it = config.find("threads");
  if (it == config.end())
    return 1;
  uint32_t n = 0;
  const auto* end = it->second.data() + it->second.size();
  auto [ptr, ec] = std::from_chars(it->second.data(), end, n);
  return ec == std::errc{} && ptr == end && n >= 1 && n <= 1024 ? n : 1;
}

} // namespace

external_load measure_external(const std::vector<hosted_actor>& actors,
                               const std::vector<device_facts>& devices,
                               const std::function<bool(const std::string&)>& own) {
  external_load load;
  std::set<std::string> busy_cpu_devices;
  for (const auto& a : actors) {
    if (a.kind != "model" || own(a.name))
      continue;
    load.models.push_back(a.name);
    auto device = a.config.find("device");
    if (device == a.config.end() || device->second.empty()) {
      load.cpu_threads += threads_of(a.config);
      continue;
    }
    for (const auto& d : devices) {
      if (d.name != device->second)
        continue;
      if (d.cuda)
        ++load.gpu_holders[d.name];
      else if (busy_cpu_devices.insert(d.name).second)
        load.cpu_threads += d.threads;
    }
  }
  return load;
}

} // namespace llmos::scheduler
