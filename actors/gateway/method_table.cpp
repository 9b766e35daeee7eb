#include "llmos/actors/method_table.hpp"

namespace llmos {

void method_table::add(rpc_method m) {
  auto name = m.name;
  node_methods_[name] = std::move(m);
}

void method_table::add(const std::string& kind, rpc_method m) {
  auto name = m.name;
  actor_methods_[{kind, name}] = std::move(m);
}

const rpc_method* method_table::find(const std::string& name) const {
  auto i = node_methods_.find(name);
  return i == node_methods_.end() ? nullptr : &i->second;
}

const rpc_method* method_table::find(const std::string& kind, const std::string& name) const {
  auto i = actor_methods_.find({kind, name});
  return i == actor_methods_.end() ? nullptr : &i->second;
}

std::vector<std::pair<std::string, const rpc_method*>> method_table::list() const {
  std::vector<std::pair<std::string, const rpc_method*>> out;
  for (const auto& [name, m] : node_methods_)
    out.emplace_back("", &m);
  for (const auto& [key, m] : actor_methods_)
    out.emplace_back(key.first, &m);
  return out;
}

} // namespace llmos
