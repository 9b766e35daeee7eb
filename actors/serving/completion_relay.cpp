// The completion relay (completion_relay.hpp).
#include "serving/completion_relay.hpp"

#include <algorithm>

#include <caf/event_based_actor.hpp>

#include "serving/completion_logprobs.hpp"
#include "serving/core/stop_text.hpp"
#include "serving/request_rows.hpp"

namespace llmos::serving {
namespace {

constexpr std::size_t max_recorded = 65536;

class relay_state {
public:
  relay_state(caf::event_based_actor* self, relay_options opts)
      : self_(self), opts_(std::move(opts)) {}

  void token(int32_t t) {
    auto& rec = *opts_.record;
    const auto now = std::chrono::steady_clock::now();
    if (!rec.first_s)
      rec.first_s = std::chrono::duration<double>(now - rec.start).count();
    else if (rec.gaps_s.size() < max_recorded)
      rec.gaps_s.push_back(std::chrono::duration<double>(now - rec.last).count());
    rec.last = now;
    ids_.push_back(t);
    emit(false);
  }

  void logprob(std::string& json) {
    if (opts_.record->logprobs.size() < max_recorded)
      opts_.record->logprobs.push_back(std::move(json));
  }

  /// Sends the text not sent yet: all of it (`all`, the flush) or what can no longer change.
  /// Pieces are decoded from all ids so far so that multi-byte characters are never split.
  void emit(bool all) {
    if (stopped_)
      return;
    auto text = continuation_text(*opts_.dep->tok, opts_.prompt, ids_);
    if (!text)
      return;
    auto upto = all ? text->size() : complete_utf8_prefix(*text);
    if (!opts_.stops.empty()) {
      auto scan = scan_stops(*text, opts_.stops);
      upto = all && !scan.stopped_at ? text->size() : std::min(upto, scan.safe);
      if (scan.stopped_at)
        stop();
    }
    if (opts_.client && upto > sent_)
      send_piece(*text, upto);
  }

private:
  /// A stop sequence came: the server cancels the generation (its reply cuts the text).
  void stop() {
    stopped_ = true;
    if (auto srv = caf::actor_cast<server_actor>(opts_.server))
      caf::anon_send(srv, cancel_atom::value, opts_.request);
  }

  void send_piece(const std::string& text, std::size_t upto) {
    auto piece = text.substr(sent_, upto - sent_);
    if (opts_.want_logprobs) // the piece's tokens' log-probabilities ride along (streamed answers)
      self_->send(
          opts_.client, token_atom::value, opts_.request, std::move(piece),
          openai_logprobs(*opts_.dep->tok, opts_.prompt, opts_.record->logprobs, sent_, upto));
    else
      self_->send(opts_.client, token_atom::value, opts_.request, std::move(piece));
    sent_ = upto;
  }

  caf::event_based_actor* self_;
  relay_options opts_;
  std::vector<int32_t> ids_;
  std::size_t sent_ = 0;
  bool stopped_ = false;
};

} // namespace

caf::actor spawn_completion_relay(caf::actor_system& sys, relay_options opts) {
  return sys.spawn([opts = std::move(opts)](caf::event_based_actor* self) mutable {
    auto st = std::make_shared<relay_state>(self, std::move(opts));
    return caf::behavior{
        [=](token_atom, uint64_t, int32_t t) { st->token(t); },
        [=](logprob_atom, uint64_t, std::string& json) { st->logprob(json); },
        [=](tick_atom) {
          st->emit(true);
          self->quit();
          return true;
        },
    };
  });
}

} // namespace llmos::serving
