// The serving conversation: a server actor deploys one registry version of a model on replicas
// (model actors on devices of its node), batches requests dynamically per replica and answers
// predictions and completions. The HTTP gateway routes across the servers of a model.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "llmos/messages/device.hpp"
#include "llmos/messages/field.hpp"
#include "llmos/messages/model.hpp"
#include "llmos/messages/registry.hpp"
#include "llmos/messages/type_ids.hpp"

namespace llmos {

/// Classify texts (tokenized by the server with the version's tokenizer) or raw inputs.
struct predict_request {
  std::vector<std::string> texts;
  tensor_bytes inputs;    ///< used when `texts` is empty: i32 ids [B, T] or u8 pixels [B, H, W]
  uint32_t priority = 1;  ///< 0 = most urgent
  uint32_t version = 0;   ///< 0 = whatever the server serves; else refused unless deployed
  std::string request_id; ///< the caller's id for feedback to refer to; "" = the server makes one
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, predict_request& x) {
  return f(caf::meta::type_name("predict_request"), field("texts"), x.texts, field("inputs"),
           x.inputs, field("priority"), x.priority, field("version"), x.version,
           field("request_id"), x.request_id);
}

struct predict_reply {
  std::string model;
  uint32_t version = 0;
  std::vector<prediction_item> predictions;
  std::string request_id; ///< feedback names it (with "#K" for the K-th text of several)
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, predict_reply& x) {
  return f(caf::meta::type_name("predict_reply"), field("model"), x.model, field("version"),
           x.version, field("predictions"), x.predictions, field("request_id"), x.request_id);
}

/// Continue a text prompt; text pieces go to `subscriber` as (token_atom, request, piece).
struct complete_request {
  std::string prompt;
  uint32_t max_tokens = 32;
  double temperature = 1.0;
  int64_t top_k = 0;
  double top_p = 1.0;
  uint64_t seed = 1;
  uint64_t request = 0;
  caf::actor subscriber;         ///< may be null
  std::string request_id;        ///< for feedback; "" = the server makes one
  int32_t priority = 0;          ///< higher is served first (see generate_request)
  std::vector<std::string> stop; ///< the completion ends before the first of these (excluded)
  double presence_penalty = 0.0; ///< see generate_request
  double frequency_penalty = 0.0;
  std::vector<int32_t> bias_tokens;
  std::vector<double> bias_values;
  int32_t logprobs = -1; ///< >= 0: the reply carries each token's log-probability and this many
                         ///< alternatives (see complete_reply::logprobs)
  std::string model; ///< the server's model or one of its adapters (config `adapters`); "" = the
                     ///< server's model
  /// Chat messages as role, content, role, content, ...: when given, the server renders them
  /// with its model's chat template into `prompt` (serving/core/chat_template.hpp).
  std::vector<std::string> chat;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, complete_request& x) {
  return f(caf::meta::type_name("complete_request"), field("prompt"), x.prompt, field("max_tokens"),
           x.max_tokens, field("temperature"), x.temperature, field("top_k"), x.top_k,
           field("top_p"), x.top_p, field("seed"), x.seed, field("request"), x.request,
           x.subscriber, field("request_id"), x.request_id, field("priority"), x.priority,
           field("stop"), x.stop, field("presence_penalty"), x.presence_penalty,
           field("frequency_penalty"), x.frequency_penalty, field("bias_tokens"), x.bias_tokens,
           field("bias_values"), x.bias_values, field("logprobs"), x.logprobs, field("model"),
           x.model, field("chat"), x.chat);
}

struct complete_reply {
  std::string model;
  uint32_t version = 0;
  std::string text;
  uint32_t prompt_tokens = 0;
  uint32_t completion_tokens = 0;
  std::string request_id; ///< what feedback on this completion names
  /// "stop" (the model ended, or a stop sequence came), "length" (max_tokens or the context),
  /// "cancelled" (cancelled on the server, e.g. the client went away)
  std::string finish_reason;
  /// When asked: OpenAI's completions logprobs object as JSON text ({"tokens": [piece, ...],
  /// "token_logprobs": [...], "top_logprobs": [{piece: lp, ...}, ...], "text_offset": [...]}).
  std::string logprobs;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, complete_reply& x) {
  return f(caf::meta::type_name("complete_reply"), field("model"), x.model, field("version"),
           x.version, field("text"), x.text, field("prompt_tokens"), x.prompt_tokens,
           field("completion_tokens"), x.completion_tokens, field("request_id"), x.request_id,
           field("finish_reason"), x.finish_reason, json_field("logprobs"), x.logprobs);
}

/// What a server is doing.
struct server_status {
  std::string model;
  std::string follows;  ///< alias it follows ("" = pinned version)
  uint32_t version = 0; ///< deployed version (0 = none yet)
  bool ready = false;
  std::string kind; ///< "classifier" or "language"
  uint32_t replicas = 0;
  uint64_t queued = 0;
  uint64_t in_flight = 0;
  uint64_t served = 0;
  uint64_t rejected = 0;
  uint64_t failed = 0;
  double p50_ms = 0.0;
  double p99_ms = 0.0;
  double mean_batch = 0.0;
  uint32_t canary_version = 0; ///< a version on trial beside `version` (0 = none)
  double canary_share = 0.0;   ///< share of unpinned requests it gets
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, server_status& x) {
  return f(caf::meta::type_name("server_status"), field("model"), x.model, field("follows"),
           x.follows, field("version"), x.version, field("ready"), x.ready, field("kind"), x.kind,
           field("replicas"), x.replicas, field("queued"), x.queued, field("in_flight"),
           x.in_flight, field("served"), x.served, field("rejected"), x.rejected, field("failed"),
           x.failed, field("p50_ms"), x.p50_ms, field("p99_ms"), x.p99_ms, field("mean_batch"),
           x.mean_batch, field("canary_version"), x.canary_version, field("canary_share"),
           x.canary_share);
}

using server_actor = caf::typed_actor<
    // client -> server: classify; overloaded when the replica queue is full, unavailable with
    // no replica, not_found for a version it does not serve.
    caf::replies_to<predict_atom, predict_request>::with<predict_reply>,
    // client -> server: complete a prompt (language models).
    caf::replies_to<complete_atom, complete_request>::with<complete_reply>,
    // client -> server: cancel or reprioritise the completion with request number ID (the
    // complete_request's `request`) on whichever replica holds it; false when none does. List
    // every replica's generations.
    caf::replies_to<cancel_atom, uint64_t>::with<bool>,
    caf::replies_to<priority_atom, uint64_t, int32_t>::with<bool>,
    caf::replies_to<sequences_atom>::with<std::vector<sequence_row>>,
    caf::replies_to<status_atom>::with<server_status>,
    // admin -> server: deploy a version ("3", "v3", "latest" or an alias to follow); requests
    // keep going to the old replicas until the new ones are loaded, then the old ones drain.
    caf::replies_to<deploy_atom, std::string>::with<server_status>,
    // admin -> server: drop every replica (requests get unavailable until a deploy).
    caf::replies_to<unload_atom>::with<server_status>,
    // loop -> server: run version REF beside the deployed one on a replica of its own and send
    // it SHARE of the requests that name no version; share 0 (or ref "") ends the canary, whose
    // replica drains. Promotion is an alias move: the server then deploys the version as usual.
    caf::replies_to<canary_atom, std::string, double>::with<server_status>,
    // registry -> server: an alias moved (followed when it is the server's alias).
    caf::reacts_to<alias_atom, alias_event>,
    // server -> itself: a replica's batch deadline; a failed deploy's retry; find the registry
    // again and watch it (it went down; its node restarts it).
    caf::reacts_to<tick_atom, uint64_t>, caf::reacts_to<retry_atom, std::string>,
    caf::reacts_to<watch_atom>>;

} // namespace llmos
