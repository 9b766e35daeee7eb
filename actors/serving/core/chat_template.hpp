// Chat messages into one prompt, in the format the model was tuned on. A model carries its
// format as a Jinja template (GGUF tokenizer.chat_template, Hugging Face tokenizer_config.json);
// llmos runs no Jinja: like llama.cpp's llama_chat_apply_template, it recognises the template's
// family by the markers it writes and renders that family in C++. Families: chatml
// (<|im_start|>), llama-2 ([INST], with <<SYS>> when the template has it), mistral v7
// ([SYSTEM_PROMPT]), llama-3 (<|start_header_id|>), phi-3 (<|end|>), zephyr (<|user|>) and
// gemma (<start_of_turn>). A model without a template, or with one of no known family, gets the
// documented default: the contents joined by newlines. The prompt ends where the assistant's
// answer begins; BOS is not written (the server adds it).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace llmos::serving {

struct chat_message {
  std::string role; ///< "system", "user", "assistant" (others are rendered by name)
  std::string content;
};

enum class chat_format { plain, chatml, llama2, mistral_v7, llama3, phi3, zephyr, gemma };

/// A family and the variations of it a template shows.
struct chat_style {
  chat_format format = chat_format::plain;
  bool system_block = false;   ///< llama-2: the template writes <<SYS>> blocks
  bool strip = false;          ///< llama-2: contents are stripped (content.strip())
  bool bos_in_history = false; ///< llama-2: turns after the first start with <s>
  std::string end_of_turn;     ///< zephyr: what ends a turn (</s> or <|endoftext|>)
};

/// The style of `jinja` (plain for "" and for templates of no known family).
chat_style detect_chat_style(std::string_view jinja);

/// "plain", "chatml", "llama2", "mistral-v7", "llama3", "phi3", "zephyr", "gemma".
std::string chat_format_name(chat_format f);

/// The prompt of `messages`, ready for the assistant's turn.
std::string render_chat(const chat_style& style, const std::vector<chat_message>& messages);

} // namespace llmos::serving
