// `send loop feedback request_id=ID label=spam [rating=1] [comment=...]`, `send loop status`,
// `send loop history`. The analyst speaks JSON text; replies are that JSON, packed.
#include "gateway/feedback_methods.hpp"

#include <caf/event_based_actor.hpp>
#include <nlohmann/json.hpp>

#include "gateway/call_options.hpp"
#include "gateway/rpc_params.hpp"
#include "llmos/messages/error.hpp"
#include "llmos/messages/feedback.hpp"

namespace llmos {
namespace {

constexpr auto call_timeout = std::chrono::seconds(30);

template <class... Ts> void ask(rpc_call& c, Ts... msg) {
  forward_json(c, caf::actor_cast<feedback_actor>(c.target), call_timeout, msg...);
}

void feedback(rpc_call& c) {
  call_options o{*c.params, "feedback"};
  if (o.refused(c))
    return;
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : o.all()) {
    if (k == "rating") {
      try {
        j[k] = std::stoi(v);
      } catch (const std::exception&) {
        return c.reply(make_llmos_error(error_code::bad_params,
                                        "feedback: rating=" + v + " is not -1, 0 or 1"));
      }
    } else {
      j[k] = v;
    }
  }
  ask(c, feedback_atom::value, j.dump());
}

} // namespace

void add_feedback_methods(method_table& t) {
  t.add("feedback", {"feedback", true,
                     "send ANALYST feedback request_id=ID [label=L] [rating=-1|0|1] "
                     "[completion=TEXT] [comment=TEXT]",
                     "feedback on a served request (logged durably)", feedback});
  t.add("feedback", {"status", false, "send ANALYST status",
                     "accuracy, confusion, calibration and drift per version; the loop's state",
                     [](rpc_call& c) { ask(c, status_atom::value); }});
  t.add("feedback", {"history", false, "send ANALYST history",
                     "every decision of the loop (trigger, evaluation, canary, promotion)",
                     [](rpc_call& c) { ask(c, history_atom::value); }});
}

} // namespace llmos
