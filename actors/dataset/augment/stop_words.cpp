#include "dataset/augment/stop_words.hpp"

#include <fstream>

#include <nlohmann/json.hpp>

#include "dataset/augment/thesaurus.hpp"
#include "dataset/data_dir.hpp"
#include "llmos/messages/error.hpp"

namespace llmos::dataset {

caf::expected<stop_words> stop_words::load(const std::string& path, const std::string& lang) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return make_llmos_error(error_code::io_failed, "cannot open stop-word list '" + path +
                                                       "'; run tools/setup/setup.sh to install it");
  auto doc = nlohmann::json::parse(in, nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    return make_llmos_error(error_code::io_failed,
                            path + ": not a JSON object mapping languages to word lists");
  auto it = doc.find(lang);
  if (it == doc.end() || !it->is_array())
    return make_llmos_error(error_code::bad_config,
                            path + ": no stop-word list for language '" + lang + "'");
  stop_words sw;
  for (const auto& w : *it)
    if (w.is_string())
      sw.words_.insert(ascii_lower(w.get<std::string>()));
  return sw;
}

caf::expected<stop_words> stop_words::load_default(const std::string& lang) {
  auto path = data_path(stop_words_relative_path);
  if (path.empty())
    return make_llmos_error(error_code::io_failed,
                            "stop-word list not found at '" + data_dir() + "/" +
                                stop_words_relative_path +
                                "'; run tools/setup/setup.sh (or set LLMOS_DATA_DIR)");
  return load(path, lang);
}

stop_words stop_words::from_words(const std::vector<std::string>& words) {
  stop_words sw;
  for (const auto& w : words)
    sw.words_.insert(ascii_lower(w));
  return sw;
}

bool stop_words::contains(std::string_view word) const {
  return words_.count(ascii_lower(word)) > 0;
}

} // namespace llmos::dataset
