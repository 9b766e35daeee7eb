// The http source kind against a cpp-httplib server on loopback: JSON Lines and CSV fetched and
// read with the inner reader's options, an unchanged body (ETag) answered 304 and read from the
// cache, 503s retried and a 404 not, a body past max_bytes refused while streaming, a silent
// server timed out, a redirect reported with its target, and URLs that are not http refused.
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include "dataset/readers/http_reader.hpp"
#include "readers_test_util.hpp"

namespace llmos::dataset {
namespace {

using test::temp_folder;
using ::testing::HasSubstr;

class http_reader_test : public ::testing::Test {
protected:
  void SetUp() override {
    set_http_cache_dir(cache_.str());
    server_.Get("/reviews.jsonl", [this](const httplib::Request& req, httplib::Response& res) {
      ++fetches_;
      const std::string tag = "\"v" + std::to_string(version_.load()) + "\"";
      if (req.get_header_value("If-None-Match") == tag) {
        ++not_modified_;
        res.status = 304;
        return;
      }
      res.set_header("ETag", tag);
      std::string body;
      for (int i = 0; i < 3 + version_; ++i)
        body += "{\"text\": \"review " + std::to_string(i) + "\", \"label\": \"pos\"}\n";
      res.set_content(body, "application/jsonl");
    });
    server_.Get("/flaky.csv", [this](const httplib::Request&, httplib::Response& res) {
      if (++flaky_calls_ <= 2) {
        res.status = 503;
        return;
      }
      res.set_content("0,hello\n1,world\n", "text/csv");
    });
    server_.Get("/moved.jsonl", [](const httplib::Request&, httplib::Response& res) {
      res.set_redirect("/reviews.jsonl", 301);
    });
    server_.Get("/big.jsonl", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(2 << 20, 'x'), "application/jsonl");
    });
    server_.Get("/slow.jsonl", [](const httplib::Request&, httplib::Response& res) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
      res.set_content("{\"text\": \"late\"}\n", "application/jsonl");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread{[this] { server_.listen_after_bind(); }};
    while (!server_.is_running())
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }

  void TearDown() override {
    server_.stop();
    thread_.join();
    set_http_cache_dir("");
  }

  source_spec spec(const std::string& target, std::map<std::string, std::string> options = {}) {
    return source_spec{"web", "http", "http://127.0.0.1:" + std::to_string(port_) + target,
                       std::move(options)};
  }

  temp_folder cache_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<int> fetches_{0}, not_modified_{0}, flaky_calls_{0}, version_{0};
};

TEST_F(http_reader_test, fetches_json_lines_and_an_unchanged_body_comes_from_the_cache) {
  auto res = read_all(spec("/reviews.jsonl", {{"label_field", "label"}}));
  ASSERT_TRUE(res.ok) << res.error;
  ASSERT_EQ(res.records.size(), 3u);
  EXPECT_EQ(res.records[0].text, "review 0");
  EXPECT_EQ(res.records[0].label, "pos");
  EXPECT_EQ(res.records[0].origin.path,
            "http://127.0.0.1:" + std::to_string(port_) + "/reviews.jsonl");
  // Unchanged: the server answers 304 and the same records come from the cached body.
  res = read_all(spec("/reviews.jsonl", {{"label_field", "label"}}));
  ASSERT_TRUE(res.ok) << res.error;
  EXPECT_EQ(res.records.size(), 3u);
  EXPECT_EQ(not_modified_.load(), 1);
  // Changed: a new ETag, a new body.
  version_ = 1;
  res = read_all(spec("/reviews.jsonl", {{"label_field", "label"}}));
  ASSERT_TRUE(res.ok) << res.error;
  EXPECT_EQ(res.records.size(), 4u);
  EXPECT_EQ(fetches_.load(), 3);
  EXPECT_EQ(not_modified_.load(), 1);
}

TEST_F(http_reader_test, server_errors_are_retried_and_client_errors_are_not) {
  // Two 503s, then the body: three attempts with retries 2 (back-off 0.5 s, 1 s).
  auto res =
      read_all(spec("/flaky.csv", {{"header", "false"}, {"text_column", "1"}, {"retries", "2"}}));
  ASSERT_TRUE(res.ok) << res.error;
  ASSERT_EQ(res.records.size(), 2u);
  EXPECT_EQ(res.records[1].text, "world");
  EXPECT_EQ(flaky_calls_.load(), 3);
  auto missing = read_all(spec("/nothing.jsonl", {{"retries", "3"}}));
  EXPECT_FALSE(missing.ok);
  EXPECT_THAT(missing.error, HasSubstr("HTTP 404 after 4 attempts"));
  EXPECT_EQ(fetches_.load(), 0);
}

TEST_F(http_reader_test, bounds_on_size_and_time) {
  auto big = read_all(spec("/big.jsonl", {{"max_bytes", "100000"}}));
  EXPECT_FALSE(big.ok);
  EXPECT_THAT(big.error, HasSubstr("larger than max_bytes (100000 bytes)"));
  const auto t0 = std::chrono::steady_clock::now();
  auto slow = read_all(spec("/slow.jsonl", {{"timeout_ms", "300"}, {"retries", "0"}}));
  EXPECT_FALSE(slow.ok);
  EXPECT_THAT(slow.error, HasSubstr("no answer"));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1400));
  auto moved = read_all(spec("/moved.jsonl"));
  EXPECT_THAT(moved.error, HasSubstr("HTTP 301 (to /reviews.jsonl: use that URL)"));
  auto ftp = read_all(source_spec{"web", "http", "ftp://example.org/x.csv", {}});
  EXPECT_THAT(ftp.error, HasSubstr("not an http:// or https:// URL"));
  auto format = read_all(spec("/reviews.jsonl", {{"format", "xml"}}));
  EXPECT_THAT(format.error, HasSubstr("use jsonl, csv or tsv"));
}

} // namespace
} // namespace llmos::dataset
