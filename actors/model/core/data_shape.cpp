#include "model/core/data_shape.hpp"

namespace llmos::model {

data_shape shape_from_report(const nlohmann::json& report) {
  data_shape d;
  if (auto it = report.find("tokenizer"); it != report.end() && it->is_object()) {
    d.vocab_size = it->value("vocab_size", int64_t{0});
    d.pad_id = it->value("pad_id", int64_t{0});
    d.bos_id = it->value("bos_id", int64_t{-1});
    d.eos_id = it->value("eos_id", int64_t{-1});
  }
  if (auto it = report.find("labels"); it != report.end() && it->is_object()) {
    int64_t n = 0;
    for (auto& [label, count] : it->items())
      if (!label.empty())
        ++n;
    d.num_classes = n;
  }
  return d;
}

} // namespace llmos::model
