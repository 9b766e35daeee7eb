// A call's key=value options read one by one: values parsed and clamped, and the first mistake
// kept as the answer whatever is read after it, as the gateway's methods rely on.
#include <cstdint>
#include <string>

#include <gtest/gtest.h>
#include <msgpack.hpp>

#include "gateway/call_options.hpp"
#include "llmos/messages/error.hpp"
#include "rpc_test_params.hpp"

namespace llmos {
namespace {

using test::params;
using test::string_map;

/// Options of a call `send ACTOR METHOD k=v ...` (param 2) as the gateway decodes them.
class options_of {
public:
  explicit options_of(const std::string& packed)
      : handle_(msgpack::unpack(packed.data(), packed.size())) {}
  explicit options_of(const string_map& opts)
      : options_of(params(std::string{"actor"}, std::string{"m"}, opts)) {}
  call_options read(const std::string& method) const { return {handle_.get(), method}; }

private:
  msgpack::object_handle handle_;
};

/// The answer `o` gives a call: "" when it does not refuse.
std::string answer(call_options& o) {
  std::string out;
  rpc_call c;
  c.reply = [&](caf::expected<std::string> r) { out = r ? "a result" : describe(r.error()); };
  return o.refused(c) ? out : "";
}

TEST(call_options, values_are_parsed_clamped_and_absent_ones_fall_back) {
  options_of call{string_map{{"n", "5000"}, {"t", "0.25"}, {"p", "-3"}, {"s", "x"}}};
  auto o = call.read("sample");
  EXPECT_EQ(o.whole("n", 1, 1000), 1000u);
  EXPECT_EQ(o.whole32("absent", 7), 7u);
  EXPECT_DOUBLE_EQ(o.real("t", 1), 0.25);
  EXPECT_EQ(o.integer("p", 0, -10, 10), -3);
  EXPECT_EQ(o.text("s"), "x");
  EXPECT_EQ(o.text("absent", "d"), "d");
  EXPECT_FALSE(o.failed());
  EXPECT_EQ(answer(o), "");
}

TEST(call_options, the_first_mistake_is_the_answer_and_later_reads_fall_back) {
  options_of call{string_map{{"n", "-1"}, {"t", "nan"}, {"p", "99"}}};
  auto o = call.read("sample");
  EXPECT_EQ(o.whole("n", 5), 5u);
  EXPECT_DOUBLE_EQ(o.real("t", 1), 1.0);
  EXPECT_EQ(o.integer("p", 0, -10, 10), 0);
  o.require({"model"});
  EXPECT_NE(answer(o).find("sample: option 'n' must be a whole number, got '-1'"),
            std::string::npos);
}

TEST(call_options, each_kind_of_mistake_names_the_method_the_key_and_the_text) {
  const std::vector<std::pair<string_map, std::string>> cases{
      {{{"t", "1.5x"}}, "m: option 't' must be a number, got '1.5x'"},
      {{{"p", "11"}}, "m: p must be an integer from -10 to 10, got '11'"},
      {{{"p", "99999999999999999999"}}, "m: p must be an integer from -10 to 10"},
      {{}, "m: model=... is required"},
  };
  for (const auto& [opts, wanted] : cases) {
    SCOPED_TRACE(wanted);
    options_of call{opts};
    auto o = call.read("m");
    (void)o.real("t", 0);
    (void)o.integer("p", 0, -10, 10);
    o.require({"model"});
    EXPECT_NE(answer(o).find(wanted), std::string::npos) << answer(o);
  }
}

TEST(call_options, params_that_are_not_a_map_are_refused_before_any_read) {
  options_of call{params(std::string{"actor"}, std::string{"m"}, 7)};
  auto o = call.read("m");
  EXPECT_EQ(o.whole("n", 3), 3u);
  EXPECT_FALSE(o.has("n"));
  o.check(false, "not this one");
  const auto refusal = answer(o);
  EXPECT_NE(refusal.find("argument 3 (options) must be a map"), std::string::npos) << refusal;
}

} // namespace
} // namespace llmos
