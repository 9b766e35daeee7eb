#include "dataset/readers/http_reader.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <httplib.h>

#include "dataset/readers/csv_reader.hpp"
#include "dataset/readers/jsonl_reader.hpp"
#include "dataset/readers/reader_options.hpp"
#include "dataset/store/content_hash.hpp"
#include "llmos/runtime/state_dir.hpp"

namespace llmos::dataset {
namespace {

namespace fs = std::filesystem;

std::mutex cache_mutex;
std::string cache_override;

fs::path cache_dir() {
  std::lock_guard lock{cache_mutex};
  return state_root(cache_override, "http-cache");
}

/// "http://host:port" and "/path?query" of a URL; false when it is not http(s).
bool split_url(const std::string& url, std::string& origin, std::string& target) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos)
    return false;
  const auto name = url.substr(0, scheme);
  if (name != "http" && name != "https")
    return false;
  const auto slash = url.find('/', scheme + 3);
  origin = url.substr(0, slash);
  target = slash == std::string::npos ? "/" : url.substr(slash);
  return origin.size() > scheme + 3;
}

std::string format_of(const source_spec& spec, const std::string& target) {
  if (auto f = find_option(spec, "format"))
    return *f;
  const auto path = target.substr(0, target.find_first_of("?#"));
  for (const char* ext : {"jsonl", "csv", "tsv"})
    if (path.size() > std::string{ext}.size() + 1 &&
        path.compare(path.size() - std::string{ext}.size() - 1, std::string::npos,
                     std::string{"."} + ext) == 0)
      return ext;
  return "jsonl";
}

std::string read_small_file(const fs::path& path) {
  std::ifstream in{path};
  std::string text;
  std::getline(in, text);
  return text;
}

/// What one fetch ended with.
struct fetched {
  int status = 0;         ///< 200, 304, ...; 0 when no answer came
  std::string failure;    ///< why there is no usable answer ("" when there is)
  bool retryable = false; ///< a connection failure, 429 or 5xx
  bool too_large = false; ///< the body passed max_bytes
  std::string etag, modified, location;
};

/// The cached copy of one URL: its body and the validators that make the next fetch
/// conditional.
struct cache_entry {
  explicit cache_entry(const fs::path& base)
      : body(base.string() + ".body"), etag(base.string() + ".etag"),
        modified(base.string() + ".modified"), partial(base.string() + ".part") {}

  /// If-None-Match and If-Modified-Since when a body is cached.
  httplib::Headers conditions() const {
    httplib::Headers h;
    if (!fs::exists(body))
      return h;
    if (auto tag = read_small_file(etag); !tag.empty())
      h.emplace("If-None-Match", tag);
    if (auto when = read_small_file(modified); !when.empty())
      h.emplace("If-Modified-Since", when);
    return h;
  }

  fs::path body, etag, modified, partial;
};

struct fetch_limits {
  uint64_t timeout_ms = 30000;
  uint64_t retries = 3;
  uint64_t max_bytes = 256ull << 20;
};

caf::expected<fetch_limits> read_limits(const source_spec& spec) {
  fetch_limits lim;
  for (auto [key, field] :
       {std::pair{"timeout_ms", &lim.timeout_ms}, std::pair{"retries", &lim.retries},
        std::pair{"max_bytes", &lim.max_bytes}}) {
    auto v = uint_option(spec, key, *field);
    if (!v)
      return v.error();
    *field = *v;
  }
  return lim;
}

/// One GET into the cache's partial file; only a 200's body is kept.
fetched fetch_once(httplib::Client& client, const std::string& target,
                   const httplib::Headers& conditions, const cache_entry& cache,
                   uint64_t max_bytes) {
  fetched f;
  std::ofstream out{cache.partial, std::ios::binary | std::ios::trunc};
  uint64_t received = 0;
  auto result = client.Get(
      target, conditions,
      [&](const httplib::Response& res) {
        f.status = res.status;
        f.etag = res.get_header_value("ETag");
        f.modified = res.get_header_value("Last-Modified");
        f.location = res.get_header_value("Location");
        // Only a 200's body is wanted: a 304 has none to wait for (cpp-httplib would read one
        // until the server closes), an error's is not kept.
        return res.status == 200;
      },
      [&](const char* data, size_t len) {
        received += len;
        if (received > max_bytes) {
          f.too_large = true;
          return false;
        }
        out.write(data, static_cast<std::streamsize>(len));
        return static_cast<bool>(out);
      });
  out.close();
  if (f.too_large)
    return f;
  if (!result && f.status == 0) {
    f.failure = "no answer: " + httplib::to_string(result.error());
    f.retryable = true;
  } else if (f.status == 200 && !result) {
    f.failure = "the body broke off: " + httplib::to_string(result.error());
    f.retryable = true;
    f.status = 0;
  } else if (f.status != 200 && f.status != 304) {
    f.failure = "the server answered HTTP " + std::to_string(f.status) +
                (f.location.empty() ? "" : " (to " + f.location + ": use that URL)");
    f.retryable = f.status == 429 || f.status >= 500;
  }
  return f;
}

/// Fetches with retries (back-off from 500 ms) while the failure is retryable.
fetched fetch(const std::string& origin, const std::string& target, const cache_entry& cache,
              const fetch_limits& lim) {
  httplib::Client client{origin};
  const auto ms = std::chrono::milliseconds(lim.timeout_ms);
  client.set_connection_timeout(ms);
  client.set_read_timeout(ms);
  // Not set_follow_location: cpp-httplib 0.11 takes a 304 for a redirect without a Location
  // and fails the request. A redirect is reported with its target instead.
  const auto conditions = cache.conditions();
  fetched last;
  for (uint64_t attempt = 0; attempt <= lim.retries; ++attempt) {
    if (attempt > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(500) *
                                  (1u << std::min<uint64_t>(attempt - 1, 5)));
    last = fetch_once(client, target, conditions, cache, lim.max_bytes);
    if (last.too_large || !last.retryable)
      break;
  }
  return last;
}

/// A 200's body becomes the cached copy with its validators; a 304 keeps the cached one.
caf::error keep(const source_spec& spec, const cache_entry& cache, const fetched& f,
                const fetch_limits& lim) {
  std::error_code ec;
  if (f.status != 200) {
    fs::remove(cache.partial, ec);
    if (f.status == 304)
      return {};
    return reader_error(error_code::io_failed, spec, spec.path,
                        f.failure + " after " + std::to_string(lim.retries + 1) +
                            (lim.retries == 0 ? " attempt" : " attempts"));
  }
  fs::rename(cache.partial, cache.body, ec);
  if (ec)
    return reader_error(error_code::io_failed, spec, cache.body.string(),
                        "cannot keep the fetched body: " + ec.message());
  std::ofstream{cache.etag, std::ios::trunc} << f.etag;
  std::ofstream{cache.modified, std::ios::trunc} << f.modified;
  return {};
}

} // namespace

void set_http_cache_dir(std::string dir) {
  std::lock_guard lock{cache_mutex};
  cache_override = std::move(dir);
}

caf::expected<uint64_t> read_http(const source_spec& spec, quarantine& q, const emit_fn& emit) {
  std::string origin, target;
  if (!split_url(spec.path, origin, target))
    return reader_error(error_code::bad_config, spec, spec.path,
                        "path is not an http:// or https:// URL");
  const auto format = format_of(spec, target);
  if (format != "jsonl" && format != "csv" && format != "tsv")
    return reader_error(error_code::bad_config, spec, spec.path,
                        "option 'format': '" + format + "'; use jsonl, csv or tsv");
  auto lim = read_limits(spec);
  if (!lim)
    return lim.error();
  const auto dir = cache_dir();
  std::error_code ec;
  fs::create_directories(dir, ec);
  const cache_entry cache{dir / xxh3_64_hex(spec.path)};
  const auto got = fetch(origin, target, cache, *lim);
  if (got.too_large) {
    fs::remove(cache.partial, ec);
    return reader_error(error_code::io_failed, spec, spec.path,
                        "the body is larger than max_bytes (" + std::to_string(lim->max_bytes) +
                            " bytes); raise max_bytes or fetch less");
  }
  if (auto err = keep(spec, cache, got, *lim))
    return err;
  // The rest are the inner reader's options, checked by it.
  source_spec inner = spec;
  inner.kind = format;
  for (const char* key : {"format", "timeout_ms", "retries", "max_bytes"})
    inner.options.erase(key);
  inner.path = cache.body.string();
  // Records name the URL they came from (the quarantine names the cached file, which holds the
  // bytes its line numbers point into).
  const emit_fn from_url = [&](record&& r) {
    r.origin.path = spec.path;
    emit(std::move(r));
  };
  auto n = inner.kind == "jsonl" ? read_jsonl(inner, q, from_url) : read_csv(inner, q, from_url);
  if (!n)
    return n.error();
  return *n;
}

} // namespace llmos::dataset
