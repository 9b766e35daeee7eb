#include "monitor/core/sample.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>

namespace llmos::monitor {

namespace {

label_set labels_of(const prometheus::ClientMetric& metric) {
  label_set labels;
  for (const auto& l : metric.label)
    labels[l.name] = l.value;
  return labels;
}

label_set with(label_set labels, const std::string& name, const std::string& value) {
  labels[name] = value;
  return labels;
}

} // namespace

std::string format_bound(double value) {
  if (std::isinf(value))
    return value > 0 ? "+Inf" : "-Inf";
  if (std::isnan(value))
    return "NaN";
  // Shortest text that reads back to the same double, so le="0.1" and not "0.10000000000000001".
  char text[32];
  auto [end, ec] = std::to_chars(text, text + sizeof text, value);
  return ec == std::errc{} ? std::string(text, end) : std::to_string(value);
}

std::vector<sample> samples_from(const std::vector<prometheus::MetricFamily>& families) {
  std::vector<sample> out;
  for (const auto& family : families) {
    const auto& name = family.name;
    for (const auto& m : family.metric) {
      auto labels = labels_of(m);
      switch (family.type) {
      case prometheus::MetricType::Counter:
        out.push_back({name, labels, m.counter.value});
        break;
      case prometheus::MetricType::Gauge:
        out.push_back({name, labels, m.gauge.value});
        break;
      case prometheus::MetricType::Untyped:
        out.push_back({name, labels, m.untyped.value});
        break;
      case prometheus::MetricType::Histogram:
        for (const auto& b : m.histogram.bucket)
          out.push_back({name + "_bucket", with(labels, "le", format_bound(b.upper_bound)),
                         static_cast<double>(b.cumulative_count)});
        out.push_back({name + "_sum", labels, m.histogram.sample_sum});
        out.push_back({name + "_count", labels, static_cast<double>(m.histogram.sample_count)});
        break;
      case prometheus::MetricType::Summary:
        for (const auto& q : m.summary.quantile)
          out.push_back({name, with(labels, "quantile", format_bound(q.quantile)), q.value});
        out.push_back({name + "_sum", labels, m.summary.sample_sum});
        out.push_back({name + "_count", labels, static_cast<double>(m.summary.sample_count)});
        break;
      }
    }
  }
  return out;
}

bool labels_match(const label_set& labels, const label_set& wanted) {
  return std::all_of(wanted.begin(), wanted.end(), [&](const auto& w) {
    auto i = labels.find(w.first);
    return i != labels.end() && i->second == w.second;
  });
}

std::optional<double> histogram_quantile(double q, std::vector<std::pair<double, double>> buckets) {
  if (!(q >= 0 && q <= 1))
    return std::nullopt;
  std::sort(buckets.begin(), buckets.end());
  if (buckets.empty() || !std::isinf(buckets.back().first) || buckets.back().first < 0)
    return std::nullopt;
  // Equal bounds (from series that were not summed by le) count once, with their counts added.
  std::vector<std::pair<double, double>> merged;
  for (const auto& b : buckets) {
    if (!merged.empty() && merged.back().first == b.first)
      merged.back().second += b.second;
    else
      merged.push_back(b);
  }
  // Scrapes of several series are not atomic, so a later bucket can read lower than an earlier
  // one; cumulative counts never fall, so raise them (as Prometheus does) instead of failing.
  for (std::size_t i = 1; i < merged.size(); ++i)
    merged[i].second = std::max(merged[i].second, merged[i - 1].second);
  if (merged.size() < 2)
    return std::nullopt;
  const double observations = merged.back().second;
  if (!(observations > 0))
    return std::nullopt;
  double rank = q * observations;
  const std::size_t last = merged.size() - 1;
  std::size_t b = 0;
  while (b < last && merged[b].second < rank)
    ++b;
  if (b == last)
    return merged[last - 1].first;
  if (b == 0 && merged[0].first <= 0)
    return merged[0].first;
  double start = 0;
  double count = merged[b].second;
  if (b > 0) {
    start = merged[b - 1].first;
    count -= merged[b - 1].second;
    rank -= merged[b - 1].second;
  }
  return start + (merged[b].first - start) * (rank / count);
}

std::optional<double> quantile_of(const std::vector<sample>& samples, const std::string& metric,
                                  const label_set& wanted, double q) {
  const std::string bucket_name = metric + "_bucket";
  std::vector<std::pair<double, double>> buckets;
  for (const auto& s : samples) {
    if (s.name != bucket_name || !labels_match(s.labels, wanted))
      continue;
    auto le = s.labels.find("le");
    if (le == s.labels.end())
      continue;
    // strtod reads "+Inf" as infinity, the way the text format spells it.
    char* end = nullptr;
    const double bound = std::strtod(le->second.c_str(), &end);
    if (end == le->second.c_str() || *end != '\0')
      continue;
    buckets.emplace_back(bound, s.value);
  }
  // histogram_quantile merges equal bounds, which is the sum over series by le.
  return histogram_quantile(q, std::move(buckets));
}

} // namespace llmos::monitor
