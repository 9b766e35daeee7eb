// Forward declarations of the model component's classes, for headers that pass them by
// reference without seeing LibTorch (like <iosfwd>).
#pragma once

namespace llmos::model {

class engine;
class batch_decoder;
struct llama_weights;
struct lora_adapter;

} // namespace llmos::model
