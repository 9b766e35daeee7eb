// The serving actors' plain parts: request rows (tokenized and padded with the version's own
// tokenizer, raw inputs checked against the model), UTF-8 boundaries of streamed text, the HTTP
// status of each error, the nesting limit of JSON bodies, the gateway's table of servers
// (adapters routed to their base's servers), the bodies it refuses from their headers, its
// watch on a client's connection, its per-route token policy and failed-authentication limit.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>
#include <set>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "dataset/tokenize/byte_tokenizer.hpp"
#include "http/auth_throttle.hpp"
#include "http/body_framing.hpp"
#include "http/client_connection.hpp"
#include "http/http_errors.hpp"
#include "http/json_depth.hpp"
#include "http/route_policy.hpp"
#include "http/server_table.hpp"
#include "llmos/messages/error.hpp"
#include "serving/request_rows.hpp"

namespace llmos {
namespace {

std::vector<int32_t> ids_of(const std::string& row) {
  std::vector<int32_t> out(row.size() / 4);
  std::memcpy(out.data(), row.data(), row.size());
  return out;
}

TEST(request_rows, texts_are_tokenized_and_padded_to_max_length) {
  dataset::byte_tokenizer tok;
  serving::row_format fmt;
  fmt.max_length = 4;
  fmt.pad_id = 0;
  fmt.tokenizer = &tok;
  predict_request req;
  req.texts = {"ab", "abcdef"};
  auto rows = serving::rows_of(req, fmt);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 2u);
  auto short_row = ids_of((*rows)[0]);
  auto long_row = ids_of((*rows)[1]);
  ASSERT_EQ(short_row.size(), 4u);
  EXPECT_EQ(short_row[0], tok.encode("a")[0]);
  EXPECT_EQ(short_row[2], 0) << "padded";
  EXPECT_EQ(long_row[3], tok.encode("d")[0]) << "cut at max_length";
  auto batch = serving::batch_of({&(*rows)[0], &(*rows)[1]}, fmt);
  EXPECT_EQ(batch.shape, (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(batch.dtype, "i32");
  EXPECT_EQ(batch.data.size(), 32u);
}

TEST(request_rows, raw_inputs_are_checked_against_the_model) {
  serving::row_format images;
  images.images = true;
  images.image_size = 2;
  predict_request req;
  req.inputs.dtype = "u8";
  req.inputs.shape = {3, 2, 2};
  req.inputs.data = std::string(12, '\x7f');
  auto rows = serving::rows_of(req, images);
  ASSERT_TRUE(rows);
  EXPECT_EQ(rows->size(), 3u);
  req.inputs.shape = {3, 4};
  auto wrong_shape = serving::rows_of(req, images);
  ASSERT_FALSE(wrong_shape);
  EXPECT_NE(describe(wrong_shape.error()).find("u8 images [n, 2, 2]"), std::string::npos);
  req.inputs.shape = {4, 2, 2};
  auto short_data = serving::rows_of(req, images);
  ASSERT_FALSE(short_data);
  EXPECT_NE(describe(short_data.error()).find("do not fill the shape"), std::string::npos);
  predict_request text;
  text.texts = {"hello"};
  auto no_text = serving::rows_of(text, images);
  ASSERT_FALSE(no_text);
  EXPECT_NE(describe(no_text.error()).find("takes images"), std::string::npos);
}

TEST(request_rows, streamed_text_stops_before_a_split_character) {
  const std::string euro = "\xE2\x82\xAC"; // three bytes
  EXPECT_EQ(serving::complete_utf8_prefix("ab"), 2u);
  EXPECT_EQ(serving::complete_utf8_prefix("ab" + euro), 5u);
  EXPECT_EQ(serving::complete_utf8_prefix("ab" + euro.substr(0, 2)), 2u);
  EXPECT_EQ(serving::complete_utf8_prefix("ab" + euro.substr(0, 1)), 2u);
  EXPECT_EQ(serving::complete_utf8_prefix(""), 0u);
}

TEST(http_errors, each_error_has_its_status_and_a_json_reason) {
  EXPECT_EQ(http::status_of(make_llmos_error(error_code::bad_params, "x")), 400);
  EXPECT_EQ(http::status_of(make_llmos_error(error_code::unauthorized, "x")), 403);
  EXPECT_EQ(http::status_of(make_llmos_error(error_code::not_found, "x")), 404);
  EXPECT_EQ(http::status_of(make_llmos_error(error_code::overloaded, "x")), 429);
  EXPECT_EQ(http::status_of(make_llmos_error(error_code::unavailable, "x")), 503);
  EXPECT_EQ(http::status_of(make_llmos_error(error_code::io_failed, "x")), 500);
  auto body = nlohmann::json::parse(
      http::error_body(make_llmos_error(error_code::overloaded, "queue full"), "instances"));
  EXPECT_EQ(body["error"]["status"], 429);
  EXPECT_EQ(body["error"]["code"], "overloaded");
  EXPECT_EQ(body["error"]["field"], "instances");
  EXPECT_NE(body["error"]["reason"].get<std::string>().find("queue full"), std::string::npos);
}

TEST(server_table, routes_a_model_to_its_least_loaded_server) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto a = sys.spawn([] { return caf::behavior{[](int) {}}; });
  auto b = sys.spawn([] { return caf::behavior{[](int) {}}; });
  auto entry = [](std::string name, caf::actor h, std::string model) {
    return actor_entry{std::move(name), "server", "n", {{"model", std::move(model)}}, h};
  };
  http::server_table table;
  table.update(
      {entry("s1", a, "m"), entry("s2", b, "m"), actor_entry{"dev", "device", "n", {}, a}});
  auto first = table.pick("m");
  auto second = table.pick("m");
  ASSERT_TRUE(first && second);
  EXPECT_NE(first->slot, second->slot) << "the second request goes to the idle server";
  EXPECT_FALSE(table.pick("other"));
  auto retry = table.pick("m", {first->slot, second->slot});
  EXPECT_FALSE(retry) << "every server was tried";
  table.done("m", first->slot);
  auto third = table.pick("m");
  ASSERT_TRUE(third);
  EXPECT_EQ(third->slot, first->slot);
  // A server that left the directory is no longer picked.
  table.update({entry("s2", b, "m")});
  for (int i = 0; i < 3; ++i) {
    auto p = table.pick("m");
    ASSERT_TRUE(p);
    EXPECT_EQ(caf::actor_cast<caf::actor>(p->server), b);
  }
  caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(b, caf::exit_reason::user_shutdown);
}

// A real loopback connection: alive while the client holds it, gone once the client closes it
// (the server side stays open, as the front door's does under a handler).
TEST(client_connection, sees_the_client_close_its_end) {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int client = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const int served = ::accept(listener, nullptr, nullptr);
  ASSERT_GE(served, 0);
  const http::client_connection watched{served};
  EXPECT_FALSE(watched.gone());
  ASSERT_EQ(::send(client, "GET", 3, 0), 3);
  EXPECT_FALSE(watched.gone()) << "unread request bytes are no close";
  const http::client_connection unknown{-1};
  ::close(client);
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = watched.gone();
    if (!gone)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(gone) << "the client closed its end";
  EXPECT_FALSE(unknown.gone()) << "a connection not known is not guessed gone";
  ::close(served);
  ::close(listener);
}

TEST(body_framing, bodies_without_a_bounded_length_are_refused_from_their_headers) {
  auto refuse = [](const std::string& method, std::map<std::string, std::string> headers) {
    return http::refuse_body(
        method,
        [&](const std::string& h) { return headers.count(h) ? headers.at(h) : std::string{}; },
        1000);
  };
  EXPECT_FALSE(refuse("POST", {{"Content-Length", "1000"}}));
  EXPECT_FALSE(refuse("GET", {})) << "no body, no length";
  EXPECT_FALSE(refuse("POST", {{"Content-Length", "0"}, {"Content-Encoding", "identity"}}));
  auto chunked = refuse("POST", {{"Transfer-Encoding", "Chunked"}});
  ASSERT_TRUE(chunked);
  EXPECT_EQ(chunked->status, 411);
  EXPECT_EQ(chunked->param, "Transfer-Encoding");
  auto lengthless = refuse("PUT", {});
  ASSERT_TRUE(lengthless);
  EXPECT_EQ(lengthless->status, 411);
  EXPECT_NE(lengthless->message.find("Content-Length"), std::string::npos);
  auto gzip = refuse("POST", {{"Content-Length", "10"}, {"Content-Encoding", "gzip"}});
  ASSERT_TRUE(gzip);
  EXPECT_EQ(gzip->status, 415);
  auto large = refuse("POST", {{"Content-Length", "1001"}});
  ASSERT_TRUE(large);
  EXPECT_EQ(large->status, 413);
  EXPECT_EQ(refuse("POST", {{"Content-Length", "99999999999999999999999"}})->status, 400);
  EXPECT_EQ(refuse("POST", {{"Content-Length", "-1"}})->status, 400);
}

} // namespace
TEST(route_policy, each_route_belongs_to_its_group) {
  EXPECT_EQ(http::route_group("/v1/admin/models/m/import"), "admin");
  EXPECT_EQ(http::route_group("/v1/models/iris:predict"), "predict");
  EXPECT_EQ(http::route_group("/v1/datasets/words/labels"), "labels");
  EXPECT_EQ(http::route_group("/v1/models/iris/versions/2:predict"), "predict");
  EXPECT_EQ(http::route_group("/v1/models"), "models");
  EXPECT_EQ(http::route_group("/v1/models/iris"), "models");
  EXPECT_EQ(http::route_group("/v1/completions"), "completions");
  EXPECT_EQ(http::route_group("/v1/chat/completions"), "completions");
  EXPECT_EQ(http::route_group("/v1/feedback"), "feedback");
  EXPECT_EQ(http::route_group("/metrics"), "observe");
  EXPECT_EQ(http::route_group("/healthz"), "") << "health checks stay open";
  EXPECT_EQ(http::route_group("/readyz"), "");
}

TEST(route_policy, protect_names_groups_or_all_and_refuses_unknown_ones) {
  auto some = http::parse_protected_groups(" predict, completions ");
  ASSERT_TRUE(some);
  EXPECT_EQ(*some, (std::set<std::string>{"predict", "completions"}));
  auto all = http::parse_protected_groups("all");
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 6u);
  EXPECT_TRUE(all->count("labels"));
  EXPECT_TRUE(all->count("feedback"));
  EXPECT_FALSE(all->count("admin")) << "admin always needs the token; it is no group";
  EXPECT_TRUE(http::parse_protected_groups("")->empty());
  auto bad = http::parse_protected_groups("predict,complete");
  ASSERT_FALSE(bad);
  EXPECT_NE(to_string(bad.error()).find("'complete'"), std::string::npos) << to_string(bad.error());
}

TEST(auth_throttle, an_address_that_fails_too_often_waits_out_its_window) {
  using namespace std::chrono_literals;
  http::auth_throttle throttle{{3, 60s, 4}};
  const auto t0 = http::auth_throttle::clock::now();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(throttle.blocked_for("10.0.0.1", t0), 0) << "attempt " << i;
    throttle.failed("10.0.0.1", t0 + std::chrono::seconds{i});
  }
  EXPECT_EQ(throttle.blocked_for("10.0.0.1", t0 + 10s), 50) << "the window began at the first";
  EXPECT_EQ(throttle.blocked_for("10.0.0.2", t0 + 10s), 0) << "other addresses are not held";
  EXPECT_EQ(throttle.blocked_for("10.0.0.1", t0 + 61s), 0) << "the window is over";
  throttle.failed("10.0.0.1", t0 + 62s);
  EXPECT_EQ(throttle.blocked_for("10.0.0.1", t0 + 62s), 0) << "a new window counts afresh";
  for (int i = 0; i < 100; ++i)
    throttle.failed("192.168.0." + std::to_string(i), t0 + 63s);
  EXPECT_LE(throttle.addresses(), 4u) << "the table is bounded";
}

TEST(json_depth, counts_nesting_outside_strings_only) {
  using http::json_depth_within;
  EXPECT_TRUE(json_depth_within(R"({"a": [1, {"b": [2]}]})", 4));
  EXPECT_FALSE(json_depth_within(R"({"a": [1, {"b": [2]}]})", 3));
  EXPECT_TRUE(json_depth_within(R"({"a": "[[[[{{{{ \" [[[["})", 1)) << "brackets in strings";
  EXPECT_TRUE(json_depth_within("[][][][]", 1)) << "siblings do not nest";
  EXPECT_FALSE(json_depth_within(std::string(100000, '['), 64));
  EXPECT_TRUE(json_depth_within("]]]]", 1)) << "malformed text is the parser's business";
}

TEST(server_table, routes_an_adapter_to_the_servers_of_its_base_that_list_it) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto plain = sys.spawn([] { return caf::behavior{[](int) {}}; });
  auto tuned = sys.spawn([] { return caf::behavior{[](int) {}}; });
  http::server_table table;
  table.update({{"plain", "server", "a", {{"model", "base"}}, plain},
                {"tuned", "server", "a", {{"model", "base"}, {"adapters", "zorp, pip@2"}}, tuned},
                {"other", "dataset", "a", {{"model", "zorp"}}, plain}});
  EXPECT_EQ(table.base_of("zorp"), "base");
  EXPECT_EQ(table.base_of("pip"), "base");
  EXPECT_EQ(table.base_of("base"), "");
  for (int i = 0; i < 4; ++i) { // however loaded the servers are, only `tuned` serves zorp
    auto c = table.pick("zorp");
    ASSERT_TRUE(c);
    EXPECT_EQ(caf::actor_cast<caf::actor>(c->server), tuned);
  }
  EXPECT_FALSE(table.pick("zorp-v9"));
  // The base itself goes to either server, the least loaded first.
  auto b = table.pick("base");
  ASSERT_TRUE(b);
  EXPECT_EQ(caf::actor_cast<caf::actor>(b->server), plain) << "tuned has four outstanding";
}

} // namespace llmos
