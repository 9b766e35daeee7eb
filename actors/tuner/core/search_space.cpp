#include "tuner/core/search_space.hpp"

#include "llmos/messages/enum_names.hpp"
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace llmos::tuner {

namespace {

/// A real in [0, 1) from the top 53 bits. std::uniform_real_distribution is left to each
/// standard library, and a study must draw the same points wherever it is resumed.
double unit_real(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

/// splitmix64's finaliser: spreads neighbouring inputs (trial 0, 1, 2) over the whole range.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/// Shortest text that reads back as `value`, for bounds the user wrote.
std::string exact_text(double value) {
  char text[32];
  auto [end, ec] = std::to_chars(text, text + sizeof text, value);
  return ec == std::errc{} ? std::string(text, end) : std::to_string(value);
}

/// format_real(value), but never outside [low, high]: rounding to six digits may step past a
/// bound written with more digits, and a trial must not run a value the user excluded.
std::string bounded_text(double value, double low, double high) {
  auto text = format_real(value);
  const double back = std::strtod(text.c_str(), nullptr);
  if (back < low)
    return exact_text(low);
  if (back > high)
    return exact_text(high);
  return text;
}

std::string integer_text(double value) {
  return std::to_string(std::llround(value));
}

/// A point `t` in [0, 1] of the way from low to high, on the parameter's own scale.
double between(const param_spec& p, double t) {
  if (p.type == param_type::log_uniform) {
    // exp(log(x)) need not give x back; the ends must be the bounds exactly.
    if (t <= 0)
      return p.low;
    if (t >= 1)
      return p.high;
    return std::exp(std::log(p.low) + t * (std::log(p.high) - std::log(p.low)));
  }
  return p.low + t * (p.high - p.low);
}

} // namespace

constexpr enum_name<param_type> type_names[] = {{param_type::uniform, "uniform"},
                                                {param_type::log_uniform, "log_uniform"},
                                                {param_type::integer, "integer"},
                                                {param_type::choice, "choice"}};

std::string to_string(param_type type) {
  return std::string{name_of(type_names, type, "?")};
}

std::string format_real(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", value);
  return text;
}

assignment sample(const search_space& space, std::mt19937_64& rng) {
  assignment point;
  for (const auto& p : space.params) {
    const double u = unit_real(rng);
    switch (p.type) {
    case param_type::uniform:
    case param_type::log_uniform:
      point[p.name] = bounded_text(between(p, u), p.low, p.high);
      break;
    case param_type::integer: {
      const auto low = std::llround(p.low);
      const auto count = std::llround(p.high) - low + 1;
      const auto offset =
          std::min(static_cast<long long>(u * static_cast<double>(count)), count - 1);
      point[p.name] = std::to_string(low + offset);
      break;
    }
    case param_type::choice: {
      const auto count = p.choices.size();
      const auto index =
          std::min(static_cast<std::size_t>(u * static_cast<double>(count)), count - 1);
      point[p.name] = p.choices.at(index);
      break;
    }
    }
  }
  return point;
}

assignment sample_nth(const search_space& space, uint64_t seed, uint64_t n) {
  std::mt19937_64 rng{mix(mix(seed) ^ n)};
  return sample(space, rng);
}

std::vector<std::string> grid_values(const param_spec& param, int points) {
  if (param.type == param_type::choice)
    return param.choices;
  const int count = std::max(points, 1);
  std::vector<std::string> values;
  for (int i = 0; i < count; ++i) {
    const double t = count == 1 ? 0.5 : static_cast<double>(i) / (count - 1);
    const double value = between(param, t);
    auto text = param.type == param_type::integer ? integer_text(value)
                                                  : bounded_text(value, param.low, param.high);
    // Rounding to whole numbers merges neighbours of a narrow integer range; values rise, so
    // a repeat can only be the previous one.
    if (values.empty() || values.back() != text)
      values.push_back(std::move(text));
  }
  return values;
}

std::vector<assignment> grid(const search_space& space, int points) {
  std::vector<assignment> result{assignment{}};
  for (const auto& p : space.params) {
    const auto values = grid_values(p, points);
    std::vector<assignment> next;
    next.reserve(result.size() * values.size());
    for (const auto& partial : result)
      for (const auto& value : values) {
        next.push_back(partial);
        next.back()[p.name] = value;
      }
    result = std::move(next);
  }
  return result;
}

uint64_t grid_size(const search_space& space, int points) {
  constexpr auto most = std::numeric_limits<uint64_t>::max();
  uint64_t size = 1;
  for (const auto& p : space.params) {
    const uint64_t n = grid_values(p, points).size();
    if (n != 0 && size > most / n)
      return most;
    size *= n;
  }
  return size;
}

} // namespace llmos::tuner
