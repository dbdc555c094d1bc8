#include "hooklab/heads.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "hooklab/error.h"
#include "hooklab/intervention.h"
#include "hooklab/rng.h"

namespace hooklab {

HeadScore score_head(const float* A, int T, const std::vector<int>& t) {
    HeadScore s;
    double first = 0, prev = 0, ind = 0;
    int n_ind = 0;
    for (int i = 0; i < T; ++i) {
        const float* row = A + static_cast<size_t>(i) * T;
        first += row[0];
        if (i >= 1) prev += row[i - 1];
        for (int j = i - 1; j >= 0; --j)
            if (t[j] == t[i]) {
                ind += row[j + 1];
                ++n_ind;
                break;
            }
    }
    s.first_token = first / T;
    if (T > 1) s.previous_token = prev / (T - 1);
    if (n_ind > 0) s.induction = ind / n_ind;
    return s;
}

std::vector<int> repeat_tokens(int R, uint64_t seed, int V, int eos) {
    if (V < 2) throw Error("the vocabulary has fewer than two tokens: no random tokens to draw besides <|endoftext|>");
    std::vector<int> out(2 * static_cast<size_t>(R) + 1);
    out[0] = eos;
    for (int k = 0; k < R; ++k) {
        int id = static_cast<int>(splitmix64(seed, static_cast<uint64_t>(k)) % static_cast<uint64_t>(V - 1));
        if (id >= eos) ++id;
        out[1 + k] = out[1 + R + k] = id;
    }
    return out;
}

int eos_token_id(const Tokenizer& tok) {
    static const std::string kEos = "<|endoftext|>";
    for (int id = 0; id < tok.vocab_size(); ++id)
        if (tok.token_bytes(id) == kEos) return id;
    throw Error("this model's vocab.json has no <|endoftext|> token, so --repeat cannot build the test input "
                "(<|endoftext|> then R random tokens twice); use --prompt instead");
}

uint64_t parse_seed(const std::string& text) {
    const std::string msg = "seed must be an integer from 0 to 18446744073709551615, got \"" + text + "\"";
    if (text.empty() || text.size() > 20 || text.find_first_not_of("0123456789") != std::string::npos) throw Error(msg);
    uint64_t v = 0;
    for (char c : text) {
        const uint64_t d = static_cast<uint64_t>(c - '0');
        if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) throw Error(msg);
        v = v * 10 + d;
    }
    return v;
}


HeadsResult heads(const Model& m, const HeadsOptions& opt) {
    const Config& c = m.gpt2.config;
    if (opt.prompt.has_value() == opt.repeat.has_value())
        throw Error("heads: give either a prompt or --repeat R --seed S (exactly one of the two)");
    if (opt.prompt && opt.seed) throw Error("heads: a seed only goes with --repeat (it draws the random tokens)");
    if (opt.repeat && !opt.seed) throw Error("heads: --repeat needs --seed S (which random tokens to draw)");

    const std::vector<Intervention>& ivs = opt.interventions;
    if (opt.pattern_layer && (*opt.pattern_layer < 0 || *opt.pattern_layer >= c.n_layer))
        throw Error("heads: pattern block " + std::to_string(*opt.pattern_layer) + " is out of range (the model has blocks 0.." +
                    std::to_string(c.n_layer - 1) + ")");

    std::vector<int> tokens;
    if (opt.repeat) {
        const long long R = *opt.repeat, max_r = (c.n_positions - 1) / 2;
        if (R < 1 || R > max_r)
            throw Error("heads: repeat must be between 1 and " + std::to_string(max_r) + " (2R+1 tokens in this model's " +
                        std::to_string(c.n_positions) + "-token context), got " + std::to_string(R));
        // Drawn from vocab.json's ids (the loader has checked they fit the config's vocab_size).
        tokens = repeat_tokens(static_cast<int>(R), *opt.seed, m.tokenizer.vocab_size(), eos_token_id(m.tokenizer));
    } else {
        tokens = m.tokenizer.encode(*opt.prompt);
        check_prompt_length(c, static_cast<int>(tokens.size()));
    }
    const int T = static_cast<int>(tokens.size());
    for (const Intervention& iv : ivs) validate_for_length(iv, c, T, 1);

    HeadsResult r;
    r.scores.resize(c.n_layer);
    auto hook = [&](HookView& v) {
        apply_interventions(ivs, v);
        if (v.hook != Hook::Pattern) return;
        // [head, query, key] over the whole sequence.
        if (v.shape.size() != 3 || v.shape[1] != T || v.shape[2] != T)
            throw Error("internal: blocks." + std::to_string(v.layer) + ".attn.hook_pattern is not [head, T, T]");
        for (int h = 0; h < v.shape[0]; ++h)
            r.scores[v.layer].push_back(score_head(v.data + static_cast<size_t>(h) * T * T, T, tokens));
        if (opt.pattern_layer && v.layer == *opt.pattern_layer) {
            r.pattern_layer = v.layer;
            r.pattern_shape = v.shape;
            r.pattern.assign(v.data, v.data + v.numel());
        }
    };
    // Every position's logits: the per-token loss is how the induction lesson shows a head's
    // work (the repeated half of random tokens is predictable only by copying).
    const std::vector<float> logits = m.gpt2.forward(tokens, hook, true);

    r.tokens = tokens;
    r.token_loss = next_token_loss(logits, tokens, c.vocab_size);
    r.interventions = ivs;
    return r;
}

}  // namespace hooklab
