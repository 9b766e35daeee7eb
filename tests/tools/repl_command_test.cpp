// The REPL's command language: words, key=value typing, command shapes and their usage errors,
// and the tables people read.
#include <gtest/gtest.h>

#include "llmos/messages/error.hpp"
#include "repl_command.hpp"

using namespace llmos::repl;

TEST(repl_split_words, quotes_and_escapes_group_words) {
  auto w = split_words(R"(send cpu0 note="two words" path='a b' x\ y)");
  ASSERT_TRUE(w);
  EXPECT_EQ(*w, (std::vector<std::string>{"send", "cpu0", "note=two words", "path=a b", "x y"}));
}

TEST(repl_split_words, unterminated_quote_is_an_error) {
  auto w = split_words("send cpu0 note=\"open");
  ASSERT_FALSE(w);
  EXPECT_NE(llmos::describe(w.error()).find("unterminated"), std::string::npos);
}

TEST(repl_assignment, values_are_typed) {
  EXPECT_EQ(parse_assignment("n=3")->second, nlohmann::json(3));
  EXPECT_EQ(parse_assignment("x=-0.5")->second, nlohmann::json(-0.5));
  EXPECT_EQ(parse_assignment("on=true")->second, nlohmann::json(true));
  EXPECT_EQ(parse_assignment("values=1,2.5,-3")->second, nlohmann::json({1, 2.5, -3}));
  EXPECT_EQ(parse_assignment("tags=a,b")->second, nlohmann::json("a,b"));
  EXPECT_EQ(parse_assignment("type=cpu")->second, nlohmann::json("cpu"));
  EXPECT_EQ(parse_assignment("empty=")->second, nlohmann::json(""));
  EXPECT_FALSE(parse_assignment("novalue"));
  EXPECT_FALSE(parse_assignment("=3"));
}

TEST(repl_command, builds_rpc_calls) {
  auto c = parse_command("spawn beta device name=d1 threads=2");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->method, "spawn");
  EXPECT_EQ(c->params, nlohmann::json::parse(R"(["beta","device",{"name":"d1","threads":2}])"));
  c = parse_command("actors gamma");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->params, nlohmann::json::parse(R"(["gamma"])"));
  c = parse_command("send cpu0 gelu values=1,2");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->params, nlohmann::json::parse(R"(["cpu0","gelu",{"values":[1,2]}])"));
  c = parse_command("nodes");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->params, nlohmann::json::array());
  EXPECT_TRUE(parse_command("help")->local);
  EXPECT_TRUE(parse_command("   ")->local);
}

TEST(repl_command, wrong_shapes_give_the_usage) {
  auto c = parse_command("spawn beta");
  ASSERT_FALSE(c);
  EXPECT_NE(llmos::describe(c.error()).find("usage: spawn NODE KIND"), std::string::npos);
  c = parse_command("stop");
  ASSERT_FALSE(c);
  EXPECT_NE(llmos::describe(c.error()).find("usage: stop ACTOR"), std::string::npos);
  c = parse_command("nodes extra");
  ASSERT_FALSE(c);
  c = parse_command("send cpu0 gelu notkv");
  ASSERT_FALSE(c);
  EXPECT_NE(llmos::describe(c.error()).find("'notkv' is not key=value"), std::string::npos);
  c = parse_command("frobnicate");
  ASSERT_FALSE(c);
  EXPECT_NE(llmos::describe(c.error()).find("unknown command 'frobnicate'"), std::string::npos);
}

TEST(repl_format, nodes_become_a_table) {
  auto rows = nlohmann::json::parse(
      R"([{"name":"alpha","state":"self","host":"127.0.0.1","port":1,"rpc_port":2,
           "devices":["cpu","cuda:0"],"since_ms":5},
          {"name":"beta","state":"lost","host":"127.0.0.1","port":3,"rpc_port":4,
           "devices":["cpu"],"since_ms":6}])");
  auto text = format_result("nodes", rows);
  EXPECT_EQ(text.substr(0, text.find('\n')),
            "NAME   STATE  HOST       PORT  RPC_PORT  DEVICES     SINCE_MS");
  EXPECT_NE(text.find("beta   lost   127.0.0.1  3     4         cpu         6"), std::string::npos);
  EXPECT_NE(text.find("cpu,cuda:0"), std::string::npos);
}

TEST(repl_format, other_results_are_indented_json) {
  EXPECT_EQ(format_result("ping", nlohmann::json{{"node", "a"}}), "{\n  \"node\": \"a\"\n}\n");
}

TEST(repl_help, lists_every_command) {
  auto help = help_text();
  for (const auto& name : command_names())
    EXPECT_NE(help.find("  " + name), std::string::npos) << name;
}

TEST(repl_progress, draws_a_bar_or_a_line) {
  nlohmann::json e{{"stage", "clean"}, {"done", 3}, {"total", 6}, {"message", "3 rules"}};
  EXPECT_EQ(format_progress(e, false), "clean     [############............] 3/6 3 rules");
  EXPECT_EQ(format_progress(e, true).substr(0, 4), "\r\033[K");
  EXPECT_EQ(format_progress(nlohmann::json{{"stage", "read"}}, false), "read      ");
}
