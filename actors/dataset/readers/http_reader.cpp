#include "dataset/readers/http_reader.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <httplib.h>

#include "dataset/data_dir.hpp"
#include "dataset/readers/csv_reader.hpp"
#include "dataset/readers/jsonl_reader.hpp"
#include "dataset/readers/reader_options.hpp"
#include "dataset/store/content_hash.hpp"

namespace llmos::data {
namespace {

namespace fs = std::filesystem;

std::mutex cache_mutex;
std::string cache_override;

fs::path cache_dir() {
  std::lock_guard lock{cache_mutex};
  return cache_override.empty() ? fs::path{state_dir()} / "http-cache" : fs::path{cache_override};
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
};

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
  auto timeout = uint_option(spec, "timeout_ms", 30000);
  if (!timeout)
    return timeout.error();
  auto retries = uint_option(spec, "retries", 3);
  if (!retries)
    return retries.error();
  auto max_bytes = uint_option(spec, "max_bytes", 256ull << 20);
  if (!max_bytes)
    return max_bytes.error();
  // The rest are the inner reader's options, checked by it.
  source_spec inner = spec;
  inner.kind = format;
  for (const char* key : {"format", "timeout_ms", "retries", "max_bytes"})
    inner.options.erase(key);

  const auto dir = cache_dir();
  std::error_code ec;
  fs::create_directories(dir, ec);
  const auto base = dir / xxh3_64_hex(spec.path);
  const fs::path body = base.string() + ".body", etag = base.string() + ".etag",
                 modified = base.string() + ".modified", partial = base.string() + ".part";
  httplib::Headers conditions;
  if (fs::exists(body)) {
    if (auto tag = read_small_file(etag); !tag.empty())
      conditions.emplace("If-None-Match", tag);
    if (auto when = read_small_file(modified); !when.empty())
      conditions.emplace("If-Modified-Since", when);
  }

  httplib::Client client{origin};
  const auto ms = std::chrono::milliseconds(*timeout);
  client.set_connection_timeout(ms);
  client.set_read_timeout(ms);
  // Not set_follow_location: cpp-httplib 0.11 takes a 304 for a redirect without a Location
  // and fails the request. A redirect is reported with its target instead.
  fetched last;
  std::string new_etag, new_modified, location;
  for (uint64_t attempt = 0; attempt <= *retries; ++attempt) {
    if (attempt > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(500) *
                                  (1u << std::min<uint64_t>(attempt - 1, 5)));
    last = {};
    std::ofstream out{partial, std::ios::binary | std::ios::trunc};
    uint64_t received = 0;
    bool too_large = false;
    auto result = client.Get(
        target, conditions,
        [&](const httplib::Response& res) {
          last.status = res.status;
          new_etag = res.get_header_value("ETag");
          new_modified = res.get_header_value("Last-Modified");
          location = res.get_header_value("Location");
          // Only a 200's body is wanted: a 304 has none to wait for (cpp-httplib would read
          // one until the server closes), an error's is not kept.
          return res.status == 200;
        },
        [&](const char* data, size_t len) {
          received += len;
          if (received > *max_bytes) {
            too_large = true;
            return false;
          }
          out.write(data, static_cast<std::streamsize>(len));
          return static_cast<bool>(out);
        });
    out.close();
    if (too_large)
      return reader_error(error_code::io_failed, spec, spec.path,
                          "the body is larger than max_bytes (" + std::to_string(*max_bytes) +
                              " bytes); raise max_bytes or fetch less");
    if (!result && last.status == 0) {
      last.failure = "no answer: " + httplib::to_string(result.error());
      last.retryable = true;
      continue;
    }
    if (last.status == 200 && !result) { // the body broke off
      last.failure = "the body broke off: " + httplib::to_string(result.error());
      last.retryable = true;
      last.status = 0;
      continue;
    }
    if (last.status == 200 || last.status == 304)
      break;
    last.failure = "the server answered HTTP " + std::to_string(last.status) +
                   (location.empty() ? "" : " (to " + location + ": use that URL)");
    last.retryable = last.status == 429 || last.status >= 500;
    if (!last.retryable)
      break;
  }
  if (last.status == 200) {
    fs::rename(partial, body, ec);
    if (ec)
      return reader_error(error_code::io_failed, spec, body.string(),
                          "cannot keep the fetched body: " + ec.message());
    std::ofstream{etag, std::ios::trunc} << new_etag;
    std::ofstream{modified, std::ios::trunc} << new_modified;
  } else {
    fs::remove(partial, ec);
    if (last.status != 304)
      return reader_error(error_code::io_failed, spec, spec.path,
                          last.failure + " after " + std::to_string(*retries + 1) +
                              (*retries == 0 ? " attempt" : " attempts"));
  }
  inner.path = body.string();
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

} // namespace llmos::data
