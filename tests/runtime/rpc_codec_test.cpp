// The msgpack-RPC codec: frames round-trip, decode the same however TCP splits them, and bad
// input (malformed, oversized, random) comes back as a frame_error, never as an exception or a
// huge allocation. Also the constant-time comparison of the auth tokens.
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "llmos/runtime/rpc_codec.hpp"
#include "llmos/runtime/secret_compare.hpp"

namespace rpc = llmos::rpc;
using nlohmann::json;

namespace {

/// Packs anything msgpack-cxx knows into a string.
template <class... Ts> std::string pack(const Ts&... values) {
  msgpack::sbuffer buf;
  (msgpack::pack(buf, values), ...);
  return std::string(buf.data(), buf.size());
}

std::string bytes(std::initializer_list<unsigned> values) {
  std::string out;
  for (auto v : values)
    out.push_back(static_cast<char>(v));
  return out;
}

/// Feeds `data` in one piece and collects items until the decoder wants more or fails.
std::vector<rpc::frame_decoder::item> decode_all(const std::string& data, rpc::limits lim = {}) {
  rpc::frame_decoder decoder(lim);
  decoder.feed(data.data(), data.size());
  std::vector<rpc::frame_decoder::item> items;
  for (;;) {
    auto item = decoder.next();
    if (std::holds_alternative<std::monostate>(item))
      break;
    items.push_back(item);
    if (auto* err = std::get_if<rpc::frame_error>(&item); err && err->fatal)
      break;
  }
  return items;
}

/// The one item `frame` decodes to, which must be a T; nothing (and a test failure) otherwise.
template <class T> std::optional<T> decode_one(const std::string& frame) {
  auto items = decode_all(frame);
  if (items.size() != 1) {
    ADD_FAILURE() << "expected one item, got " << items.size();
    return std::nullopt;
  }
  if (auto* x = std::get_if<T>(&items[0]))
    return std::move(*x);
  ADD_FAILURE() << "the item is of the wrong kind: alternative " << items[0].index();
  return std::nullopt;
}

/// The error in `item` (a copy, so it may be taken from a temporary), or a test failure.
rpc::frame_error as_error(const rpc::frame_decoder::item& item) {
  auto* err = std::get_if<rpc::frame_error>(&item);
  EXPECT_NE(err, nullptr) << "expected a frame_error, got alternative " << item.index();
  return err ? *err
             : rpc::frame_error{rpc::frame_error::kind::malformed, "not an error", {}, false};
}

json params_json(const rpc::frame_decoder::item& item) {
  if (auto* req = std::get_if<rpc::request>(&item))
    return rpc::to_json(req->params);
  ADD_FAILURE() << "expected a request, got alternative " << item.index();
  return nullptr;
}

/// A request whose params hold every msgpack type, for split and ownership tests.
std::string rich_request(uint32_t msgid) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_map(5);
  pk.pack(std::string("text"));
  pk.pack(std::string("hello, world"));
  pk.pack(std::string("numbers"));
  pk.pack(std::vector<double>{1.5, -2.25});
  pk.pack(std::string("neg"));
  pk.pack(int64_t{-123456789012});
  pk.pack(std::string("blob"));
  const char blob[] = {0x00, 0x01, 0x7f, static_cast<char>(0xff)};
  pk.pack_bin(sizeof(blob));
  pk.pack_bin_body(blob, sizeof(blob));
  pk.pack(std::string("nested"));
  pk.pack_array(2);
  pk.pack_nil();
  pk.pack(true);
  std::string out;
  rpc::encode_request(out, msgid, "generate", std::string_view(buf.data(), buf.size()));
  return out;
}

const json rich_params = {{"text", "hello, world"},
                          {"numbers", {1.5, -2.25}},
                          {"neg", -123456789012},
                          {"blob", {{"bin_bytes", 4}, {"hex", "00017fff"}}},
                          {"nested", {nullptr, true}}};

} // namespace

TEST(rpc_codec, request_round_trips) {
  std::string frame;
  rpc::encode_request(frame, 7, "echo", rpc::pack_json({1, "two"}));
  auto req = decode_one<rpc::request>(frame);
  ASSERT_TRUE(req);
  EXPECT_EQ(req->msgid, 7u);
  EXPECT_EQ(req->method, "echo");
  EXPECT_FALSE(req->notification);
  EXPECT_NE(req->zone, nullptr);
  EXPECT_EQ(rpc::to_json(req->params), json({1, "two"}));
}

TEST(rpc_codec, request_without_params_sends_an_empty_array) {
  std::string frame;
  rpc::encode_request(frame, 1, "ping", "");
  auto req = decode_one<rpc::request>(frame);
  ASSERT_TRUE(req);
  EXPECT_EQ(rpc::to_json(req->params), json::array());
}

TEST(rpc_codec, max_msgid_round_trips) {
  std::string frame;
  rpc::encode_request(frame, UINT32_MAX, "m", "");
  auto req = decode_one<rpc::request>(frame);
  ASSERT_TRUE(req);
  EXPECT_EQ(req->msgid, UINT32_MAX);
}

TEST(rpc_codec, success_response_round_trips) {
  std::string frame;
  rpc::encode_response(frame, 9, "", rpc::pack_json({{"tokens", 42}}));
  auto res = decode_one<rpc::response>(frame);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->msgid, 9u);
  EXPECT_TRUE(res->error.is_nil());
  EXPECT_EQ(rpc::to_json(res->result), json({{"tokens", 42}}));
}

TEST(rpc_codec, error_response_round_trips) {
  std::string frame;
  rpc::encode_response(frame, 10, rpc::pack_error("bad_params", "max_tokens must be > 0"), "");
  auto res = decode_one<rpc::response>(frame);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->msgid, 10u);
  EXPECT_TRUE(res->result.is_nil());
  EXPECT_EQ(rpc::to_json(res->error),
            json({{"code", "bad_params"}, {"message", "max_tokens must be > 0"}}));
}

TEST(rpc_codec, notification_round_trips) {
  std::string frame;
  rpc::encode_notification(frame, "log", rpc::pack_json({"hi"}));
  auto req = decode_one<rpc::request>(frame);
  ASSERT_TRUE(req);
  EXPECT_TRUE(req->notification);
  EXPECT_EQ(req->method, "log");
  EXPECT_EQ(rpc::to_json(req->params), json({"hi"}));
}

TEST(rpc_codec, decoded_frames_outlive_the_decoder) {
  // str and bin point into the receive buffer; the frame's zone must keep it alive.
  std::vector<rpc::request> kept;
  {
    rpc::frame_decoder decoder;
    for (uint32_t id = 1; id <= 3; ++id) {
      auto frame = rich_request(id);
      decoder.feed(frame.data(), frame.size());
      auto item = decoder.next();
      ASSERT_TRUE(std::holds_alternative<rpc::request>(item));
      kept.push_back(std::get<rpc::request>(std::move(item)));
    }
  }
  for (const auto& req : kept)
    EXPECT_EQ(rpc::to_json(req.params), rich_params);
}

TEST(rpc_codec, every_split_point_decodes_the_same) {
  const auto frame = rich_request(77);
  for (std::size_t cut = 1; cut < frame.size(); ++cut) {
    rpc::frame_decoder decoder;
    decoder.feed(frame.data(), cut);
    ASSERT_TRUE(std::holds_alternative<std::monostate>(decoder.next())) << "cut at " << cut;
    decoder.feed(frame.data() + cut, frame.size() - cut);
    auto item = decoder.next();
    ASSERT_EQ(params_json(item), rich_params) << "cut at " << cut;
    EXPECT_EQ(std::get<rpc::request>(item).msgid, 77u);
    EXPECT_TRUE(std::holds_alternative<std::monostate>(decoder.next()));
  }
}

TEST(rpc_codec, one_byte_at_a_time_decodes_the_same) {
  const auto frame = rich_request(5) + rich_request(6);
  rpc::frame_decoder decoder;
  std::vector<uint32_t> ids;
  for (char c : frame) {
    decoder.feed(&c, 1);
    auto item = decoder.next();
    if (auto* req = std::get_if<rpc::request>(&item)) {
      EXPECT_EQ(rpc::to_json(req->params), rich_params);
      ids.push_back(req->msgid);
    } else {
      ASSERT_TRUE(std::holds_alternative<std::monostate>(item));
    }
  }
  EXPECT_EQ(ids, (std::vector<uint32_t>{5, 6}));
  EXPECT_EQ(decoder.pending_bytes(), 0u);
}

TEST(rpc_codec, two_frames_in_one_feed) {
  std::string data;
  rpc::encode_request(data, 1, "a", rpc::pack_json({1}));
  rpc::encode_response(data, 2, "", rpc::pack_json("done"));
  auto items = decode_all(data);
  ASSERT_EQ(items.size(), 2u);
  ASSERT_TRUE(std::holds_alternative<rpc::request>(items[0]));
  ASSERT_TRUE(std::holds_alternative<rpc::response>(items[1]));
  EXPECT_EQ(std::get<rpc::request>(items[0]).method, "a");
  EXPECT_EQ(rpc::to_json(std::get<rpc::response>(items[1]).result), "done");
}

TEST(rpc_codec, truncated_input_waits_for_more) {
  const auto frame = rich_request(3);
  rpc::frame_decoder decoder;
  decoder.feed(frame.data(), frame.size() - 1);
  EXPECT_TRUE(std::holds_alternative<std::monostate>(decoder.next()));
  EXPECT_TRUE(std::holds_alternative<std::monostate>(decoder.next()));
  EXPECT_EQ(decoder.pending_bytes(), frame.size() - 1);
  decoder.feed(frame.data() + frame.size() - 1, 1);
  EXPECT_TRUE(std::holds_alternative<rpc::request>(decoder.next()));
}

TEST(rpc_codec, non_array_is_fatal_without_msgid) {
  auto items = decode_all(pack(42));
  ASSERT_EQ(items.size(), 1u);
  const auto& err = as_error(items[0]);
  EXPECT_EQ(err.what, rpc::frame_error::kind::malformed);
  EXPECT_FALSE(err.msgid.has_value());
  EXPECT_TRUE(err.fatal);
  EXPECT_NE(err.message.find("array"), std::string::npos) << err.message;
}

TEST(rpc_codec, malformed_frames_with_a_msgid_keep_the_stream) {
  struct bad_frame {
    const char* name;
    std::string bytes;
    uint32_t msgid;
  };
  const std::vector<bad_frame> cases = {
      {"three-element request", pack(std::make_tuple(0, 7, std::string("m"))), 7},
      {"five-element request", pack(std::make_tuple(0, 8, std::string("m"), 1, 2)), 8},
      {"unknown type tag", pack(std::make_tuple(5, 9, std::string("m"), 0)), 9},
      {"negative type tag", pack(std::make_tuple(-1, 10, std::string("m"), 0)), 10},
      {"int method", pack(std::make_tuple(0, 11, 42, std::vector<int>{})), 11},
      {"three-element response", pack(std::make_tuple(1, 12, 0)), 12},
  };
  for (const auto& c : cases) {
    std::string data = c.bytes;
    rpc::encode_request(data, 99, "after", "");
    rpc::frame_decoder decoder;
    decoder.feed(data.data(), data.size());
    const auto& err = as_error(decoder.next());
    EXPECT_EQ(err.what, rpc::frame_error::kind::malformed) << c.name;
    EXPECT_EQ(err.msgid, std::optional<uint32_t>(c.msgid)) << c.name;
    EXPECT_FALSE(err.fatal) << c.name;
    // The stream is still in sync: the next frame decodes.
    auto item = decoder.next();
    ASSERT_TRUE(std::holds_alternative<rpc::request>(item)) << c.name;
    EXPECT_EQ(std::get<rpc::request>(item).msgid, 99u) << c.name;
  }
}

TEST(rpc_codec, malformed_frames_without_a_msgid_are_fatal) {
  const std::vector<std::pair<const char*, std::string>> cases = {
      {"string msgid", pack(std::make_tuple(0, std::string("7"), std::string("m"), 0))},
      {"negative msgid", pack(std::make_tuple(0, -7, std::string("m"), 0))},
      {"msgid above 32 bits", pack(std::make_tuple(0, uint64_t{1} << 32, std::string("m"), 0))},
      {"float msgid", pack(std::make_tuple(0, 1.5, std::string("m"), 0))},
      {"empty array", pack(std::vector<int>{})},
      {"one-element array", pack(std::vector<int>{0})},
      {"type tag is a string", pack(std::vector<std::string>{"0", "1", "m", "p"})},
      {"int notification method", pack(std::make_tuple(2, 5, 0))},
      {"four-element notification", pack(std::make_tuple(2, std::string("m"), 0, 0))},
      {"map", pack(std::map<std::string, int>{{"msgid", 1}})},
  };
  for (const auto& [name, bytes] : cases) {
    rpc::frame_decoder decoder;
    decoder.feed(bytes.data(), bytes.size());
    const auto first = decoder.next();
    const auto& err = as_error(first);
    EXPECT_EQ(err.what, rpc::frame_error::kind::malformed) << name;
    EXPECT_FALSE(err.msgid.has_value()) << name;
    EXPECT_TRUE(err.fatal) << name;
    // After a fatal error, even valid frames yield the same error.
    std::string valid;
    rpc::encode_request(valid, 1, "m", "");
    decoder.feed(valid.data(), valid.size());
    EXPECT_EQ(as_error(decoder.next()).message, err.message) << name;
  }
}

TEST(rpc_codec, declared_huge_containers_fail_without_allocating) {
  // Five bytes declaring 4 billion elements: msgpack would allocate room for all of them
  // (about 96 GiB) when it reads the header. The default limits refuse it first.
  const std::vector<std::pair<const char*, std::string>> cases = {
      {"array32", bytes({0xdd, 0xff, 0xff, 0xff, 0xff})},
      {"map32", bytes({0xdf, 0xff, 0xff, 0xff, 0xff})},
      // Inside an otherwise fine request: [0, 1, "m", <array32>].
      {"nested array32", bytes({0x94, 0x00, 0x01, 0xa1, 'm', 0xdd, 0xff, 0xff, 0xff, 0xff})},
  };
  for (const auto& [name, data] : cases) {
    rpc::frame_decoder decoder;
    decoder.feed(data.data(), data.size());
    const auto& err = as_error(decoder.next());
    EXPECT_EQ(err.what, rpc::frame_error::kind::too_large) << name << ": " << err.message;
    EXPECT_TRUE(err.fatal) << name;
  }
  rpc::limits lim;
  lim.max_elements = 1000;
  rpc::frame_decoder decoder(lim);
  const auto array16 = bytes({0xdc, 0x03, 0xe9}); // 1001 elements
  decoder.feed(array16.data(), array16.size());
  const auto& err = as_error(decoder.next());
  EXPECT_EQ(err.what, rpc::frame_error::kind::too_large) << err.message;
  EXPECT_NE(err.message.find("1000"), std::string::npos) << err.message;
}

TEST(rpc_codec, declared_huge_strings_buffer_at_most_the_limit) {
  // msgpack checks a str, bin or ext size only once its bytes are there; until then the
  // pending-bytes limit bounds what one is allowed to buffer.
  const std::vector<std::pair<const char*, std::string>> cases = {
      {"str32", bytes({0xdb, 0xff, 0xff, 0xff, 0xff})},
      {"bin32", bytes({0xc6, 0xff, 0xff, 0xff, 0xff})},
      {"ext32", bytes({0xc9, 0xff, 0xff, 0xff, 0xff, 0x01})},
  };
  rpc::limits lim;
  lim.max_frame_bytes = 4096;
  const std::string chunk(256, 'x');
  for (const auto& [name, header] : cases) {
    rpc::frame_decoder decoder(lim);
    decoder.feed(header.data(), header.size());
    auto item = decoder.next();
    std::size_t fed = header.size();
    while (std::holds_alternative<std::monostate>(item) && fed < 1'000'000) {
      decoder.feed(chunk.data(), chunk.size());
      fed += chunk.size();
      item = decoder.next();
    }
    const auto& err = as_error(item);
    EXPECT_EQ(err.what, rpc::frame_error::kind::too_large) << name << ": " << err.message;
    EXPECT_TRUE(err.fatal) << name;
    EXPECT_LE(fed, lim.max_frame_bytes + chunk.size()) << name;
  }
}

TEST(rpc_codec, nesting_deeper_than_the_limit_is_refused) {
  rpc::limits lim;
  lim.max_depth = 8;
  std::string params(40, static_cast<char>(0x91)); // [[[[...]]]] forty deep
  params.push_back(0x00);
  std::string frame;
  rpc::encode_request(frame, 1, "m", params);
  auto items = decode_all(frame, lim);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_TRUE(as_error(items[0]).fatal);
  EXPECT_NE(as_error(items[0]).message.find("deeper"), std::string::npos);

  std::string shallow;
  rpc::encode_request(shallow, 1, "m", std::string(4, static_cast<char>(0x91)) + '\0');
  items = decode_all(shallow, lim);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<rpc::request>(items[0]));
}

TEST(rpc_codec, pending_bytes_above_the_limit_are_fatal) {
  // 500 short strings: no single header is over the limits, only the whole frame is.
  rpc::limits lim;
  lim.max_frame_bytes = 1024;
  std::string frame;
  rpc::encode_request(frame, 4, "m", pack(std::vector<std::string>(500, "0123456789")));
  ASSERT_GT(frame.size(), 4000u);
  rpc::frame_decoder decoder(lim);
  std::size_t fed = 0;
  rpc::frame_decoder::item item;
  while (fed < frame.size()) {
    auto n = std::min<std::size_t>(100, frame.size() - fed);
    decoder.feed(frame.data() + fed, n);
    fed += n;
    item = decoder.next();
    if (!std::holds_alternative<std::monostate>(item))
      break;
  }
  const auto& err = as_error(item);
  EXPECT_EQ(err.what, rpc::frame_error::kind::too_large);
  EXPECT_TRUE(err.fatal);
  // Refused as soon as the limit was crossed, not after buffering the whole frame.
  EXPECT_LE(fed, lim.max_frame_bytes + 100);
  EXPECT_EQ(as_error(decoder.next()).what, rpc::frame_error::kind::too_large);
}

TEST(rpc_codec, whole_frame_above_the_limit_is_refused_too) {
  rpc::limits lim;
  lim.max_frame_bytes = 1024;
  std::string frame;
  rpc::encode_request(frame, 4, "m", pack(std::vector<std::string>(500, "0123456789")));
  auto items = decode_all(frame, lim);
  ASSERT_EQ(items.size(), 1u);
  const auto& err = as_error(items[0]);
  EXPECT_EQ(err.what, rpc::frame_error::kind::too_large);
  EXPECT_TRUE(err.fatal);
  EXPECT_EQ(err.msgid, std::optional<uint32_t>(4));
}

TEST(rpc_codec, invalid_msgpack_byte_is_fatal) {
  auto items = decode_all(bytes({0xc1})); // the one byte msgpack never uses
  ASSERT_EQ(items.size(), 1u);
  EXPECT_TRUE(as_error(items[0]).fatal);
}

TEST(rpc_codec, reset_recovers_after_a_fatal_error) {
  rpc::frame_decoder decoder;
  auto bad = bytes({0xc1});
  decoder.feed(bad.data(), bad.size());
  ASSERT_TRUE(std::holds_alternative<rpc::frame_error>(decoder.next()));
  decoder.reset();
  std::string frame;
  rpc::encode_request(frame, 3, "m", "");
  decoder.feed(frame.data(), frame.size());
  EXPECT_TRUE(std::holds_alternative<rpc::request>(decoder.next()));
}

TEST(rpc_codec, random_input_never_throws) {
  std::mt19937 rng(20240611);
  rpc::limits lim;
  lim.max_frame_bytes = 64 * 1024;
  lim.max_elements = 4096;
  const auto valid = rich_request(1);
  std::size_t frames = 0;
  std::size_t errors = 0;
  for (int iteration = 0; iteration < 4000; ++iteration) {
    std::string data;
    if (iteration % 2 == 0) {
      // Pure noise.
      data.resize(rng() % 256);
      for (auto& c : data)
        c = static_cast<char>(rng());
    } else {
      // A valid frame with a few bytes changed, dropped or repeated: closer to the edge cases.
      data = valid + valid;
      for (int edits = 1 + static_cast<int>(rng() % 4); edits > 0; --edits) {
        auto pos = rng() % data.size();
        switch (rng() % 3) {
        case 0:
          data[pos] = static_cast<char>(rng());
          break;
        case 1:
          data.erase(pos, 1 + rng() % 8);
          break;
        default:
          data.insert(pos, 1 + rng() % 4, static_cast<char>(rng()));
          break;
        }
        if (data.empty())
          data.push_back(0);
      }
    }
    rpc::frame_decoder decoder(lim);
    std::size_t fed = 0;
    bool fatal = false;
    while (fed < data.size() && !fatal) {
      auto n = std::min<std::size_t>(1 + rng() % 64, data.size() - fed);
      decoder.feed(data.data() + fed, n);
      fed += n;
      for (int guard = 0; guard < 1000; ++guard) {
        rpc::frame_decoder::item item;
        ASSERT_NO_THROW(item = decoder.next()) << "iteration " << iteration;
        if (std::holds_alternative<std::monostate>(item))
          break;
        if (auto* req = std::get_if<rpc::request>(&item)) {
          ++frames;
          ASSERT_NO_THROW(
              (void)rpc::to_json(req->params).dump(-1, ' ', false, json::error_handler_t::replace));
        } else if (auto* res = std::get_if<rpc::response>(&item)) {
          ++frames;
          ASSERT_NO_THROW((void)rpc::to_json(res->result));
        } else {
          ++errors;
          if (std::get<rpc::frame_error>(item).fatal) {
            fatal = true;
            ASSERT_TRUE(std::holds_alternative<rpc::frame_error>(decoder.next()));
            break;
          }
        }
      }
    }
  }
  // The mutated half must exercise both outcomes, or the loop tested nothing.
  EXPECT_GT(frames, 100u);
  EXPECT_GT(errors, 100u);
}

TEST(rpc_codec, bin_survives_to_json) {
  msgpack::sbuffer small;
  msgpack::packer<msgpack::sbuffer>(small).pack_bin(4).pack_bin_body("\x00\x01\xab\xff", 4);
  auto handle = msgpack::unpack(small.data(), small.size());
  EXPECT_EQ(rpc::to_json(handle.get()), json({{"bin_bytes", 4}, {"hex", "0001abff"}}));

  std::string large_body(1000, 'x');
  msgpack::sbuffer large;
  msgpack::packer<msgpack::sbuffer>(large).pack_bin(1000).pack_bin_body(large_body.data(), 1000);
  handle = msgpack::unpack(large.data(), large.size());
  EXPECT_EQ(rpc::to_json(handle.get()), json({{"bin_bytes", 1000}}));
}

TEST(rpc_codec, to_json_converts_every_type) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_map(3);
  pk.pack(1); // a non-string key becomes its JSON text
  pk.pack(std::string("one"));
  pk.pack(std::string("floats"));
  pk.pack_array(2);
  pk.pack_float(0.5f);
  pk.pack_double(-1e300);
  pk.pack(std::string("misc"));
  pk.pack_array(4);
  pk.pack_nil();
  pk.pack(false);
  pk.pack(int64_t{-5});
  pk.pack(uint64_t{18446744073709551615u});
  auto handle = msgpack::unpack(buf.data(), buf.size());
  const json expected = {{"1", "one"},
                         {"floats", {0.5, -1e300}},
                         {"misc", {nullptr, false, -5, 18446744073709551615u}}};
  EXPECT_EQ(rpc::to_json(handle.get()), expected);
}

TEST(rpc_codec, to_json_shows_map_and_array_keys_by_kind_so_nesting_cannot_blow_up) {
  // A key that is a map keyed by a map, 40 deep: rendering keys whole escaped them again at
  // every level (89 bytes grew to gigabytes).
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_map(3);
  for (int i = 0; i < 40; ++i)
    pk.pack_map(1);
  pk.pack(1);
  for (int i = 0; i < 40; ++i)
    pk.pack(i);
  pk.pack(std::string("deep"));
  pk.pack_array(1);
  pk.pack(7);
  pk.pack(std::string("by array"));
  pk.pack(true);
  pk.pack(std::string("by bool"));
  auto handle = msgpack::unpack(buf.data(), buf.size());
  const json expected = {{"<map>", "deep"}, {"<array>", "by array"}, {"true", "by bool"}};
  EXPECT_EQ(rpc::to_json(handle.get()), expected);
}

TEST(rpc_codec, pack_json_round_trips) {
  const json value = {{"null", nullptr},
                      {"flags", {true, false}},
                      {"ints", {0, -1, -9223372036854775807 - 1, 9223372036854775807}},
                      {"big", 18446744073709551615u},
                      {"float", 3.25},
                      {"text", "naïve ✓"},
                      {"empty", json::object()},
                      {"nested", {{"a", {1, {{"b", json::array()}}}}}}};
  const auto packed = rpc::pack_json(value);
  auto handle = msgpack::unpack(packed.data(), packed.size());
  EXPECT_EQ(rpc::to_json(handle.get()), value);
}

TEST(rpc_codec, pack_error_is_a_code_message_map) {
  const auto packed = rpc::pack_error("no_such_method", "method 'foo' is not in the table");
  auto handle = msgpack::unpack(packed.data(), packed.size());
  ASSERT_EQ(handle.get().type, msgpack::type::MAP);
  EXPECT_EQ(rpc::to_json(handle.get()),
            json({{"code", "no_such_method"}, {"message", "method 'foo' is not in the table"}}));
}

TEST(secrets_equal, matches_the_secret_only) {
  EXPECT_TRUE(llmos::secrets_equal("s3cret-token", "s3cret-token"));
  EXPECT_FALSE(llmos::secrets_equal("s3cret-token", "s3cret-tokeN"));
  EXPECT_FALSE(llmos::secrets_equal("s3cret-token", "s3cret-token-and-more"));
  EXPECT_FALSE(llmos::secrets_equal("s3cret-token", "s3cret"));
  EXPECT_FALSE(llmos::secrets_equal("ab", "abab")) << "a repetition of the secret";
  EXPECT_FALSE(llmos::secrets_equal("s3cret-token", ""));
  EXPECT_FALSE(llmos::secrets_equal("", "")) << "no secret configured matches nothing";
}
