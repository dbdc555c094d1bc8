#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "hooklab/config.h"
#include "hooklab/gpt2.h"

namespace hooklab {

// Bytes the loaded weights of this config take in memory (packed matrices, biases,
// LayerNorms, wpe), in 64 bits so that a config can be refused before any allocation.
uint64_t weight_bytes(const Config& cfg, bool f16_weights);
// The most memory the state of a run kept for resuming (run.h's KeptRun) may take; runs
// on longer prompts are not kept.
constexpr uint64_t kKeepLimitBytes = uint64_t(128) << 20;
// The most memory the latest runs kept for toggles (compare.h's Comparer) may take: their
// numbers and the states of intervened ones (each at most half of it).
constexpr uint64_t kKeptRunsBytes = uint64_t(32) << 20;
// Bytes of a kept run's state on T tokens (a RunState of residuals only: the residual
// entering every block, and the final one).
uint64_t kept_state_bytes(const Config& cfg, int T);
// Bytes of activations a run on T tokens allocates (the forward's buffers, the last
// position's logits and the logit lens' rows), plus what is kept for toggles: the state of
// the baseline (a shorter prompt's may take up to kKeepLimitBytes), the latest runs, and
// the state of the run being made.
uint64_t activation_bytes(const Config& cfg, int T);
// What the engine needs for this model: its weights plus a run at full context. The one
// size limit: a loader refuses a model whose need exceeds the memory it has.
uint64_t memory_need(const Config& cfg, bool f16_weights);

// Loads model.safetensors as a stream: feed the file's bytes in order, in chunks of any
// size. The header is parsed (and every tensor checked against the config) as soon as
// it is complete; each tensor is then converted and packed as its bytes arrive, a few
// rows at a time, so the whole file never needs to be in memory.
class SafeTensorsStream {
public:
    // file_size: the whole file's size, or 0 when unknown (then truncation is found at
    // finish()). memory_limit (0: none): refuse up front when memory_need exceeds it.
    SafeTensorsStream(const Config& cfg, bool f16_weights, uint64_t file_size = 0, uint64_t memory_limit = 0);
    ~SafeTensorsStream();
    SafeTensorsStream(const SafeTensorsStream&) = delete;
    SafeTensorsStream& operator=(const SafeTensorsStream&) = delete;

    void feed(const uint8_t* data, size_t n);
    uint64_t bytes_fed() const;
    bool header_parsed() const;
    // Checks that every tensor arrived and returns the model; the stream is spent.
    GPT2 finish();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace hooklab
