#include "http/route_policy.hpp"

#include <sstream>

#include "llmos/messages/error.hpp"

namespace llmos::http {
namespace {

const std::set<std::string>& groups() {
  static const std::set<std::string> all{"predict", "completions", "feedback",
                                         "models",  "observe",     "labels"};
  return all;
}

} // namespace

std::string route_group(const std::string& path) {
  if (path.starts_with("/v1/admin/"))
    return "admin";
  if (path == "/v1/completions" || path == "/v1/chat/completions")
    return "completions";
  if (path == "/v1/feedback")
    return "feedback";
  if (path.starts_with("/v1/models"))
    return path.ends_with(":predict") ? "predict" : "models";
  if (path.starts_with("/v1/datasets/"))
    return "labels";
  if (path == "/metrics" || path == "/v1/alerts" || path == "/" || path == "/v1/dashboard")
    return "observe";
  return "";
}

caf::expected<std::set<std::string>> parse_protected_groups(const std::string& value) {
  std::set<std::string> out;
  std::istringstream in{value};
  for (std::string name; std::getline(in, name, ',');) {
    name.erase(0, name.find_first_not_of(" \t"));
    name.erase(name.find_last_not_of(" \t") + 1);
    if (name.empty())
      continue;
    if (name == "all") {
      out.insert(groups().begin(), groups().end());
      continue;
    }
    if (!groups().count(name)) {
      std::string known;
      for (const auto& g : groups())
        known += (known.empty() ? "" : ", ") + g;
      return make_llmos_error(error_code::bad_config, "http: protect: unknown route group '" +
                                                          name + "' (known: " + known + ", all)");
    }
    out.insert(name);
  }
  return out;
}

} // namespace llmos::http
