#include "http/server_table.hpp"

#include <algorithm>

#include "serving/core/adapter_list.hpp"

namespace llmos::http {

void server_table::update(const std::vector<actor_entry>& entries) {
  std::lock_guard<std::mutex> guard{mutex_};
  std::map<std::string, std::vector<const actor_entry*>> wanted;
  for (const auto& e : entries)
    if (e.kind == "server" && e.config.count("model"))
      wanted[e.config.at("model")].push_back(&e);
  // Keep the slots (and their outstanding counts) of servers that are still there.
  for (auto i = models_.begin(); i != models_.end();) {
    auto& ms = i->second;
    for (auto s = ms.by_slot.begin(); s != ms.by_slot.end();) {
      auto& list = wanted[i->first];
      auto same = std::find_if(list.begin(), list.end(),
                               [&](const actor_entry* e) { return e->handle == s->second.handle; });
      if (same == list.end()) {
        ms.router.remove(s->first);
        s = ms.by_slot.erase(s);
      } else {
        list.erase(same);
        ++s;
      }
    }
    i = ms.by_slot.empty() && wanted[i->first].empty() ? models_.erase(i) : std::next(i);
  }
  for (auto& [model, list] : wanted)
    for (const auto* e : list) {
      auto& ms = models_[model];
      ms.by_slot.emplace(ms.router.add(), *e);
    }
  adapters_.clear();
  for (const auto& e : entries) {
    if (e.kind != "server" || !e.config.count("model") || !e.config.count("adapters"))
      continue;
    auto refs = serving::parse_adapters(e.config.at("adapters"), e.config.at("model"));
    if (!refs) // the server refused to start with it
      continue;
    for (const auto& ref : *refs) {
      auto& a = adapters_[serving::adapter_name(ref)];
      a.base = e.config.at("model");
      a.handles.push_back(e.handle);
    }
  }
}

server_table::model_servers* server_table::find(const std::string& model,
                                                const std::vector<caf::actor>** only) {
  *only = nullptr;
  if (auto i = models_.find(model); i != models_.end())
    return &i->second;
  auto a = adapters_.find(model);
  if (a == adapters_.end())
    return nullptr;
  auto i = models_.find(a->second.base);
  if (i == models_.end())
    return nullptr;
  *only = &a->second.handles;
  return &i->second;
}

std::string server_table::base_of(const std::string& model) const {
  std::lock_guard<std::mutex> guard{mutex_};
  auto a = adapters_.find(model);
  return a == adapters_.end() || models_.count(model) ? std::string{} : a->second.base;
}

std::optional<server_table::choice> server_table::pick(const std::string& model,
                                                       const std::vector<std::size_t>& tried) {
  std::lock_guard<std::mutex> guard{mutex_};
  const std::vector<caf::actor>* only = nullptr;
  auto* found = find(model, &only);
  if (found == nullptr)
    return std::nullopt;
  auto& ms = *found;
  std::optional<std::size_t> best;
  for (auto slot : ms.router.active()) {
    if (std::find(tried.begin(), tried.end(), slot) != tried.end())
      continue;
    if (only != nullptr &&
        std::find(only->begin(), only->end(), ms.by_slot.at(slot).handle) == only->end())
      continue;
    if (!best || ms.router.outstanding(slot) < ms.router.outstanding(*best))
      best = slot;
  }
  if (!best)
    return std::nullopt;
  ms.router.sent(*best);
  return choice{caf::actor_cast<server_actor>(ms.by_slot.at(*best).handle), *best};
}

void server_table::done(const std::string& model, std::size_t slot) {
  std::lock_guard<std::mutex> guard{mutex_};
  const std::vector<caf::actor>* only = nullptr;
  if (auto* ms = find(model, &only))
    ms->router.done(slot);
}

std::map<std::string, std::vector<server_actor>> server_table::servers() const {
  std::lock_guard<std::mutex> guard{mutex_};
  std::map<std::string, std::vector<server_actor>> out;
  for (auto& [model, ms] : models_)
    for (auto& [slot, e] : ms.by_slot)
      out[model].push_back(caf::actor_cast<server_actor>(e.handle));
  return out;
}

} // namespace llmos::http
