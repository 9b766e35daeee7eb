#include "bench_stats.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

#include <nlohmann/json.hpp>

namespace llmos::bench {

double percentile(std::vector<double> samples, double q) {
  if (samples.empty())
    return 0;
  std::sort(samples.begin(), samples.end());
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(samples.size())));
  rank = std::clamp<std::size_t>(rank, 1, samples.size());
  return samples[rank - 1];
}

void result_sheet::add(const std::string& path, const path_result& r) {
  paths_.emplace_back(path, r);
}

void result_sheet::set(const std::string& key, double value) {
  extra_[key] = value;
}

const path_result* result_sheet::find(const std::string& path) const {
  for (const auto& [name, r] : paths_)
    if (name == path)
      return &r;
  return nullptr;
}

std::string result_sheet::table() const {
  std::ostringstream os;
  os << std::left << std::setw(16) << "path" << std::right << std::setw(10) << "p50 us"
     << std::setw(10) << "p99 us" << std::setw(12) << "req/s"
     << "   vs raw CAF (p50, req/s)\n";
  for (const auto& [name, r] : paths_) {
    os << std::left << std::setw(16) << name << std::right;
    if (!r.ok) {
      os << "  unavailable: " << r.note << "\n";
      continue;
    }
    os << std::fixed << std::setprecision(1) << std::setw(10) << r.p50_us << std::setw(10)
       << r.p99_us << std::setprecision(0) << std::setw(12) << r.rps;
    // Local paths compare with local raw CAF, remote ones with remote raw CAF.
    const auto* base = find(name.find("local") != std::string::npos ? "caf_local" : "caf_remote");
    if (base != nullptr && base->ok && base->p50_us > 0 && base->rps > 0)
      os << std::setprecision(2) << "   " << r.p50_us / base->p50_us << "x, " << r.rps / base->rps
         << "x";
    os << "\n";
  }
  return os.str();
}

std::string result_sheet::json() const {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, r] : paths_) {
    if (!r.ok)
      continue;
    j[name + "_p50_us"] = r.p50_us;
    j[name + "_p99_us"] = r.p99_us;
    j[name + "_rps"] = r.rps;
  }
  for (const auto& [k, v] : extra_)
    j[k] = v;
  return j.dump(2);
}

} // namespace llmos::bench
