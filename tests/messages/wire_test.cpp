// Every message type's msgpack (RPC) and JSON (HTTP, REPL --json) forms, generated from its
// `inspect`: each named field survives both round trips, both forms carry the same names, every
// value that can leave the cluster has a name, and a value of the wrong type is refused with the
// field's name.
#include <limits>
#include <set>
#include <string>
#include <tuple>

#include <caf/actor.hpp>
#include <caf/deep_to_string.hpp>
#include <gtest/gtest.h>

#include "llmos/messages/dataset.hpp"
#include "llmos/messages/device.hpp"
#include "llmos/messages/directory.hpp"
#include "llmos/messages/model.hpp"
#include "llmos/messages/node_manager.hpp"
#include "llmos/messages/registry.hpp"
#include "llmos/messages/scheduler.hpp"
#include "llmos/messages/serving.hpp"
#include "llmos/messages/tuner.hpp"
#include "llmos/runtime/rpc_codec.hpp"
#include "llmos/runtime/wire_json.hpp"
#include "llmos/runtime/wire_msgpack.hpp"

namespace llmos {
namespace {

/// Gives every named field of a message a distinct value that is not its default, nested
/// messages, lists and maps included, so a field lost on the way shows in the comparison.
class filler {
public:
  template <class T> void fill(T& x) {
    wire::for_each_field(x, [this](const field_t& f, auto& v) { fill_field(f, v); });
  }

private:
  template <class V> void fill_field(const field_t& f, V& v) {
    if constexpr (std::is_same_v<V, std::string>) {
      if (f.form == field_form::json_text) {
        // Canonical JSON (sorted keys, compact): what a JSON text reads back as.
        v = R"({"list":[1.5,"x"],"n":)" + std::to_string(++n_) + "}";
        return;
      }
      if (f.form == field_form::bytes) {
        v = std::string{"\0\xff\x80 bytes ", 10} + std::to_string(++n_);
        return;
      }
    }
    fill_value(v);
  }

  template <class V> void fill_value(V& v) {
    ++n_;
    if constexpr (wire::is_message<V>::value) {
      fill(v);
    } else if constexpr (std::is_same_v<V, node_state>) {
      v = node_state::lost;
    } else if constexpr (std::is_same_v<V, bool>) {
      v = !v;
    } else if constexpr (std::is_same_v<V, std::string>) {
      v = "text " + std::to_string(n_) + " \xc3\xa9t\xc3\xa9 \xe6\x97\xa5";
    } else if constexpr (std::is_floating_point_v<V>) {
      v = static_cast<V>(n_) + 0.25;
    } else if constexpr (std::is_integral_v<V>) {
      // The type's extremes every few fields: the forms must not narrow or wrap them.
      using lim = std::numeric_limits<V>;
      v = n_ % 3 == 0   ? lim::max()
          : n_ % 3 == 1 ? static_cast<V>(lim::min() + (std::is_signed_v<V> ? 0 : 7))
                        : static_cast<V>(n_);
    } else if constexpr (wire::is_list<V>::value) {
      v.resize(2);
      for (auto& item : v)
        fill_value(item);
    } else {
      static_assert(wire::is_text_map<V>::value);
      fill_value(v["k" + std::to_string(n_)]);
      fill_value(v["\xc3\xa9"]);
    }
  }

  int n_ = 0;
};

template <class T> T filled() {
  T x;
  filler{}.fill(x);
  return x;
}

/// Counts an inspect's values: named ones, and unnamed ones that are not actor handles.
struct value_count {
  using result_type = void;
  static constexpr bool reads_state = true;
  static constexpr bool writes_state = false;
  int named = 0;
  int unnamed_data = 0;
  template <class... Ts> void operator()(Ts&&... xs) {
    bool pending = false;
    (count(pending, xs), ...);
  }
  template <class V> void count(bool& pending, const V&) {
    if constexpr (std::is_same_v<V, field_t>) {
      pending = true;
    } else if constexpr (!std::is_base_of_v<caf::meta::annotation, V>) {
      if (pending)
        ++named;
      else if (!std::is_same_v<V, caf::actor>)
        ++unnamed_data;
      pending = false;
    }
  }
};

template <class T> class wire_forms : public ::testing::Test {};

using message_types =
    ::testing::Types<pong, node_status, actor_entry, spawn_request, directory_event, device_info,
                     tensor_bytes, progress_event, dataset_stats, data_record, quarantine_item,
                     stream_request, data_batch, pseudo_label_item, train_request, train_report,
                     generate_request, prediction_item, model_info, model_package, publish_request,
                     model_version, alias_event, predict_request, predict_reply, complete_request,
                     complete_reply, server_status, task_spec, task_status, study_status,
                     import_request, sequence_row, review_item>;
TYPED_TEST_SUITE(wire_forms, message_types);

TYPED_TEST(wire_forms, every_value_but_actor_handles_has_a_name) {
  TypeParam x;
  value_count c;
  inspect(c, x);
  EXPECT_GT(c.named, 0);
  EXPECT_EQ(c.unnamed_data, 0) << "a value with no field name never reaches RPC or HTTP";
}

TYPED_TEST(wire_forms, msgpack_round_trip_keeps_every_field) {
  const auto x = filled<TypeParam>();
  const auto packed = wire::to_msgpack(x);
  auto handle = msgpack::unpack(packed.data(), packed.size());
  TypeParam y;
  EXPECT_EQ(wire::unpack(handle.get(), y), "");
  EXPECT_EQ(caf::deep_to_string(y), caf::deep_to_string(x));
  EXPECT_NE(caf::deep_to_string(y), caf::deep_to_string(TypeParam{}));
  EXPECT_EQ(wire::to_msgpack(y), packed);
}

TYPED_TEST(wire_forms, json_round_trip_keeps_every_field) {
  const auto x = filled<TypeParam>();
  const auto text = wire::to_json(x).dump();
  TypeParam y;
  EXPECT_EQ(wire::from_json(nlohmann::json::parse(text), y), "");
  EXPECT_EQ(caf::deep_to_string(y), caf::deep_to_string(x));
  EXPECT_EQ(wire::to_json(y).dump(), text);
}

TYPED_TEST(wire_forms, both_forms_carry_the_same_names_and_values) {
  const auto x = filled<TypeParam>();
  const auto packed = wire::to_msgpack(x);
  auto handle = msgpack::unpack(packed.data(), packed.size());
  auto from_msgpack = rpc::to_json(handle.get());
  auto json = wire::to_json(x);
  ASSERT_TRUE(from_msgpack.is_object());
  std::set<std::string> a, b;
  for (auto& [k, v] : from_msgpack.items())
    a.insert(k);
  for (auto& [k, v] : json.items())
    b.insert(k);
  EXPECT_EQ(a, b);
  // Field by field, but for bytes (bin shown as its size, base64 in JSON) and nested messages
  // (their own types' tests compare them).
  auto& m = const_cast<TypeParam&>(x);
  wire::for_each_field(m, [&](const field_t& f, const auto& v) {
    if constexpr (!wire::is_message<std::decay_t<decltype(v)>>::value) {
      if (f.form != field_form::bytes) {
        EXPECT_EQ(from_msgpack[f.name], json[f.name]) << f.name;
      }
    }
  });
}

TEST(wire, device_info_carries_queued_and_uptime_over_both_forms) {
  device_info d;
  d.queued = 3;
  d.uptime_seconds = 12.5;
  auto j = wire::to_json(d);
  EXPECT_EQ(j["queued"], 3);
  EXPECT_EQ(j["uptime_seconds"], 12.5);
  auto packed = wire::to_msgpack(d);
  auto m = rpc::to_json(msgpack::unpack(packed.data(), packed.size()).get());
  EXPECT_EQ(m["queued"], 3);
  EXPECT_EQ(m["uptime_seconds"], 12.5);
  EXPECT_EQ(m.size(), 14u);
}

template <class T> std::string from_json_text(const std::string& text, T& x) {
  return wire::from_json(nlohmann::json::parse(text), x);
}

template <class T> std::string from_msgpack_of(const std::string& json_text, T& x) {
  const auto packed = rpc::pack_json(nlohmann::json::parse(json_text));
  auto handle = msgpack::unpack(packed.data(), packed.size());
  return wire::unpack(handle.get(), x);
}

TEST(wire, a_wrong_type_is_refused_with_the_fields_path) {
  task_spec t;
  EXPECT_EQ(from_json_text(R"({"name":"a","priority":"high"})", t),
            "priority: must be an integer in range, got string");
  EXPECT_EQ(from_msgpack_of(R"({"name":"a","priority":"high"})", t),
            "priority: must be an integer in range, got string");
  directory_event e;
  EXPECT_EQ(from_json_text(R"({"entry":{"config":{"a":1}}})", e),
            "entry.config.a: must be a string, got number");
  EXPECT_EQ(from_msgpack_of(R"({"entry":{"config":{"a":1}}})", e),
            "entry.config.a: must be a string, got integer");
  node_status n;
  EXPECT_EQ(from_msgpack_of(R"({"port":70000})", n),
            "port: must be an unsigned integer in range, got integer");
  EXPECT_EQ(from_json_text(R"({"port":-1})", n),
            "port: must be an unsigned integer in range, got number");
  EXPECT_EQ(from_json_text(R"({"state":"sleeping"})", n),
            "state: 'sleeping' is not one of its names");
  EXPECT_EQ(from_msgpack_of(R"({"devices":["cpu",2]})", n),
            "devices[1]: must be a string, got integer");
  EXPECT_EQ(from_json_text(R"([1])", n), "must be an object, got array");
  tensor_bytes b;
  EXPECT_EQ(from_json_text(R"({"data":"not base64!"})", b),
            "data: must be base64 text, got string");
}

TEST(wire, absent_fields_keep_their_values_and_unknown_keys_are_ignored) {
  generate_request g;
  g.max_tokens = 77;
  EXPECT_EQ(from_json_text(R"({"prompt":[1,2],"surprise":true})", g), "");
  EXPECT_EQ(g.prompt, (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(g.max_tokens, 77u);
}

TEST(wire, optional_fields_are_left_out_while_empty) {
  task_status t;
  t.id = 4;
  auto j = wire::to_json(t);
  EXPECT_FALSE(j.contains("progress"));
  EXPECT_FALSE(j.contains("error"));
  EXPECT_FALSE(j.contains("result"));
  EXPECT_TRUE(j.contains("detail"));
  t.error = "node lost";
  t.result = R"({"steps":10})";
  j = wire::to_json(t);
  EXPECT_EQ(j["error"], "node lost");
  EXPECT_EQ(j["result"]["steps"], 10) << "a JSON text travels as the value it holds";
}

TEST(wire, json_text_fields_that_are_not_json_travel_as_text) {
  model_version v;
  v.metrics = "not json {";
  auto j = wire::to_json(v);
  EXPECT_EQ(j["metrics"], "not json {");
  EXPECT_TRUE(j["lineage"].is_null()) << "an empty JSON text is null";
  model_version back;
  EXPECT_EQ(wire::from_json(j, back), "");
  EXPECT_EQ(back.metrics, "not json {");
  EXPECT_EQ(back.lineage, "");
}

TEST(wire, base64_matches_rfc_4648_and_refuses_what_is_not) {
  const std::pair<std::string, std::string> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, coded] : vectors) {
    EXPECT_EQ(wire::base64_encode(plain), coded);
    std::string back;
    ASSERT_TRUE(wire::base64_decode(coded, back)) << coded;
    EXPECT_EQ(back, plain);
  }
  std::string out;
  for (const char* bad : {"Zg=", "Z===", "Zm=v", "Zg==Zg==", "Zm9v\n", "****"})
    EXPECT_FALSE(wire::base64_decode(bad, out)) << bad;
}

} // namespace
} // namespace llmos
