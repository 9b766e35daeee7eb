// The model conversation: a model actor holds one replica of a network (spec in YAML) and runs
// every piece of its compute as jobs on a device actor of its node. It trains from a dataset
// actor's batch stream (credit-based), evaluates, infers, generates (tokens streamed back as
// messages), checkpoints, fine-tunes and quantises.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "llmos/messages/device.hpp"
#include "llmos/messages/field.hpp"
#include "llmos/messages/registry.hpp"
#include "llmos/messages/type_ids.hpp"

namespace llmos {

/// Starts a training (or fine-tuning) run.
struct train_request {
  caf::actor dataset;                           ///< streams "train", answers "validation"
  std::map<std::string, std::string> overrides; ///< spec fields, e.g. lr=0.001, max_steps=200
  std::string fine_tune;  ///< "" (train), "head" (new head, frozen backbone), "lora" or "full"
  std::string checkpoint; ///< written at every evaluation and at the end; "" = none
  bool resume = false;    ///< continue from `checkpoint`: weights, optimizer, step, data cursor
  caf::actor subscriber;  ///< receives (progress_atom, progress_event); may be null
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, train_request& x) {
  return f(caf::meta::type_name("train_request"), x.dataset, field("overrides"), x.overrides,
           field("fine_tune"), x.fine_tune, field("checkpoint"), x.checkpoint, field("resume"),
           x.resume, x.subscriber);
}

/// How a run ended.
struct train_report {
  std::string model;
  int64_t steps = 0;
  double loss = 0.0;      ///< mean of the last evaluation window's training losses
  std::string evaluation; ///< last evaluation as JSON (accuracy, macro-F1, confusion / perplexity)
  bool stopped_early = false;
  double seconds = 0.0;
  double samples_per_second = 0.0;
  bool preempted = false; ///< ended early by stop_atom, after a checkpoint (resume continues)
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, train_report& x) {
  return f(caf::meta::type_name("train_report"), field("model"), x.model, field("steps"), x.steps,
           field("loss"), x.loss, json_field("evaluation"), x.evaluation, field("stopped_early"),
           x.stopped_early, field("seconds"), x.seconds, field("samples_per_second"),
           x.samples_per_second, field("preempted"), x.preempted);
}

/// Generation parameters; tokens go to `subscriber` as (token_atom, request, token).
struct generate_request {
  std::vector<int32_t> prompt;
  uint32_t max_tokens = 32;
  double temperature = 1.0; ///< 0 = greedy
  int64_t top_k = 0;
  double top_p = 1.0;
  uint64_t seed = 1;
  uint64_t request = 0; ///< echoed in token messages; names the request to cancel it
  caf::actor subscriber;
  int32_t priority = 0;          ///< higher is served first and preempts lower when memory runs out
  double presence_penalty = 0.0; ///< OpenAI's, over the tokens generated so far
  double frequency_penalty = 0.0;   ///< OpenAI's, over the tokens generated so far
  std::vector<int32_t> bias_tokens; ///< logit_bias: these tokens' logits get
  std::vector<double> bias_values;  ///< these values added (same length)
  /// >= 0: before each token message the subscriber gets (logprob_atom, request, JSON
  /// {"token": id, "logprob": lp, "top": [[id, lp], ...]}) with this many alternatives (llama
  /// models batching continuously; others refuse).
  int32_t logprobs = -1;
  /// A fine-tune loaded with (adapter_atom, NAME, PATH): generate under its adapters over the
  /// model's weights ("" = the model itself). Llama models batching continuously.
  std::string adapter;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, generate_request& x) {
  return f(caf::meta::type_name("generate_request"), field("prompt"), x.prompt, field("max_tokens"),
           x.max_tokens, field("temperature"), x.temperature, field("top_k"), x.top_k,
           field("top_p"), x.top_p, field("seed"), x.seed, field("request"), x.request,
           x.subscriber, field("priority"), x.priority, field("presence_penalty"),
           x.presence_penalty, field("frequency_penalty"), x.frequency_penalty,
           field("bias_tokens"), x.bias_tokens, field("bias_values"), x.bias_values,
           field("logprobs"), x.logprobs, field("adapter"), x.adapter);
}

/// One generation a replica holds (`sequences`): the request it serves and where it stands.
struct sequence_row {
  uint64_t request = 0;
  int32_t priority = 0;
  std::string state;   ///< queued, admitting, waiting (prompt filling), running, preempted, swapped
  uint32_t tokens = 0; ///< prompt and generated
  uint32_t generated = 0;
  uint32_t blocks = 0; ///< KV cache blocks held
  std::string replica; ///< filled in by the server: which replica
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, sequence_row& x) {
  return f(caf::meta::type_name("sequence_row"), field("id"), x.request, field("priority"),
           x.priority, field("state"), x.state, field("tokens"), x.tokens, field("generated"),
           x.generated, field("kv_blocks"), x.blocks, field("replica"), x.replica);
}

struct prediction_item {
  std::string label;
  double confidence = 0.0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, prediction_item& x) {
  return f(caf::meta::type_name("prediction_item"), field("label"), x.label, field("confidence"),
           x.confidence);
}

struct model_info {
  std::string name;
  std::string architecture;
  std::string device;
  int64_t step = 0;
  int64_t parameters = 0;
  bool quantized = false;
  bool training = false;
  std::vector<std::string> labels;
  std::string spec;                  ///< YAML
  std::string evaluation;            ///< the last run's final evaluation (JSON); "" before any run
  std::vector<double> losses;        ///< training loss every 10 steps of the current or last run
  std::vector<std::string> adapters; ///< fine-tunes served as adapters over the weights
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, model_info& x) {
  return f(caf::meta::type_name("model_info"), field("name"), x.name, field("architecture"),
           x.architecture, field("device"), x.device, field("step"), x.step, field("parameters"),
           x.parameters, field("quantized"), x.quantized, field("training"), x.training,
           field("labels"), x.labels, field("spec"), x.spec, json_field("evaluation"), x.evaluation,
           field("losses"), x.losses, field("adapters"), x.adapters);
}

using model_actor = caf::typed_actor<
    caf::replies_to<info_atom>::with<model_info>,
    // client -> model: train or fine-tune; answered when the run ends. Fails bad_params (spec
    // overrides, a run already going), bad_config (data does not fit the architecture),
    // kernel_failed (NaN loss, with the step).
    caf::replies_to<train_atom, train_request>::with<train_report>,
    // scheduler -> model: preempt the run: checkpoint after the step in flight (when the run
    // has a checkpoint path) and answer the train request with preempted = true. Answers
    // whether a run was going.
    caf::replies_to<stop_atom>::with<bool>,
    // client -> model: evaluate on a split of a dataset; JSON metrics.
    caf::replies_to<evaluate_atom, caf::actor, std::string>::with<std::string>,
    // client -> model: classify rows (i32 token ids [B, T] or u8 pixels [B, H, W]).
    caf::replies_to<infer_atom, tensor_bytes>::with<std::vector<prediction_item>>,
    // client -> model: continue a prompt; answers all tokens, streams each as it is made.
    caf::replies_to<generate_atom, generate_request>::with<std::vector<int32_t>>,
    // client -> model: end the generation of request ID (its generate is answered with the
    // tokens made so far; false when it holds none), raise or lower its priority, or list the
    // generations it holds.
    caf::replies_to<cancel_atom, uint64_t>::with<bool>,
    caf::replies_to<priority_atom, uint64_t, int32_t>::with<bool>,
    caf::replies_to<sequences_atom>::with<std::vector<sequence_row>>,
    // client -> model: checkpoint to / restore from a path.
    caf::replies_to<save_atom, std::string>::with<std::string>,
    caf::replies_to<load_atom, std::string>::with<model_info>,
    // client -> model: serve the LoRA fine-tune checkpointed at PATH as adapters NAME over the
    // loaded weights (generate_request::adapter); refused when it is not adapters of them. A
    // later load drops every adapter.
    caf::replies_to<adapter_atom, std::string, std::string>::with<model_info>,
    // coordinator -> model: become rank RANK of WORLD data-parallel replicas. Rank 0 hosts the
    // rendezvous store on PORT (0 = any) and answers the port it bound; the coordinator then
    // tells the other ranks (store host, that port). BIND is the address this replica's Gloo
    // pairs listen on ("" = HOST). BACKEND is "auto" (or ""; NCCL when every rank has a GPU of
    // its own, else Gloo), "nccl" or "gloo"; ranks that ask differently are refused at the first
    // step. Training then streams shard RANK of WORLD and averages gradients every optimizer step.
    caf::replies_to<dp_join_atom, uint32_t, uint32_t, std::string, uint16_t, std::string,
                    std::string>::with<uint16_t>,
    // client -> model: int8 linear layers for inference.
    caf::replies_to<quantize_atom>::with<model_info>,
    // registry publisher -> model: the weights (a checkpoint's bytes) and spec as a package; the
    // tokenizer is the data set's and is filled in by the publisher.
    caf::replies_to<export_atom>::with<model_package>,
    // dataset -> model: a training batch of the current stream.
    caf::reacts_to<batch_atom, data_batch>>;

} // namespace llmos
