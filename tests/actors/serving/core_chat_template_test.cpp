// Chat templates: each family is recognised from a real model's Jinja text (excerpts of the
// templates their Hugging Face repositories ship) and renders what llama.cpp's
// llama_chat_apply_template renders for the same messages.
#include <gtest/gtest.h>

#include "serving/core/chat_template.hpp"

namespace llmos::serving {
namespace {

const std::vector<chat_message> conversation{
    {"system", "You tell stories."}, {"user", "Hi"}, {"assistant", "Hello"}, {"user", "A cat?"}};

// meta-llama/Llama-2-7b-chat-hf
const char* llama2_jinja =
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set "
    "system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set "
    "system_message = false %}{% endif %}{% for message in loop_messages %}{% if loop.index0 == 0 "
    "and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + "
    "'\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% "
    "endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' "
    "[/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + "
    "eos_token }}{% endif %}{% endfor %}";

std::string rendered(const std::string& jinja, const std::vector<chat_message>& m = conversation) {
  return render_chat(detect_chat_style(jinja), m);
}

TEST(chat_template, each_family_is_recognised_by_its_markers) {
  auto name = [](const std::string& jinja) {
    return chat_format_name(detect_chat_style(jinja).format);
  };
  EXPECT_EQ(name(""), "plain");
  EXPECT_EQ(name("{{ messages }}"), "plain") << "no known family: the default";
  EXPECT_EQ(name("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
                 "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"),
            "chatml");
  EXPECT_EQ(name(llama2_jinja), "llama2");
  EXPECT_EQ(name("{{ '[SYSTEM_PROMPT]' + system_message + '[/SYSTEM_PROMPT]' }}{{ '[INST]' }}"),
            "mistral-v7");
  EXPECT_EQ(name("{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}"),
            "llama3");
  EXPECT_EQ(name("{{'<|user|>' + '\\n' + message['content'] + '<|end|>' + '\\n' + "
                 "'<|assistant|>' + '\\n'}}"),
            "phi3");
  EXPECT_EQ(name("{% if message['role'] == 'user' %}{{ '<|user|>\\n' + message['content'] + "
                 "eos_token }}{% endif %}"),
            "zephyr");
  EXPECT_EQ(name("{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + "
                 "'<end_of_turn>\\n' }}"),
            "gemma");
  const auto style = detect_chat_style(llama2_jinja);
  EXPECT_TRUE(style.system_block);
  EXPECT_TRUE(style.strip);
  EXPECT_TRUE(style.bos_in_history);
}

TEST(chat_template, families_render_as_llama_cpp_does) {
  EXPECT_EQ(rendered(""), "You tell stories.\nHi\nHello\nA cat?");
  EXPECT_EQ(rendered("<|im_start|>"), "<|im_start|>system\nYou tell stories.<|im_end|>\n"
                                      "<|im_start|>user\nHi<|im_end|>\n"
                                      "<|im_start|>assistant\nHello<|im_end|>\n"
                                      "<|im_start|>user\nA cat?<|im_end|>\n"
                                      "<|im_start|>assistant\n");
  EXPECT_EQ(rendered(llama2_jinja),
            "[INST] <<SYS>>\nYou tell stories.\n<</SYS>>\n\nHi [/INST]Hello</s><s>[INST] A cat? "
            "[/INST]");
  EXPECT_EQ(rendered("[INST]"),
            "[INST] You tell stories.\nHi [/INST]Hello</s>[INST] A cat? [/INST]")
      << "no <<SYS>>: the system text leads the first turn; no bos_token: no <s> between";
  EXPECT_EQ(rendered("[SYSTEM_PROMPT]"),
            "[SYSTEM_PROMPT] You tell stories.[/SYSTEM_PROMPT][INST] Hi[/INST] Hello</s>[INST] A "
            "cat?[/INST]");
  EXPECT_EQ(rendered("<|start_header_id|><|end_header_id|>"),
            "<|start_header_id|>system<|end_header_id|>\n\nYou tell stories.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHello<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nA cat?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(rendered("<|assistant|><|end|>"),
            "<|system|>\nYou tell stories.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\nHello<|end|>"
            "\n<|user|>\nA cat?<|end|>\n<|assistant|>\n");
  EXPECT_EQ(rendered("<|user|>"),
            "<|system|>\nYou tell stories.</s>\n<|user|>\nHi</s>\n"
            "<|assistant|>\nHello</s>\n<|user|>\nA cat?</s>\n<|assistant|>\n");
  EXPECT_EQ(rendered("<|user|><|endoftext|>"),
            "<|system|>\nYou tell stories.<|endoftext|>\n<|user|>\nHi<|endoftext|>\n"
            "<|assistant|>\nHello<|endoftext|>\n<|user|>\nA cat?<|endoftext|>\n<|assistant|>\n");
  EXPECT_EQ(rendered("<start_of_turn>"),
            "<start_of_turn>user\nYou tell stories.\n\nHi<end_of_turn>\n<start_of_turn>model\n"
            "Hello<end_of_turn>\n<start_of_turn>user\nA cat?<end_of_turn>\n<start_of_turn>model\n")
      << "gemma has no system turn: it opens the first user turn";
}

} // namespace
} // namespace llmos::serving
