#include "model/progress_text.hpp"

#include <cstdio>

namespace llmos::model {

std::string step_line(const step_report& r, int64_t samples, double seconds, int64_t max_steps,
                      bool lm) {
  const double sps = seconds > 0 ? static_cast<double>(samples) / seconds : 0.0;
  const double eta =
      r.step > 0 ? seconds * static_cast<double>(max_steps - r.step) / static_cast<double>(r.step)
                 : 0.0;
  char buf[128];
  // A language model's samples are the tokens it predicts.
  std::snprintf(buf, sizeof buf, "loss %.4f lr %.5f | %.0f %s/s | ETA %.0f s", r.loss, r.lr, sps,
                lm ? "tokens" : "samples", eta);
  return buf;
}

std::string eval_line(const eval_report& r) {
  char buf[128];
  if (r.perplexity > 0)
    std::snprintf(buf, sizeof buf, "val loss %.4f perplexity %.3f", r.loss, r.perplexity);
  else
    std::snprintf(buf, sizeof buf, "val loss %.4f accuracy %.4f macro-F1 %.4f", r.loss,
                  r.metrics.accuracy, r.metrics.macro_f1);
  return buf;
}

} // namespace llmos::model
