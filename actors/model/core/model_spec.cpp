#include "model/core/model_spec.hpp"

#include <stdexcept>

#include "llmos/messages/error.hpp"
#include "llmos/runtime/suggest.hpp"
#include "llmos/runtime/yaml_fields.hpp"
#include "model/core/spec_fields.hpp"

namespace llmos::model {

using namespace yaml_fields;

namespace {

const std::vector<std::string> sections{"hyper", "lora", "train"};

const spec_fields::field& field_at(const std::string& section, const std::string& key) {
  for (const auto& f : spec_fields::all())
    if (f.section == section && f.key == key)
      return f;
  // read_map only lets through keys that keys_of(section) listed.
  throw std::logic_error{"model spec: no field " + section + "." + key};
}

class spec_parser {
public:
  model_spec parse(const YAML::Node& root) {
    const std::string kinds = join_words(known_architectures());
    if (!root.IsMap())
      refuse(line_of(root), "a model file is a map with at least 'model: NAME' and "
                            "'architecture: KIND' (" +
                                kinds + ")");
    std::vector<std::string> top_keys = spec_fields::keys_of("");
    top_keys.insert(top_keys.end(), sections.begin(), sections.end());
    auto top = read_map(root, top_keys, "the model file");
    if (!get(top, "model"))
      refuse(1, "missing 'model: NAME' (the model's name, used to address it)");
    if (!get(top, "architecture"))
      refuse(1, "missing 'architecture: KIND' (one of: " + kinds + ")");
    model_spec spec;
    read_field(spec, "", *get(top, "model"));
    read_field(spec, "", *get(top, "architecture"));
    if (const auto* tmpl = get(top, "chat_template"))
      read_field(spec, "", *tmpl);
    for (const auto& section : sections) {
      const auto* e = get(top, section);
      if (e == nullptr)
        continue;
      const auto keys = spec_fields::keys_of(section);
      if (!e->value.IsMap())
        refuse(e->line, "'" + section + "' must be a map of key: value (keys: " + join_words(keys) +
                            "), but it is " + kind_of(e->value));
      for (const auto& [key, value] : read_map(e->value, keys, "'" + section + "'"))
        read_field(spec, section, value);
    }
    if (auto c = spec_fields::check_spec(spec))
      refuse(line_for(c->fields), c->what);
    return spec;
  }

private:
  void read_field(model_spec& spec, const std::string& section, const entry& e) {
    const auto& f = field_at(section, e.key);
    f.read(spec, e);
    lines_[f.name] = e.line;
  }

  /// The line of the first of `fields` written in the file (the others took their defaults).
  int line_for(const std::vector<std::string>& fields) const {
    for (const auto& name : fields)
      if (auto i = lines_.find(name); i != lines_.end())
        return i->second;
    return 1;
  }

  std::map<std::string, int> lines_;
};

/// What is wrong with `spec` as a whole, or "": every field read back through its own reader
/// (a spec built in code never met the parser) and then the checks between fields.
std::string first_problem(const model_spec& spec) {
  try {
    model_spec scratch;
    for (const auto& f : spec_fields::all())
      f.read(scratch, entry{f.name, 0, YAML::Load(f.print(spec))});
    if (auto c = spec_fields::check_spec(spec))
      return c->what;
    return {};
  } catch (const refusal& r) {
    return r.what;
  } catch (const std::exception& e) {
    return e.what();
  }
}

} // namespace

bool is_language_model(const std::string& architecture) {
  return architecture == "gpt" || architecture == "llama";
}

const std::vector<std::string>& known_architectures() {
  static const std::vector<std::string> kinds{"bag", "bilstm", "transformer",
                                              "gpt", "llama",  "cnn"};
  return kinds;
}

caf::expected<model_spec> parse_model_spec(const std::string& yaml_text, const std::string& where) {
  return parse_guarded(yaml_text, where,
                       [](const YAML::Node& root) { return spec_parser{}.parse(root); });
}

caf::expected<model_spec> load_model_spec(const std::string& path) {
  return load_file(path, "model", parse_model_spec);
}

caf::expected<model_spec> apply_overrides(model_spec spec,
                                          const std::map<std::string, std::string>& overrides) {
  const std::string model = "model '" + spec.name + "'";
  std::string applied;
  for (const auto& [raw_key, raw_value] : overrides) {
    const auto key = trim(raw_key);
    const auto value = trim(raw_value);
    const auto* f = spec_fields::by_name(key);
    if (f == nullptr) {
      return make_llmos_error(error_code::bad_params,
                              model + ": unknown override '" + key + "'; " +
                                  did_you_mean(key, spec_fields::names()) +
                                  "(known: " + join_words(spec_fields::names()) + ")");
    }
    try {
      // The text as it stands: a YAML node built from it, not parsed, so "#" or ":" in a value
      // reach the field's reader unchanged.
      f->read(spec, entry{key, 0, YAML::Node(value)});
    } catch (const refusal& r) {
      return make_llmos_error(error_code::bad_params,
                              model + ": override " + key + "=" + value + ": " + r.what);
    }
    applied += (applied.empty() ? "" : ", ") + key + "=" + value;
  }
  if (auto problem = first_problem(spec); !problem.empty())
    return make_llmos_error(error_code::bad_params,
                            model + (applied.empty() ? "" : " with " + applied) + ": " + problem);
  return spec;
}

std::string to_yaml(const model_spec& spec) {
  std::string out;
  std::string section;
  for (const auto& f : spec_fields::all()) {
    const auto value = f.print(spec);
    if (value.empty()) // unset optional text (chat_template)
      continue;
    if (f.section != section) {
      section = f.section;
      out += section + ":\n";
    }
    out += (section.empty() ? "" : "  ") + f.key + ": " + value + "\n";
  }
  return out;
}

} // namespace llmos::model
