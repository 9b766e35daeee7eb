// The registry conversation: trained models become numbered versions on disk (weights, spec,
// tokenizer, metrics, lineage) with aliases such as `production` that move atomically. Servers
// fetch a version's package and follow alias moves through a watch.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "llmos/messages/field.hpp"
#include "llmos/messages/type_ids.hpp"

namespace llmos {

/// A model version's artefacts as bytes (they cross nodes: a registry may live elsewhere).
struct model_package {
  std::string weights;   ///< a model checkpoint file (engine::save)
  std::string tokenizer; ///< the data set's serialized tokenizer; "" for image models
  std::string spec;      ///< model spec YAML
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, model_package& x) {
  return f(caf::meta::type_name("model_package"), field("weights"), x.weights, field("tokenizer"),
           x.tokenizer, field("spec"), x.spec);
}

/// Publishes a new version of model `name`.
struct publish_request {
  std::string name;
  model_package package;
  std::string metrics = "{}"; ///< JSON object, e.g. the last evaluation
  std::string lineage = "{}"; ///< JSON object: dataset_version, hyper_parameters, parent, ...
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, publish_request& x) {
  return f(caf::meta::type_name("publish_request"), field("name"), x.name, field("package"),
           x.package, json_field("metrics"), x.metrics, json_field("lineage"), x.lineage);
}

/// Imports pretrained weights from a file on the registry's node as version 1 of a new model
/// (or the next version of an existing one).
struct import_request {
  std::string name;
  std::string format;    ///< "llama2c", "gguf" or "safetensors"
  std::string path;      ///< the checkpoint / GGUF file, or the Hugging Face folder
  std::string tokenizer; ///< llama2c: its tokenizer.bin ("" = the one beside the checkpoint)
  std::string note;      ///< goes to the lineage
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, import_request& x) {
  return f(caf::meta::type_name("import_request"), field("name"), x.name, field("format"), x.format,
           field("path"), x.path, field("tokenizer"), x.tokenizer, field("note"), x.note);
}

/// One stored version as listed.
struct model_version {
  std::string name;
  uint32_t version = 0;
  std::string created; ///< ISO-8601 UTC
  std::string metrics; ///< JSON
  std::string lineage; ///< JSON
  uint64_t weights_bytes = 0;
  std::vector<std::string> aliases; ///< aliases pointing here
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, model_version& x) {
  return f(caf::meta::type_name("model_version"), field("name"), x.name, field("version"),
           x.version, field("created"), x.created, json_field("metrics"), x.metrics,
           json_field("lineage"), x.lineage, field("weights_bytes"), x.weights_bytes,
           field("aliases"), x.aliases);
}

/// Sent to watchers as (alias_atom, alias_event) whenever an alias is set or removed.
struct alias_event {
  std::string name;
  std::string alias;
  uint32_t version = 0; ///< 0 = removed
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, alias_event& x) {
  return f(caf::meta::type_name("alias_event"), field("name"), x.name, field("alias"), x.alias,
           field("version"), x.version);
}

using registry_actor = caf::typed_actor<
    // client -> registry: store a new version (written atomically); bad_params for a bad name
    // or JSON, io_failed for the disk.
    caf::replies_to<publish_atom, publish_request>::with<model_version>,
    // client -> registry: every version of a model ("" = of every model), oldest first.
    caf::replies_to<list_atom, std::string>::with<std::vector<model_version>>,
    // client -> registry: a version by reference ("3", "v3", "latest" or an alias); not_found.
    caf::replies_to<resolve_atom, std::string, std::string>::with<model_version>,
    // server -> registry: a version's artefacts (weights checksum verified).
    caf::replies_to<fetch_atom, std::string, uint32_t>::with<model_package>,
    // client -> registry: point alias at a version (atomic; watchers are told).
    caf::replies_to<alias_atom, std::string, std::string, uint32_t>::with<model_version>,
    // client -> registry: delete a version; refused while an alias points at it.
    caf::replies_to<delete_atom, std::string, uint32_t>::with<bool>,
    // client -> registry: write a version as FORMAT ("torchscript", "onnx" for bag and cnn;
    // "gguf", "gguf-f16", "gguf-q8_0", "llama2c" for llama) into its folder and answer the
    // file's path; bad_params names an unsupported format.
    caf::replies_to<export_atom, std::string, uint32_t, std::string>::with<std::string>,
    // client -> registry: read pretrained weights (llama2c, gguf, safetensors) and publish them
    // as a new version whose lineage names the source file and its sha256. The file's refusal
    // (bad_config naming file and tensor) leaves no version behind.
    caf::replies_to<import_atom, import_request>::with<model_version>,
    // server -> registry: send (alias_atom, alias_event) on every alias change.
    caf::reacts_to<watch_atom, caf::actor>>;

} // namespace llmos
