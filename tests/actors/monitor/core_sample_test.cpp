// Samples from a real prometheus::Registry, and histogram quantiles over its buckets checked
// against hand-computed interpolations.
#include <cmath>

#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/summary.h>

#include "monitor/core/sample.hpp"

namespace {

using llmos::monitor::histogram_quantile;
using llmos::monitor::label_set;
using llmos::monitor::quantile_of;
using llmos::monitor::sample;
using llmos::monitor::samples_from;

const sample* find(const std::vector<sample>& samples, const std::string& name,
                   const label_set& labels) {
  for (const auto& s : samples)
    if (s.name == name && s.labels == labels)
      return &s;
  return nullptr;
}

TEST(samples, from_every_metric_type) {
  prometheus::Registry registry;
  prometheus::BuildCounter()
      .Name("requests_total")
      .Register(registry)
      .Add({{"m", "a"}})
      .Increment(3);
  prometheus::BuildGauge().Name("queue_length").Register(registry).Add({}).Set(7);
  auto& h = prometheus::BuildHistogram()
                .Name("latency_seconds")
                .Register(registry)
                .Add({{"m", "a"}}, prometheus::Histogram::BucketBoundaries{0.1, 1});
  h.Observe(0.05);
  h.Observe(0.5);
  h.Observe(2);
  auto& s = prometheus::BuildSummary()
                .Name("size_bytes")
                .Register(registry)
                .Add({}, prometheus::Summary::Quantiles{{0.5, 0.05}});
  s.Observe(10);

  const auto samples = samples_from(registry.Collect());
  auto value = [&](const std::string& name, const label_set& labels) {
    const auto* found = find(samples, name, labels);
    EXPECT_TRUE(found) << name;
    return found ? found->value : std::nan("");
  };
  EXPECT_EQ(value("requests_total", {{"m", "a"}}), 3);
  EXPECT_EQ(value("queue_length", {}), 7);
  EXPECT_EQ(value("latency_seconds_bucket", {{"m", "a"}, {"le", "0.1"}}), 1);
  EXPECT_EQ(value("latency_seconds_bucket", {{"m", "a"}, {"le", "1"}}), 2);
  EXPECT_EQ(value("latency_seconds_bucket", {{"m", "a"}, {"le", "+Inf"}}), 3);
  EXPECT_DOUBLE_EQ(value("latency_seconds_sum", {{"m", "a"}}), 2.55);
  EXPECT_EQ(value("latency_seconds_count", {{"m", "a"}}), 3);
  EXPECT_EQ(value("size_bytes", {{"quantile", "0.5"}}), 10);
  EXPECT_EQ(value("size_bytes_count", {}), 1);
  EXPECT_EQ(value("size_bytes_sum", {}), 10);
}

TEST(samples, histogram_quantile_of_a_collected_histogram) {
  prometheus::Registry registry;
  auto& family = prometheus::BuildHistogram().Name("lat").Register(registry);
  auto& a = family.Add({{"model", "a"}}, prometheus::Histogram::BucketBoundaries{0.1, 0.2, 0.5, 1});
  // Cumulative: le 0.1 -> 2, 0.2 -> 5, 0.5 -> 9, 1 -> 10, +Inf -> 10.
  for (double v : {0.05, 0.05, 0.15, 0.15, 0.15, 0.3, 0.3, 0.3, 0.3, 0.8})
    a.Observe(v);
  const auto samples = samples_from(registry.Collect());
  auto q = [&](double quantile) { return quantile_of(samples, "lat", {}, quantile); };
  // rank 5 is the top of the (0.1, 0.2] bucket.
  ASSERT_TRUE(q(0.5));
  EXPECT_NEAR(*q(0.5), 0.2, 1e-12);
  // rank 7 is 2 of the 4 observations in (0.2, 0.5]: 0.2 + 0.3 * 2/4; the true p70 (0.3) lies
  // in the same bucket.
  EXPECT_NEAR(*q(0.7), 0.35, 1e-12);
  EXPECT_GT(*q(0.7), 0.2);
  EXPECT_LE(*q(0.7), 0.5);
  // rank 9.9 is 0.9 of the one observation in (0.5, 1].
  EXPECT_NEAR(*q(0.99), 0.95, 1e-12);
  // rank 1 is half of the first bucket, which starts at 0.
  EXPECT_NEAR(*q(0.1), 0.05, 1e-12);
  EXPECT_FALSE(quantile_of(samples, "lat", {{"model", "b"}}, 0.5)) << "no series matches";
  EXPECT_FALSE(quantile_of(samples, "nothing", {}, 0.5));
}

TEST(samples, histogram_quantile_sums_series_and_caps_at_the_highest_bound) {
  prometheus::Registry registry;
  auto& family = prometheus::BuildHistogram().Name("lat").Register(registry);
  const prometheus::Histogram::BucketBoundaries bounds{1, 2};
  family.Add({{"model", "a"}}, bounds).Observe(0.5);
  family.Add({{"model", "b"}}, bounds).Observe(1.5);
  family.Add({{"model", "b"}}, bounds).Observe(1.5);
  family.Add({{"model", "b"}}, bounds).Observe(9);
  const auto samples = samples_from(registry.Collect());
  // Summed by le: 1 -> 1, 2 -> 3, +Inf -> 4. Rank 2 of 4 is half of (1, 2].
  EXPECT_NEAR(*quantile_of(samples, "lat", {}, 0.5), 1.5, 1e-12);
  // Model b alone: 1 -> 0, 2 -> 2, +Inf -> 3; rank 1.5 is 3/4 of (1, 2].
  EXPECT_NEAR(*quantile_of(samples, "lat", {{"model", "b"}}, 0.5), 1.75, 1e-12);
  // A rank in the +Inf bucket is answered by the highest finite bound.
  EXPECT_EQ(*quantile_of(samples, "lat", {{"model", "b"}}, 1.0), 2.0);
}

TEST(samples, histogram_quantile_refuses_what_prometheus_refuses) {
  EXPECT_FALSE(histogram_quantile(0.5, {}));
  EXPECT_FALSE(histogram_quantile(0.5, {{1, 3}, {2, 5}})) << "no +Inf bucket";
  EXPECT_FALSE(histogram_quantile(0.5, {{1, 0}, {INFINITY, 0}})) << "no observations";
  EXPECT_FALSE(histogram_quantile(1.5, {{1, 1}, {INFINITY, 1}}));
  // Out-of-order input and a count that dips (a torn scrape) are repaired, as in Prometheus.
  auto q = histogram_quantile(0.5, {{INFINITY, 4}, {2, 3}, {1, 4}});
  ASSERT_TRUE(q);
  EXPECT_NEAR(*q, 0.5, 1e-12);
}

} // namespace
