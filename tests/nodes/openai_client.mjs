// OpenAI's official Node client (npm openai, pinned in tools/setup/data.lock) against llmos's
// gateway, unchanged: completions whole and streamed, chat, the model list, stop sequences, and
// an error surfacing as the client's own exception class. Prints one JSON object of what it saw;
// the C++ test (llama_node_test.cpp) checks it.
// Usage: node openai_client.mjs PATH/TO/openai/index.mjs http://127.0.0.1:PORT/v1 MODEL
const [, , entry, baseURL, model] = process.argv;
const { default: OpenAI } = await import(entry);
const client = new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 0, timeout: 60000 });
const out = {};

const whole = await client.completions.create({ model, prompt: '', max_tokens: 200, temperature: 0 });
out.completion = whole.choices[0].text;
out.finish = whole.choices[0].finish_reason;
out.usage = whole.usage;

let streamed = '';
let usage = null;
const stream = await client.completions.create({
  model, prompt: '', max_tokens: 200, temperature: 0, stop: ['.'], stream: true,
  stream_options: { include_usage: true },
});
for await (const chunk of stream) {
  if (chunk.usage) usage = chunk.usage;
  if (chunk.choices.length) streamed += chunk.choices[0].text;
}
out.streamed_until_stop = streamed;
out.stream_usage = usage;

const chat = await client.chat.completions.create({
  model, messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 20, temperature: 0,
});
out.chat = chat.choices[0].message.content;
out.chat_role = chat.choices[0].message.role;

let chatStreamed = '';
const chatStream = await client.chat.completions.create({
  model, messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 20, temperature: 0,
  stream: true,
});
for await (const chunk of chatStream) chatStreamed += chunk.choices[0]?.delta?.content ?? '';
out.chat_streamed = chatStreamed;

const models = [];
for await (const m of client.models.list()) models.push(m.id);
out.models = models;
out.model = (await client.models.retrieve(model)).id;

try {
  await client.completions.create({ model, prompt: 'x', max_tokens: -1 });
  out.error = 'none';
} catch (e) {
  out.error = e.constructor.name;
  out.error_status = e.status;
  out.error_param = e.param ?? null;
}
try {
  await client.completions.create({ model: 'no-such-model', prompt: 'x' });
} catch (e) {
  out.missing = e.constructor.name;
}
console.log(JSON.stringify(out));
