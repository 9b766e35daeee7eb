// The simulated users' taste and prompts (tools/loop/traffic): what decides a thumbs up.
#include <gtest/gtest.h>

#include "traffic.hpp"

using llmos::loop::likes;
using llmos::loop::mark_probes;
using llmos::loop::split_prompt;

TEST(traffic, a_completion_is_liked_when_it_shares_a_word_of_four_letters_with_the_truth) {
  EXPECT_TRUE(likes("the Kernel panics", "Linux kernel hackers"));
  EXPECT_FALSE(likes("the cat is on it", "it is the cat")) << "words under four letters";
  EXPECT_FALSE(likes("programs crash", "computers compute")) << "no shared word";
  EXPECT_TRUE(likes("UNIX!", "unix, again")) << "case and punctuation do not matter";
  EXPECT_FALSE(likes("", "anything"));
}

TEST(traffic, a_prompt_is_the_first_words_and_the_rest_is_what_really_followed) {
  auto [p, rest] = split_prompt("Real programmers  don't comment their code.", 3);
  EXPECT_EQ(p, "Real programmers  don't");
  EXPECT_EQ(rest, " comment their code.");
  auto [all, none] = split_prompt("Too short", 3);
  EXPECT_EQ(all, "Too short");
  EXPECT_EQ(none, "");
}

TEST(traffic, probes_are_a_seeded_share_of_the_texts) {
  std::vector<llmos::loop::labelled_text> texts(10000);
  mark_probes(texts, 0.3, 7);
  std::size_t probes = 0;
  for (const auto& t : texts)
    probes += t.probe ? 1 : 0;
  EXPECT_NEAR(static_cast<double>(probes) / texts.size(), 0.3, 0.02);
  auto again = texts;
  mark_probes(again, 0.3, 7);
  for (std::size_t i = 0; i < texts.size(); ++i)
    ASSERT_EQ(again[i].probe, texts[i].probe) << i;
}
